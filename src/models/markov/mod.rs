//! The Markov generator: a smoothed variable-order Markov chain over tokens.
//!
//! Interpolated modified Kneser-Ney smoothing (Chen & Goodman 1998) down to a uniform floor,
//! with n-grams counted in parallel and stored compactly by context hash.
//!
//! - [`config`]: [`MarkovConfig`] and the discount estimates.
//! - `count`: parallel counting (raw counts on top, continuation counts below).
//! - `hash`: 64-bit context hashes and their collision odds.
//! - `level`: the per-order tables.
//! - [`model`]: [`MarkovModel`] (fit, probabilities, [`crate::models::Generator`]).
//! - `serial`: the binary form ([`MarkovModel::to_bytes`], [`MarkovModel::from_bytes`]).
//! - [`synth`]: synthetic Markov sources for tests, benches and examples.

pub mod config;
mod count;
mod hash;
mod level;
pub mod model;
mod serial;
pub mod synth;
#[cfg(test)]
mod tests;

pub use config::{Discounts, MarkovConfig, MAX_ORDER};
pub use model::{MarkovModel, MarkovStream, IMPOSSIBLE_LOG_PROB};
