//! Pieces as token sequences: a performance-event vocabulary (NOTE_ON, NOTE_OFF, TIME_SHIFT,
//! VELOCITY, PROGRAM, plus PAD/BOS/EOS) and a lossless-up-to-the-grid encoder and decoder.
//!
//! - [`TokenizerConfig`] decides the grid, the vocabulary and what is encoded.
//! - [`Vocab`] maps [`Event`]s to dense [`TokenId`]s and readable names (`NOTE_ON_60`).
//! - [`Tokenizer`] encodes a [`crate::Piece`] and decodes any token sequence back into one.
//! - [`transpose`] shifts pitched notes for data augmentation.

mod config;
mod decode;
mod encode;
pub mod gm_names;
pub mod transpose;
mod vocab;

pub use config::{ProgramMode, TimeMode, TokenizerConfig};
pub use vocab::{Event, Vocab};

use crate::error::Result;
use crate::midi::Piece;

/// A token: an index into the vocabulary.
pub type TokenId = u16;

/// Padding (never produced by the encoder, never sampled).
pub const PAD: TokenId = 0;
/// Beginning of a sequence.
pub const BOS: TokenId = 1;
/// End of a sequence.
pub const EOS: TokenId = 2;

/// Encodes pieces into tokens and decodes tokens into pieces under one configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokenizer {
    config: TokenizerConfig,
    vocab: Vocab,
}

impl Tokenizer {
    /// A tokenizer for `config` (validated).
    pub fn new(config: TokenizerConfig) -> Result<Self> {
        config.validate()?;
        let vocab = Vocab::new(&config);
        Ok(Tokenizer { config, vocab })
    }

    /// The configuration this tokenizer was made from.
    pub fn config(&self) -> &TokenizerConfig {
        &self.config
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Number of distinct tokens.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The readable name of `token` (`NOTE_ON_60`, `SHIFT_3`, ...).
    pub fn name(&self, token: TokenId) -> String {
        self.vocab.name(token)
    }

    /// `BOS, events..., EOS` for `piece`.
    pub fn encode(&self, piece: &Piece) -> Vec<TokenId> {
        encode::encode(self, piece)
    }

    /// A piece from any token sequence (see the decoder's rules in `decode.rs`).
    pub fn decode(&self, tokens: &[TokenId]) -> Piece {
        decode::decode(self, tokens)
    }
}
