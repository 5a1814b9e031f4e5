//! Helpers shared by the tests of every network on the neural stack (the LSTM, the
//! Transformer): one lock over libtorch's process-wide random generator and thread count, the
//! default tokenizer, a quick training configuration and run options.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};

use super::{RunOptions, TrainConfig};
use crate::tokens::{Tokenizer, TokenizerConfig};

/// Held by every test that seeds libtorch or sets its thread count, whichever network it tests.
static TORCH: Mutex<()> = Mutex::new(());

/// Take the libtorch lock (one thread, so results do not depend on the machine).
pub fn torch_lock() -> MutexGuard<'static, ()> {
    let g = TORCH.lock().unwrap_or_else(|e| e.into_inner());
    tch::set_num_threads(1);
    g
}

/// The default tokenizer.
pub fn tokenizer() -> Tokenizer {
    Tokenizer::new(TokenizerConfig::default()).unwrap()
}

/// A short CPU run: small batches and windows, a high learning rate, no augmentation, no early
/// stopping, no periodic checkpoints.
pub fn quick_train(steps: u64) -> TrainConfig {
    TrainConfig {
        batch: 8,
        window: 24,
        lr: 1e-2,
        weight_decay: 0.0,
        warmup: 10,
        steps: Some(steps),
        patience: 0,
        transpose: 0,
        device: "cpu".into(),
        checkpoint_every: 0,
        seed: 5,
        ..TrainConfig::default()
    }
}

/// Run options with `stop`, an optional checkpoint to resume and a cap on this run's steps.
pub fn run_opts<'a>(stop: &'a AtomicBool, resume: Option<&'a Path>, max: Option<u64>) -> RunOptions<'a> {
    RunOptions { stop, progress: None, resume, init: None, max_steps_this_run: max, corpus: None }
}

/// The CUDA check every network runs: `model` (on the CPU) saved and loaded on `cuda:0` gives
/// the CPU's logits on `seq` (within 1e-3), greedy sampling of three equal primers gives three
/// equal rows, and a `config` network trained on `data` on CUDA ends where the same run on the
/// CPU ends (f32: within 0.02 + 10% of the CPU's training loss; bf16: within 0.05 + 50%), and
/// both under `max_loss`. Where there is no CUDA device it says so (the GPU run's `cuda_tests` step
/// counts that line as a failure) and returns.
pub fn check_cuda<N: super::Network>(
    test: &str,
    model: &super::NeuralModel<N>,
    config: &N::Config,
    seq: &[crate::tokens::TokenId],
    data: &[Vec<crate::tokens::TokenId>],
    max_loss: f64,
) {
    use crate::checkpoint::Header;
    use crate::models::Generator;
    use crate::sampler::Sampler;
    use crate::tokens::BOS;

    if !tch::Cuda::is_available() {
        eprintln!("skipping {test}: no CUDA device");
        return;
    }
    let _g = torch_lock();
    let dir = tempfile::tempdir().unwrap();
    let tok = tokenizer();
    let path = dir.path().join("c.ckpt");
    model.save(&path, Header::new(N::KIND, &tok, serde_json::Value::Null, "")).unwrap();
    let (gpu, _) = super::NeuralModel::<N>::load(&path, tch::Device::Cuda(0)).unwrap();
    let (cpu_logits, gpu_logits) = (model.logits(seq).unwrap(), gpu.logits(seq).unwrap());
    assert_eq!(cpu_logits.len(), gpu_logits.len());
    for (a, b) in cpu_logits.iter().zip(&gpu_logits) {
        assert!((a - b).abs() < 1e-3, "{a} vs {b}");
    }
    let greedy = Sampler { temperature: 0.0, ..Sampler::default() };
    let out = gpu.generate_batch(&vec![vec![BOS, 40]; 3], 40, &greedy, 0).unwrap();
    assert!(out.iter().all(|r| r == &out[0]), "{out:?}");
    let stop = AtomicBool::new(false);
    let train = |device: &str, bf16: bool| {
        let cfg = TrainConfig { device: device.into(), bf16, ..quick_train(200) };
        let data = super::TrainData { train: data, valid: data };
        let r = super::train::train::<N, Vec<crate::tokens::TokenId>>(
            config,
            &cfg,
            &tok,
            data,
            &dir.path().join(format!("{device}.ckpt")),
            &run_opts(&stop, None, None),
        )
        .unwrap();
        assert_eq!(r.model.device().is_cuda(), device == "cuda");
        r.state
    };
    let cpu = train("cpu", false);
    let cpu_loss = cpu.train_loss.unwrap();
    assert!(cpu_loss < max_loss, "cpu: {cpu:?}");
    for (bf16, abs, rel) in [(false, 0.02, 0.1), (true, 0.05, 0.5)] {
        let gpu = train("cuda", bf16);
        let loss = gpu.train_loss.unwrap();
        eprintln!("{test}: training loss cpu {cpu_loss:.4}, cuda (bf16={bf16}) {loss:.4}");
        assert!(loss < max_loss, "bf16={bf16}: {gpu:?}");
        assert!((loss - cpu_loss).abs() < abs + rel * cpu_loss, "bf16={bf16}: cuda {gpu:?}, cpu {cpu:?}");
    }
}
