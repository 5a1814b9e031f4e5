//! cadenza learns music from a folder of MIDI files and writes new music as MIDI.
//!
//! Data flows one way through the crate:
//!
//! ```text
//! .mid files ──midi::read──▶ Piece ──tokens::Tokenizer::encode──▶ Vec<TokenId>
//!                                                                     │
//!   corpus::Corpus (parallel load, split, cache) ◀────────────────────┘
//!          │
//!          ▼
//!   models::{markov, hmm, lstm} ── fit / score / sample (sampler::Sampler)
//!          │
//!          ▼
//!   Vec<TokenId> ──Tokenizer::decode──▶ Piece ──midi::write──▶ .mid
//!                                         │
//!                   metrics / compare (reports), play (port, synth, WAV)
//! ```
//!
//! See `docs/ARCHITECTURE.md` for the map of modules.

pub mod atomic;
pub mod binio;
pub mod checkpoint;
#[cfg(feature = "lstm")]
pub mod classify;
pub mod compare;
pub mod controls;
pub mod copies;
pub mod corpus;
pub mod density;
pub mod doctor;
pub mod edit;
pub mod error;
pub mod eval;
pub mod generate;
pub mod key;
pub mod live;
pub mod math;
pub mod metrics;
pub mod midi;
pub mod models;
pub mod originality;
#[cfg(feature = "audio")]
pub mod play;
pub mod progress;
pub mod sampler;
pub mod score;
pub mod store;
#[cfg(feature = "studio")]
pub mod studio;
pub mod tokens;
pub mod train;

pub use error::{Error, Result};
pub use midi::{Instrument, Note, Piece};
pub use tokens::{TokenId, Tokenizer, TokenizerConfig};
