//! The LSTM generator on libtorch: token embedding → stacked LSTM (cuDNN on CUDA) → dropout →
//! linear over the vocabulary. Only the network and its recurrent state live here
//! ([`model::Net`], a [`crate::models::neural::Network`]); training, scoring, sampling and
//! checkpoints are the shared neural stack's ([`crate::models::neural`]), re-exported here
//! under the names they have always had.
//!
//! - [`config`]: the network's shape ([`LstmConfig`]).
//! - [`model`]: the weights, the forward pass, the recurrent state and [`LstmModel`]
//!   (`NeuralModel<Net>`: load, save, logits, the [`crate::models::Generator`]).

pub mod config;
#[cfg(feature = "lstm")]
pub mod model;

pub use config::LstmConfig;
#[cfg(feature = "lstm")]
pub use trained::*;

/// The trained model and its training run (libtorch), under the names they have always had.
#[cfg(feature = "lstm")]
mod trained {
    pub use super::model::{LstmModel, Net, PAYLOAD_FORMAT};
    pub use crate::models::neural::{
        last_path, parse_device, RunOptions, StopReason, TrainConfig, TrainData, TrainOverrides, TrainState,
    };
    pub use crate::models::neural::{optim, payload, sample, train, windows};

    use std::path::Path;

    use super::LstmConfig;
    use crate::error::Result;
    use crate::tokens::Tokenizer;

    /// An LSTM training run as asked for (see [`crate::models::neural::NeuralRequest`]).
    pub type LstmRequest = crate::models::neural::NeuralRequest<LstmConfig>;

    /// What [`train`](fn@train) did.
    pub type TrainReport = crate::models::neural::TrainReport<Net>;

    /// A stream of next-token distributions from an LSTM.
    pub type LstmStream<'a> = crate::models::neural::NeuralStream<'a, Net>;

    impl LstmRequest {
        /// The model and training configurations of this run, with `seed` as the run's seed
        /// (a resumed run keeps its checkpoint's); both are validated.
        pub fn resolve(&self, seed: u64) -> Result<(LstmConfig, TrainConfig)> {
            self.resolve_for::<Net>(seed)
        }
    }

    /// Train an LSTM of shape `model_cfg` (see [`crate::models::neural::train::train`]).
    pub fn train(
        model_cfg: &LstmConfig,
        cfg: &TrainConfig,
        tokenizer: &Tokenizer,
        data: TrainData<'_>,
        out: &Path,
        opts: &RunOptions<'_>,
    ) -> Result<TrainReport> {
        crate::models::neural::train::train::<Net, _>(model_cfg, cfg, tokenizer, data, out, opts)
    }
}

#[cfg(all(test, feature = "lstm"))]
mod tests;
