//! The network (embedding → stacked LSTM → dropout → linear): the LSTM's [`Network`], whose
//! incremental state is the recurrent `(h, c)`. [`LstmModel`] is its trained, loadable form.
//!
//! The LSTM runs through libtorch's fused `lstm` operator — the one behind `tch::nn::lstm` and
//! PyTorch's `nn.LSTM`, which uses cuDNN on CUDA — over weights named as PyTorch names them
//! (`weight_ih_l0`, ...). We hold the weights ourselves rather than through `tch::nn::LSTM` so
//! that one set of weights serves both training (dropout between layers) and inference (none).

use tch::{Device, Kind, Tensor};

use super::config::LstmConfig;
use crate::error::Result;
use crate::models::neural::{Network, NeuralModel, TrainConfig};
use crate::models::ModelKind;

pub use crate::models::neural::model::{hyperparameters, PAYLOAD_FORMAT};

/// A trained LSTM generator.
pub type LstmModel = NeuralModel<Net>;

/// The recurrent state: `(h, c)`, each `[layers, batch, hidden]`.
pub type State = (Tensor, Tensor);

/// The weights and the forward pass.
#[derive(Debug)]
pub struct Net {
    cfg: LstmConfig,
    vocab: i64,
    device: Device,
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
    fn create(cfg: LstmConfig, vocab: usize, device: Device) -> Result<Net> {
        cfg.validate()?;
        crate::models::neural::model::check_vocab(ModelKind::Lstm, vocab)?;
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
    fn named_weights(&self) -> Vec<(String, Tensor)> {
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

    /// A zero state for `batch` sequences.
    fn zero_state(&self, batch: i64, kind: Kind) -> Result<State> {
        let shape = [self.cfg.layers as i64, batch, self.cfg.hidden as i64];
        Ok((Tensor::f_zeros(shape, (kind, self.device))?, Tensor::f_zeros(shape, (kind, self.device))?))
    }

    /// Logits `[batch, time, vocab]` (f32) for `input` (`[batch, time]`, int64 on the device)
    /// from `state` (zero when `None`), and the state after the last step. `train` turns
    /// dropout on; `bf16` computes in bfloat16 (weights cast from their f32 masters, so
    /// gradients still reach the f32 weights).
    fn run(&self, input: &Tensor, state: Option<&State>, train: bool, bf16: bool) -> Result<(Tensor, State)> {
        let kind = if bf16 { Kind::BFloat16 } else { Kind::Float };
        let cast =
            |t: &Tensor| -> Result<Tensor> { Ok(if bf16 { t.f_to_kind(kind)? } else { t.shallow_clone() }) };
        let batch = input.size()[0];
        let zero;
        let (h0, c0) = match state {
            Some(s) => s,
            None => {
                zero = self.zero_state(batch, kind)?;
                &zero
            }
        };
        let x = cast(&Tensor::f_embedding(&self.embed, input, -1, false, false)?)?;
        let weights: Vec<Tensor> = self.lstm.iter().map(&cast).collect::<Result<_>>()?;
        let inner_dropout = if self.cfg.layers > 1 { self.cfg.dropout } else { 0.0 };
        let (out, h, c) = x
            .f_lstm(
                &[cast(h0)?, cast(c0)?],
                &weights,
                true,
                self.cfg.layers as i64,
                inner_dropout,
                train,
                false,
                true,
            )
            .map_err(|source| crate::Error::Torch { op: "lstm", source })?;
        let mut y = out.f_dropout(self.cfg.dropout, train)?;
        if let Some(p) = &self.proj {
            y = y.f_linear::<Tensor>(&cast(p)?, None)?;
        }
        let w = self.out_w.as_ref().unwrap_or(&self.embed);
        let logits = y.f_linear(&cast(w)?, Some(cast(&self.out_b)?))?;
        Ok((logits.f_to_kind(Kind::Float)?, (h, c)))
    }
}

impl Network for Net {
    type Config = LstmConfig;
    type State = State;
    const KIND: ModelKind = ModelKind::Lstm;

    fn new(cfg: LstmConfig, vocab: usize, device: Device) -> Result<Net> {
        Net::create(cfg, vocab, device)
    }

    fn config(&self) -> &LstmConfig {
        &self.cfg
    }

    fn vocab(&self) -> i64 {
        self.vocab
    }

    fn device(&self) -> Device {
        self.device
    }

    fn named(&self) -> Vec<(String, Tensor)> {
        self.named_weights()
    }

    fn forward(&self, input: &Tensor, train: bool, bf16: bool) -> Result<Tensor> {
        Ok(self.run(input, None, train, bf16)?.0)
    }

    fn init_state(&self, batch: i64) -> Result<State> {
        self.zero_state(batch, Kind::Float)
    }

    fn step(&self, input: &Tensor, state: &mut State) -> Result<Tensor> {
        let (logits, next) = self.run(input, Some(state), false, false)?;
        *state = next;
        Ok(logits)
    }

    fn select_rows(&self, state: &State, rows: &Tensor) -> Result<State> {
        Ok((state.0.f_index_select(1, rows)?, state.1.f_index_select(1, rows)?))
    }

    fn cat_states(&self, states: &[State]) -> Result<State> {
        let h: Vec<&Tensor> = states.iter().map(|s| &s.0).collect();
        let c: Vec<&Tensor> = states.iter().map(|s| &s.1).collect();
        Ok((Tensor::f_cat(&h, 1)?, Tensor::f_cat(&c, 1)?))
    }
}

/// Read back [`hyperparameters`] of an LSTM checkpoint.
pub fn parse_hyperparameters(
    v: &serde_json::Value,
) -> std::result::Result<(LstmConfig, Option<TrainConfig>), crate::error::CheckpointError> {
    crate::models::neural::model::parse_hyperparameters(v)
}
