//! The LSTM's shape ([`LstmConfig`]).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::models::neural::NetConfig;

/// The network: token embedding → `layers`-layer LSTM → dropout → linear over the vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LstmConfig {
    /// Width of the token embedding.
    pub embed: usize,
    /// Width of each LSTM layer.
    pub hidden: usize,
    /// Number of stacked LSTM layers.
    pub layers: usize,
    /// Dropout between LSTM layers and before the output layer (training only).
    pub dropout: f64,
    /// Share the embedding matrix with the output layer. When `embed != hidden` a linear
    /// projection from `hidden` to `embed` is added before the output layer.
    pub tie_weights: bool,
}

impl Default for LstmConfig {
    /// Sized for a GPU: 3 × 512, embedding 256, dropout 0.2.
    fn default() -> Self {
        LstmConfig { embed: 256, hidden: 512, layers: 3, dropout: 0.2, tie_weights: false }
    }
}

impl LstmConfig {
    /// The preset of the seed article: 2 × 256, dropout 0.5.
    pub fn seed_article() -> Self {
        LstmConfig { embed: 256, hidden: 256, layers: 2, dropout: 0.5, tie_weights: false }
    }

    /// Check that the sizes make a network.
    pub fn validate(&self) -> Result<()> {
        if self.embed == 0 || self.hidden == 0 || self.layers == 0 {
            let sizes = format!("embed {}, hidden {}, layers {}", self.embed, self.hidden, self.layers);
            return Err(Error::setting("lstm sizes", sizes, "positive"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::setting("dropout", self.dropout, "in [0, 1)"));
        }
        Ok(())
    }

    /// Number of trainable parameters for a vocabulary of `vocab` tokens.
    pub fn parameters(&self, vocab: usize) -> usize {
        let (e, h, l) = (self.embed, self.hidden, self.layers);
        let lstm = 4 * h * (e + h + 2) + (l - 1) * 4 * h * (2 * h + 2);
        let head_in = if self.tie_weights { e } else { h };
        let proj = if self.tie_weights && e != h { e * h } else { 0 };
        let out = if self.tie_weights { vocab } else { vocab * head_in + vocab };
        vocab * e + lstm + proj + out
    }
}

impl NetConfig for LstmConfig {
    fn validate(&self) -> Result<()> {
        LstmConfig::validate(self)
    }

    fn parameters(&self, vocab: usize) -> usize {
        LstmConfig::parameters(self, vocab)
    }

    fn describe(&self, vocab: usize) -> String {
        format!(
            "{} layer(s) × {}, embedding {}, {} parameters",
            self.layers,
            self.hidden,
            self.embed,
            self.parameters(vocab)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_count_matches_hand_count() {
        // 1 layer, embed 2, hidden 3, vocab 5, untied: embedding 10, LSTM 4*3*(2+3) + 2*12 = 84,
        // output 5*3 + 5 = 20.
        let c = LstmConfig { embed: 2, hidden: 3, layers: 1, dropout: 0.0, tie_weights: false };
        assert_eq!(c.parameters(5), 10 + 84 + 20);
    }
}
