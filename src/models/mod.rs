//! The generators and the one interface they share.
//!
//! Every model is a [`Generator`]: it scores a token sequence (the natural-log probability of
//! each token given its past, from which bits/token and perplexity follow) and opens a
//! [`TokenStream`] that yields the distribution of the next token after a primer, so one
//! [`crate::sampler`] serves every model. Training is model-specific (`fit` on each model).
//! Scoring, streams and sampling return [`crate::Result`]: the counting models never fail,
//! the libtorch ones report a failed tensor operation as [`crate::Error::Torch`].

pub mod hmm;
pub mod lstm;
pub mod markov;
pub mod neural;
pub mod saved;
pub mod transformer;

pub use crate::checkpoint::ModelKind;
use crate::error::Result;
use crate::sampler::{SampleRng, Sampler};
use crate::tokens::{NoteGuard, TokenId, EOS};

/// A trained sequence model over a fixed vocabulary.
///
/// Sequences start with BOS (`tokens[0]`, context only, never scored).
pub trait Generator: Send + Sync {
    /// Which model this is.
    fn kind(&self) -> ModelKind;

    /// Size of the vocabulary the model was trained on.
    fn vocab_size(&self) -> usize;

    /// `ln p(tokens[i] | tokens[..i])` for every `i` in `1..tokens.len()` (one entry each).
    /// Never `-inf`.
    fn log_probs(&self, tokens: &[TokenId]) -> Result<Vec<f64>>;

    /// A stream that has consumed `primer` (which starts with BOS).
    fn stream(&self, primer: &[TokenId]) -> Result<Box<dyn TokenStream + '_>>;

    /// Sample one continuation per primer. The default runs one stream per primer in turn;
    /// models that batch on a device override it.
    fn generate_batch(
        &self,
        primers: &[Vec<TokenId>],
        max_new_tokens: usize,
        sampler: &crate::sampler::Sampler,
        rng_seed: u64,
    ) -> Result<Vec<Vec<TokenId>>> {
        primers
            .iter()
            .enumerate()
            .map(|(i, primer)| {
                let mut rng = crate::sampler::rng_for(rng_seed, i as u64);
                sample(self, primer, max_new_tokens, sampler, &mut rng)
            })
            .collect()
    }

    /// Whether the model reads the music after a gap before writing it (a network trained to
    /// fill in the middle: see [`neural::fim`]).
    fn fills_in_the_middle(&self) -> bool {
        false
    }

    /// Sample `rows` middles between `before` (starting with BOS) and `after`, lasting `gap`
    /// (the time they move, as [`crate::tokens::Tokenizer::shift_tokens`] writes it), each row
    /// `i` with stream `i` of `rng_seed`; its guard reads `before`. Only for models that
    /// [`Generator::fills_in_the_middle`].
    #[allow(clippy::too_many_arguments)]
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
        let _ = (before, after, gap, rows, max_new_tokens, sampler, rng_seed);
        Err(crate::error::ModelError::NoFillInTheMiddle(self.kind().name()).into())
    }
}

/// Incremental next-token distributions: the state of a model after the tokens pushed so far.
pub trait TokenStream {
    /// Write the probability of every token being next into `out` (resized to the vocabulary;
    /// entries sum to 1).
    fn next_probs(&mut self, out: &mut Vec<f64>);

    /// Consume one token.
    fn push(&mut self, token: TokenId) -> Result<()>;
}

/// Continue `primer` with up to `max_new_tokens` sampled tokens (fewer if EOS is drawn; the EOS
/// is included). Returns only the new tokens; see [`crate::sampler::Sampler::finished`] for closing the notes
/// they leave sounding.
pub fn sample<G: Generator + ?Sized>(
    model: &G,
    primer: &[TokenId],
    max_new_tokens: usize,
    sampler: &Sampler,
    rng: &mut SampleRng,
) -> Result<Vec<TokenId>> {
    let mut stream = model.stream(primer)?;
    continue_stream(stream.as_mut(), sampler.guard(primer), max_new_tokens, sampler, rng)
}

/// Draw up to `max_new_tokens` tokens from an already primed stream whose primer `guard` (if
/// any) has read, as [`sample`] does.
pub fn continue_stream(
    stream: &mut dyn TokenStream,
    mut guard: Option<NoteGuard>,
    max_new_tokens: usize,
    sampler: &Sampler,
    rng: &mut SampleRng,
) -> Result<Vec<TokenId>> {
    let mut out = Vec::with_capacity(max_new_tokens);
    let mut probs = Vec::new();
    for _ in 0..max_new_tokens {
        stream.next_probs(&mut probs);
        let t = sampler.pick_guarded(&mut probs, guard.as_mut(), rng);
        out.push(t);
        if t == EOS {
            break;
        }
        stream.push(t)?;
    }
    Ok(out)
}

/// Mean bits/token of `model` over `seqs` (all scored tokens pooled) and how many tokens were
/// scored, computed in parallel. `train`, `eval` and `compare` all report this number.
pub fn corpus_bits<S: AsRef<[TokenId]> + Sync>(model: &dyn Generator, seqs: &[S]) -> Result<(f64, usize)> {
    use rayon::prelude::*;
    let lps: Vec<Vec<f64>> = seqs.par_iter().map(|s| model.log_probs(s.as_ref())).collect::<Result<_>>()?;
    let all: Vec<f64> = lps.into_iter().flatten().collect();
    Ok((bits_per_token(&all), all.len()))
}

/// Bits per token and perplexity from natural-log probabilities.
pub fn bits_per_token(log_probs: &[f64]) -> f64 {
    if log_probs.is_empty() {
        return 0.0;
    }
    -log_probs.iter().sum::<f64>() / log_probs.len() as f64 / std::f64::consts::LN_2
}
