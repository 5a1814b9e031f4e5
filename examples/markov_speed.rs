//! Training speed of the Markov generator on a synthetic corpus.
//!
//! `cargo run --release --no-default-features --example markov_speed [-- TOKENS [ORDERS...]]`
//! (default: 10,000,000 tokens, orders 4 8 16). The corpus comes from a random second-order
//! source over 300 symbols with 4 successors per state, in sequences of 2,000 tokens.

use std::time::Instant;

use cadenza::models::markov::sources::Order2Source;
use cadenza::models::markov::{MarkovConfig, MarkovModel};

fn main() -> cadenza::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tokens: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(10_000_000);
    let orders: Vec<usize> = match args.get(1..) {
        Some(rest) if !rest.is_empty() => rest.iter().filter_map(|s| s.parse().ok()).collect(),
        _ => vec![4, 8, 16],
    };
    let t = Instant::now();
    let src = Order2Source::random(300, 4, 1);
    let corpus = src.corpus(tokens, 2000, 2);
    let n: usize = corpus.iter().map(Vec::len).sum();
    println!(
        "corpus: {n} tokens in {} sequences, vocab {}, made in {:.2?}; {} rayon threads",
        corpus.len(),
        src.vocab_size(),
        t.elapsed(),
        rayon::current_num_threads()
    );
    for order in orders {
        let config = MarkovConfig { order, ..Default::default() };
        let t = Instant::now();
        let model = MarkovModel::fit(&config, src.vocab_size(), &corpus, None)?;
        let secs = t.elapsed().as_secs_f64();
        let ngrams = model.ngram_counts();
        let total: usize = ngrams.iter().sum();
        println!(
            "order {order:2}: {:6.2} s, {:5.2} M tokens/s, distinct n-grams {:.2} M (largest order {:.2} M), \
             contexts {:.2} M, model {:.0} MiB",
            secs,
            n as f64 / secs / 1e6,
            total as f64 / 1e6,
            ngrams.iter().copied().max().unwrap_or(0) as f64 / 1e6,
            model.context_counts().iter().sum::<usize>() as f64 / 1e6,
            model.heap_bytes() as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}
