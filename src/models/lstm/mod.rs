//! The LSTM generator on libtorch: token embedding → stacked LSTM (cuDNN on CUDA) → dropout →
//! linear over the vocabulary.
//!
//! - [`config`]: the network's shape ([`LstmConfig`]), the training options ([`TrainConfig`],
//!   TOML-loadable) and device selection.
//! - [`model`]: the weights, the forward pass and [`LstmModel`] (load and save).
//! - [`sample`]: the [`crate::models::Generator`] implementation (scoring, streams, batched
//!   incremental sampling).
//! - [`train`]: the training loop with checkpoints and exact resume; [`optim`] its AdamW and
//!   gradient clipping, [`windows`] its random training windows.
//! - [`payload`]: tensors to and from safetensors bytes for checkpoints.

pub mod config;
pub mod model;
pub mod optim;
pub mod payload;
pub mod request;
pub mod sample;
pub mod train;
pub mod windows;

pub use config::{parse_device, LstmConfig, TrainConfig};
pub use model::{LstmModel, PAYLOAD_FORMAT};
pub use request::{LstmRequest, TrainOverrides};
pub use sample::LstmStream;
pub use train::{last_path, train, RunOptions, StopReason, TrainData, TrainReport, TrainState};

#[cfg(test)]
mod tests;
