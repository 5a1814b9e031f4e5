//! [`NeuralModel`]: a trained [`Network`] of any kind, loadable and savable, and the
//! checkpoint's `hyperparameters` (`{"model": ..., "train": ...}`).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use tch::{Device, Tensor};

use super::config::TrainConfig;
use super::{payload, Network};
use crate::checkpoint::ModelKind;
use crate::checkpoint::{self, Header};
use crate::error::{CheckpointError, Error, ModelError, Result};
use crate::tokens::{TokenId, PAD};

pub use super::weights::{hyperparameters, parse_hyperparameters, PAYLOAD_FORMAT};

/// Tokens as an int64 tensor on `device`; ids past the vocabulary read as PAD.
pub(crate) fn token_tensor(tokens: &[TokenId], vocab: i64, device: Device) -> Result<Tensor> {
    let ids: Vec<i64> =
        tokens.iter().map(|&t| if i64::from(t) < vocab { i64::from(t) } else { i64::from(PAD) }).collect();
    Ok(Tensor::f_from_slice(&ids)?.f_to_device(device)?)
}

/// A trained network.
pub struct NeuralModel<N: Network> {
    config: N::Config,
    /// The tokenizer's vocabulary (the network's, less its FIM sentinels).
    pub(crate) vocab_size: usize,
    /// FIM sentinel tokens the network has after the tokenizer's vocabulary (see
    /// [`super::fim`]); 0 for a left-to-right network.
    pub(crate) sentinels: usize,
    /// The training window (tokens): a FIM primer is cut to fit it (see [`super::fim::fit`]).
    pub(crate) window: usize,
    /// The order a FIM network reads the music around a middle in.
    pub(crate) fim_order: super::fim::Order,
    device: Device,
    /// libtorch tensors are `Send` but not `Sync`; the lock makes the model shareable.
    net: Mutex<N>,
    /// The state after the primer primed last (see `sample::primed`), taken after the net's
    /// lock.
    pub(crate) kept: Mutex<Option<super::sample::Kept<N::State>>>,
    /// Tokens fed to the network to prime primers so far (a kept prefix is not fed again).
    pub(crate) primed_tokens: std::sync::atomic::AtomicUsize,
    /// Where batched sampling's time went so far (see [`SampleTimes`]), in nanoseconds.
    pub(crate) read_nanos: std::sync::atomic::AtomicU64,
    pub(crate) draw_nanos: std::sync::atomic::AtomicU64,
}

/// Where the time of batched sampling ([`crate::models::Generator::generate_batch`]) went, summed
/// over every call so far; the rest of a call is the network's steps as the host issues them (on
/// a GPU: launching its kernels) and the bookkeeping of rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SampleTimes {
    /// Copying each step's distributions to the host, waiting for the device to finish them.
    pub read: std::time::Duration,
    /// Drawing the tokens on the host (the note guard's mask and [`crate::sampler::Sampler::pick`]).
    pub draw: std::time::Duration,
}

impl<N: Network + std::fmt::Debug> std::fmt::Debug for NeuralModel<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeuralModel")
            .field("config", &self.config)
            .field("vocab_size", &self.vocab_size)
            .field("sentinels", &self.sentinels)
            .field("window", &self.window)
            .field("fim_order", &self.fim_order)
            .field("device", &self.device)
            .field("net", &self.net)
            .field("kept", &self.kept)
            .finish()
    }
}

impl<N: Network> NeuralModel<N> {
    /// A model with fresh random weights (seed them with `tch::manual_seed`).
    pub fn new(config: N::Config, vocab_size: usize, device: Device) -> Result<Self> {
        Ok(Self::from_net(N::new(config, vocab_size, device)?))
    }

    pub(crate) fn from_net(net: N) -> Self {
        Self::from_net_with(net, 0, &TrainConfig::default())
    }

    /// A model of `net`, whose last `sentinels` tokens are FIM sentinels, trained with `train`'s
    /// window and FIM order.
    pub(crate) fn from_net_with(net: N, sentinels: usize, train: &TrainConfig) -> Self {
        let (window, fim_order) = (train.window, train.fim_order);
        let sentinels = sentinels.min(net.vocab() as usize);
        NeuralModel {
            config: net.config().clone(),
            vocab_size: net.vocab() as usize - sentinels,
            sentinels,
            window: window.max(1),
            fim_order,
            device: net.device(),
            net: Mutex::new(net),
            kept: Mutex::new(None),
            primed_tokens: std::sync::atomic::AtomicUsize::new(0),
            read_nanos: std::sync::atomic::AtomicU64::new(0),
            draw_nanos: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Tokens fed to the network to prime primers so far: a primer that extends the one primed
    /// last costs only its new tokens (see [`super::sample`]).
    pub fn primed_tokens(&self) -> usize {
        self.primed_tokens.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Where batched sampling's time went so far (benchmarks: `examples/net_bench`).
    pub fn sample_times(&self) -> SampleTimes {
        let ns = |a: &std::sync::atomic::AtomicU64| {
            std::time::Duration::from_nanos(a.load(std::sync::atomic::Ordering::Relaxed))
        };
        SampleTimes { read: ns(&self.read_nanos), draw: ns(&self.draw_nanos) }
    }

    /// Whether the network was trained to fill in the middle (see [`super::fim`]).
    pub fn fills_in_the_middle(&self) -> bool {
        self.sentinels > 0
    }

    /// The network's shape.
    pub fn config(&self) -> &N::Config {
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

    pub(crate) fn net(&self) -> MutexGuard<'_, N> {
        self.net.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The raw output logits (`tokens.len() × vocab`, row-major) after each token of `tokens`,
    /// read incrementally from the initial state in evaluation mode (as scoring and sampling
    /// read them).
    pub fn logits(&self, tokens: &[TokenId]) -> Result<Vec<f32>> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let net = self.net();
        tch::no_grad(|| {
            let input = token_tensor(tokens, net.vocab(), net.device())?.f_unsqueeze(0)?;
            let mut state = net.init_state(1)?;
            let logits = net.step(&input, &mut state)?;
            Ok(payload::to_f32_vec(&logits)?)
        })
    }

    /// The logits of one forward pass over all of `tokens` at once (the training-time
    /// computation, no incremental state), `tokens.len() × vocab`.
    pub fn full_logits(&self, tokens: &[TokenId]) -> Result<Vec<f32>> {
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let net = self.net();
        tch::no_grad(|| {
            let input = token_tensor(tokens, net.vocab(), net.device())?.f_unsqueeze(0)?;
            Ok(payload::to_f32_vec(&net.forward(&input, false, false)?)?)
        })
    }

    /// The weights as safetensors bytes.
    pub fn weights_bytes(&self) -> Result<Vec<u8>> {
        payload::encode(&self.net().named())
    }

    /// Write the model (weights only) to `path` with `header` (its kind, payload format and,
    /// when missing, hyperparameters are filled in).
    pub fn save(&self, path: &Path, mut header: Header) -> Result<()> {
        header.kind = N::KIND;
        header.payload_format = PAYLOAD_FORMAT.into();
        if header.hyperparameters.get("model").is_none() {
            header.hyperparameters = hyperparameters(&self.config, None);
        }
        checkpoint::save(path, &header, &self.weights_bytes()?)
    }

    /// Load a checkpoint of this kind onto `device`. Optimizer state in the payload, if any,
    /// is ignored.
    pub fn load(path: &Path, device: Device) -> Result<(Self, Header)> {
        let (header, bytes) = checkpoint::load_kind(path, N::KIND)?;
        let model = Self::from_checkpoint(path, &header, &bytes, device)?;
        Ok((model, header))
    }

    /// The model held by an already loaded and verified checkpoint of this kind (`path` only
    /// names it in errors).
    pub fn from_checkpoint(path: &Path, header: &Header, bytes: &[u8], device: Device) -> Result<Self> {
        let bad = |problem| Error::checkpoint(path, problem);
        let payload = |e| bad(CheckpointError::Payload { format: PAYLOAD_FORMAT, source: Box::new(e) });
        let (config, train) = parse_hyperparameters::<N::Config>(&header.hyperparameters).map_err(bad)?;
        let sentinels = train.as_ref().map_or(0, TrainConfig::sentinels);
        let train = train.unwrap_or_default();
        if header.payload_format != PAYLOAD_FORMAT {
            let found = header.payload_format.clone();
            return Err(bad(CheckpointError::PayloadFormat { found, expected: PAYLOAD_FORMAT }));
        }
        let tensors = payload::decode(bytes).map_err(payload)?;
        let net = N::new(config, header.vocab.len() + sentinels, device).map_err(payload)?;
        net.load_named(&tensors).map_err(payload)?;
        Ok(Self::from_net_with(net, sentinels, &train))
    }
}

/// The smallest vocabulary a network is built for: the special tokens and one more.
pub const MIN_VOCAB: usize = 4;

/// Refuse a vocabulary too small for a network of `kind`.
pub fn check_vocab(kind: ModelKind, vocab: usize) -> Result<()> {
    if vocab < MIN_VOCAB {
        return Err(ModelError::VocabSize {
            model: kind.name(),
            size: vocab,
            expected: format!("at least {MIN_VOCAB}"),
        }
        .into());
    }
    Ok(())
}
