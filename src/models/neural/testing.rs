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
    RunOptions { stop, progress: None, resume, max_steps_this_run: max, corpus: None }
}
