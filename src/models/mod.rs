//! The generators and the one interface they share.
//!
//! Every model is a [`Generator`]: it scores a token sequence (the natural-log probability of
//! each token given its past, from which bits/token and perplexity follow) and opens a
//! [`TokenStream`] that yields the distribution of the next token after a primer, so one
//! [`crate::sampler`] serves every model. Training is model-specific (`fit` on each model).

pub mod hmm;
#[cfg(feature = "lstm")]
pub mod lstm;
pub mod markov;
pub mod saved;

use serde::{Deserialize, Serialize};

use crate::tokens::TokenId;

/// Which model a checkpoint holds: one of the generators, or a style classifier
/// (`cadenza::classify`, not a generator, so not in [`ModelKind::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Markov,
    Hmm,
    Lstm,
    Classifier,
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown model `{s}` (expected markov, hmm or lstm)"))
    }
}

impl ModelKind {
    /// Every generator kind, in the order the command line lists them.
    pub const ALL: [ModelKind; 3] = [ModelKind::Markov, ModelKind::Hmm, ModelKind::Lstm];

    /// Lower-case name, as on the command line and in checkpoints.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Markov => "markov",
            ModelKind::Hmm => "hmm",
            ModelKind::Lstm => "lstm",
            ModelKind::Classifier => "classifier",
        }
    }
}

impl std::fmt::Display for ModelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A trained sequence model over a fixed vocabulary.
///
/// Sequences start with BOS (`tokens[0]`, context only, never scored).
pub trait Generator: Send + Sync {
    /// Which model this is.
    fn kind(&self) -> ModelKind;

    /// Size of the vocabulary the model was trained on.
    fn vocab_size(&self) -> usize;

    /// `ln p(tokens[i] | tokens[..i])` for every `i` in `1..tokens.len()`. Never `-inf`.
    fn log_probs(&self, tokens: &[TokenId]) -> Vec<f64>;

    /// A stream that has consumed `primer` (which starts with BOS).
    fn stream(&self, primer: &[TokenId]) -> Box<dyn TokenStream + '_>;

    /// Sample one continuation per primer. The default runs one stream per primer in turn;
    /// models that batch on a device override it.
    fn generate_batch(
        &self,
        primers: &[Vec<TokenId>],
        max_new_tokens: usize,
        sampler: &crate::sampler::Sampler,
        rng_seed: u64,
    ) -> Vec<Vec<TokenId>> {
        primers
            .iter()
            .enumerate()
            .map(|(i, primer)| {
                let mut rng = crate::sampler::rng_for(rng_seed, i as u64);
                crate::sampler::generate(self, primer, max_new_tokens, sampler, &mut rng)
            })
            .collect()
    }
}

/// Incremental next-token distributions: the state of a model after the tokens pushed so far.
pub trait TokenStream {
    /// Write the probability of every token being next into `out` (resized to the vocabulary;
    /// entries sum to 1).
    fn next_probs(&mut self, out: &mut Vec<f64>);

    /// Consume one token.
    fn push(&mut self, token: TokenId);
}

/// Mean bits/token of `model` over `seqs` (all scored tokens pooled) and how many tokens were
/// scored, computed in parallel. `train`, `eval` and `compare` all report this number.
pub fn corpus_bits(model: &dyn Generator, seqs: &[Vec<TokenId>]) -> (f64, usize) {
    use rayon::prelude::*;
    let lps: Vec<Vec<f64>> = seqs.par_iter().map(|s| model.log_probs(s)).collect();
    let all: Vec<f64> = lps.into_iter().flatten().collect();
    (bits_per_token(&all), all.len())
}

/// Bits per token and perplexity from natural-log probabilities.
pub fn bits_per_token(log_probs: &[f64]) -> f64 {
    if log_probs.is_empty() {
        return 0.0;
    }
    -log_probs.iter().sum::<f64>() / log_probs.len() as f64 / std::f64::consts::LN_2
}
