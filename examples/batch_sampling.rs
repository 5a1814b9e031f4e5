//! Sampling primers of different lengths as one batch (issue 26, item 5): the speed of
//! `generate_batch` on `--rows` primers whose lengths spread from `--min` to `--max` tokens (what
//! `compare` and the studio do: one batch, the Transformer's shorter KV caches padded and
//! masked), against the same primers decoded one at a time, and whether both give the same
//! samples for the same seed. Prints one JSON object.
//!
//! `cargo run --release --example batch_sampling -- --checkpoint checkpoints/bach.transformer
//! --threads 1` (any LSTM or Transformer checkpoint; `--device cuda` for a GPU).

use std::time::Instant;

use cadenza::models::saved;
use cadenza::sampler::Sampler;
use cadenza::tokens::{TokenId, BOS};
use rand::{Rng, SeedableRng};

#[path = "support/args.rs"]
mod args;
use args::arg;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path: String = arg(&args, "--checkpoint", "checkpoints/bach.transformer".to_string())?;
    let rows: usize = arg(&args, "--rows", 20)?;
    let (min, max): (usize, usize) = (arg(&args, "--min", 8)?, arg(&args, "--max", 200)?);
    let length: usize = arg(&args, "--length", 512)?;
    let threads: i32 = arg(&args, "--threads", 1)?;
    let device: String = arg(&args, "--device", "cpu".to_string())?;
    let alone = !args.iter().any(|a| a == "--batch-only");
    if threads > 0 {
        tch::set_num_threads(threads);
    }
    let loaded = saved::load(std::path::Path::new(&path), &device)?;
    let model = loaded.model.generator();
    let vocab = model.vocab_size() as TokenId;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    // Random primers (the model's guard is off: any token sequence is a primer).
    let primers: Vec<Vec<TokenId>> = (0..rows)
        .map(|i| {
            let n = min + (max - min) * i / rows.saturating_sub(1).max(1);
            std::iter::once(BOS).chain((1..n).map(|_| rng.random_range(3..vocab))).collect()
        })
        .collect();
    let sampler = Sampler::default();
    let t = Instant::now();
    let batch = model.generate_batch(&primers, length, &sampler, 0)?;
    let batch_secs = t.elapsed().as_secs_f64();
    let batch_tokens: usize = batch.iter().map(Vec::len).sum();
    let mut out = serde_json::json!({
        "checkpoint": path, "rows": rows, "primer_tokens": [min, max], "new_tokens": length,
        "threads": threads, "device": device,
        "batch_tokens": batch_tokens, "batch_seconds": batch_secs,
        "batch_tokens_per_second": batch_tokens as f64 / batch_secs,
    });
    if alone {
        let t = Instant::now();
        let mut same = 0;
        let mut tokens = 0;
        for (i, p) in primers.iter().enumerate() {
            let mut r = cadenza::sampler::rng_for(0, i as u64);
            let one = cadenza::models::sample(model, p, length, &sampler, &mut r)?;
            tokens += one.len();
            same += usize::from(one == batch[i]);
        }
        let secs = t.elapsed().as_secs_f64();
        out["alone_tokens_per_second"] = (tokens as f64 / secs).into();
        out["rows_equal_to_alone"] = same.into();
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
