//! Turning a trained model and an optional seed piece into new pieces: priming, sampling in a
//! batch, and decoding (with the seed's tempo and time signature), optionally without the primer.

use crate::midi::Piece;
use crate::models::Generator;
use crate::sampler::Sampler;
use crate::tokens::{DecodeOptions, TokenId, Tokenizer, BOS};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// How many pieces.
    pub count: usize,
    /// Most new tokens per piece (EOS may end a piece sooner).
    pub length: usize,
    pub sampler: Sampler,
    pub rng_seed: u64,
    /// Cut the seed after this many quarter notes...
    pub seed_beats: Option<f64>,
    /// ...or seconds (the earlier cut wins; neither: the whole seed).
    pub seed_seconds: Option<f64>,
    /// Leave the primer's notes out of the written pieces.
    pub strip_primer: bool,
}

/// One generated piece.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The primer tokens (starting with BOS).
    pub primer: Vec<TokenId>,
    /// The sampled tokens (possibly ending with EOS); the piece also has the NOTE_OFFs that
    /// [`Sampler::finished`] adds.
    pub continuation: Vec<TokenId>,
    pub piece: Piece,
}

/// Sample `opts.count` continuations of `seed` (or of BOS alone) from `model`. With
/// `opts.sampler.notes` set (the command line's default), every continuation stays well formed
/// and ends with its sounding notes closed (see [`crate::tokens::NoteGuard`]).
pub fn generate(
    model: &dyn Generator,
    tokenizer: &Tokenizer,
    seed: Option<&Piece>,
    opts: &GenerateOptions,
) -> crate::Result<Vec<Generated>> {
    opts.sampler.validate()?;
    if model.vocab_size() != tokenizer.vocab_size() {
        return Err(crate::Error::Model(format!(
            "the model has {} tokens but its tokenizer {}",
            model.vocab_size(),
            tokenizer.vocab_size()
        )));
    }
    let (primer, decode_opts) = match seed {
        Some(p) => {
            (tokenizer.encode_prefix(p, opts.seed_beats, opts.seed_seconds), DecodeOptions::from_piece(p))
        }
        None => (vec![BOS], DecodeOptions::default()),
    };
    let primers = vec![primer.clone(); opts.count];
    let outs = model.generate_batch(&primers, opts.length, &opts.sampler, opts.rng_seed);
    Ok(outs
        .into_iter()
        .map(|continuation| {
            let sample = Sample::new(&opts.sampler, &primer, &continuation);
            let piece = if opts.strip_primer {
                sample.continuation_piece(tokenizer, &decode_opts)
            } else {
                sample.piece(tokenizer, &decode_opts)
            };
            Generated { primer: primer.clone(), continuation, piece }
        })
        .collect())
}

/// A primer and its sampled continuation, made ready to decode: the one way from sampled tokens
/// to pieces, for `generate` and `compare`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Primer and continuation, finished by the sampler's guard ([`Sampler::finished`]).
    pub tokens: Vec<TokenId>,
    /// How many of `tokens` are the primer's.
    pub primer_len: usize,
}

impl Sample {
    /// `primer` followed by `continuation`, finished under `sampler`'s note rules.
    pub fn new(sampler: &Sampler, primer: &[TokenId], continuation: &[TokenId]) -> Sample {
        let tokens = sampler.finished(primer.iter().chain(continuation).copied().collect());
        Sample { tokens, primer_len: primer.len() }
    }

    /// Primer and continuation as one piece.
    pub fn piece(&self, tokenizer: &Tokenizer, options: &DecodeOptions) -> Piece {
        tokenizer.decode_with(&self.tokens, options)
    }

    /// The continuation alone, in the state the primer left (see [`Tokenizer::strip_primer`]).
    pub fn continuation_piece(&self, tokenizer: &Tokenizer, options: &DecodeOptions) -> Piece {
        let (primer, rest) = self.tokens.split_at(self.primer_len.min(self.tokens.len()));
        tokenizer.decode_with(&tokenizer.strip_primer(primer, rest), options)
    }
}
