//! Tests of the Transformer on the CPU with tiny models (and one on CUDA when present).
//!
//! libtorch's random generator and thread count are process-wide, so every test that touches
//! them holds [`torch_lock`] (one lock for every network's tests).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use tch::{Device, Tensor};

use super::*;
use crate::checkpoint::{self, Header};
use crate::models::markov::{MarkovConfig, MarkovModel};
use crate::models::neural::testing::{check_cuda, quick_train, run_opts, tokenizer, torch_lock};
use crate::models::neural::{last_path, payload, train::checkpoint_state, NetConfig, Network, StopReason};
use crate::models::neural::{TrainConfig, TrainData};
use crate::models::{Generator, ModelKind, TokenStream};
use crate::sampler::{rng_for, Sampler};
use crate::tokens::{TokenId, BOS, EOS};

fn tiny() -> TransformerConfig {
    TransformerConfig { layers: 2, heads: 2, dim: 16, ff: 32, dropout: 0.0, context: 64 }
}

fn random_model(cfg: TransformerConfig, seed: i64) -> TransformerModel {
    tch::manual_seed(seed);
    TransformerModel::new(cfg, tokenizer().vocab_size(), Device::Cpu).unwrap()
}

fn seq_of(n: usize, seed: usize) -> Vec<TokenId> {
    std::iter::once(BOS).chain((0..n).map(|i| 3 + ((i * 7 + seed * 13) % 50) as TokenId)).collect()
}

/// Logits after each token of `tokens`, fed to the KV cache `chunk` tokens at a time.
fn cached_logits(model: &TransformerModel, tokens: &[TokenId], chunk: usize) -> Vec<f32> {
    let net = model.net();
    tch::no_grad(|| {
        let mut state = net.init_state(1).unwrap();
        let mut out = Vec::new();
        for part in tokens.chunks(chunk) {
            let ids: Vec<i64> = part.iter().map(|&t| i64::from(t)).collect();
            let logits = net.step(&Tensor::from_slice(&ids).unsqueeze(0), &mut state).unwrap();
            out.extend(payload::to_f32_vec(&logits).unwrap());
        }
        out
    })
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn parameter_count_matches_the_config_formula() {
    let _g = torch_lock();
    let v = tokenizer().vocab_size();
    for cfg in [tiny(), TransformerConfig { layers: 1, heads: 4, ff: 8, ..tiny() }] {
        assert_eq!(random_model(cfg, 0).parameter_count(), cfg.parameters(v), "{cfg:?}");
    }
}

#[test]
fn kv_cache_logits_equal_full_recompute_logits() {
    let _g = torch_lock();
    let model = random_model(tiny(), 1);
    let seq = seq_of(50, 0);
    let full = model.full_logits(&seq).unwrap();
    for chunk in [1, 3, 50] {
        let d = max_diff(&cached_logits(&model, &seq, chunk), &full);
        assert!(d < 1e-5, "chunks of {chunk}: max difference {d}");
    }
    // A broken cache would not pass: logits read without the earlier tokens differ.
    let alone = model.full_logits(&seq[25..]).unwrap();
    let v = model.vocab_size();
    assert!(max_diff(&alone[..v], &full[25 * v..26 * v]) > 1e-3);
}

#[test]
fn decoding_slides_by_rebuilding_from_the_last_half_context() {
    let _g = torch_lock();
    let cfg = TransformerConfig { context: 8, ..tiny() };
    let model = random_model(cfg, 2);
    let v = model.vocab_size();
    let seq = seq_of(30, 1);
    let cached = cached_logits(&model, &seq, 1);
    // Tokens 0..8 fill the cache; token 8 is read after tokens 4..8 alone, token 12 after 8..12.
    let full = model.full_logits(&seq[..8]).unwrap();
    assert!(max_diff(&cached[..8 * v], &full) < 1e-5);
    for (at, from) in [(8, 4), (11, 4), (12, 8), (29, 24)] {
        let fresh = model.full_logits(&seq[from..=at]).unwrap();
        let d = max_diff(&cached[at * v..(at + 1) * v], &fresh[(at - from) * v..]);
        assert!(d < 1e-5, "token {at}: {d}");
    }
    // Scoring in one call and in any chunking follows the same rule.
    assert!(max_diff(&cached_logits(&model, &seq, 7), &cached) < 1e-5);
    assert!(max_diff(&model.logits(&seq).unwrap(), &cached) < 1e-5);
    let lp = model.log_probs(&seq).unwrap();
    assert_eq!(lp.len(), seq.len() - 1);
    assert!(lp.iter().all(|x| x.is_finite() && *x < 0.0));
}

#[test]
fn save_then_load_gives_identical_logits() {
    let _g = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let tok = tokenizer();
    let model = random_model(tiny(), 3);
    let path = dir.path().join("m.transformer");
    model.save(&path, Header::new(ModelKind::Transformer, &tok, serde_json::Value::Null, "")).unwrap();
    let (back, h) = TransformerModel::load(&path, Device::Cpu).unwrap();
    assert_eq!(h.kind, ModelKind::Transformer);
    assert_eq!(back.config(), &tiny());
    let seq = seq_of(40, 2);
    assert_eq!(model.logits(&seq).unwrap(), back.logits(&seq).unwrap());
    // Through the any-kind loader too.
    let loaded = crate::models::saved::load(&path, "cpu").unwrap();
    assert_eq!(loaded.model.kind(), ModelKind::Transformer);
    assert_eq!(loaded.model.log_probs(&seq).unwrap(), model.log_probs(&seq).unwrap());
    // An LSTM loader refuses it.
    let e = crate::models::lstm::LstmModel::load(&path, Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("expected lstm"), "{e}");
}

/// The tensors of a checkpoint's payload as f32 vectors, by name.
fn payload_values(path: &Path) -> std::collections::BTreeMap<String, Vec<f32>> {
    let (_, bytes) = checkpoint::load(path).unwrap();
    payload::decode(&bytes).unwrap().into_iter().map(|(n, t)| (n, payload::to_f32_vec(&t).unwrap())).collect()
}

#[test]
fn resume_continues_exactly_where_training_stopped() {
    let _g = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let tok = tokenizer();
    let train_seq = vec![seq_of(120, 3), seq_of(60, 4)];
    let valid = vec![seq_of(30, 5)];
    let data = TrainData { train: &train_seq, valid: &valid };
    // Dropout (embedding, attention, residuals) and transposition: every source of randomness.
    let model_cfg = TransformerConfig { dropout: 0.2, context: 0, ..tiny() };
    let cfg = TrainConfig { transpose: 3, checkpoint_every: 7, weight_decay: 0.01, ..quick_train(20) };
    let stop = AtomicBool::new(false);

    let straight = dir.path().join("a.ckpt");
    let a = train(&model_cfg, &cfg, &tok, data, &straight, &run_opts(&stop, None, None)).unwrap();
    assert_eq!(a.state.step, 20);
    assert_eq!(a.model.config().context, 24, "the context is the training window");

    let split = dir.path().join("b.ckpt");
    let b = train(&model_cfg, &cfg, &tok, data, &split, &run_opts(&stop, None, Some(9))).unwrap();
    assert_eq!(b.stopped, StopReason::StepLimit);
    let (h, _) = checkpoint::load(&last_path(&split)).unwrap();
    assert_eq!(checkpoint_state(&h).unwrap().step, 9);
    assert!(payload_values(&last_path(&split)).keys().any(|k| k.starts_with("adamw.v.blocks.1.")));

    let copy = dir.path().join("b9.ckpt");
    std::fs::copy(last_path(&split), &copy).unwrap();
    let c = train(&model_cfg, &cfg, &tok, data, &split, &run_opts(&stop, Some(&copy), None)).unwrap();
    assert_eq!(c.stopped, StopReason::Finished);
    assert_eq!(c.state, a.state);
    assert_eq!(payload_values(&last_path(&split)), payload_values(&last_path(&straight)));
    assert_eq!(payload_values(&split), payload_values(&straight));

    // Another shape on resume is refused.
    let other = TransformerConfig { dim: 32, ..model_cfg };
    let e =
        train(&other, &cfg, &tok, data, &split, &run_opts(&stop, Some(&copy), None)).unwrap_err().to_string();
    assert!(e.contains("differs"), "{e}");
}

#[test]
fn batched_sampling_matches_one_stream_per_row_past_the_context() {
    let _g = torch_lock();
    // A context of 12 and 40 new tokens: every row slides a few times.
    let model = random_model(TransformerConfig { context: 12, ..tiny() }, 13);
    let primers = vec![vec![BOS], vec![BOS, 60, 62, 64], vec![BOS, 70], vec![BOS], vec![]];
    for sampler in [Sampler::default(), Sampler { temperature: 0.8, top_k: 20, top_p: 0.9, notes: None }] {
        let a = model.generate_batch(&primers, 40, &sampler, 21).unwrap();
        assert_eq!(a, model.generate_batch(&primers, 40, &sampler, 21).unwrap());
        assert_ne!(a, model.generate_batch(&primers, 40, &sampler, 22).unwrap());
        for (i, p) in primers.iter().enumerate() {
            let mut rng = rng_for(21, i as u64);
            let alone = crate::models::sample(&model, p, 40, &sampler, &mut rng).unwrap();
            assert_eq!(a[i], alone, "row {i}");
            assert!(a[i].len() == 40 || a[i].last() == Some(&EOS));
        }
    }
    // Equal primers run as one batch (the `--count K` case) and still differ by RNG stream.
    let same = model.generate_batch(&[vec![BOS, 40], vec![BOS, 40]], 30, &Sampler::default(), 3).unwrap();
    assert_ne!(same[0], same[1]);
}

#[test]
fn caches_of_different_lengths_stack_padded_and_decode_as_alone() {
    let _g = torch_lock();
    // Context 12: rows primed with 2, 6 and 11 tokens slide at different steps.
    let model = random_model(TransformerConfig { context: 12, ..tiny() }, 17);
    let rows: Vec<Vec<TokenId>> =
        [2, 6, 11, 1].iter().enumerate().map(|(i, &n)| seq_of(n - 1, i + 1)).collect();
    let more: Vec<Vec<TokenId>> = (0..4).map(|i| seq_of(30, i + 7)[1..].to_vec()).collect();
    let ids = |t: &[TokenId]| Tensor::from_slice(&t.iter().map(|&x| i64::from(x)).collect::<Vec<_>>());
    let got = tch::no_grad(|| {
        let net = model.net();
        let states: Vec<_> = rows
            .iter()
            .map(|r| {
                let mut s = net.init_state(1).unwrap();
                let _ = net.step(&ids(r).unsqueeze(0), &mut s).unwrap();
                s
            })
            .collect();
        let mut batch = net.cat_states(&states).unwrap();
        assert_eq!(batch.row_lens(), [2, 6, 11, 1]);
        // Feed 30 more tokens per row, in chunks of 1, 3 and 5 (each chunk crosses slides).
        let mut got: Vec<Vec<f32>> = vec![Vec::new(); 4];
        let mut at = 0;
        for chunk in [1usize, 3, 5].iter().cycle() {
            if at >= 30 {
                break;
            }
            let n = (*chunk).min(30 - at);
            let input = Tensor::stack(&more.iter().map(|m| ids(&m[at..at + n])).collect::<Vec<_>>(), 0);
            let logits = net.step(&input, &mut batch).unwrap();
            for (r, out) in got.iter_mut().enumerate() {
                out.extend(payload::to_f32_vec(&logits.get(r as i64)).unwrap());
            }
            at += n;
        }
        // Every row slid at its own length: 2 + 30, 6 + 30, 11 + 30 and 1 + 30 tokens, rebuilt
        // from their last 6 before the step after it reached 12.
        assert_eq!(batch.row_lens(), [8, 12, 11, 7]);
        assert_eq!(batch.len(), 12);
        // A selected row keeps its length; the batch narrows to its longest row.
        let one = net.select_rows(&batch, &Tensor::from_slice(&[3i64, 0])).unwrap();
        assert_eq!((one.row_lens(), one.len()), ([7, 8].as_slice(), 8));
        got
    });
    for (r, out) in got.iter().enumerate() {
        let whole: Vec<TokenId> = rows[r].iter().chain(&more[r]).copied().collect();
        let alone = cached_logits(&model, &whole, 1);
        let vocab = alone.len() / whole.len();
        let d = max_diff(out, &alone[rows[r].len() * vocab..]);
        assert!(d < 1e-4, "row {r}: padded batch differs from the row alone by {d}");
    }
}

/// `BOS`, `half` random tokens of `alphabet` (from id 10), the same again, `EOS`.
fn copy_piece(rng: &mut impl rand::Rng, half: usize, alphabet: u16) -> Vec<TokenId> {
    let first: Vec<TokenId> = (0..half).map(|_| 10 + rng.random_range(0..alphabet)).collect();
    std::iter::once(BOS).chain(first.iter().copied()).chain(first.iter().copied()).chain([EOS]).collect()
}

/// Mean bits per token over the second halves (the copies) of `pieces`.
fn second_half_bits(model: &dyn Generator, pieces: &[Vec<TokenId>], half: usize) -> f64 {
    let lps: Vec<f64> =
        pieces.iter().flat_map(|p| model.log_probs(p).unwrap()[half..2 * half].to_vec()).collect();
    crate::models::bits_per_token(&lps)
}

#[test]
fn learns_a_copy_task_that_an_order_8_markov_chain_cannot() {
    let _g = torch_lock();
    let (half, alphabet) = (10, 8);
    let mut rng = rng_for(7, 0);
    let train_set: Vec<Vec<TokenId>> = (0..400).map(|_| copy_piece(&mut rng, half, alphabet)).collect();
    let test_set: Vec<Vec<TokenId>> = (0..40).map(|_| copy_piece(&mut rng, half, alphabet)).collect();
    let tok = tokenizer();
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let model_cfg = TransformerConfig { layers: 2, heads: 4, dim: 64, ff: 128, dropout: 0.0, context: 0 };
    let cfg = TrainConfig {
        batch: 16,
        window: 2 * half + 1,
        lr: 3e-3,
        warmup: 30,
        // The copy is learned suddenly (0.005 bits at 800 steps, 2.0 at 500): 1,000 for a margin.
        ..quick_train(1000)
    };
    let report = train(
        &model_cfg,
        &cfg,
        &tok,
        TrainData { train: &train_set, valid: &[] },
        &dir.path().join("copy.ckpt"),
        &run_opts(&stop, None, None),
    )
    .unwrap();
    let transformer = second_half_bits(&report.model, &test_set, half);
    let markov = MarkovModel::fit(
        &MarkovConfig { order: 8, ..MarkovConfig::default() },
        tok.vocab_size(),
        &train_set,
        None,
    )
    .unwrap();
    let markov = second_half_bits(&markov, &test_set, half);
    eprintln!("second-half bits/token: transformer {transformer:.4}, markov-8 {markov:.4}");
    // Random halves carry log2(8) = 3 bits a token; the copy carries none.
    assert!(markov > 1.5, "markov {markov}");
    assert!(transformer < 0.1, "transformer {transformer}");
}

#[test]
fn cuda_matches_the_cpu_and_trains_in_bf16() {
    let model = random_model(tiny(), 14);
    check_cuda(
        "cuda_matches_the_cpu_and_trains_in_bf16",
        &model,
        &tiny(),
        &seq_of(90, 6),
        &[seq_of(400, 7)],
        0.2,
    );
}

/// `BOS 4 m m m 5 m m m EOS` with `m` one of 8 symbols: left to right the first `m` is a guess
/// (3 bits), but the music after it says what it is.
fn fim_piece(m: TokenId) -> Vec<TokenId> {
    vec![BOS, 4, m, m, m, 5, m, m, m, EOS]
}

/// `BOS 4 SHIFT_k 5 EOS`, k from 1 to 8: neither side of the SHIFT tells k, only the gap
/// (the middle's time) does.
fn gap_piece(tok: &crate::tokens::Tokenizer, k: u16) -> Vec<TokenId> {
    vec![BOS, 4, tok.vocab().id(crate::tokens::Event::TimeShift(k)).unwrap(), 5, EOS]
}

#[test]
fn fill_in_the_middle_learns_a_middle_that_only_the_suffix_determines() {
    fim_learns_the_middle(crate::models::neural::fim::Order::Psm);
}

#[test]
fn fill_in_the_middle_suffix_first_learns_it_too() {
    fim_learns_the_middle(crate::models::neural::fim::Order::Spm);
}

/// A tiny FIM Transformer trained in `order` writes a middle only the suffix determines, and a
/// middle's time only the gap tells; saved and loaded it reads the same order.
fn fim_learns_the_middle(order: crate::models::neural::fim::Order) {
    use crate::models::neural::fim;
    let _g = torch_lock();
    let mut rng = rng_for(11, 0);
    let symbol = |rng: &mut crate::sampler::SampleRng| 10 + rand::Rng::random_range(rng, 0..8u16);
    let tok = tokenizer();
    let train_set: Vec<Vec<TokenId>> = (0..300)
        .map(|_| fim_piece(symbol(&mut rng)))
        .chain((0..300).map(|i| gap_piece(&tok, 1 + (i % 8) as u16)))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let model_cfg = TransformerConfig { layers: 2, heads: 4, dim: 64, ff: 128, dropout: 0.0, context: 0 };
    // A window of 13: a whole piece and the four sentinels fit in a FIM window.
    let cfg = TrainConfig {
        batch: 16,
        window: 13,
        lr: 3e-3,
        warmup: 30,
        fim_rate: 0.5,
        fim_order: order,
        ..quick_train(900)
    };
    let out = dir.path().join("fim.ckpt");
    let report = train(
        &model_cfg,
        &cfg,
        &tok,
        TrainData { train: &train_set, valid: &[] },
        &out,
        &run_opts(&stop, None, None),
    )
    .unwrap();
    let model = &report.model;
    assert!(model.fills_in_the_middle());
    assert_eq!(model.vocab_size(), tok.vocab_size(), "the sentinels are not the tokenizer's tokens");
    // Saved and loaded, it still fills in the middle, with the same distributions.
    let (loaded, _) = TransformerModel::load(&out, Device::Cpu).unwrap();
    assert!(loaded.fills_in_the_middle());
    assert_eq!((model.fim_order, loaded.fim_order), (order, order));
    let vocab = tok.vocab_size();
    let (mut right, mut left_bits) = (0, 0.0);
    for m in 10..18 {
        let piece = fim_piece(m);
        let gap = tok.shift_tokens(tok.shifted_steps(&piece[2..3]));
        let primer = fim::primer(&piece[..2], &piece[3..], Some(&gap), vocab, order);
        let mut probs = Vec::new();
        model.stream(&primer).unwrap().next_probs(&mut probs);
        assert_eq!(probs.len(), vocab);
        let mut again = Vec::new();
        loaded.stream(&primer).unwrap().next_probs(&mut again);
        assert!(probs.iter().zip(&again).all(|(a, b)| (a - b).abs() < 1e-6));
        right += usize::from(crate::math::argmax(&probs) == usize::from(m));
        // Left to right, the same network can only guess.
        left_bits -= model.log_probs(&piece).unwrap()[1] / std::f64::consts::LN_2;
    }
    let left_bits = left_bits / 8.0;
    eprintln!("fill in the middle: {right}/8 right; left to right {left_bits:.2} bits");
    assert!(right >= 7, "the middle read from the suffix: {right}/8");
    assert!(left_bits > 2.0, "left to right the first symbol is a guess: {left_bits} bits");
    // Sampling middles: the guard reads the prefix, the network the whole primer.
    let sampler = Sampler { temperature: 0.0, ..Sampler::default() };
    let gap = tok.shift_tokens(tok.shifted_steps(&fim_piece(13)[2..3]));
    let rows =
        model.generate_middles(&fim_piece(13)[..2], &fim_piece(13)[3..], &gap, 3, 1, &sampler, 5).unwrap();
    assert_eq!(rows, vec![vec![13]; 3]);
    // The gap says how long the middle lasts: read from it, the SHIFT is right (chance: 1 in 8).
    let mut from_gap = 0;
    for k in 1..=8u16 {
        let piece = gap_piece(&tok, k);
        let gap = tok.shift_tokens(tok.shifted_steps(&piece[2..3]));
        assert_eq!(gap, piece[2..3]);
        let mut probs = Vec::new();
        model
            .stream(&fim::primer(&piece[..2], &piece[3..], Some(&gap), vocab, order))
            .unwrap()
            .next_probs(&mut probs);
        from_gap += usize::from(crate::math::argmax(&probs) == usize::from(piece[2]));
    }
    eprintln!("the middle's time from the gap: {from_gap}/8 right");
    assert!(from_gap >= 6, "the middle's time read from the gap: {from_gap}/8");
}

/// Priming is shared (issue 27: a live session's primer grows by what was played since): rows
/// of one primer are primed once, and a primer that extends the one primed last feeds only its
/// new tokens, past the context window too, with the distribution a fresh model reads.
#[test]
fn a_primer_that_extends_the_last_one_feeds_only_its_new_tokens() {
    let _g = torch_lock();
    let model = random_model(tiny(), 5);
    let short = seq_of(40, 1);
    let long: Vec<TokenId> = short.iter().chain(&seq_of(30, 2)[1..]).copied().collect();
    let sampler = Sampler::default();
    let before = model.primed_tokens();
    model.try_generate_batch(&vec![short.clone(); 3], 2, &sampler, 7).unwrap();
    assert_eq!(model.primed_tokens() - before, short.len(), "three rows of one primer, primed once");
    let mid = model.primed_tokens();
    let mut kept = model.try_stream(&long).unwrap();
    assert_eq!(model.primed_tokens() - mid, long.len() - short.len(), "only the new tokens");
    let fresh = random_model(tiny(), 5);
    let mut whole = fresh.try_stream(&long).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    kept.next_probs(&mut a);
    whole.next_probs(&mut b);
    let diff = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    assert!(diff < 1e-5, "kept and fresh priming differ by {diff}");
    // Sampling from the kept state equals sampling from a fresh one.
    let rows = model.try_generate_batch(&[long.clone()], 12, &sampler, 3).unwrap();
    assert_eq!(rows, fresh.try_generate_batch(&[long.clone()], 12, &sampler, 3).unwrap());
    // A primer that does not extend the last one is primed from the start.
    let other = seq_of(20, 3);
    let at = model.primed_tokens();
    model.try_stream(&other).unwrap();
    assert_eq!(model.primed_tokens() - at, other.len());
}
