//! The Transformer generator on libtorch: a decoder-only Transformer (token embedding, pre-norm
//! blocks of causal multi-head self-attention with rotary positions and an MLP, final norm,
//! output tied to the embedding). Only the network and its KV cache live here
//! ([`net::Net`], a [`crate::models::neural::Network`]); training, scoring, batched sampling
//! and checkpoints are the shared neural stack's ([`crate::models::neural`]).
//!
//! - [`config`]: the network's shape ([`TransformerConfig`]: a GPU default, a CPU preset).
//! - [`net`]: the weights, the forward pass, the KV cache and how decoding slides past the
//!   context.

pub mod config;
#[cfg(feature = "lstm")]
pub mod net;

pub use config::TransformerConfig;
#[cfg(feature = "lstm")]
pub use net::{Cache, Net};
#[cfg(feature = "lstm")]
pub use trained::*;

/// The trained model and its training run (libtorch).
#[cfg(feature = "lstm")]
mod trained {
    use std::path::Path;

    use super::{Net, TransformerConfig};
    use crate::error::Result;
    use crate::models::neural::{NeuralModel, NeuralRequest, RunOptions, TrainConfig, TrainData};
    use crate::tokens::Tokenizer;

    /// A trained Transformer generator.
    pub type TransformerModel = NeuralModel<Net>;

    /// A Transformer training run as asked for.
    pub type TransformerRequest = NeuralRequest<TransformerConfig>;

    /// What [`train`] did.
    pub type TrainReport = crate::models::neural::TrainReport<Net>;

    impl TransformerRequest {
        /// The model and training configurations of this run, with `seed` as the run's seed
        /// (a resumed run keeps its checkpoint's); both are validated, and a fresh run's context
        /// is the training window unless set.
        pub fn resolve(&self, seed: u64) -> Result<(TransformerConfig, TrainConfig)> {
            self.resolve_for::<Net>(seed)
        }
    }

    /// Train a Transformer of shape `model_cfg` (see `crate::models::neural::train::train`).
    pub fn train(
        model_cfg: &TransformerConfig,
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
