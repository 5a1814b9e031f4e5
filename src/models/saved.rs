//! Models as checkpoint files: saving a trained model with its header, and loading any
//! checkpoint back as a boxed [`Generator`] whatever its kind.

use std::path::Path;

use super::hmm::HmmModel;
use super::markov::MarkovModel;
use super::{Generator, ModelKind};
use crate::checkpoint::{self, Header};
use crate::error::{Error, Result};
use crate::tokens::Tokenizer;

/// A checkpoint loaded for use.
pub struct LoadedModel {
    pub header: Header,
    pub tokenizer: Tokenizer,
    pub model: Box<dyn Generator>,
}

/// Payload format names written into checkpoint headers.
pub const MARKOV_PAYLOAD: &str = "markov-binary-v1";
pub const HMM_PAYLOAD: &str = "safetensors";

/// Load the checkpoint at `path`; `device` is used by libtorch models (`auto`, `cpu`, `cuda`,
/// `cuda:N`) and ignored by the others.
pub fn load(path: &Path, device: &str) -> Result<LoadedModel> {
    let (header, payload) = checkpoint::load(path)?;
    let bad = |e: Error| Error::Checkpoint { path: path.into(), reason: e.to_string() };
    let tokenizer = header.tokenizer().map_err(bad)?;
    let _ = device;
    let model: Box<dyn Generator> = match header.kind {
        ModelKind::Markov => Box::new(MarkovModel::from_bytes(&payload).map_err(bad)?),
        ModelKind::Hmm => Box::new(HmmModel::from_safetensors(&payload).map_err(bad)?),
        #[cfg(feature = "lstm")]
        ModelKind::Lstm => {
            let device = super::lstm::parse_device(device).map_err(bad)?;
            Box::new(super::lstm::LstmModel::from_checkpoint(path, &header, &payload, device)?)
        }
        ModelKind::Classifier => {
            return Err(Error::Checkpoint {
                path: path.into(),
                reason: "holds a style classifier, not a generator (use it with `cadenza classify`)".into(),
            })
        }
        #[cfg(not(feature = "lstm"))]
        ModelKind::Lstm => {
            return Err(Error::Checkpoint {
                path: path.into(),
                reason: "LSTM models need a build with the `lstm` feature".into(),
            })
        }
    };
    if model.vocab_size() != tokenizer.vocab_size() || header.vocab.len() != tokenizer.vocab_size() {
        return Err(Error::Checkpoint {
            path: path.into(),
            reason: format!(
                "vocabulary mismatch: model {} tokens, tokenizer {}, header {}",
                model.vocab_size(),
                tokenizer.vocab_size(),
                header.vocab.len()
            ),
        });
    }
    Ok(LoadedModel { header, tokenizer, model })
}
