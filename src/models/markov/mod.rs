//! The Markov generator: a smoothed variable-order Markov chain over tokens.
//!
//! Interpolated modified Kneser-Ney smoothing (Chen & Goodman 1998) down to a uniform floor,
//! with n-grams counted in parallel and stored compactly by context hash.
//!
//! - [`config`]: [`MarkovConfig`] and the discount estimates.
//! - `condition`: counts under a piece's control tokens, in force at every token.
//! - `count`: parallel counting (raw counts on top, continuation counts below).
//! - `hash`: 64-bit context hashes and their collision odds.
//! - `level`: the per-order tables.
//! - [`model`]: [`MarkovModel`] (fit, probabilities, [`crate::models::Generator`]).
//! - `serial`: the binary form ([`MarkovModel::to_bytes`], [`MarkovModel::from_bytes`]).
//! - `sources`: synthetic Markov sources for tests, benches and examples (feature `testing`).
//!
//! Decisions:
//! - PAD and BOS are never targets: they get probability exactly 0 as the next token and are
//!   left out of the uniform floor; every other token (EOS included) has positive probability
//!   in every context. [`crate::models::Generator::log_probs`] reports
//!   [`IMPOSSIBLE_LOG_PROB`] (finite) for a PAD/BOS/out-of-vocabulary target.
//! - BOS is the context at the start: a sequence's first predictions use the shorter contexts
//!   `BOS`, `BOS t1`, ...; n-grams opening a sequence keep raw counts in the lower orders, since
//!   nothing precedes BOS (as in KenLM). BOS/PAD inside a sequence are context only.
//! - Contexts are 64-bit hashes (collision odds in `hash`); the stream keeps the last
//!   `order - 1` tokens.
//! - Order-`k` discounts come from order-`k` count-of-counts, with KenLM's fallback
//!   `0.5, 1, 1.5` when the estimate is undefined or out of range (tiny corpora).

mod condition;
pub mod config;
mod count;
mod hash;
mod level;
pub mod model;
mod serial;
#[cfg(any(test, feature = "testing"))]
pub mod sources;
#[cfg(test)]
mod tests;

pub use condition::{ConditionSpec, CONDITION_ORDER, CONDITION_WEIGHT};
pub use config::{Discounts, MarkovConfig, MAX_ORDER};
pub use model::{MarkovModel, MarkovStream, AUTO_ORDERS, IMPOSSIBLE_LOG_PROB};
