//! Helpers for the unit tests of the token modules: token names in and out.

use super::{TokenId, Tokenizer};

/// The names of `tokens`.
pub fn names(t: &Tokenizer, tokens: &[TokenId]) -> Vec<String> {
    tokens.iter().map(|&id| t.name(id)).collect()
}

/// Whitespace-separated names as a list.
pub fn split(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

/// The tokens named in `names` (whitespace-separated); panics on an unknown name.
pub fn ids(t: &Tokenizer, names: &str) -> Vec<TokenId> {
    names.split_whitespace().map(|n| t.vocab().parse(n).unwrap_or_else(|| panic!("no token {n}"))).collect()
}
