//! The Transformer's shape ([`TransformerConfig`]): a GPU default and a CPU preset.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::models::neural::{NetConfig, TrainConfig};

/// Context of a network made with `context: 0` outside training (training fixes it to the
/// training window).
pub const FALLBACK_CONTEXT: usize = 512;

/// The network: token embedding → `layers` pre-norm blocks (causal multi-head self-attention
/// with rotary positions, then a GELU MLP) → final layer norm → logits through the embedding
/// matrix (tied).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformerConfig {
    /// Number of blocks.
    pub layers: usize,
    /// Attention heads per block (`dim / heads` must be even, for the rotary embedding).
    pub heads: usize,
    /// Width of the token embedding and of the residual stream.
    pub dim: usize,
    /// Width of the MLP's hidden layer.
    pub ff: usize,
    /// Dropout on the embedding, the attention weights and each residual branch (training
    /// only).
    pub dropout: f64,
    /// Most tokens attended to when scoring and sampling; 0: the training window (fixed when
    /// training starts). Longer pieces slide (see [`super::net`]).
    pub context: usize,
}

impl Default for TransformerConfig {
    /// Sized for a GPU: 6 blocks of width 512, 8 heads, MLP 2048, dropout 0.1.
    fn default() -> Self {
        TransformerConfig { layers: 6, heads: 8, dim: 512, ff: 2048, dropout: 0.1, context: 0 }
    }
}

impl TransformerConfig {
    /// Sized for a CPU core, within the committed LSTMs' parameter count (1.06 M parameters
    /// against 1.09 M on the midi-like vocabulary): 4 blocks of width 144, 4 heads, MLP 576,
    /// dropout 0.1. The shape of the committed `checkpoints/*.transformer`.
    pub fn cpu() -> Self {
        TransformerConfig { layers: 4, heads: 4, dim: 144, ff: 576, dropout: 0.1, context: 0 }
    }

    /// The context the network attends to.
    pub fn effective_context(&self) -> usize {
        if self.context == 0 {
            FALLBACK_CONTEXT
        } else {
            self.context
        }
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.dim / self.heads.max(1)
    }
}

impl NetConfig for TransformerConfig {
    fn validate(&self) -> Result<()> {
        if self.layers == 0 || self.heads == 0 || self.dim == 0 || self.ff == 0 {
            let sizes =
                format!("layers {}, heads {}, dim {}, ff {}", self.layers, self.heads, self.dim, self.ff);
            return Err(Error::setting("transformer sizes", sizes, "positive"));
        }
        if self.dim % self.heads != 0 || self.head_dim() % 2 != 0 {
            let what = format!("dim {} over {} heads", self.dim, self.heads);
            return Err(Error::setting("transformer heads", what, "an even width per head"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::setting("dropout", self.dropout, "in [0, 1)"));
        }
        if self.context == 1 {
            return Err(Error::setting("context", 1, "0 (the training window) or at least 2"));
        }
        Ok(())
    }

    fn parameters(&self, vocab: usize) -> usize {
        let (d, f) = (self.dim, self.ff);
        let block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (f * d + f) + (d * f + d);
        vocab * d + self.layers * block + 2 * d
    }

    fn adapt_to(&mut self, train: &TrainConfig) {
        if self.context == 0 {
            self.context = train.window.max(2);
        }
    }

    fn describe(&self, vocab: usize) -> String {
        format!(
            "{} block(s) × {} ({} heads, MLP {}), context {}, {} parameters",
            self.layers,
            self.dim,
            self.heads,
            self.ff,
            self.effective_context(),
            self.parameters(vocab)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_checked_and_the_context_follows_the_window() {
        assert!(TransformerConfig::default().validate().is_ok());
        assert!(TransformerConfig::cpu().validate().is_ok());
        let odd = TransformerConfig { dim: 12, heads: 4, ..TransformerConfig::cpu() };
        assert!(odd.validate().unwrap_err().to_string().contains("even width"));
        assert!(TransformerConfig { heads: 0, ..TransformerConfig::cpu() }.validate().is_err());
        let mut c = TransformerConfig::cpu();
        c.adapt_to(&TrainConfig { window: 96, ..TrainConfig::default() });
        assert_eq!(c.context, 96);
        c.adapt_to(&TrainConfig { window: 32, ..TrainConfig::default() });
        assert_eq!(c.context, 96, "an explicit context is kept");
    }
}
