//! cadenza's HMM against hmmlearn's `CategoricalHMM` from the same start: the EM log-likelihood
//! history, the parameters after EM, held-out scores and Viterbi paths must agree.
//!
//! Python: `CADENZA_PYTHON`, else `<repo>/.pyenv/bin/python`; without either the test is skipped,
//! unless `CI` is set, where that is a failure.

mod common;

use common::python;

use std::process::Command;

use cadenza::models::hmm::{HmmConfig, HmmModel};
use cadenza::sampler::SampleRng;
use cadenza::tokens::{TokenId, BOS};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const SCRIPT: &str = r#"
import json, sys
import numpy as np
from hmmlearn import hmm
from hmmlearn.base import ConvergenceMonitor

d = json.load(open(sys.argv[1]))
k, v = d["states"], d["vocab"]
lls = []
class Recorder(ConvergenceMonitor):
    def report(self, lp):
        lls.append(float(lp))
        super().report(lp)
def stack(seqs):
    return np.concatenate([np.asarray(s) for s in seqs]).reshape(-1, 1), [len(s) for s in seqs]
x, lengths = stack(d["train"])
m = hmm.CategoricalHMM(n_components=k, n_features=v, init_params="", params="ste",
                       n_iter=d["iters"], tol=-np.inf, implementation="scaling")
m.startprob_ = np.array(d["pi"])
m.transmat_ = np.array(d["A"])
m.emissionprob_ = np.array(d["B"])
m.monitor_ = Recorder(-np.inf, d["iters"], False)
m.fit(x, lengths)
tx, tl = stack(d["test"])
paths = [m.decode(np.asarray(s).reshape(-1, 1), algorithm="viterbi")[1].tolist() for s in d["test"]]
json.dump({"ll": lls, "pi": m.startprob_.tolist(), "A": m.transmat_.ravel().tolist(),
           "B": m.emissionprob_.ravel().tolist(), "test_ll": float(m.score(tx, tl)),
           "paths": paths}, sys.stdout)
"#;

fn rows(r: &mut SampleRng, n: usize, width: usize) -> Vec<f64> {
    let mut m: Vec<f64> = (0..n * width).map(|_| 0.05 + r.random::<f64>()).collect();
    for row in m.chunks_exact_mut(width) {
        let s: f64 = row.iter().sum();
        row.iter_mut().for_each(|x| *x /= s);
    }
    m
}

/// `ln p(path, obs)` straight from the definition.
fn joint_log_prob(m: &HmmModel, path: &[usize], obs: &[TokenId]) -> f64 {
    let (k, v) = (m.states(), m.vocab());
    let mut lp = 0.0;
    for (t, (&s, &o)) in path.iter().zip(obs).enumerate() {
        lp += if t == 0 { m.initial()[s] } else { m.transitions()[path[t - 1] * k + s] }.ln();
        lp += m.emissions()[s * v + o as usize].ln();
    }
    lp
}

fn close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol * w.abs().max(1.0), "{what}[{i}]: {g} vs hmmlearn {w}");
    }
}

#[test]
fn em_matches_hmmlearn_from_the_same_start() {
    let Some(py) = python() else { return };
    let (k, v, iters) = (4, 10, 8);
    let mut r = SampleRng::seed_from_u64(42);
    let (pi, a, b) = (rows(&mut r, 1, k), rows(&mut r, k, k), rows(&mut r, k, v));
    // Observations (no BOS) with some structure: runs of nearby tokens.
    let mut seq = |len: usize| -> Vec<TokenId> {
        let mut cur = r.random_range(0..v);
        (0..len)
            .map(|_| {
                if r.random::<f64>() < 0.3 {
                    cur = r.random_range(0..v);
                }
                ((cur + r.random_range(0..2)) % v) as TokenId
            })
            .collect()
    };
    let train: Vec<Vec<TokenId>> = (0..12).map(|i| seq(20 + 7 * i)).collect();
    let test: Vec<Vec<TokenId>> = (0..4).map(|i| seq(15 + 9 * i)).collect();
    let input = json!({"states": k, "vocab": v, "iters": iters, "pi": pi,
        "A": a.chunks(k).collect::<Vec<_>>(), "B": b.chunks(v).collect::<Vec<_>>(),
        "train": train, "test": test});
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("in.json");
    std::fs::write(&path, input.to_string()).expect("write input");
    let out = Command::new(&py).arg("-c").arg(SCRIPT).arg(&path).output().expect("run Python");
    assert!(out.status.success(), "hmmlearn failed: {}", String::from_utf8_lossy(&out.stderr));
    let want: Value = serde_json::from_slice(&out.stdout).expect("hmmlearn JSON");
    let floats = |key: &str| -> Vec<f64> {
        want[key].as_array().expect(key).iter().map(|x| x.as_f64().expect("number")).collect()
    };

    let with_bos = |s: &[Vec<TokenId>]| -> Vec<Vec<TokenId>> {
        s.iter().map(|x| std::iter::once(BOS).chain(x.iter().copied()).collect()).collect()
    };
    let init = HmmModel::from_params(k, v, pi, a, b).expect("start");
    let cfg = HmmConfig { states: k, max_iters: iters, tol: f64::NEG_INFINITY, seed: 0, pseudo_count: 0.0 };
    let (fit, rep) = HmmModel::fit_from(init, &cfg, &with_bos(&train), None).expect("fit");
    close("log-likelihood history", &rep.log_likelihood, &floats("ll"), 1e-10);
    close("pi", fit.initial(), &floats("pi"), 1e-9);
    close("A", fit.transitions(), &floats("A"), 1e-9);
    close("B", fit.emissions(), &floats("B"), 1e-9);
    let test = with_bos(&test);
    close(
        "held-out log-likelihood",
        &[fit.log_likelihood(&test)],
        &[want["test_ll"].as_f64().expect("test_ll")],
        1e-10,
    );
    for (i, s) in test.iter().enumerate() {
        let want: Vec<usize> = want["paths"][i]
            .as_array()
            .expect("path")
            .iter()
            .map(|x| x.as_u64().expect("state") as usize)
            .collect();
        // Paths may differ only where two paths tie (equal products in a different order).
        let got = fit.viterbi(s);
        let (lg, lw) = (joint_log_prob(&fit, &got, &s[1..]), joint_log_prob(&fit, &want, &s[1..]));
        assert!(
            got == want || (lg - lw).abs() <= 1e-12 * lw.abs(),
            "Viterbi path {i}: {got:?} ({lg}) vs hmmlearn {want:?} ({lw})"
        );
    }
}
