//! KV-cache sampling against recomputing the window: the time per new token of a Transformer
//! that has read `--context-tokens` tokens (512 by default), (a) pushing one token into its KV
//! cache (`NeuralStream::try_push`: one step of the cache plus the softmax read back, what
//! sampling does) and (b) running the whole window of the last `--context-tokens` tokens
//! through the network again for each new token (`NeuralModel::full_logits`). Prints one JSON
//! object.
//!
//! `cargo run --release --example transformer_bench -- --threads 1` (`--device cuda` for a GPU).

use std::time::Instant;

use cadenza::models::transformer::{TransformerConfig, TransformerModel};
use cadenza::tokens::{TokenId, Tokenizer, TokenizerConfig, BOS};
use rand::{Rng, SeedableRng};

#[path = "support/args.rs"]
mod args;
use args::arg;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let context_tokens: usize = arg(&args, "--context-tokens", 512)?;
    let cached_tokens: usize = arg(&args, "--cached", 256)?;
    let recomputed_tokens: usize = arg(&args, "--recomputed", 16)?;
    let threads: i32 = arg(&args, "--threads", 1)?;
    let device = cadenza::models::neural::parse_device(&arg(&args, "--device", "cpu".to_string())?)?;
    let preset = TransformerConfig::cpu();
    let cfg = TransformerConfig {
        layers: arg(&args, "--layers", preset.layers)?,
        dim: arg(&args, "--dim", preset.dim)?,
        heads: arg(&args, "--heads", preset.heads)?,
        ff: arg(&args, "--ff", preset.ff)?,
        dropout: 0.0,
        // Room for the primer and every cached token: no slide during the measurement.
        context: context_tokens + cached_tokens + 1,
    };
    if threads > 0 {
        tch::set_num_threads(threads);
    }
    let tok = Tokenizer::new(TokenizerConfig::default())?;
    tch::manual_seed(0);
    let model = TransformerModel::new(cfg, tok.vocab_size(), device)?;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let vocab = tok.vocab_size() as TokenId;
    let mut seq: Vec<TokenId> =
        std::iter::once(BOS).chain((1..context_tokens).map(|_| rng.random_range(3..vocab))).collect();

    // (a) KV cache: prime once, then one token per step.
    let mut stream = model.try_stream(&seq)?;
    let t = Instant::now();
    for _ in 0..cached_tokens {
        stream.try_push(rng.random_range(3..vocab))?;
    }
    let cached = t.elapsed().as_secs_f64() / cached_tokens as f64;

    // (b) Recompute: the last `context_tokens` tokens through the network for every token.
    let t = Instant::now();
    for _ in 0..recomputed_tokens {
        let window = &seq[seq.len() - context_tokens..];
        let logits = model.full_logits(window)?;
        std::hint::black_box(&logits[logits.len() - tok.vocab_size()..]);
        seq.push(rng.random_range(3..vocab));
    }
    let recomputed = t.elapsed().as_secs_f64() / recomputed_tokens as f64;
    println!(
        "{}",
        serde_json::json!({
            "model": cfg,
            "parameters": model.parameter_count(),
            "context_tokens": context_tokens,
            "device": format!("{device:?}"),
            "threads": tch::get_num_threads(),
            "kv_cache_ms_per_token": cached * 1e3,
            "recompute_ms_per_token": recomputed * 1e3,
            "speedup": recomputed / cached,
        })
    );
    Ok(())
}
