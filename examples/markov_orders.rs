//! Held-out bits/token of the Markov generator by order on a token file.
//!
//! `cargo run --release --no-default-features --example markov_orders -- FILE [ORDERS...]`
//!
//! FILE holds one sequence per line as whitespace-separated token ids (PAD = 0, BOS = 1,
//! EOS = 2; BOS and EOS are added where missing). Every 10th sequence is held out.

use std::time::Instant;

use cadenza::models::markov::{MarkovConfig, MarkovModel};
use cadenza::models::{bits_per_token, Generator};
use cadenza::tokens::{TokenId, BOS, EOS};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().ok_or_else(|| anyhow::anyhow!("usage: markov_orders FILE [ORDERS...]"))?;
    let orders: Vec<usize> = match args.get(1..) {
        Some(rest) if !rest.is_empty() => rest.iter().map(|s| s.parse()).collect::<Result<_, _>>()?,
        _ => (1..=12).collect(),
    };
    let mut seqs = Vec::new();
    for line in std::fs::read_to_string(path)?.lines() {
        let mut seq: Vec<TokenId> = line.split_whitespace().map(str::parse).collect::<Result<_, _>>()?;
        if seq.first() != Some(&BOS) {
            seq.insert(0, BOS);
        }
        if seq.last() != Some(&EOS) {
            seq.push(EOS);
        }
        seqs.push(seq);
    }
    let vocab = seqs.iter().flatten().copied().max().map_or(3, |m| usize::from(m) + 1).max(3);
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for (i, s) in seqs.into_iter().enumerate() {
        if i % 10 == 9 {
            held.push(s)
        } else {
            train.push(s)
        }
    }
    let n_train: usize = train.iter().map(Vec::len).sum();
    let n_held: usize = held.iter().map(Vec::len).sum();
    println!("{n_train} training tokens, {n_held} held-out tokens, vocabulary {vocab}");
    // The same search as `cadenza train --model markov --order auto`, with more said per order.
    let mut clock = Instant::now();
    let best = MarkovModel::fit_best_order(
        &MarkovConfig::default(),
        &orders,
        vocab,
        &train,
        &held,
        None,
        None,
        |m, bits| {
            // Markov scoring cannot fail; a sequence it could not score would be left out.
            let train_lp: Vec<f64> =
                train.iter().take(50).filter_map(|s| m.log_probs(s).ok()).flatten().collect();
            println!(
            "order {:2}: held-out {bits:.4} bits/token (train {:.4}), {:.2} M n-grams, fit and score {:.2?}",
            m.order(),
            bits_per_token(&train_lp),
            m.ngram_counts().iter().sum::<usize>() as f64 / 1e6,
            clock.elapsed()
        );
            clock = Instant::now();
        },
    )?;
    println!("best: order {}", best.order());
    Ok(())
}
