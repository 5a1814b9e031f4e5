//! A small LSTM trained briefly on a slice of the Bach corpus predicts held-out pieces better
//! than a unigram model fitted to the same training tokens.
//!
//! The corpus is `corpora/bach` (or `$CADENZA_BACH`); without it the test is skipped, unless
//! `CI` is set, where a missing corpus is a failure.
#![cfg(feature = "lstm")]

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use cadenza::corpus::split::Split;
use cadenza::corpus::{Corpus, LoadOptions};
use cadenza::models::lstm::{self, LstmConfig, RunOptions, TrainConfig, TrainData};
use cadenza::models::{bits_per_token, Generator};
use cadenza::tokens::{TokenId, Tokenizer, TokenizerConfig};

fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("CADENZA_BACH")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpora/bach"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing (run scripts/setup.sh --corpora bach)",
        dir.display()
    );
    eprintln!("skipping: {} is missing", dir.display());
    None
}

/// Bits/token of `seqs` under add-one-smoothed unigram frequencies of the targets of `train`.
fn unigram_bits(train: &[Vec<TokenId>], seqs: &[Vec<TokenId>], vocab: usize) -> f64 {
    let mut counts = vec![1.0f64; vocab];
    for s in train {
        for &t in &s[1..] {
            counts[t as usize] += 1.0;
        }
    }
    let total: f64 = counts.iter().sum();
    let lp: Vec<f64> =
        seqs.iter().flat_map(|s| s[1..].iter().map(|&t| (counts[t as usize] / total).ln())).collect();
    bits_per_token(&lp)
}

#[test]
fn lstm_beats_a_unigram_model_on_bach() {
    let Some(dir) = corpus_dir() else { return };
    tch::set_num_threads(2);
    let tokenizer = Tokenizer::new(TokenizerConfig::default()).unwrap();
    let opts = LoadOptions { cache_dir: None, ..LoadOptions::default() };
    let corpus = Corpus::load(&dir, &tokenizer, &opts).unwrap();
    let train: Vec<Vec<TokenId>> = corpus.sequences(Split::Train).into_iter().take(20).collect();
    let valid: Vec<Vec<TokenId>> = corpus.sequences(Split::Valid).into_iter().take(4).collect();
    assert!(
        train.len() >= 5 && !valid.is_empty(),
        "corpus too small: {} train, {} valid",
        train.len(),
        valid.len()
    );

    let model_cfg = LstmConfig { embed: 32, hidden: 64, layers: 1, dropout: 0.0, tie_weights: false };
    let cfg = TrainConfig {
        batch: 16,
        window: 64,
        lr: 5e-3,
        warmup: 20,
        steps: Some(300),
        patience: 0,
        transpose: 2,
        device: "cpu".into(),
        checkpoint_every: 0,
        valid_max_tokens: 20_000,
        seed: 1,
        ..TrainConfig::default()
    };
    let out = tempfile::tempdir().unwrap();
    let stop = AtomicBool::new(false);
    let run =
        RunOptions { stop: &stop, progress: None, resume: None, init: None, max_steps_this_run: None, corpus: None };
    let report = lstm::train(
        &model_cfg,
        &cfg,
        &tokenizer,
        TrainData { train: &train, valid: &valid },
        &out.path().join("b.ckpt"),
        &run,
    )
    .unwrap();

    let lp: Vec<f64> = valid.iter().flat_map(|s| report.model.log_probs(s).unwrap()).collect();
    let lstm_bits = bits_per_token(&lp);
    let unigram = unigram_bits(&train, &valid, tokenizer.vocab_size());
    eprintln!("valid bits/token: lstm {lstm_bits:.3}, unigram {unigram:.3}");
    assert!(lstm_bits < unigram, "lstm {lstm_bits} vs unigram {unigram}");
    // The model reloaded from its best checkpoint scores the same tokens as well.
    let (best, _) = lstm::LstmModel::load(&report.best_path, tch::Device::Cpu).unwrap();
    let best_bits =
        bits_per_token(&valid.iter().flat_map(|s| best.log_probs(s).unwrap()).collect::<Vec<_>>());
    assert!(best_bits < unigram, "best checkpoint {best_bits} vs unigram {unigram}");
}
