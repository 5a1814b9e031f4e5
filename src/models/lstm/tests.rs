//! Tests of the LSTM generator on the CPU with tiny models (and one on CUDA when present).
//!
//! libtorch's random generator and thread count are process-wide, so every test that touches
//! them holds [`torch_lock`] (one lock for every network's tests).

use std::path::Path;
use std::sync::atomic::AtomicBool;

use tch::Device;

use super::*;
use crate::checkpoint::{self, Header};
use crate::models::neural::testing::{check_cuda, quick_train, run_opts, tokenizer, torch_lock};
use crate::models::{Generator, ModelKind};
use crate::sampler::{rng_for, Sampler};
use crate::tokens::{Event, NoteRules, TokenId, BOS, EOS};

fn tiny() -> LstmConfig {
    LstmConfig { embed: 16, hidden: 32, layers: 1, dropout: 0.0, tie_weights: false }
}

fn random_model(cfg: LstmConfig, seed: i64) -> LstmModel {
    tch::manual_seed(seed);
    LstmModel::new(cfg, tokenizer().vocab_size(), Device::Cpu).unwrap()
}

/// `BOS`, then `pattern` repeated `reps` times, then `EOS`.
fn periodic(pattern: &[TokenId], reps: usize) -> Vec<TokenId> {
    let mut s = vec![BOS];
    for _ in 0..reps {
        s.extend_from_slice(pattern);
    }
    s.push(EOS);
    s
}

fn log_softmax_f64(row: &[f32]) -> Vec<f64> {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
    let lse = max + row.iter().map(|&x| (f64::from(x) - max).exp()).sum::<f64>().ln();
    row.iter().map(|&x| f64::from(x) - lse).collect()
}

#[test]
fn parameter_count_matches_the_config_formula() {
    let _g = torch_lock();
    let v = tokenizer().vocab_size();
    for cfg in [
        tiny(),
        LstmConfig { layers: 2, ..tiny() },
        LstmConfig { tie_weights: true, ..tiny() },
        LstmConfig { tie_weights: true, embed: 32, ..tiny() },
    ] {
        assert_eq!(random_model(cfg, 0).parameter_count(), cfg.parameters(v), "{cfg:?}");
    }
}

#[test]
fn learns_a_periodic_sequence() {
    let _g = torch_lock();
    let seq = periodic(&[10, 20, 30, 10, 40, 50, 60], 80);
    let data = vec![seq.clone()];
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let cfg = TrainConfig { window: 48, lr: 2e-2, ..quick_train(300) };
    let report = train(
        &tiny(),
        &cfg,
        &tokenizer(),
        TrainData { train: &data, valid: &data },
        &dir.path().join("p.ckpt"),
        &run_opts(&stop, None, None),
    )
    .unwrap();
    assert_eq!(report.stopped, StopReason::Finished);
    assert_eq!(report.state.step, 300);
    let loss = report.state.train_loss.unwrap();
    // Only a window's first tokens are ambiguous (after a lone 10 comes 20 or 40).
    eprintln!("final training loss {loss}");
    assert!(loss < 0.05, "training loss {loss}");
    // Scored from BOS over the whole sequence, the model is nearly certain of every token.
    let lp = report.model.log_probs(&seq).unwrap();
    let bits = crate::models::bits_per_token(&lp[7..lp.len() - 1]);
    assert!(bits < 0.05, "bits/token {bits}");
    assert!(report.state.best_valid_bits.unwrap() < 0.2, "{:?}", report.state);
}

#[test]
fn save_then_load_gives_identical_logits_and_bad_files_are_refused() {
    let _g = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let tok = tokenizer();
    for cfg in [tiny(), LstmConfig { tie_weights: true, layers: 2, ..tiny() }] {
        let model = random_model(cfg, 3);
        let path = dir.path().join("m.ckpt");
        let header = Header::new(ModelKind::Lstm, &tok, serde_json::Value::Null, "");
        model.save(&path, header).unwrap();
        let (back, h) = LstmModel::load(&path, Device::Cpu).unwrap();
        assert_eq!(h.kind, ModelKind::Lstm);
        assert_eq!(back.config(), &cfg);
        let seq = periodic(&[30, 31, 32], 5);
        assert_eq!(model.logits(&seq).unwrap(), back.logits(&seq).unwrap());
        assert_eq!(back.vocab_size(), tok.vocab_size());
    }
    // Wrong kind.
    let wrong = dir.path().join("markov.ckpt");
    checkpoint::save(
        &wrong,
        &Header::new(ModelKind::Markov, &tok, serde_json::Value::Null, "markov-v1"),
        b"x",
    )
    .unwrap();
    let e = LstmModel::load(&wrong, Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("expected lstm"), "{e}");
    // Corrupted.
    let path = dir.path().join("m.ckpt");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    let e = LstmModel::load(&path, Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("bad checkpoint"), "{e}");
    // A valid container whose payload is not safetensors.
    let junk = dir.path().join("junk.ckpt");
    let header =
        Header::new(ModelKind::Lstm, &tok, model::hyperparameters(&tiny(), None), model::PAYLOAD_FORMAT);
    checkpoint::save(&junk, &header, b"nope").unwrap();
    let e = LstmModel::load(&junk, Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("bad checkpoint") && e.contains("payload"), "{e}");
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
    let train_seq = vec![periodic(&[40, 41, 42, 43, 44], 30), periodic(&[50, 52, 54], 20)];
    let valid = vec![periodic(&[40, 41, 42, 43, 44], 6)];
    let data = TrainData { train: &train_seq, valid: &valid };
    // Two layers with dropout and transposition: every source of randomness is exercised.
    let model_cfg = LstmConfig { layers: 2, hidden: 16, dropout: 0.3, ..tiny() };
    let cfg = TrainConfig { transpose: 3, checkpoint_every: 7, weight_decay: 0.01, ..quick_train(30) };
    let stop = AtomicBool::new(false);

    let straight = dir.path().join("a.ckpt");
    let a = train(&model_cfg, &cfg, &tok, data, &straight, &run_opts(&stop, None, None)).unwrap();
    assert_eq!(a.state.step, 30);

    let split = dir.path().join("b.ckpt");
    let b = train(&model_cfg, &cfg, &tok, data, &split, &run_opts(&stop, None, Some(13))).unwrap();
    assert_eq!(b.stopped, StopReason::StepLimit);
    let (h, _) = checkpoint::load(&last_path(&split)).unwrap();
    assert_eq!(train::checkpoint_state(&h).unwrap().step, 13);
    let at_stop = payload_values(&last_path(&split));
    assert!(at_stop.keys().any(|k| k.starts_with("adamw.v.")));

    // Resuming and stopping at once writes back the very same weights and moments.
    let b0 = train(&model_cfg, &cfg, &tok, data, &split, &run_opts(&stop, Some(&last_path(&split)), Some(0)))
        .unwrap();
    assert_eq!(b0.state.step, 13);
    assert_eq!(payload_values(&last_path(&split)), at_stop);

    // Continuing to the end equals training straight through, bit for bit.
    let copy = dir.path().join("b13.ckpt");
    std::fs::copy(last_path(&split), &copy).unwrap();
    let c = train(&model_cfg, &cfg, &tok, data, &split, &run_opts(&stop, Some(&copy), None)).unwrap();
    assert_eq!(c.stopped, StopReason::Finished);
    assert_eq!(c.state, a.state);
    assert_eq!(payload_values(&last_path(&split)), payload_values(&last_path(&straight)));
    assert_eq!(payload_values(&split), payload_values(&straight));

    // A resume with another model shape is refused.
    let other = LstmConfig { hidden: 8, ..model_cfg };
    let e =
        train(&other, &cfg, &tok, data, &split, &run_opts(&stop, Some(&copy), None)).unwrap_err().to_string();
    assert!(e.contains("differs"), "{e}");

    // The best-model checkpoint holds the weights only (a third of the latest-state one), and
    // resuming from it says where the optimizer state is.
    let best = payload_values(&straight);
    assert!(!best.is_empty() && !best.keys().any(|k| k.starts_with("adamw.")), "{:?}", best.keys());
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as f64;
    assert!(size(&straight) < 0.4 * size(&last_path(&straight)));
    let e = train(&model_cfg, &cfg, &tok, data, &split, &run_opts(&stop, Some(&straight), None))
        .unwrap_err()
        .to_string();
    assert!(e.contains("optimizer state") && e.contains("a.ckpt.last"), "{e}");
}

#[test]
fn the_stop_flag_checkpoints_and_returns() {
    let _g = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let data = vec![periodic(&[60, 61], 40)];
    let stop = AtomicBool::new(true);
    let out = dir.path().join("s.ckpt");
    let r = train(
        &tiny(),
        &quick_train(50),
        &tokenizer(),
        TrainData { train: &data, valid: &[] },
        &out,
        &run_opts(&stop, None, None),
    )
    .unwrap();
    assert_eq!(r.stopped, StopReason::Interrupted);
    assert!(out.exists() && last_path(&out).exists());
    assert!(LstmModel::load(&out, Device::Cpu).is_ok());
}

#[test]
fn log_probs_are_the_log_softmax_of_the_logits_even_across_chunks() {
    let _g = torch_lock();
    let model = random_model(LstmConfig { layers: 2, ..tiny() }, 11);
    let v = model.vocab_size();
    let seq: Vec<TokenId> =
        std::iter::once(BOS).chain((0..sample::CHUNK + 300).map(|i| 3 + (i * 7 % 50) as TokenId)).collect();
    let lp = model.log_probs(&seq).unwrap();
    assert_eq!(lp.len(), seq.len() - 1);
    let logits = model.logits(&seq).unwrap();
    for (i, &got) in lp.iter().enumerate() {
        let want = log_softmax_f64(&logits[i * v..(i + 1) * v])[seq[i + 1] as usize];
        assert!((got - want).abs() < 1e-4, "position {i}: {got} vs {want}");
    }
    assert!(model.log_probs(&[BOS]).unwrap().is_empty());
    // Ids outside the vocabulary get a finite floor, never -inf.
    let odd = model.log_probs(&[BOS, u16::MAX]).unwrap();
    assert!(odd[0].is_finite() && odd[0] < -100.0);
}

#[test]
fn streams_follow_the_full_forward_pass() {
    let _g = torch_lock();
    let model = random_model(tiny(), 12);
    let v = model.vocab_size();
    let primer = vec![BOS, 40, 41];
    let mut stream = model.stream(&primer).unwrap();
    let mut seq = primer.clone();
    let mut probs = Vec::new();
    for next in [50, 51, 52] {
        stream.next_probs(&mut probs);
        let logits = model.logits(&seq).unwrap();
        let want = log_softmax_f64(&logits[(seq.len() - 1) * v..]);
        assert_eq!(probs.len(), v);
        for (p, w) in probs.iter().zip(&want) {
            assert!((p - w.exp()).abs() < 1e-6);
        }
        stream.push(next).unwrap();
        seq.push(next);
    }
}

#[test]
fn batched_sampling_matches_one_stream_per_row_and_is_seeded() {
    let _g = torch_lock();
    let model = random_model(LstmConfig { layers: 2, ..tiny() }, 13);
    let primers = vec![vec![BOS], vec![BOS, 60, 62, 64], vec![BOS, 70], vec![BOS], vec![]];
    let guarded = Sampler::default().with_notes(Some(NoteRules::new(&tokenizer())));
    for sampler in
        [Sampler::default(), Sampler { temperature: 0.8, top_k: 20, top_p: 0.9, notes: None }, guarded]
    {
        let a = model.generate_batch(&primers, 60, &sampler, 21).unwrap();
        assert_eq!(a, model.generate_batch(&primers, 60, &sampler, 21).unwrap());
        assert_ne!(a, model.generate_batch(&primers, 60, &sampler, 22).unwrap());
        for (i, p) in primers.iter().enumerate() {
            let mut rng = rng_for(21, i as u64);
            let alone = crate::models::sample(&model, p, 60, &sampler, &mut rng).unwrap();
            assert_eq!(a[i], alone, "row {i}");
            assert!(!a[i].is_empty() && a[i].len() <= 60);
            // A row ends at EOS or at the length limit.
            assert!(a[i].len() == 60 || a[i].last() == Some(&EOS));
            assert!(a[i][..a[i].len() - 1].iter().all(|&t| t != EOS));
        }
        // Rows 0 and 3 share a primer but not an RNG stream.
        assert_ne!(a[0], a[3]);
        // Under the note guard every sampled NOTE_OFF closes a sounding note of its instrument.
        // (The random model's 60 tokens hold a few stray ones without the guard.)
        if sampler.notes.is_some() {
            let vocab = *tokenizer().vocab();
            for (p, row) in primers.iter().zip(&a) {
                let mut open: std::collections::HashMap<(Option<u8>, u8), usize> = Default::default();
                let mut part = Some(0u8);
                for (k, &t) in p.iter().chain(row).enumerate() {
                    match vocab.event(t) {
                        Event::NoteOn(n) => *open.entry((part, n)).or_default() += 1,
                        Event::NoteOff(n) => {
                            let c = open.entry((part, n)).or_default();
                            assert!(k < p.len() || *c > 0, "a sampled NOTE_OFF_{n} closes nothing");
                            *c = c.saturating_sub(1);
                        }
                        Event::Program(q, _) => part = Some(q),
                        Event::Drums(_) => part = None,
                        _ => {}
                    }
                }
            }
        }
    }
    assert!(model.generate_batch(&primers, 0, &Sampler::default(), 1).unwrap().iter().all(Vec::is_empty));
}

#[test]
fn a_model_that_wants_eos_stops_its_rows() {
    let _g = torch_lock();
    // Train on sequences that end right after BOS + one note, so EOS becomes likely.
    let data: Vec<Vec<TokenId>> = (0..20).map(|i| vec![BOS, 40 + (i % 3), EOS]).collect();
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let cfg = TrainConfig { window: 4, ..quick_train(150) };
    let r = train(
        &tiny(),
        &cfg,
        &tokenizer(),
        TrainData { train: &data, valid: &[] },
        &dir.path().join("e.ckpt"),
        &run_opts(&stop, None, None),
    )
    .unwrap();
    let greedy = Sampler { temperature: 0.0, ..Sampler::default() };
    let out = r.model.generate_batch(&[vec![BOS], vec![BOS, 41]], 50, &greedy, 0).unwrap();
    assert_eq!(out[1], vec![EOS], "{out:?}");
    assert_eq!(out[0].len(), 2, "{out:?}");
    assert_eq!(out[0][1], EOS);
}

#[test]
fn cuda_matches_the_cpu_and_trains_in_bf16() {
    let model = random_model(LstmConfig { layers: 2, ..tiny() }, 14);
    let data = vec![periodic(&[10, 20, 30, 10, 40, 50, 60], 80)];
    check_cuda(
        "cuda_matches_the_cpu_and_trains_in_bf16",
        &model,
        &tiny(),
        &periodic(&[40, 42, 44], 30),
        &data,
        0.3,
    );
}

#[test]
fn patience_counts_no_epoch_of_the_warm_up() {
    let _g = torch_lock();
    // Learning the training pattern makes the model ever surer of it and ever worse on the
    // unrelated validation tokens: every validation after the first is worse than the best.
    let train_data = vec![periodic(&[10, 20, 30, 40], 60)];
    let valid = vec![periodic(&[100, 150, 200, 250, 300, 120, 170], 10)];
    let dir = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let cfg = TrainConfig { warmup: 40, patience: 1, ..quick_train(200) };
    let r = train(
        &tiny(),
        &cfg,
        &tokenizer(),
        TrainData { train: &train_data, valid: &valid },
        &dir.path().join("p.ckpt"),
        &run_opts(&stop, None, None),
    )
    .unwrap();
    assert!(r.state.steps_per_epoch * 4 < cfg.warmup, "epochs of {} steps", r.state.steps_per_epoch);
    assert!(matches!(r.stopped, StopReason::EarlyStopped), "{:?}: {:?}", r.stopped, r.state);
    // It stops at the first worse validation after the warm-up, not during it.
    assert!(r.state.step > cfg.warmup, "{:?}", r.state);
    assert!(r.state.step <= cfg.warmup + r.state.steps_per_epoch, "{:?}", r.state);
}
