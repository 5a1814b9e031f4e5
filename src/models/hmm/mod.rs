//! The hidden Markov model generator: `K` hidden states, each emitting tokens from its own
//! categorical distribution, trained by Baum-Welch.
//!
//! - [`HmmModel`] holds the parameters (`pi`, `A`, `B`) and scores, decodes and samples.
//! - [`HmmModel::fit`] trains with EM from a seeded random start ([`HmmConfig`], [`FitReport`]);
//!   [`HmmModel::fit_from`] starts from given parameters.
//! - [`HmmStream`] filters the hidden state through a primer so sampling conditions on it.
//! - [`HmmModel::to_safetensors`] / [`HmmModel::from_safetensors`] save and load.
//! - With control tokens, [`HmmModel::with_conditions`] attaches a short Markov chain counted under
//!   them, whose ratios rescale every prediction of the stream and of scoring
//!   (`crate::models::markov::MarkovModel::rescale`), so a key holds far into a piece.
//!
//! Every sequence starts with BOS, which is context only: the hidden chain starts at the second
//! token.

mod em;
mod infer;
mod io;
mod kernels;
mod model;
#[cfg(test)]
mod tests;

pub use em::{FitReport, HmmConfig};
pub use infer::{HmmStream, IMPOSSIBLE_LOG_PROB};
pub use model::HmmModel;

use crate::models::{Generator, ModelKind, TokenStream};
use crate::tokens::TokenId;

impl Generator for HmmModel {
    fn kind(&self) -> ModelKind {
        ModelKind::Hmm
    }

    fn vocab_size(&self) -> usize {
        self.v
    }

    fn log_probs(&self, tokens: &[TokenId]) -> crate::Result<Vec<f64>> {
        Ok(self.token_log_probs(tokens))
    }

    fn stream(&self, primer: &[TokenId]) -> crate::Result<Box<dyn TokenStream + '_>> {
        Ok(Box::new(HmmStream::new(self, primer)))
    }
}
