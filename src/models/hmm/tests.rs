//! Tests of the HMM against independent references: brute-force enumeration over state paths for
//! likelihoods, posteriors and Viterbi; a planted model for EM; safetensors round trips.

use rand::{Rng, SeedableRng};

use super::*;
use crate::error::Error;
use crate::models::Generator;
use crate::sampler::SampleRng;
use crate::tokens::BOS;

fn rng(seed: u64) -> SampleRng {
    SampleRng::seed_from_u64(seed)
}

/// Rows of `width` uniform(0.05, 1) numbers, normalized.
fn random_rows(r: &mut SampleRng, rows: usize, width: usize) -> Vec<f64> {
    let mut m: Vec<f64> = (0..rows * width).map(|_| 0.05 + r.random::<f64>()).collect();
    for row in m.chunks_exact_mut(width) {
        let s: f64 = row.iter().sum();
        row.iter_mut().for_each(|x| *x /= s);
    }
    m
}

fn random_model(r: &mut SampleRng, k: usize, v: usize) -> HmmModel {
    let (pi, a, b) = (random_rows(r, 1, k), random_rows(r, k, k), random_rows(r, k, v));
    HmmModel::from_params(k, v, pi, a, b).expect("valid random model")
}

/// Draw from a categorical distribution.
fn draw(r: &mut SampleRng, p: &[f64]) -> usize {
    let mut u = r.random::<f64>();
    for (i, &x) in p.iter().enumerate() {
        u -= x;
        if u < 0.0 {
            return i;
        }
    }
    p.len() - 1
}

/// `BOS` followed by `t` tokens sampled from the model's generative process.
fn sample_seq(m: &HmmModel, r: &mut SampleRng, t: usize) -> Vec<TokenId> {
    let (k, v) = (m.states(), m.vocab());
    let mut out = vec![BOS];
    let mut s = draw(r, m.initial());
    for step in 0..t {
        if step > 0 {
            s = draw(r, &m.transitions()[s * k..(s + 1) * k]);
        }
        out.push(draw(r, &m.emissions()[s * v..(s + 1) * v]) as TokenId);
    }
    out
}

/// Every state path of length `t` over `k` states.
fn all_paths(k: usize, t: usize) -> Vec<Vec<usize>> {
    let mut paths = vec![Vec::new()];
    for _ in 0..t {
        paths = paths.into_iter().flat_map(|p| (0..k).map(move |s| [p.clone(), vec![s]].concat())).collect();
    }
    paths
}

/// `p(path, obs)` computed directly from the definition.
fn joint(m: &HmmModel, path: &[usize], obs: &[TokenId]) -> f64 {
    let (k, v) = (m.states(), m.vocab());
    let mut p = 1.0;
    for (t, (&s, &o)) in path.iter().zip(obs).enumerate() {
        p *= if t == 0 { m.initial()[s] } else { m.transitions()[path[t - 1] * k + s] };
        p *= m.emissions()[s * v + o as usize];
    }
    p
}

fn brute_likelihood(m: &HmmModel, obs: &[TokenId]) -> f64 {
    all_paths(m.states(), obs.len()).iter().map(|p| joint(m, p, obs)).sum()
}

#[test]
fn forward_matches_brute_force_enumeration() {
    let mut r = rng(11);
    for case in 0..24 {
        let (k, v) = (2 + case % 2, 3 + (case / 2) % 2);
        let m = random_model(&mut r, k, v);
        let t = 1 + case % 6;
        let seq: Vec<TokenId> =
            std::iter::once(BOS).chain((0..t).map(|_| r.random_range(0..v) as TokenId)).collect();
        let lp = m.log_probs(&seq).unwrap();
        assert_eq!(lp.len(), t);
        // Each token's log-probability is the log-ratio of consecutive prefix likelihoods.
        let mut prev = 0.0;
        for i in 0..t {
            let full = brute_likelihood(&m, &seq[1..i + 2]).ln();
            assert!(
                (lp[i] - (full - prev)).abs() < 1e-10,
                "case {case} token {i}: {} vs {}",
                lp[i],
                full - prev
            );
            prev = full;
        }
    }
}

#[test]
fn viterbi_matches_brute_force_argmax() {
    let mut r = rng(12);
    for case in 0..24 {
        let (k, v) = (2 + case % 2, 3 + (case / 3) % 2);
        let m = random_model(&mut r, k, v);
        let t = 1 + case % 6;
        let seq: Vec<TokenId> =
            std::iter::once(BOS).chain((0..t).map(|_| r.random_range(0..v) as TokenId)).collect();
        let best = all_paths(k, t)
            .into_iter()
            .max_by(|a, b| joint(&m, a, &seq[1..]).total_cmp(&joint(&m, b, &seq[1..])))
            .expect("paths");
        let got = m.viterbi(&seq);
        let (jg, jb) = (joint(&m, &got, &seq[1..]), joint(&m, &best, &seq[1..]));
        assert!(got == best || (jg - jb).abs() <= 1e-15 * jb, "case {case}: {got:?} vs {best:?}");
    }
    assert!(random_model(&mut r, 2, 3).viterbi(&[BOS]).is_empty());
}

/// One EM step computed from posteriors enumerated over every path.
fn brute_em_step(m: &HmmModel, seqs: &[Vec<TokenId>], p: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>, f64) {
    let (k, v) = (m.states(), m.vocab());
    let (mut pi, mut a, mut b, mut ll) = (vec![p; k], vec![p; k * k], vec![p; k * v], 0.0);
    for seq in seqs {
        let obs = &seq[1..];
        let paths = all_paths(k, obs.len());
        let z: f64 = paths.iter().map(|q| joint(m, q, obs)).sum();
        ll += z.ln();
        for q in &paths {
            let w = joint(m, q, obs) / z;
            pi[q[0]] += w;
            for t in 0..obs.len() {
                b[q[t] * v + obs[t] as usize] += w;
                if t > 0 {
                    a[q[t - 1] * k + q[t]] += w;
                }
            }
        }
    }
    for (x, width) in [(&mut pi, k), (&mut a, k), (&mut b, v)] {
        for row in x.chunks_exact_mut(width) {
            let s: f64 = row.iter().sum();
            row.iter_mut().for_each(|e| *e /= s);
        }
    }
    (pi, a, b, ll)
}

#[test]
fn em_step_matches_brute_force_posteriors() {
    let mut r = rng(13);
    for (case, p) in [0.0, 0.3, 0.0, 1.0].into_iter().enumerate() {
        let (k, v) = (2 + case % 2, 4);
        let m = random_model(&mut r, k, v);
        let seqs: Vec<Vec<TokenId>> = (0..4).map(|i| sample_seq(&m, &mut r, 1 + (i + case) % 6)).collect();
        let (next, ll) = m.em_step(&seqs, p).expect("em step");
        let (pi, a, b, bll) = brute_em_step(&m, &seqs, p);
        assert!((ll - bll).abs() < 1e-10 * bll.abs(), "{ll} vs {bll}");
        for (got, want) in [(next.initial(), &pi), (next.transitions(), &a), (next.emissions(), &b)] {
            for (g, w) in got.iter().zip(want.iter()) {
                assert!((g - w).abs() < 1e-10, "case {case}: {got:?} vs {want:?}");
            }
        }
    }
}

#[test]
fn em_never_decreases_log_likelihood() {
    let mut r = rng(14);
    let truth = random_model(&mut r, 4, 6);
    let seqs: Vec<Vec<TokenId>> = (0..20).map(|i| sample_seq(&truth, &mut r, 5 + 3 * i)).collect();
    for pseudo_count in [0.0, 0.5] {
        let cfg = HmmConfig { states: 4, max_iters: 40, tol: -1.0, seed: 3, pseudo_count };
        let (_, rep) = HmmModel::fit(&cfg, 6, &seqs, None).expect("fit");
        assert_eq!(rep.iterations(), 40);
        assert!(!rep.converged);
        // Maximum likelihood never lowers the likelihood; MAP-EM never lowers likelihood + prior.
        let series = if pseudo_count == 0.0 { &rep.log_likelihood } else { &rep.objective };
        for w in series.windows(2) {
            assert!(w[1] >= w[0] - 1e-9 * w[0].abs(), "p {pseudo_count}: {series:?}");
        }
        assert!(series[39] > series[0]);
    }
}

/// The states of `fit` matched to those of `truth` by the permutation with the closest emissions.
fn best_permutation(truth: &HmmModel, fit: &HmmModel) -> Vec<usize> {
    let (k, v) = (truth.states(), truth.vocab());
    let perms = all_paths(k, k).into_iter().filter(|p| {
        let mut s = p.clone();
        s.sort_unstable();
        s.dedup();
        s.len() == k
    });
    let cost = |p: &Vec<usize>| -> f64 {
        (0..k)
            .map(|i| {
                (0..v)
                    .map(|o| (truth.emissions()[i * v + o] - fit.emissions()[p[i] * v + o]).abs())
                    .sum::<f64>()
            })
            .sum()
    };
    perms.min_by(|a, b| cost(a).total_cmp(&cost(b))).expect("permutations")
}

#[test]
fn em_recovers_a_planted_hmm() {
    // Three states with disjoint emission supports over tokens 3..12 (0..2 are PAD/BOS/EOS).
    let (k, v) = (3, 12);
    let mut b = vec![0.0; k * v];
    for (s, probs) in [[0.5, 0.3, 0.2], [0.2, 0.5, 0.3], [0.3, 0.2, 0.5]].iter().enumerate() {
        for (j, p) in probs.iter().enumerate() {
            b[s * v + 3 + 3 * s + j] = *p;
        }
    }
    let a = vec![0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.15, 0.15, 0.7];
    let truth = HmmModel::from_params(k, v, vec![0.5, 0.3, 0.2], a, b).expect("planted");
    let mut r = rng(15);
    let train: Vec<Vec<TokenId>> = (0..200).map(|_| sample_seq(&truth, &mut r, 200)).collect();
    let test: Vec<Vec<TokenId>> = (0..50).map(|_| sample_seq(&truth, &mut r, 200)).collect();
    // EM finds a local optimum; as in practice, keep the best of a few random starts by
    // training likelihood (some starts do end in a poor optimum, which this selection must skip).
    let fits: Vec<(HmmModel, FitReport)> = (0..3)
        .map(|seed| {
            let cfg = HmmConfig { states: 3, max_iters: 300, tol: 1e-6, seed, pseudo_count: 1e-3 };
            HmmModel::fit(&cfg, v, &train, None).expect("fit")
        })
        .collect();
    assert!(fits.iter().all(|(_, rep)| rep.converged));
    let final_ll = |m: &HmmModel| m.log_likelihood(&train);
    let (fit, _) = fits.iter().max_by(|a, b| final_ll(&a.0).total_cmp(&final_ll(&b.0))).expect("fits");
    let perm = best_permutation(&truth, fit);
    let mut worst: f64 = 0.0;
    for i in 0..k {
        for j in 0..k {
            worst =
                worst.max((truth.transitions()[i * k + j] - fit.transitions()[perm[i] * k + perm[j]]).abs());
        }
        for o in 0..v {
            worst = worst.max((truth.emissions()[i * v + o] - fit.emissions()[perm[i] * v + o]).abs());
        }
    }
    assert!(worst < 0.05, "largest parameter error {worst}");
    let (lt, lf) = (truth.log_likelihood(&test), fit.log_likelihood(&test));
    assert!((lf - lt).abs() < 0.01 * lt.abs(), "held-out log-likelihood {lf} vs true {lt}");
}

#[test]
fn no_underflow_on_long_sequences() {
    let mut r = rng(16);
    let m = random_model(&mut r, 8, 40);
    let seq = sample_seq(&m, &mut r, 10_000);
    let lp = m.log_probs(&seq).unwrap();
    assert_eq!(lp.len(), 10_000);
    assert!(lp.iter().all(|x| x.is_finite() && *x < 0.0));
    let total: f64 = lp.iter().sum();
    // Far below the smallest f64, so unscaled probabilities would have underflowed.
    assert!(total < -2000.0 && total.is_finite(), "{total}");
    assert_eq!(m.viterbi(&seq).len(), 10_000);
    let (_, ll) = m.em_step(&[seq], 0.0).expect("em step on a long sequence");
    assert!((ll - total).abs() < 1e-8 * total.abs());
}

#[test]
fn stream_matches_log_probs() {
    let mut r = rng(17);
    let m = random_model(&mut r, 5, 9);
    let seq = sample_seq(&m, &mut r, 60);
    let lp = m.log_probs(&seq).unwrap();
    let mut stream = m.stream(&seq[..1]).unwrap();
    let mut probs = Vec::new();
    for (t, &o) in seq[1..].iter().enumerate() {
        stream.next_probs(&mut probs);
        assert_eq!(probs.len(), 9);
        assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((probs[o as usize].ln() - lp[t]).abs() < 1e-9, "token {t}");
        stream.push(o).unwrap();
    }
    // A stream primed with a prefix equals one fed the same tokens.
    let mut primed = m.stream(&seq[..31]).unwrap();
    let mut fed = m.stream(&seq[..1]).unwrap();
    seq[1..31].iter().for_each(|&o| fed.push(o).unwrap());
    let (mut p1, mut p2) = (Vec::new(), Vec::new());
    primed.next_probs(&mut p1);
    fed.next_probs(&mut p2);
    assert_eq!(p1, p2);
    // The shared sampler drives it.
    let out = crate::models::sample(&m, &seq[..10], 20, &Default::default(), &mut rng(1)).unwrap();
    assert!(!out.is_empty() && out.iter().all(|&t| (t as usize) < 9));
    assert_eq!((m.kind(), m.vocab_size()), (crate::models::ModelKind::Hmm, 9));
}

#[test]
fn impossible_and_unknown_tokens_stay_finite() {
    // State 0 emits only token 0, state 1 only token 1, and the chain never leaves its state.
    let m = HmmModel::from_params(
        2,
        3,
        vec![1.0, 0.0],
        vec![1.0, 0.0, 0.0, 1.0],
        vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
    )
    .expect("model");
    let lp = m.log_probs(&[BOS, 0, 1, 7, 0]).unwrap();
    assert_eq!(lp, vec![0.0, IMPOSSIBLE_LOG_PROB, IMPOSSIBLE_LOG_PROB, 0.0]);
}

#[test]
fn safetensors_round_trip_and_corruption() {
    let mut r = rng(18);
    let m = random_model(&mut r, 4, 7);
    let bytes = m.to_safetensors();
    assert_eq!(HmmModel::from_safetensors(&bytes).expect("round trip"), m);
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(matches!(HmmModel::from_safetensors(&bytes[..cut]), Err(Error::Model(_))), "cut {cut}");
    }
    // Corrupt the exponent byte of each value of the last tensor written: a row stops summing to 1.
    for back in [1, 9, 57] {
        let mut bad = bytes.clone();
        let i = bad.len() - back;
        bad[i] ^= 0x40;
        assert!(HmmModel::from_safetensors(&bad).is_err(), "byte {i}");
    }
    // Corrupt the header.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes")) as usize;
    for (from, to) in [("F64", "F32"), ("\"pi\"", "\"pj\""), ("{", "[")] {
        let pos = text[..header_end].find(from).expect("header field");
        let mut bad = bytes.clone();
        bad[pos..pos + from.len()].copy_from_slice(to.as_bytes());
        assert!(HmmModel::from_safetensors(&bad).is_err(), "{from} -> {to}");
    }
    // Well-formed files with the wrong shapes or non-probabilities.
    let f64s = |x: &[f64]| -> Vec<u8> { x.iter().flat_map(|v| v.to_le_bytes()).collect() };
    let write = |pi: &[f64], pis: Vec<usize>, a: &[f64], a_s: Vec<usize>, b: &[f64], bs: Vec<usize>| {
        let (pi, a, b) = (f64s(pi), f64s(a), f64s(b));
        let view = |s, d| safetensors::tensor::TensorView::new(safetensors::Dtype::F64, s, d).expect("view");
        safetensors::serialize([("pi", view(pis, &pi)), ("A", view(a_s, &a)), ("B", view(bs, &b))], None)
            .expect("serialize")
    };
    let good =
        write(&[0.5, 0.5], vec![2], &[0.5, 0.5, 0.5, 0.5], vec![2, 2], &[1.0, 0.0, 0.0, 1.0], vec![2, 2]);
    assert!(HmmModel::from_safetensors(&good).is_ok());
    let wrong_shape = write(&[0.5, 0.5], vec![2], &[1.0, 1.0], vec![2, 1], &[1.0, 0.0, 0.0, 1.0], vec![2, 2]);
    let nan = write(
        &[0.5, 0.5],
        vec![2],
        &[0.5, 0.5, f64::NAN, 0.5],
        vec![2, 2],
        &[1.0, 0.0, 0.0, 1.0],
        vec![2, 2],
    );
    let negative =
        write(&[1.5, -0.5], vec![2], &[0.5, 0.5, 0.5, 0.5], vec![2, 2], &[1.0, 0.0, 0.0, 1.0], vec![2, 2]);
    for bad in [wrong_shape, nan, negative] {
        assert!(matches!(HmmModel::from_safetensors(&bad), Err(Error::Model(_))));
    }
}

#[test]
fn fit_rejects_bad_input() {
    let cfg = HmmConfig { states: 2, max_iters: 3, ..HmmConfig::default() };
    assert!(HmmModel::fit(&cfg, 4, &[vec![BOS, 3, 4]], None).is_err());
    assert!(HmmModel::fit(&cfg, 4, &[vec![BOS], vec![]], None).is_err());
    assert!(HmmModel::fit(&HmmConfig { states: 0, ..cfg.clone() }, 4, &[vec![BOS, 3]], None).is_err());
    assert!(
        HmmModel::fit(&HmmConfig { pseudo_count: -1.0, ..cfg.clone() }, 4, &[vec![BOS, 3]], None).is_err()
    );
    let (m, rep) = HmmModel::fit(&cfg, 4, &[vec![BOS, 3, 2, 3], vec![BOS]], None).expect("fit");
    assert_eq!((m.states(), m.vocab(), rep.tokens), (2, 4, 3));
    assert!(m.emissions().iter().chain(m.transitions()).all(|&p| p > 0.0));
    let json = serde_json::to_string(&cfg).expect("config serializes");
    assert_eq!(serde_json::from_str::<HmmConfig>(&json).expect("config parses"), cfg);
}

#[test]
fn fit_is_the_same_on_any_number_of_threads() {
    let mut r = rng(19);
    let truth = random_model(&mut r, 3, 8);
    let seqs: Vec<Vec<TokenId>> = (0..150).map(|i| sample_seq(&truth, &mut r, 1 + i % 17)).collect();
    let cfg = HmmConfig { states: 4, max_iters: 5, seed: 9, ..HmmConfig::default() };
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        pool.install(|| HmmModel::fit(&cfg, 8, &seqs, None).expect("fit"))
    };
    assert_eq!(run(1), run(3));
}
