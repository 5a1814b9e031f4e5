//! The network: a small 2-D CNN over piano-roll windows (`[batch, 2, pitches, steps]`).
//!
//! `blocks` blocks of 3x3 convolution → batch norm → ReLU → 2x2 max pooling (none after the
//! last block), channels `width, 2·width, 4·width, ...`; then the global average and the global
//! maximum of each channel, dropout, and one linear layer to the labels' logits. Pooling uses
//! ceil mode, so a window too small to halve again keeps size 1 instead of failing.
//!
//! The weights are held as named tensors (as the LSTM's are) so that checkpoints store them with
//! [`crate::models::lstm::payload`] and AdamW ([`crate::models::lstm::optim`]) updates them.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use super::error::ClassifyError;
use super::roll::CHANNELS;
use crate::models::lstm::payload;

/// Batch-norm settings (PyTorch's defaults).
const BN_MOMENTUM: f64 = 0.1;
const BN_EPS: f64 = 1e-5;

/// The network's shape.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Channels of the first block (each later block doubles them).
    pub width: usize,
    /// Convolution blocks.
    pub blocks: usize,
    /// Dropout before the linear layer (training only).
    pub dropout: f64,
}

impl Default for NetConfig {
    /// 4 blocks from 16 channels (16, 32, 64, 128), dropout 0.3: about 100 k parameters.
    fn default() -> Self {
        NetConfig { width: 16, blocks: 4, dropout: 0.3 }
    }
}

impl NetConfig {
    /// Check that the sizes make a network.
    pub fn validate(&self) -> Result<(), ClassifyError> {
        if self.width == 0 || self.blocks == 0 || self.blocks > 8 || self.width > 1024 {
            let value = format!("width {}, blocks {}", self.width, self.blocks);
            return Err(ClassifyError::setting("network size", value, "width 1..=1024 and blocks 1..=8"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(ClassifyError::setting("dropout", self.dropout, "in [0, 1)"));
        }
        Ok(())
    }

    /// Channels out of block `i`.
    fn channels(&self, i: usize) -> i64 {
        (self.width << i) as i64
    }
}

/// One convolution block's tensors.
#[derive(Debug)]
struct Block {
    conv: Tensor,
    bn_weight: Tensor,
    bn_bias: Tensor,
    running_mean: Tensor,
    running_var: Tensor,
}

/// The weights and the forward pass.
#[derive(Debug)]
pub struct Net {
    pub cfg: NetConfig,
    pub labels: i64,
    pub device: Device,
    blocks: Vec<Block>,
    head_w: Tensor,
    head_b: Tensor,
}

impl Net {
    /// Fresh weights (PyTorch's default initialisations) drawn from libtorch's global generator
    /// on the CPU, then moved to `device`.
    pub fn new(cfg: NetConfig, labels: usize, device: Device) -> crate::Result<Net> {
        cfg.validate()?;
        let uniform = |dims: &[i64], bound: f64| -> Result<Tensor, tch::TchError> {
            let t = tch::no_grad(|| {
                Tensor::f_empty(dims, (Kind::Float, Device::Cpu))?.f_uniform_(-bound, bound)
            })?;
            Ok(t.f_to_device(device)?.set_requires_grad(true))
        };
        let filled = |n: i64, v: f64, grad: bool| -> Result<Tensor, tch::TchError> {
            Ok(Tensor::f_full([n], v, (Kind::Float, device))?.set_requires_grad(grad))
        };
        let mut blocks = Vec::with_capacity(cfg.blocks);
        let mut c_in = CHANNELS as i64;
        for i in 0..cfg.blocks {
            let c = cfg.channels(i);
            blocks.push(Block {
                conv: uniform(&[c, c_in, 3, 3], 1.0 / ((c_in * 9) as f64).sqrt())?,
                bn_weight: filled(c, 1.0, true)?,
                bn_bias: filled(c, 0.0, true)?,
                running_mean: filled(c, 0.0, false)?,
                running_var: filled(c, 1.0, false)?,
            });
            c_in = c;
        }
        let features = 2 * c_in;
        let k = 1.0 / (features as f64).sqrt();
        let labels_i = labels as i64;
        let head_w = uniform(&[labels_i, features], k)?;
        let head_b = uniform(&[labels_i], k)?;
        Ok(Net { cfg, labels: labels_i, device, blocks, head_w, head_b })
    }

    /// Every tensor with its checkpoint name, in a fixed order (batch-norm running statistics
    /// included).
    pub fn named(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, b) in self.blocks.iter().enumerate() {
            out.push((format!("block{i}.conv.weight"), b.conv.shallow_clone()));
            out.push((format!("block{i}.bn.weight"), b.bn_weight.shallow_clone()));
            out.push((format!("block{i}.bn.bias"), b.bn_bias.shallow_clone()));
            out.push((format!("block{i}.bn.running_mean"), b.running_mean.shallow_clone()));
            out.push((format!("block{i}.bn.running_var"), b.running_var.shallow_clone()));
        }
        out.push(("head.weight".into(), self.head_w.shallow_clone()));
        out.push(("head.bias".into(), self.head_b.shallow_clone()));
        out
    }

    /// The tensors the optimizer updates.
    pub fn trainable(&self) -> Vec<(String, Tensor)> {
        self.named().into_iter().filter(|(_, t)| t.requires_grad()).collect()
    }

    /// Copy every tensor from `src` (by name, shapes checked).
    pub fn load_named(&self, src: &HashMap<String, Tensor>) -> crate::Result<()> {
        for (name, t) in self.named() {
            payload::copy_into(&t, src, &name)?;
        }
        Ok(())
    }

    /// Logits `[batch, labels]` of windows `x` (`[batch, 2, pitches, steps]`, on the net's
    /// device). `train`: batch statistics (updating the running ones) and dropout.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor, tch::TchError> {
        let last = self.blocks.len() - 1;
        let mut h = x.shallow_clone();
        for (i, b) in self.blocks.iter().enumerate() {
            h = h.f_conv2d(&b.conv, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1)?;
            h = h.f_batch_norm(
                Some(&b.bn_weight),
                Some(&b.bn_bias),
                Some(&b.running_mean),
                Some(&b.running_var),
                train,
                BN_MOMENTUM,
                BN_EPS,
                true,
            )?;
            h = h.f_relu()?;
            if i < last {
                h = h.f_max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], true)?;
            }
        }
        let avg = h.f_mean_dim([2i64, 3].as_slice(), false, Kind::Float)?;
        let max = h.f_amax([2i64, 3].as_slice(), false)?;
        let features = Tensor::f_cat(&[avg, max], 1)?.f_dropout(self.cfg.dropout, train)?;
        features.f_linear(&self.head_w, Some(&self.head_b))
    }

    /// Trainable parameters.
    pub fn parameters(&self) -> i64 {
        self.trainable().iter().map(|(_, t)| t.numel() as i64).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_flow_from_windows_to_logits_even_for_tiny_windows() {
        tch::manual_seed(0);
        let net = Net::new(NetConfig { width: 4, blocks: 3, dropout: 0.0 }, 3, Device::Cpu).unwrap();
        for (p, t) in [(84, 64), (3, 2), (1, 1)] {
            let x = Tensor::rand([5, 2, p, t], (Kind::Float, Device::Cpu));
            assert_eq!(net.forward(&x, false).unwrap().size(), vec![5, 3]);
        }
        assert!(net.forward(&Tensor::zeros([5, 3, 8, 8], (Kind::Float, Device::Cpu)), false).is_err());
        // conv weights 4*2*9 + 8*4*9 + 16*8*9, batch norm 2*(4+8+16), head 3*32 + 3.
        assert_eq!(net.parameters(), 72 + 288 + 1152 + 56 + 99);
        assert_eq!(net.named().len(), 3 * 5 + 2);
    }
}
