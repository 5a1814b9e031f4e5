//! Unit tests of the Markov generator against independent references.

use std::collections::{HashMap, HashSet};

use rand::Rng;

use super::sources::{Order2Source, FIRST_SYMBOL};
use super::*;
use crate::models::{bits_per_token, Generator};
use crate::sampler::{rng_for, Sampler};
use crate::tokens::{TokenId, BOS, EOS, PAD};

/// Random sequences over `symbols` symbols (ids from 3), each BOS + up to `max_len` tokens,
/// most ending with EOS.
fn random_corpus(seed: u64, n: usize, symbols: u16, max_len: usize) -> Vec<Vec<TokenId>> {
    let mut rng = rng_for(seed, 0);
    (0..n)
        .map(|_| {
            let len = rng.random_range(0..=max_len);
            let mut s = vec![BOS];
            s.extend((0..len).map(|_| FIRST_SYMBOL + rng.random_range(0..symbols)));
            if rng.random::<f64>() < 0.8 {
                s.push(EOS);
            }
            s
        })
        .collect()
}

fn fit(order: usize, vocab: usize, train: &[Vec<TokenId>]) -> MarkovModel {
    MarkovModel::fit(&MarkovConfig { order, ..Default::default() }, vocab, train, None).unwrap()
}

/// Contexts to probe: every prefix of `seqs`, the empty and BOS-only contexts, and random
/// token strings (including tokens never seen in training).
fn probe_contexts(seqs: &[Vec<TokenId>], vocab: usize, seed: u64) -> Vec<Vec<TokenId>> {
    let mut out = vec![vec![], vec![BOS], vec![BOS, BOS], vec![EOS]];
    for s in seqs {
        for i in 0..=s.len() {
            out.push(s[..i].to_vec());
        }
    }
    let mut rng = rng_for(seed, 1);
    for _ in 0..200 {
        let len = rng.random_range(0..20);
        let mut c = vec![BOS];
        c.extend((0..len).map(|_| rng.random_range(0..vocab) as TokenId));
        out.push(c);
    }
    out
}

#[test]
fn distributions_sum_to_one_everywhere() {
    let vocab = 12;
    for (seed, order) in [(1, 1), (2, 2), (3, 3), (4, 5), (5, 8), (6, 16)] {
        let train = random_corpus(seed, 30, 6, 25);
        let model = fit(order, vocab, &train);
        let held = random_corpus(seed + 100, 5, 9, 25);
        let mut probs = Vec::new();
        for ctx in probe_contexts(&held, vocab, seed) {
            model.next_probs(&ctx, &mut probs);
            assert_eq!(probs.len(), vocab);
            let sum: f64 = probs.iter().sum();
            assert!((sum - 1.0).abs() < 1e-9, "order {order} ctx {ctx:?}: sum {sum}");
            assert_eq!(probs[PAD as usize], 0.0);
            assert_eq!(probs[BOS as usize], 0.0);
            for (t, &p) in probs.iter().enumerate().skip(2) {
                assert!(p > 0.0 && p.is_finite(), "order {order} ctx {ctx:?} token {t}: {p}");
            }
        }
    }
}

#[test]
fn log_probs_are_finite_and_match_the_stream() {
    let vocab = 14;
    for (seed, order) in [(11, 1), (12, 2), (13, 4), (14, 7), (15, 12)] {
        // Training uses only symbols 0..5; held-out sequences use 0..10, so most n-grams and
        // some tokens are unseen.
        let train = random_corpus(seed, 40, 5, 30);
        let model = fit(order, vocab, &train);
        for held in random_corpus(seed + 50, 10, 10, 40) {
            let lp = model.log_probs(&held).unwrap();
            assert_eq!(lp.len(), held.len() - 1);
            let mut stream = model.stream(&held[..1]).unwrap();
            let mut probs = Vec::new();
            for (i, &l) in lp.iter().enumerate() {
                assert!(l.is_finite() && l < 0.0 && l > IMPOSSIBLE_LOG_PROB, "order {order}: {l}");
                stream.next_probs(&mut probs);
                let p = probs[held[i + 1] as usize];
                assert!((p.ln() - l).abs() < 1e-12, "order {order} pos {i}: {} vs {l}", p.ln());
                stream.push(held[i + 1]).unwrap();
            }
        }
    }
}

#[test]
fn impossible_tokens_get_the_finite_floor() {
    let model = fit(3, 8, &random_corpus(21, 10, 4, 10));
    assert_eq!(IMPOSSIBLE_LOG_PROB, f64::MIN_POSITIVE.ln());
    let lp = model.log_probs(&[BOS, 3, PAD, BOS, 200, 4]).unwrap();
    assert_eq!(&lp[1..4], &[IMPOSSIBLE_LOG_PROB; 3]);
    assert!(lp[0] > IMPOSSIBLE_LOG_PROB && lp[4] > IMPOSSIBLE_LOG_PROB);
}

#[test]
fn repeated_phrase_is_reproduced_at_temperature_zero() {
    // Every cyclic window of two or more tokens identifies its place in the phrase.
    let phrase: [TokenId; 8] = [3, 4, 3, 5, 6, 3, 7, 8];
    let mut seq = vec![BOS];
    for _ in 0..30 {
        seq.extend_from_slice(&phrase);
    }
    seq.push(EOS);
    let expected = seq[1..seq.len() - 1].to_vec();
    let sampler = Sampler { temperature: 0.0, ..Default::default() };
    for order in [3, 4, 8, 16] {
        let model = fit(order, 10, std::slice::from_ref(&seq));
        let out = model.generate_batch(&[vec![BOS]], expected.len(), &sampler, 7).unwrap();
        assert_eq!(out[0], expected, "order {order}");
    }
}

/// Exact entropy rate (bits/symbol) of a second-order chain: stationary distribution of the
/// pair chain by power iteration, then the average entropy of the next symbol.
fn entropy_rate(src: &Order2Source) -> f64 {
    let n = src.symbols();
    let rows: Vec<Vec<f64>> = (0..n * n).map(|s| src.transition(s / n, s % n)).collect();
    let mut pi = vec![1.0 / (n * n) as f64; n * n];
    for _ in 0..100_000 {
        let mut next = vec![0.0; n * n];
        for (s, row) in rows.iter().enumerate() {
            let b = s % n;
            for (c, &p) in row.iter().enumerate() {
                next[b * n + c] += pi[s] * p;
            }
        }
        let diff: f64 = next.iter().zip(&pi).map(|(a, b)| (a - b).abs()).sum();
        pi = next;
        if diff < 1e-15 {
            break;
        }
    }
    -rows
        .iter()
        .zip(&pi)
        .map(|(row, &w)| w * row.iter().filter(|&&p| p > 0.0).map(|&p| p * p.log2()).sum::<f64>())
        .sum::<f64>()
}

#[test]
fn held_out_entropy_approaches_the_source_rate() {
    let src = Order2Source::random(10, 10, 42);
    let truth = entropy_rate(&src);
    let seq_len = 10_000;
    let sample = |n: usize, seed: u64| -> Vec<Vec<TokenId>> {
        (0..n).map(|i| src.sample(seq_len, false, &mut rng_for(seed, i as u64))).collect()
    };
    let held = sample(20, 999);
    let mut bits = Vec::new();
    for n_seqs in [1, 10, 100] {
        let model = fit(3, src.vocab_size(), &sample(n_seqs, 1));
        let lp: Vec<f64> = held.iter().flat_map(|s| model.log_probs(s).unwrap()).collect();
        bits.push(bits_per_token(&lp));
    }
    assert!(bits[0] > bits[1] && bits[1] > bits[2], "bits {bits:?}, truth {truth}");
    let rel = (bits[2] - truth) / truth;
    assert!(rel.abs() < 0.02, "bits {bits:?}, truth {truth}, rel {rel}");
}

/// Interpolated modified Kneser-Ney written out directly from the definitions, with n-grams as
/// token vectors in hash maps.
struct Reference {
    order: usize,
    vocab: usize,
    /// `counts[k][g]` for n-grams `g` of length `k` (index 0 unused).
    counts: Vec<HashMap<Vec<TokenId>, u64>>,
    discounts: Vec<[f64; 3]>,
}

impl Reference {
    fn new(order: usize, vocab: usize, train: &[Vec<TokenId>]) -> Self {
        let valid = |t: TokenId| t != PAD && t != BOS;
        // occurrences[k]: every k-gram occurrence (ending at a valid target) with whether it
        // starts at position 0.
        let mut occurrences: Vec<Vec<(Vec<TokenId>, bool)>> = vec![Vec::new(); order + 2];
        for s in train {
            for i in 1..s.len() {
                if !valid(s[i]) {
                    continue;
                }
                for k in 1..=(i + 1).min(order + 1) {
                    occurrences[k].push((s[i + 1 - k..=i].to_vec(), i + 1 == k));
                }
            }
        }
        let mut counts = vec![HashMap::new(); order + 1];
        for k in 1..=order {
            if k == order {
                for (g, _) in &occurrences[k] {
                    *counts[k].entry(g.clone()).or_insert(0) += 1;
                }
            } else {
                // Distinct left extensions...
                let longer: HashSet<&Vec<TokenId>> = occurrences[k + 1].iter().map(|(g, _)| g).collect();
                for g in longer {
                    *counts[k].entry(g[1..].to_vec()).or_insert(0) += 1;
                }
                // ...plus occurrences at the start of a sequence.
                for (g, at_start) in &occurrences[k] {
                    if *at_start {
                        *counts[k].entry(g.clone()).or_insert(0) += 1;
                    }
                }
            }
        }
        let discounts = (0..=order)
            .map(|k| {
                let n = |j: u64| counts[k].values().filter(|&&c| c == j).count() as f64;
                let (n1, n2, n3, n4) = (n(1), n(2), n(3), n(4));
                if k == 0 || n1 == 0.0 || n2 == 0.0 || n3 == 0.0 || n4 == 0.0 {
                    return [0.5, 1.0, 1.5];
                }
                let y = n1 / (n1 + 2.0 * n2);
                let d = [1.0 - 2.0 * y * n2 / n1, 2.0 - 3.0 * y * n3 / n2, 3.0 - 4.0 * y * n4 / n3];
                if d[0] > 0.0 && d[0] < 1.0 && d[1] > 0.0 && d[1] < 2.0 && d[2] > 0.0 && d[2] < 3.0 {
                    d
                } else {
                    [0.5, 1.0, 1.5]
                }
            })
            .collect();
        Reference { order, vocab, counts, discounts }
    }

    /// `p_k(w | h)` with `h` of length `k - 1`.
    fn p(&self, k: usize, h: &[TokenId], w: TokenId) -> f64 {
        if k == 0 {
            return if w == PAD || w == BOS { 0.0 } else { 1.0 / (self.vocab - 2) as f64 };
        }
        let lower = self.p(k - 1, &h[1.min(h.len())..], w);
        let followers: Vec<u64> = (0..self.vocab as TokenId)
            .filter_map(|v| {
                let mut g = h.to_vec();
                g.push(v);
                self.counts[k].get(&g).copied()
            })
            .collect();
        let total: u64 = followers.iter().sum();
        if total == 0 {
            return lower;
        }
        let d = self.discounts[k];
        let disc = |c: u64| d[(c.min(3) - 1) as usize];
        let mut g = h.to_vec();
        g.push(w);
        let c = self.counts[k].get(&g).copied().unwrap_or(0);
        let own = if c > 0 { (c as f64 - disc(c)) / total as f64 } else { 0.0 };
        let gamma: f64 = followers.iter().map(|&c| disc(c)).sum::<f64>() / total as f64;
        own + gamma * lower
    }

    fn prob(&self, history: &[TokenId], w: TokenId) -> f64 {
        let k = self.order.min(history.len() + 1);
        self.p(k, &history[history.len() + 1 - k..], w)
    }
}

#[test]
fn smoothing_matches_a_brute_force_reference() {
    let vocab = 9;
    for (seed, order) in [(31, 1), (32, 2), (33, 3), (34, 4)] {
        // A peaked source makes counts of 1..4 common, so the discount formula is exercised.
        let src = Order2Source::random(5, 3, seed);
        let mut train: Vec<Vec<TokenId>> =
            (0..12).map(|i| src.sample(10 + 3 * i, i % 3 != 0, &mut rng_for(seed, i as u64))).collect();
        train.push(vec![BOS]);
        train.push(vec![BOS, 3, BOS, 4, PAD, 5, EOS]); // BOS and PAD inside: context only
        let model = fit(order, vocab, &train);
        let reference = Reference::new(order, vocab, &train);

        let distinct: Vec<usize> = (1..=order).map(|k| reference.counts[k].len()).collect();
        assert_eq!(model.ngram_counts(), distinct, "order {order}");
        let want: Vec<[f64; 3]> = reference.discounts[1..].to_vec();
        let got = model.discounts();
        for (g, w) in got.iter().zip(&want) {
            for j in 0..3 {
                assert!((g[j] - w[j]).abs() < 1e-12, "order {order}: {got:?} vs {want:?}");
            }
        }
        if order >= 3 {
            assert!(want.iter().any(|d| *d != [0.5, 1.0, 1.5]), "only fallback discounts: {want:?}");
        }

        let held = random_corpus(seed + 7, 4, 6, 12);
        let mut probs = Vec::new();
        for ctx in probe_contexts(&held, vocab, seed).into_iter().take(120) {
            model.next_probs(&ctx, &mut probs);
            for w in 0..vocab as TokenId {
                let r = reference.prob(&ctx, w);
                assert!(
                    (probs[w as usize] - r).abs() < 1e-12,
                    "order {order} ctx {ctx:?} w {w}: {} vs {r}",
                    probs[w as usize]
                );
                assert!((model.prob(&ctx, w) - r).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn fixed_discounts_are_used() {
    let train = random_corpus(41, 20, 5, 20);
    let config = MarkovConfig { order: 3, discounts: Discounts::Fixed { d1: 0.3, d2: 0.6, d3: 0.9 } };
    let model = MarkovModel::fit(&config, 10, &train, None).unwrap();
    assert_eq!(model.discounts(), vec![[0.3, 0.6, 0.9]; 3]);
    let mut probs = Vec::new();
    model.next_probs(&[BOS, 3, 4], &mut probs);
    assert!((probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
}

#[test]
fn bytes_round_trip() {
    let train = random_corpus(51, 30, 6, 30);
    let held = random_corpus(52, 10, 8, 30);
    for order in [1, 3, 6] {
        let model = fit(order, 12, &train);
        let bytes = model.to_bytes();
        let back = MarkovModel::from_bytes(&bytes).unwrap();
        assert_eq!(back, model);
        for s in &held {
            assert_eq!(back.log_probs(s).unwrap(), model.log_probs(s).unwrap());
        }
        assert_eq!(back.to_bytes(), bytes);
    }
    let fixed = MarkovConfig { order: 2, discounts: Discounts::Fixed { d1: 0.4, d2: 0.8, d3: 1.2 } };
    let model = MarkovModel::fit(&fixed, 12, &train, None).unwrap();
    assert_eq!(MarkovModel::from_bytes(&model.to_bytes()).unwrap(), model);
}

#[test]
fn damaged_bytes_are_errors() {
    let model = fit(3, 10, &random_corpus(61, 8, 5, 12));
    let bytes = model.to_bytes();
    for len in 0..bytes.len() {
        assert!(
            matches!(MarkovModel::from_bytes(&bytes[..len]), Err(crate::error::FormatError { .. })),
            "len {len}"
        );
    }
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        assert!(matches!(MarkovModel::from_bytes(&b), Err(crate::error::FormatError { .. })), "bit {bit}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(MarkovModel::from_bytes(&longer).is_err());
}

/// Change bytes and fix the checksum, so the structural checks must catch the damage.
fn forge(bytes: &[u8], at: usize, new: &[u8]) -> Vec<u8> {
    let mut b = bytes[..bytes.len() - 4].to_vec();
    b[at..at + new.len()].copy_from_slice(new);
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn forged_bytes_with_valid_checksum_are_errors() {
    let model = fit(2, 10, &random_corpus(71, 8, 5, 12));
    let bytes = model.to_bytes();
    assert!(MarkovModel::from_bytes(&forge(&bytes, 0, &[0])).is_err()); // sanity: forge works
    assert!(MarkovModel::from_bytes(&forge(&bytes, 0, b"C")).is_ok());
    // Header: 8 magic, 4 version, 4 order, 4 vocab, 1 mode, 24 fixed = 45; level 1 then has
    // 24 discount bytes, so its context count sits at 69 and its n-gram count at 77.
    let huge = u64::MAX / 4;
    let cases: Vec<(usize, Vec<u8>)> = vec![
        (12, 0u32.to_le_bytes().to_vec()),      // order 0
        (12, 99u32.to_le_bytes().to_vec()),     // order too large
        (16, 2u32.to_le_bytes().to_vec()),      // vocabulary too small
        (20, vec![7]),                          // unknown discount mode
        (45, (-1.0f64).to_le_bytes().to_vec()), // negative discount
        (45, f64::NAN.to_le_bytes().to_vec()),  // NaN discount
        (69, huge.to_le_bytes().to_vec()),      // bogus context count
        (77, huge.to_le_bytes().to_vec()),      // bogus n-gram count
        (69, 2u64.to_le_bytes().to_vec()),      // counts that no longer add up
    ];
    for (at, new) in cases {
        let r = MarkovModel::from_bytes(&forge(&bytes, at, &new));
        assert!(matches!(r, Err(crate::error::FormatError { .. })), "at {at}: {r:?}");
    }
    // A follower token of level 1 changed to PAD (level 1: one context, hash and length first).
    let tok_at = 85 + 8 + 4;
    let r = MarkovModel::from_bytes(&forge(&bytes, tok_at, &PAD.to_le_bytes()));
    assert!(matches!(r, Err(crate::error::FormatError { .. })), "{r:?}");
    // Follower count 0.
    let n_fol = model.ngram_counts()[0];
    let count_at = tok_at + 2 * n_fol;
    let r = MarkovModel::from_bytes(&forge(&bytes, count_at, &0u32.to_le_bytes()));
    assert!(matches!(r, Err(crate::error::FormatError { .. })), "{r:?}");
}

#[test]
fn bad_training_input_is_an_error() {
    let cfg = MarkovConfig { order: 3, ..Default::default() };
    assert!(MarkovModel::fit(&cfg, 10, &[vec![BOS, 3, 12]], None).is_err()); // out of vocab
    assert!(MarkovModel::fit::<Vec<crate::tokens::TokenId>>(&cfg, 10, &[], None).is_err());
    assert!(MarkovModel::fit(&cfg, 10, &[vec![BOS], vec![]], None).is_err());
    assert!(MarkovModel::fit(&cfg, 2, &[vec![BOS, 2]], None).is_err());
    assert!(MarkovModel::fit(&MarkovConfig { order: 0, ..cfg }, 10, &[vec![BOS, 3]], None).is_err());
    let seen = std::sync::Mutex::new(Vec::new());
    let pb = |done: u64, total: u64, _: &str| seen.lock().unwrap().push((done, total));
    assert!(MarkovModel::fit(&cfg, 10, &[vec![BOS, 3, 4, EOS]], Some(&pb)).is_ok());
    // One report per order (order 3 here) after the first, ending at 3 of 3.
    assert_eq!(seen.lock().unwrap().last(), Some(&(3, 3)));
}

#[test]
fn stream_keeps_only_the_last_tokens() {
    let train = random_corpus(81, 20, 5, 20);
    let model = fit(3, 10, &train);
    let long: Vec<TokenId> = [BOS, 3, 4, 5, 6, 7, 3, 4].to_vec();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    model.stream(&long).unwrap().next_probs(&mut a);
    model.next_probs(&long[long.len() - 2..], &mut b);
    assert_eq!(a, b);
}

/// Compare the model with [`Reference`]: distinct n-grams, discounts and the next-token
/// distribution of `contexts`.
fn assert_matches_reference(model: &MarkovModel, train: &[Vec<TokenId>], contexts: &[Vec<TokenId>]) {
    let (order, vocab) = (model.order(), model.vocab_size());
    let reference = Reference::new(order, vocab, train);
    let distinct: Vec<usize> = (1..=order).map(|k| reference.counts[k].len()).collect();
    assert_eq!(model.ngram_counts(), distinct, "order {order}");
    for (g, w) in model.discounts().iter().zip(&reference.discounts[1..]) {
        assert!(g.iter().zip(w).all(|(a, b)| (a - b).abs() < 1e-12), "order {order}: {g:?} vs {w:?}");
    }
    let mut probs = Vec::new();
    for ctx in contexts {
        model.next_probs(ctx, &mut probs);
        for w in 0..vocab as TokenId {
            let r = reference.prob(ctx, w);
            assert!(
                (probs[w as usize] - r).abs() < 1e-12,
                "order {order} ctx {ctx:?} w {w}: {} vs {r}",
                probs[w as usize]
            );
        }
    }
}

#[test]
fn many_buckets_and_big_buckets_match_the_reference() {
    // ~40k tokens: the highest orders are spread over many hash buckets.
    let src = Order2Source::random(20, 4, 91);
    let train: Vec<Vec<TokenId>> = (0..40).map(|i| src.sample(1000, true, &mut rng_for(92, i))).collect();
    let held: Vec<Vec<TokenId>> = (0..2).map(|i| src.sample(60, true, &mut rng_for(93, i))).collect();
    let contexts = probe_contexts(&held, src.vocab_size(), 94);
    for order in [2, 5] {
        assert_matches_reference(&fit(order, src.vocab_size(), &train), &train, &contexts);
    }
    // ~300k unigram targets in one context: one bucket large enough for the parallel sort.
    let big: Vec<Vec<TokenId>> = (0..30).map(|i| src.sample(10_000, true, &mut rng_for(95, i))).collect();
    assert_matches_reference(&fit(1, src.vocab_size(), &big), &big, &contexts[..3]);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    fn corpus() -> impl Strategy<Value = Vec<Vec<TokenId>>> {
        // Sequences over tokens 2..8 (EOS may appear anywhere, as may a stray BOS or PAD).
        let seq = proptest::collection::vec(prop_oneof![8 => 2u16..8, 1 => 0u16..2], 0..25)
            .prop_map(|body| std::iter::once(BOS).chain(body).collect::<Vec<_>>());
        proptest::collection::vec(seq, 1..8)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        #[test]
        fn random_corpora_match_the_reference(train in corpus(), order in 1usize..7) {
            let targets = train.iter().flat_map(|s| &s[1..]).filter(|&&t| t != PAD && t != BOS).count();
            let result = MarkovModel::fit(&MarkovConfig { order, ..Default::default() }, 8, &train, None);
            if targets == 0 {
                prop_assert!(result.is_err());
            } else {
                let model = result.unwrap();
                let contexts = probe_contexts(&train[..1], 8, order as u64);
                assert_matches_reference(&model, &train, &contexts[..40.min(contexts.len())]);
                let back = MarkovModel::from_bytes(&model.to_bytes()).unwrap();
                prop_assert_eq!(back, model);
            }
        }
    }
}

#[test]
fn the_best_order_is_the_one_with_the_lowest_validation_bits() {
    // A source of order 3: a higher order than 1 must win on held-out data.
    let mut rng = rng_for(9, 0);
    let make = |rng: &mut crate::sampler::SampleRng| {
        let mut s = vec![BOS, 3, 4];
        for _ in 0..300 {
            let n = s.len();
            let next =
                if rng.random_bool(0.9) { 3 + (s[n - 1] + s[n - 2]) % 5 } else { rng.random_range(3..8) };
            s.push(next);
        }
        s.push(EOS);
        s
    };
    let train: Vec<Vec<TokenId>> = (0..20).map(|_| make(&mut rng)).collect();
    let valid: Vec<Vec<TokenId>> = (0..5).map(|_| make(&mut rng)).collect();
    let mut heard = Vec::new();
    let best = MarkovModel::fit_best_order(
        &MarkovConfig::default(),
        &[1, 3],
        8,
        &train,
        &valid,
        None,
        None,
        |m, b| heard.push((m.order(), b)),
    )
    .unwrap();
    assert_eq!(heard.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 3]);
    let lowest = heard.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
    assert_eq!(best.config().order, lowest);
    assert_eq!(lowest, 3, "{heard:?}");
    assert!(MarkovModel::fit_best_order(
        &MarkovConfig::default(),
        &[],
        8,
        &train,
        &valid,
        None,
        None,
        |_, _| {}
    )
    .is_err());
}
