//! The network (embedding → stacked LSTM → dropout → linear) and [`LstmModel`], its trained,
//! loadable form.
//!
//! The LSTM runs through libtorch's fused `lstm` operator — the one behind `tch::nn::lstm` and
//! PyTorch's `nn.LSTM`, which uses cuDNN on CUDA — over weights named as PyTorch names them
//! (`weight_ih_l0`, ...). We hold the weights ourselves rather than through `tch::nn::LSTM` so
//! that one set of weights serves both training (dropout between layers) and inference (none).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use tch::{Device, Kind, Tensor};

use super::config::{LstmConfig, TrainConfig};
use super::payload;
use crate::checkpoint::{self, Header};
use crate::error::{CheckpointError, Error, ModelError, Result};
use crate::models::ModelKind;
use crate::tokens::{TokenId, PAD};

/// The payload format name written into checkpoint headers.
pub const PAYLOAD_FORMAT: &str = "safetensors";

/// The recurrent state: `(h, c)`, each `[layers, batch, hidden]`.
pub(crate) type State = (Tensor, Tensor);

/// The weights and the forward pass.
#[derive(Debug)]
pub(crate) struct Net {
    pub cfg: LstmConfig,
    pub vocab: i64,
    pub device: Device,
    embed: Tensor,
    /// `weight_ih, weight_hh, bias_ih, bias_hh` per layer, the order libtorch expects.
    lstm: Vec<Tensor>,
    proj: Option<Tensor>,
    out_w: Option<Tensor>,
    out_b: Tensor,
}

impl Net {
    /// Fresh weights (PyTorch's initialisations) drawn from libtorch's global generator on the
    /// CPU, then moved to `device`: equal seeds give equal weights on every device.
    pub fn new(cfg: LstmConfig, vocab: usize, device: Device) -> Result<Net> {
        cfg.validate()?;
        if vocab < 4 {
            return Err(ModelError::VocabSize {
                model: ModelKind::Lstm.name(),
                size: vocab,
                expected: "at least 4".into(),
            }
            .into());
        }
        let (v, e, h) = (vocab as i64, cfg.embed as i64, cfg.hidden as i64);
        let uniform = |dims: &[i64], bound: f64| -> Result<Tensor> {
            let t = tch::no_grad(|| {
                Tensor::f_empty(dims, (Kind::Float, Device::Cpu))?.f_uniform_(-bound, bound)
            })?;
            Ok(t.f_to_device(device)?.set_requires_grad(true))
        };
        let embed = uniform(&[v, e], 0.1)?;
        let k = 1.0 / (h as f64).sqrt();
        let mut lstm = Vec::with_capacity(4 * cfg.layers);
        for layer in 0..cfg.layers {
            let input = if layer == 0 { e } else { h };
            lstm.push(uniform(&[4 * h, input], k)?);
            lstm.push(uniform(&[4 * h, h], k)?);
            lstm.push(uniform(&[4 * h], k)?);
            lstm.push(uniform(&[4 * h], k)?);
        }
        let proj = if cfg.tie_weights && e != h { Some(uniform(&[e, h], k)?) } else { None };
        let head_in = if cfg.tie_weights { e } else { h };
        let kh = 1.0 / (head_in as f64).sqrt();
        let out_w = if cfg.tie_weights { None } else { Some(uniform(&[v, head_in], kh)?) };
        let out_b = uniform(&[v], kh)?;
        if device.is_cuda() && tch::Cuda::cudnn_is_available() {
            // As `tch::nn::lstm` and PyTorch's `flatten_parameters` do: make the LSTM weights views
            // into one buffer so cuDNN need not copy them on every call. A failure only costs speed.
            let _ = tch::no_grad(|| {
                Tensor::f_internal_cudnn_rnn_flatten_weight(
                    &lstm,
                    4,
                    e,
                    2,
                    h,
                    0,
                    cfg.layers as i64,
                    true,
                    false,
                )
            });
        }
        Ok(Net { cfg, vocab: v, device, embed, lstm, proj, out_w, out_b })
    }

    /// Every trainable tensor with its checkpoint name, in a fixed order.
    pub fn named(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("embed.weight".to_string(), self.embed.shallow_clone())];
        for (i, t) in self.lstm.iter().enumerate() {
            let what = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"][i % 4];
            out.push((format!("lstm.{what}_l{}", i / 4), t.shallow_clone()));
        }
        if let Some(p) = &self.proj {
            out.push(("proj.weight".into(), p.shallow_clone()));
        }
        if let Some(w) = &self.out_w {
            out.push(("out.weight".into(), w.shallow_clone()));
        }
        out.push(("out.bias".into(), self.out_b.shallow_clone()));
        out
    }

    /// Copy every weight from `src` (by name).
    pub fn load_named(&self, src: &HashMap<String, Tensor>) -> Result<()> {
        for (name, t) in self.named() {
            payload::copy_into(&t, src, &name)?;
        }
        Ok(())
    }

    /// A zero state for `batch` sequences.
    pub fn zero_state(&self, batch: i64, kind: Kind) -> State {
        let shape = [self.cfg.layers as i64, batch, self.cfg.hidden as i64];
        (Tensor::zeros(shape, (kind, self.device)), Tensor::zeros(shape, (kind, self.device)))
    }

    /// Logits `[batch, time, vocab]` (f32) for `input` (`[batch, time]`, int64 on the device)
    /// from `state` (zero when `None`), and the state after the last step. `train` turns
    /// dropout on; `bf16` computes in bfloat16 (weights cast from their f32 masters, so
    /// gradients still reach the f32 weights).
    pub fn forward(&self, input: &Tensor, state: Option<&State>, train: bool, bf16: bool) -> (Tensor, State) {
        let kind = if bf16 { Kind::BFloat16 } else { Kind::Float };
        let cast = |t: &Tensor| if bf16 { t.to_kind(kind) } else { t.shallow_clone() };
        let batch = input.size()[0];
        let zero;
        let (h0, c0) = match state {
            Some(s) => s,
            None => {
                zero = self.zero_state(batch, kind);
                &zero
            }
        };
        let x = cast(&Tensor::embedding(&self.embed, input, -1, false, false));
        let weights: Vec<Tensor> = self.lstm.iter().map(&cast).collect();
        let inner_dropout = if self.cfg.layers > 1 { self.cfg.dropout } else { 0.0 };
        let (out, h, c) = x.lstm(
            &[cast(h0), cast(c0)],
            &weights,
            true,
            self.cfg.layers as i64,
            inner_dropout,
            train,
            false,
            true,
        );
        let mut y = out.dropout(self.cfg.dropout, train);
        if let Some(p) = &self.proj {
            y = y.linear::<Tensor>(&cast(p), None);
        }
        let w = self.out_w.as_ref().unwrap_or(&self.embed);
        let logits = y.linear(&cast(w), Some(cast(&self.out_b)));
        (logits.to_kind(Kind::Float), (h, c))
    }
}

/// Tokens as an int64 tensor on `device`; ids past the vocabulary read as PAD.
pub(crate) fn token_tensor(tokens: &[TokenId], vocab: i64, device: Device) -> Tensor {
    let ids: Vec<i64> =
        tokens.iter().map(|&t| if i64::from(t) < vocab { i64::from(t) } else { i64::from(PAD) }).collect();
    Tensor::from_slice(&ids).to_device(device)
}

/// A trained LSTM generator.
#[derive(Debug)]
pub struct LstmModel {
    config: LstmConfig,
    pub(super) vocab_size: usize,
    device: Device,
    /// libtorch tensors are `Send` but not `Sync`; the lock makes the model shareable.
    net: Mutex<Net>,
}

impl LstmModel {
    /// A model with fresh random weights (seed them with `tch::manual_seed`).
    pub fn new(config: LstmConfig, vocab_size: usize, device: Device) -> Result<LstmModel> {
        Ok(Self::from_net(Net::new(config, vocab_size, device)?))
    }

    pub(crate) fn from_net(net: Net) -> LstmModel {
        LstmModel {
            config: net.cfg,
            vocab_size: net.vocab as usize,
            device: net.device,
            net: Mutex::new(net),
        }
    }

    /// The network's shape.
    pub fn config(&self) -> &LstmConfig {
        &self.config
    }

    /// Where the weights live.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.net().named().iter().map(|(_, t)| t.numel()).sum()
    }

    pub(crate) fn net(&self) -> MutexGuard<'_, Net> {
        self.net.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The raw output logits (`tokens.len() × vocab`, row-major) after each token of `tokens`,
    /// from a zero state, in evaluation mode.
    pub fn logits(&self, tokens: &[TokenId]) -> Vec<f32> {
        if tokens.is_empty() {
            return Vec::new();
        }
        let net = self.net();
        tch::no_grad(|| {
            let input = token_tensor(tokens, net.vocab, net.device).unsqueeze(0);
            let (logits, _) = net.forward(&input, None, false, false);
            payload::to_f32_vec(&logits).unwrap_or_default()
        })
    }

    /// The weights as safetensors bytes.
    pub fn weights_bytes(&self) -> Result<Vec<u8>> {
        payload::encode(&self.net().named())
    }

    /// Write the model (weights only) to `path` with `header` (its kind, payload format and
    /// hyperparameters are filled in).
    pub fn save(&self, path: &Path, mut header: Header) -> Result<()> {
        header.kind = ModelKind::Lstm;
        header.payload_format = PAYLOAD_FORMAT.into();
        if header.hyperparameters.get("model").is_none() {
            header.hyperparameters = hyperparameters(&self.config, None);
        }
        checkpoint::save(path, &header, &self.weights_bytes()?)
    }

    /// Load an LSTM checkpoint onto `device`. Optimizer state in the payload, if any, is
    /// ignored.
    pub fn load(path: &Path, device: Device) -> Result<(LstmModel, Header)> {
        let (header, bytes) = checkpoint::load_kind(path, ModelKind::Lstm)?;
        let model = Self::from_checkpoint(path, &header, &bytes, device)?;
        Ok((model, header))
    }

    /// The model held by an already loaded and verified LSTM checkpoint (`path` only names it
    /// in errors).
    pub fn from_checkpoint(path: &Path, header: &Header, bytes: &[u8], device: Device) -> Result<LstmModel> {
        let bad = |problem| Error::checkpoint(path, problem);
        let payload = |e| bad(CheckpointError::Payload { format: PAYLOAD_FORMAT, source: Box::new(e) });
        let (config, _) = parse_hyperparameters(&header.hyperparameters).map_err(bad)?;
        if header.payload_format != PAYLOAD_FORMAT {
            let found = header.payload_format.clone();
            return Err(bad(CheckpointError::PayloadFormat { found, expected: PAYLOAD_FORMAT }));
        }
        let tensors = payload::decode(bytes).map_err(payload)?;
        let net = Net::new(config, header.vocab.len(), device).map_err(payload)?;
        net.load_named(&tensors).map_err(payload)?;
        Ok(LstmModel::from_net(net))
    }
}

/// The checkpoint's `hyperparameters`: `{"model": LstmConfig, "train": TrainConfig}`.
pub fn hyperparameters(model: &LstmConfig, train: Option<&TrainConfig>) -> serde_json::Value {
    serde_json::json!({ "model": model, "train": train })
}

/// Read back [`hyperparameters`].
pub fn parse_hyperparameters(
    v: &serde_json::Value,
) -> std::result::Result<(LstmConfig, Option<TrainConfig>), CheckpointError> {
    let bad = CheckpointError::Hyperparameters;
    let model = v.get("model").ok_or_else(|| bad("they lack the model configuration".into()))?;
    let model: LstmConfig =
        serde_json::from_value(model.clone()).map_err(|e| bad(format!("model configuration: {e}")))?;
    model.validate().map_err(|e| bad(e.to_string()))?;
    let train = match v.get("train") {
        None | Some(serde_json::Value::Null) => None,
        Some(t) => {
            Some(serde_json::from_value(t.clone()).map_err(|e| bad(format!("training configuration: {e}")))?)
        }
    };
    Ok((model, train))
}
