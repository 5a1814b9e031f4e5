//! The neural stack shared by every libtorch sequence model (the LSTM, the Transformer): a
//! network implements [`Network`] (its weights, a training forward pass over windows, and
//! incremental decoding with its own state), and everything else is written once here.
//!
//! - [`config`]: the training options ([`TrainConfig`], TOML-loadable, its learning-rate
//!   schedule) and device selection ([`parse_device`]).
//! - [`model`]: [`NeuralModel`], a trained network of any kind (load, save, logits).
//! - [`sample`]: the [`crate::models::Generator`] implementation for every network (scoring,
//!   streams, batched incremental sampling).
//! - [`train`]: the training loop with checkpoints, early stopping and exact resume; [`optim`]
//!   its AdamW and gradient clipping, [`windows`] its random (transposed) training windows.
//! - [`fim`]: fill-in-the-middle windows (`PREFIX prefix SUFFIX suffix GAP gap MIDDLE middle`) and their
//!   sentinel tokens.
//! - [`request`]: the precedence of explicit settings, a settings file, the defaults and
//!   `--resume`.
//! - [`payload`]: tensors to and from safetensors bytes for checkpoints, through [`weights`]:
//!   named `f32` arrays and the checkpoint they make, which the Python trainer writes too.
//!
//! Without the `lstm` feature (no libtorch) only [`config`], [`fim`], [`windows`] and
//! [`weights`] are built: what the Python package needs to draw cadenza's training windows and
//! to read and write its checkpoints.
//! - `testing` (tests only): the helpers the networks' tests share, one libtorch lock among them.
//!
//! Every libtorch call on a path a user's input reaches uses tch's fallible `f_` operations, so
//! a libtorch failure comes back as [`crate::Error::Torch`] instead of a panic.

pub mod config;
pub mod fim;
#[cfg(feature = "lstm")]
pub mod model;
#[cfg(feature = "lstm")]
pub mod optim;
#[cfg(feature = "lstm")]
pub mod payload;
#[cfg(feature = "lstm")]
pub mod request;
#[cfg(feature = "lstm")]
pub mod sample;
#[cfg(all(test, feature = "lstm"))]
pub(crate) mod testing;
#[cfg(feature = "lstm")]
pub mod train;
pub mod weights;
pub mod windows;

#[cfg(feature = "lstm")]
use std::collections::HashMap;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::Serialize;
#[cfg(feature = "lstm")]
use tch::{Device, Tensor};

use crate::error::Result;
#[cfg(feature = "lstm")]
use crate::models::ModelKind;

#[cfg(feature = "lstm")]
pub use config::parse_device;
pub use config::set_cpu_threads;
pub use config::TrainConfig;
#[cfg(feature = "lstm")]
pub use model::{NeuralModel, SampleTimes};
#[cfg(feature = "lstm")]
pub use request::{NeuralRequest, TrainOverrides};
#[cfg(feature = "lstm")]
pub use sample::NeuralStream;
#[cfg(feature = "lstm")]
pub use train::{last_path, RunOptions, StopReason, TrainData, TrainReport, TrainState};
pub use weights::PAYLOAD_FORMAT;

/// A network's shape (its hyperparameters), saved in checkpoints as `hyperparameters.model`.
pub trait NetConfig:
    Clone + PartialEq + Debug + Default + Serialize + DeserializeOwned + Send + Sync
{
    /// Check that the settings make a network.
    fn validate(&self) -> Result<()>;

    /// Number of trainable parameters for a vocabulary of `vocab` tokens.
    fn parameters(&self, vocab: usize) -> usize;

    /// Settings that follow the training options unless given (the Transformer's context
    /// follows the training window); called before a fresh run starts.
    fn adapt_to(&mut self, _train: &TrainConfig) {}

    /// One line describing the shape, for progress messages.
    fn describe(&self, vocab: usize) -> String;
}

#[cfg(feature = "lstm")]
/// A libtorch network over a token vocabulary: what the shared stack needs of the LSTM and of
/// the Transformer.
pub trait Network: Sized + Send + 'static {
    /// The network's shape.
    type Config: NetConfig;
    /// What incremental decoding carries from one step to the next, for a batch of rows:
    /// the recurrent `(h, c)` of the LSTM, the Transformer's KV cache.
    type State: Send;
    /// The checkpoint kind.
    const KIND: ModelKind;

    /// Fresh weights (drawn from libtorch's global generator on the CPU, then moved to
    /// `device`, so equal seeds give equal weights on every device).
    fn new(cfg: Self::Config, vocab: usize, device: Device) -> Result<Self>;
    fn config(&self) -> &Self::Config;
    fn vocab(&self) -> i64;
    fn device(&self) -> Device;

    /// Every trainable tensor with its checkpoint name, in a fixed order.
    fn named(&self) -> Vec<(String, Tensor)>;

    /// Copy every weight from `src` (by name).
    fn load_named(&self, src: &HashMap<String, Tensor>) -> Result<()> {
        for (name, t) in self.named() {
            payload::copy_into(&t, src, &name)?;
        }
        Ok(())
    }

    /// Logits `[batch, time, vocab]` (f32) for windows `input` (`[batch, time]`, int64 on the
    /// device), each read from its start. `train` turns dropout on; `bf16` computes in
    /// bfloat16 (weights cast from their f32 masters).
    fn forward(&self, input: &Tensor, train: bool, bf16: bool) -> Result<Tensor>;

    /// The state before the first token, for `batch` rows.
    fn init_state(&self, batch: i64) -> Result<Self::State>;

    /// Feed `input` (`[batch, time]`) after `state`, in evaluation mode; returns the logits
    /// after each token (`[batch, time, vocab]`, f32) and advances `state`. Any `time` works
    /// (a network with a bounded context slides it as it needs).
    fn step(&self, input: &Tensor, state: &mut Self::State) -> Result<Tensor>;

    /// The state of the rows `rows` (int64 indices on the device) of `state`, in that order.
    fn select_rows(&self, state: &Self::State, rows: &Tensor) -> Result<Self::State>;

    /// The states stacked as one batch (rows in order); a Transformer pads KV caches of rows that
    /// have read fewer tokens (see [`crate::models::transformer`]). An empty list is an error.
    fn cat_states(&self, states: &[Self::State]) -> Result<Self::State>;
}
