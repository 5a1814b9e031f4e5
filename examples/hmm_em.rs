//! Benchmark driver for the HMM's Baum-Welch: runs a fixed number of EM iterations from a given
//! start and prints timings and log-likelihoods as JSON (used by `scripts/bench_hmm.py` to compare
//! with hmmlearn).
//!
//! Input (JSON file named on the command line):
//! `{"states": K, "vocab": V, "pi": [K], "A": [[K]; K], "B": [[V]; K], "iters": N,
//!   "sequences": [[observation, ...], ...]}` where sequences hold observations only (no BOS).
//!
//! EM runs with pseudo-count 0 (plain maximum likelihood, hmmlearn's default priors of 1.0) and
//! no early stop. Output: `{"threads", "iters", "seconds_total", "seconds_per_iter",
//! "cpu_seconds_per_iter" (CPU time of all threads, where the OS tells it),
//! "log_likelihood": [per iteration, of the parameters entering it], "final_log_likelihood"}`.

use std::time::Instant;

use cadenza::models::hmm::{HmmConfig, HmmModel};
use cadenza::tokens::{TokenId, BOS};
use serde::Deserialize;

#[derive(Deserialize)]
struct Input {
    states: usize,
    vocab: usize,
    pi: Vec<f64>,
    #[serde(rename = "A")]
    a: Vec<Vec<f64>>,
    #[serde(rename = "B")]
    b: Vec<Vec<f64>>,
    iters: usize,
    sequences: Vec<Vec<TokenId>>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: hmm_em INPUT.json")?;
    let input: Input = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    let init =
        HmmModel::from_params(input.states, input.vocab, input.pi, input.a.concat(), input.b.concat())?;
    // The model treats the first token of each sequence as context (BOS): put one in front.
    let seqs: Vec<Vec<TokenId>> =
        input.sequences.into_iter().map(|s| std::iter::once(BOS).chain(s).collect()).collect();
    let config = HmmConfig {
        states: input.states,
        max_iters: input.iters,
        tol: f64::NEG_INFINITY,
        seed: 0,
        pseudo_count: 0.0,
    };
    let (start, cpu_start) = (Instant::now(), cpu_seconds());
    let (model, report) = HmmModel::fit_from(init, &config, &seqs, None)?;
    let total = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().zip(cpu_start).map(|(end, start)| end - start);
    let iters = report.iterations().max(1) as f64;
    let out = serde_json::json!({
        "threads": rayon::current_num_threads(),
        "iters": report.iterations(),
        "seconds_total": total,
        "seconds_per_iter": total / iters,
        "cpu_seconds_per_iter": cpu.map(|c| c / iters),
        "log_likelihood": report.log_likelihood,
        "final_log_likelihood": model.log_likelihood(&seqs),
    });
    println!("{out}");
    Ok(())
}

/// CPU time of every thread of this process so far (Linux: `/proc/self/task/*/schedstat`).
fn cpu_seconds() -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}
