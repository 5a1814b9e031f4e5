//! Models as checkpoint files: every kind is saved by [`save`] and loaded back by [`load`] as a
//! [`Model`], one enum over the concrete models that is itself a [`Generator`].
//!
//! A checkpoint's header is assembled in one place ([`header`]) for every kind, so its
//! tokenizer, vocabulary, corpus summary and metrics are recorded the same way whether the
//! Markov chain, the HMM or the neural training loop (LSTM, Transformer) writes it.

use std::collections::BTreeMap;
use std::path::Path;

use super::hmm::HmmModel;
use super::markov::MarkovModel;
use super::{Generator, ModelKind, TokenStream};
use crate::checkpoint::{self, CorpusSummary, Header};
use crate::error::{CheckpointError, Error, Result};
use crate::sampler::Sampler;
use crate::tokens::{TokenId, Tokenizer};

/// Payload format names written into checkpoint headers.
pub const MARKOV_PAYLOAD: &str = "markov-binary-v1";
pub const HMM_PAYLOAD: &str = "safetensors";

/// A trained model of any kind.
pub enum Model {
    Markov(MarkovModel),
    Hmm(HmmModel),
    #[cfg(feature = "lstm")]
    Lstm(super::lstm::LstmModel),
    #[cfg(feature = "lstm")]
    Transformer(super::transformer::TransformerModel),
}

impl Model {
    /// The model as a [`Generator`].
    pub fn generator(&self) -> &dyn Generator {
        match self {
            Model::Markov(m) => m,
            Model::Hmm(m) => m,
            #[cfg(feature = "lstm")]
            Model::Lstm(m) => m,
            #[cfg(feature = "lstm")]
            Model::Transformer(m) => m,
        }
    }

    /// The HMM, when this is one (for Viterbi paths and its parameters).
    pub fn as_hmm(&self) -> Option<&HmmModel> {
        match self {
            Model::Hmm(m) => Some(m),
            _ => None,
        }
    }

    /// How the model's payload is encoded, and the payload.
    pub fn payload(&self) -> Result<(&'static str, Vec<u8>)> {
        Ok(match self {
            Model::Markov(m) => (MARKOV_PAYLOAD, m.to_bytes()),
            Model::Hmm(m) => (HMM_PAYLOAD, m.to_safetensors()),
            #[cfg(feature = "lstm")]
            Model::Lstm(m) => (super::lstm::model::PAYLOAD_FORMAT, m.weights_bytes()?),
            #[cfg(feature = "lstm")]
            Model::Transformer(m) => (super::neural::PAYLOAD_FORMAT, m.weights_bytes()?),
        })
    }
}

impl Generator for Model {
    fn kind(&self) -> ModelKind {
        self.generator().kind()
    }
    fn vocab_size(&self) -> usize {
        self.generator().vocab_size()
    }
    fn log_probs(&self, tokens: &[TokenId]) -> Result<Vec<f64>> {
        self.generator().log_probs(tokens)
    }
    fn stream(&self, primer: &[TokenId]) -> Result<Box<dyn TokenStream + '_>> {
        self.generator().stream(primer)
    }
    fn generate_batch(
        &self,
        primers: &[Vec<TokenId>],
        max_new_tokens: usize,
        sampler: &Sampler,
        rng_seed: u64,
    ) -> Result<Vec<Vec<TokenId>>> {
        self.generator().generate_batch(primers, max_new_tokens, sampler, rng_seed)
    }
    fn fills_in_the_middle(&self) -> bool {
        self.generator().fills_in_the_middle()
    }
    fn generate_middles(
        &self,
        before: &[TokenId],
        after: &[TokenId],
        gap: &[TokenId],
        rows: usize,
        max_new_tokens: usize,
        sampler: &Sampler,
        rng_seed: u64,
    ) -> Result<Vec<Vec<TokenId>>> {
        self.generator().generate_middles(before, after, gap, rows, max_new_tokens, sampler, rng_seed)
    }
}

/// What a checkpoint records beside the model itself.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The model's settings (`MarkovConfig`, `HmmConfig`, the LSTM's model and training
    /// configurations).
    pub hyperparameters: serde_json::Value,
    pub corpus: Option<CorpusSummary>,
    /// E.g. `train_bits_per_token`, `valid_bits_per_note`.
    pub metrics: BTreeMap<String, f64>,
    /// Model-specific state that is not weights (the HMM's fit report, the LSTM's training
    /// state).
    pub extra: serde_json::Value,
}

/// The header of a `kind` checkpoint over `tokenizer` whose payload is `payload_format`: the one
/// place headers are made.
pub fn header(kind: ModelKind, tokenizer: &Tokenizer, payload_format: &str, record: Record) -> Header {
    let mut h = Header::new(kind, tokenizer, record.hyperparameters, payload_format);
    h.corpus = record.corpus;
    h.metrics = record.metrics;
    h.extra = record.extra;
    h
}

/// Write `model` (which speaks `tokenizer`) to `path` atomically with `record`; returns the
/// header written.
pub fn save(path: &Path, model: &Model, tokenizer: &Tokenizer, record: Record) -> Result<Header> {
    let (format, payload) = model.payload()?;
    let h = header(model.kind(), tokenizer, format, record);
    checkpoint::save(path, &h, &payload)?;
    Ok(h)
}

/// A checkpoint loaded for use.
pub struct LoadedModel {
    pub header: Header,
    pub tokenizer: Tokenizer,
    pub model: Model,
}

/// Load the checkpoint at `path`; `device` is used by libtorch models (`auto`, `cpu`, `cuda`,
/// `cuda:N`) and ignored by the others.
pub fn load(path: &Path, device: &str) -> Result<LoadedModel> {
    let (header, payload) = checkpoint::load(path)?;
    let bad = |problem| Error::checkpoint(path, problem);
    let tokenizer = header.tokenizer().map_err(|e| bad(checkpoint::tokenizer_problem(e)))?;
    let in_payload =
        |format: &'static str| move |e: Error| bad(CheckpointError::Payload { format, source: Box::new(e) });
    let _ = device;
    let model = match header.kind {
        ModelKind::Markov => Model::Markov(
            MarkovModel::from_bytes(&payload).map_err(|e| in_payload(MARKOV_PAYLOAD)(e.into()))?,
        ),
        ModelKind::Hmm => Model::Hmm(HmmModel::from_safetensors(&payload).map_err(in_payload(HMM_PAYLOAD))?),
        #[cfg(feature = "lstm")]
        ModelKind::Lstm => {
            let device = super::lstm::parse_device(device)?;
            Model::Lstm(super::lstm::LstmModel::from_checkpoint(path, &header, &payload, device)?)
        }
        ModelKind::Classifier => return Err(bad(CheckpointError::NotAGenerator)),
        #[cfg(feature = "lstm")]
        ModelKind::Transformer => {
            let device = super::neural::parse_device(device)?;
            Model::Transformer(super::transformer::TransformerModel::from_checkpoint(
                path, &header, &payload, device,
            )?)
        }
        #[cfg(not(feature = "lstm"))]
        kind @ (ModelKind::Lstm | ModelKind::Transformer) => {
            return Err(bad(CheckpointError::NeedsFeature(kind.name())))
        }
    };
    if model.vocab_size() != tokenizer.vocab_size() || header.vocab.len() != tokenizer.vocab_size() {
        return Err(bad(CheckpointError::VocabMismatch {
            model: model.vocab_size(),
            tokenizer: tokenizer.vocab_size(),
            header: header.vocab.len(),
        }));
    }
    Ok(LoadedModel { header, tokenizer, model })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::markov::MarkovConfig;
    use crate::TokenizerConfig;

    #[test]
    fn a_saved_model_loads_back_and_scores_the_same() {
        let tok = Tokenizer::new(TokenizerConfig::default()).unwrap();
        let seqs = vec![vec![1, 40, 41, 42, 40, 41, 2], vec![1, 41, 42, 40, 2]];
        let m =
            MarkovModel::fit(&MarkovConfig { order: 2, ..Default::default() }, tok.vocab_size(), &seqs, None)
                .unwrap();
        let model = Model::Markov(m);
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.markov");
        let mut record = Record { corpus: Some(CorpusSummary::default()), ..Record::default() };
        record.metrics.insert("train_bits_per_token".into(), 1.25);
        let written = save(&p, &model, &tok, record).unwrap();
        assert_eq!(written.kind, ModelKind::Markov);
        assert_eq!(written.payload_format, MARKOV_PAYLOAD);
        let back = load(&p, "cpu").unwrap();
        assert_eq!(back.header, written);
        assert_eq!(back.model.log_probs(&seqs[0]).unwrap(), model.log_probs(&seqs[0]).unwrap());
        assert!(back.model.as_hmm().is_none());
    }

    #[test]
    fn a_damaged_payload_names_the_file_and_the_payload() {
        let tok = Tokenizer::new(TokenizerConfig::default()).unwrap();
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("bad.markov");
        let h = header(ModelKind::Markov, &tok, MARKOV_PAYLOAD, Record::default());
        checkpoint::save(&p, &h, b"not a markov model").unwrap();
        let e = load(&p, "cpu").err().expect("refused").to_string();
        assert!(
            e.contains("bad.markov") && e.contains("markov-binary-v1 payload") && e.contains("bad magic"),
            "{e}"
        );
    }
}
