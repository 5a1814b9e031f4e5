//! Throughput of cadenza's LSTM or Transformer (`--model`): training tokens/s through the shared
//! neural trainer and sampling tokens/s through `Generator::generate_batch` at batch 1 and 64
//! (`--sample-batches 1,64,256` for others). Prints one JSON object; used by
//! `scripts/bench_torch.py`, which runs the same network in PyTorch.
//!
//! Beside each sampling figure: `sample_read_share_batchN` and `sample_draw_share_batchN`, the
//! shares of its time spent copying the distributions to the host (waiting for the device) and
//! drawing the tokens there (`NeuralModel::sample_times`); and `host_pick_tokens_per_s_batchN`,
//! the draw alone, `Sampler::pick_rows` on N rows of the network's vocabulary (copied in, as each
//! step copies them) as flat as an untrained network's, on rayon's threads (`rayon_threads`):
//! sampling cannot be faster than that, whatever the device.
//!
//! `cargo run --release --example net_bench -- --device cpu --hidden 256 --layers 2 --steps 20`
//! `cargo run --release --example net_bench -- --model transformer --dim 144 --heads 4 --ff 576`

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use cadenza::models::lstm::LstmConfig;
use cadenza::models::neural::train::train;
use cadenza::models::neural::{Network, RunOptions, TrainConfig, TrainData};
use cadenza::models::transformer::TransformerConfig;
use cadenza::models::Generator;
use cadenza::sampler::{rng_for, Sampler};
use cadenza::tokens::{TokenId, Tokenizer, TokenizerConfig, BOS};
use rand::{Rng, SeedableRng};

struct Opts {
    model: String,
    device: String,
    embed: usize,
    hidden: usize,
    layers: usize,
    dim: usize,
    heads: usize,
    ff: usize,
    batch: usize,
    window: usize,
    steps: u64,
    sample_tokens: usize,
    threads: i32,
    bf16: bool,
    sample_batches: Vec<usize>,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        model: "lstm".into(),
        device: "cpu".into(),
        embed: 256,
        hidden: 256,
        layers: 2,
        dim: 144,
        heads: 4,
        ff: 576,
        batch: 16,
        window: 64,
        steps: 20,
        sample_tokens: 64,
        threads: 0,
        bf16: false,
        sample_batches: vec![1, 64],
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--bf16" {
            o.bf16 = true;
            continue;
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--model" if value == "lstm" || value == "transformer" => o.model = value,
            "--model" => return Err(format!("--model: lstm or transformer, not {value}")),
            "--device" => o.device = value,
            "--embed" => o.embed = num(&value)?,
            "--hidden" => o.hidden = num(&value)?,
            "--layers" => o.layers = num(&value)?,
            "--dim" => o.dim = num(&value)?,
            "--heads" => o.heads = num(&value)?,
            "--ff" => o.ff = num(&value)?,
            "--batch" => o.batch = num(&value)?,
            "--window" => o.window = num(&value)?,
            "--steps" => o.steps = num(&value)? as u64,
            "--sample-tokens" => o.sample_tokens = num(&value)?,
            "--threads" => o.threads = num(&value)? as i32,
            "--sample-batches" => {
                o.sample_batches = value.split(',').map(num).collect::<Result<_, _>>()?;
                if o.sample_batches.is_empty() || o.sample_batches.contains(&0) {
                    return Err(format!("{flag}: positive batch sizes, comma-separated"));
                }
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = parse()?;
    if o.threads > 0 {
        tch::set_num_threads(o.threads);
    }
    if o.model == "lstm" {
        let cfg = LstmConfig {
            embed: o.embed,
            hidden: o.hidden,
            layers: o.layers,
            dropout: 0.0,
            tie_weights: false,
        };
        measure::<cadenza::models::lstm::Net>(&o, &cfg)
    } else {
        let cfg = TransformerConfig {
            layers: o.layers,
            heads: o.heads,
            dim: o.dim,
            ff: o.ff,
            dropout: 0.0,
            context: 0,
        };
        measure::<cadenza::models::transformer::Net>(&o, &cfg)
    }
}

/// Train `o.steps` steps of a fresh `N` on random tokens (after 3 warm-up steps), then sample at
/// each batch of `o.sample_batches`; print the JSON line.
fn measure<N: Network>(o: &Opts, model_cfg: &N::Config) -> Result<(), Box<dyn std::error::Error>> {
    let tokenizer = Tokenizer::new(TokenizerConfig::default())?;
    let vocab = tokenizer.vocab_size();
    // Random tokens: enough that one epoch is longer than the run (no mid-run validation).
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let n = (o.steps as usize + 8) * o.batch * o.window + 1;
    let seq: Vec<TokenId> =
        std::iter::once(BOS).chain((1..n).map(|_| rng.random_range(3..vocab as TokenId))).collect();
    let data = vec![seq];
    let cfg = |steps| TrainConfig {
        batch: o.batch,
        window: o.window,
        steps: Some(steps),
        warmup: 1,
        transpose: 0,
        patience: 0,
        checkpoint_every: 0,
        device: o.device.clone(),
        bf16: o.bf16,
        ..TrainConfig::default()
    };
    let dir = tempfile::tempdir()?;
    let stop = AtomicBool::new(false);
    let run = RunOptions {
        stop: &stop,
        progress: None,
        resume: None,
        init: None,
        max_steps_this_run: None,
        corpus: None,
    };
    let go = |steps| {
        train::<N, _>(
            model_cfg,
            &cfg(steps),
            &tokenizer,
            TrainData { train: &data, valid: &[] },
            &dir.path().join("b.ckpt"),
            &run,
        )
    };
    // Warm-up (allocator, cuDNN plans), then the timed run.
    go(3)?;
    let ((report, secs), peak_train) = with_peak_gpu_memory(|| {
        let t = Instant::now();
        let r = go(o.steps);
        (r, t.elapsed().as_secs_f64())
    });
    let model = report?.model;
    let train_tps = (o.steps as usize * o.batch * o.window) as f64 / secs;

    let sampler = Sampler::default();
    let mut sample_tps = Vec::new();
    let mut peak_sample = None;
    for &batch in &o.sample_batches {
        let primers = vec![vec![BOS]; batch];
        model.generate_batch(&primers, 4, &sampler, 0)?;
        let before = model.sample_times();
        let ((out, secs), peak) = with_peak_gpu_memory(|| {
            let t = Instant::now();
            let out = model.generate_batch(&primers, o.sample_tokens, &sampler, 1);
            (out, t.elapsed().as_secs_f64())
        });
        let after = model.sample_times();
        let tokens = out?.iter().map(Vec::len).sum::<usize>();
        peak_sample = peak_sample.max(peak);
        let share = |a: std::time::Duration, b: std::time::Duration| (a - b).as_secs_f64() / secs;
        sample_tps.push((
            batch,
            tokens as f64 / secs,
            share(after.read, before.read),
            share(after.draw, before.draw),
        ));
    }
    let host_tps: Vec<(usize, f64)> =
        o.sample_batches.iter().map(|&b| (b, host_picks(&sampler, vocab, b))).collect();
    let mut json = serde_json::json!({
        "impl": "cadenza",
        "rayon_threads": rayon::current_num_threads(),
        "model": o.model,
        "device": format!("{:?}", model.device()),
        "threads": tch::get_num_threads(),
        "vocab": vocab,
        "parameters": model.parameter_count(),
        "train_tokens_per_s": train_tps,
        "train_seconds": secs,
        "peak_gpu_bytes_train": peak_train,
        "peak_gpu_bytes_sample": peak_sample,
    });
    for (batch, tps, read, draw) in sample_tps {
        json[format!("sample_tokens_per_s_batch{batch}")] = tps.into();
        json[format!("sample_read_share_batch{batch}")] = read.into();
        json[format!("sample_draw_share_batch{batch}")] = draw.into();
    }
    for (batch, tps) in host_tps {
        json[format!("host_pick_tokens_per_s_batch{batch}")] = tps.into();
    }
    println!("{json}");
    Ok(())
}

/// Peak device memory in use (bytes) while `f` runs, from `cudaMemGetInfo` polled every
/// millisecond on another thread (the whole device, CUDA context included). `None` without
/// CUDA or when libcudart is not loaded.
fn with_peak_gpu_memory<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    type MemGetInfo = unsafe extern "C" fn(*mut usize, *mut usize) -> i32;
    extern "C" {
        fn dlsym(handle: *mut std::ffi::c_void, symbol: *const std::ffi::c_char) -> *mut std::ffi::c_void;
    }
    if !tch::Cuda::is_available() {
        return (f(), None);
    }
    // SAFETY: dlsym with RTLD_DEFAULT (null) looks the symbol up in the loaded libraries; the
    // CUDA runtime's cudaMemGetInfo has this C signature.
    let sym = unsafe { dlsym(std::ptr::null_mut(), c"cudaMemGetInfo".as_ptr()) };
    if sym.is_null() {
        return (f(), None);
    }
    let get: MemGetInfo = unsafe { std::mem::transmute::<*mut std::ffi::c_void, MemGetInfo>(sym) };
    let used = move || {
        let (mut free, mut total) = (0usize, 0usize);
        // SAFETY: two valid out-pointers.
        let rc = unsafe { get(&mut free, &mut total) };
        (rc == 0).then(|| (total - free) as u64)
    };
    let done = std::sync::Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let poller = std::thread::spawn(move || {
        let mut peak = 0u64;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(used().unwrap_or(0));
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        peak
    });
    let out = f();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = poller.join().unwrap_or(0);
    (out, (peak > 0).then_some(peak))
}

/// Tokens per second `sampler.pick_rows` draws on `batch` rows over `vocab` tokens (softmaxes of
/// uniform logits in [0, 0.5): about as flat as an untrained network's), the rows copied in each
/// step; for about half a second.
fn host_picks(sampler: &Sampler, vocab: usize, batch: usize) -> f64 {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let rows: Vec<Vec<f64>> = (0..batch)
        .map(|_| {
            let w: Vec<f64> = (0..vocab).map(|_| (rng.random::<f64>() * 0.5).exp()).collect();
            let total: f64 = w.iter().sum();
            w.into_iter().map(|x| x / total).collect()
        })
        .collect();
    let mut streams: Vec<_> = (0..batch).map(|i| rng_for(1, i as u64)).collect();
    let t = Instant::now();
    let mut drawn = 0;
    while drawn == 0 || t.elapsed().as_secs_f64() < 0.5 {
        let mut step = rows.clone();
        let slots = streams.iter_mut().map(|r| (None, r)).collect();
        drawn += sampler.pick_rows(&mut step, slots).len();
    }
    drawn as f64 / t.elapsed().as_secs_f64()
}
