//! What a neural training run (LSTM, Transformer) asks for, and the precedence rules that turn it into the model and
//! training configurations: explicit settings override a settings file, which overrides the
//! defaults; when resuming, the checkpoint's settings are the base instead, its model shape
//! cannot change and its seed is kept (so windows and dropout continue as before).

use std::path::{Path, PathBuf};

use super::config::TrainConfig;
use super::model::parse_hyperparameters;
use super::{NetConfig, Network};
use crate::checkpoint;
use crate::error::{Error, ModelError, Result};

/// Training settings given explicitly (on the command line, in a form), each overriding the
/// value it would otherwise have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainOverrides {
    pub batch: Option<usize>,
    pub window: Option<usize>,
    pub lr: Option<f64>,
    pub steps: Option<u64>,
    pub epochs: Option<u64>,
    pub warmup: Option<u64>,
    pub clip: Option<f64>,
    pub patience: Option<u64>,
    pub transpose: Option<u8>,
    pub device: Option<String>,
    /// `true` turns bf16 on; `false` leaves the base's choice.
    pub bf16: bool,
    pub checkpoint_every: Option<u64>,
    pub fim_rate: Option<f64>,
    pub fim_order: Option<super::fim::Order>,
}

impl TrainOverrides {
    /// `base` with these settings applied.
    pub fn apply(&self, mut c: TrainConfig) -> TrainConfig {
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = &self.$f { c.$f = v.clone(); } )* };
        }
        set!(
            batch,
            window,
            lr,
            epochs,
            warmup,
            clip,
            patience,
            transpose,
            device,
            checkpoint_every,
            fim_rate,
            fim_order
        );
        if self.steps.is_some() {
            c.steps = self.steps;
        }
        if self.bf16 {
            c.bf16 = true;
        }
        c
    }
}

/// A training run of a network whose shape is a `C` (`LstmConfig`, `TransformerConfig`), as
/// asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NeuralRequest<C> {
    /// The model shape; `None`: the default shape, or the resumed checkpoint's.
    pub model: Option<C>,
    /// A TOML file of [`TrainConfig`] fields, the base of the training settings.
    pub settings_file: Option<PathBuf>,
    pub overrides: TrainOverrides,
    /// Continue from this checkpoint (usually `OUT.last`).
    pub resume: Option<PathBuf>,
    /// Start from this checkpoint's weights (fine-tuning): its shape, fresh training settings,
    /// a fresh optimizer and schedule. Ignored with `resume`.
    pub init: Option<PathBuf>,
    /// Stop as an interrupt does (checkpoint, then return) once this run has done this many
    /// steps: scripted stops, and the tests of resuming.
    pub stop_after: Option<u64>,
}

impl<C: NetConfig> NeuralRequest<C> {
    /// The shape and training settings the checkpoint at `path` records (a network of kind
    /// `N`); `differs` when the request also asks for a shape, and another one.
    fn saved_shape<N: Network<Config = C>>(
        &self,
        path: &Path,
        differs: ModelError,
    ) -> Result<(C, Option<TrainConfig>)> {
        let (header, _) = checkpoint::load_kind(path, N::KIND)?;
        let (saved, train) = parse_hyperparameters::<C>(&header.hyperparameters)
            .map_err(|problem| Error::checkpoint(path, problem))?;
        if self.model.as_ref().is_some_and(|m| m != &saved) {
            return Err(differs.into());
        }
        Ok((saved, train))
    }

    /// The model and training configurations of a run of network `N` (whose shape is a `C`),
    /// with `seed` as the run's seed (a resumed run keeps its checkpoint's); both are
    /// validated. A fresh run's shape is [adapted](NetConfig::adapt_to) to the training
    /// settings.
    pub fn resolve_for<N: Network<Config = C>>(&self, seed: u64) -> Result<(C, TrainConfig)> {
        let file = || self.settings_file.as_deref().map(TrainConfig::from_toml_file).transpose();
        let (model, train) = match &self.resume {
            Some(path) => {
                let (saved, train) = self.saved_shape::<N>(path, ModelError::ResumeChangesShape)?;
                let seed = train.as_ref().map_or(seed, |t| t.seed);
                let base = match file()? {
                    Some(c) => c,
                    None => train.unwrap_or_default(),
                };
                (saved, TrainConfig { seed, ..self.overrides.apply(base) })
            }
            None => {
                let base = file()?.unwrap_or_default();
                let train = TrainConfig { seed, ..self.overrides.apply(base) };
                let model = match &self.init {
                    Some(path) => self.saved_shape::<N>(path, ModelError::InitChangesShape)?.0,
                    None => {
                        let mut model = self.model.clone().unwrap_or_default();
                        model.adapt_to(&train);
                        model
                    }
                };
                (model, train)
            }
        };
        model.validate()?;
        train.validate()?;
        Ok((model, train))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::lstm::{LstmConfig, LstmRequest};

    #[test]
    fn overrides_beat_the_settings_file_which_beats_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "batch = 8\nlr = 0.01\nwindow = 32\n").unwrap();
        let req = LstmRequest {
            settings_file: Some(file),
            overrides: TrainOverrides {
                lr: Some(0.5),
                steps: Some(7),
                bf16: true,
                device: Some("cpu".into()),
                ..TrainOverrides::default()
            },
            ..Default::default()
        };
        let (m, c) = req.resolve(11).unwrap();
        assert_eq!(m, LstmConfig::default());
        assert_eq!((c.batch, c.window, c.lr, c.steps, c.bf16, c.seed), (8, 32, 0.5, Some(7), true, 11));
        assert_eq!(c.device, "cpu");
        assert_eq!(c.patience, TrainConfig::default().patience);
    }

    #[test]
    fn bad_settings_are_refused() {
        let req = LstmRequest {
            overrides: TrainOverrides { batch: Some(0), ..TrainOverrides::default() },
            ..Default::default()
        };
        assert!(req.resolve(0).unwrap_err().to_string().contains("batch must be positive"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "batchh = 8\n").unwrap();
        let req = LstmRequest { settings_file: Some(file), ..Default::default() };
        let e = req.resolve(0).unwrap_err().to_string();
        assert!(e.contains("bad.toml") && e.contains("bad settings file"), "{e}");
    }

    #[test]
    fn resuming_keeps_the_checkpoint_shape_and_seed() {
        use crate::models::lstm::{last_path, train, RunOptions, TrainData};
        let tok = crate::Tokenizer::new(crate::TokenizerConfig::default()).unwrap();
        let seq: Vec<crate::TokenId> =
            std::iter::once(1).chain((0..120).map(|i| 40 + (i % 5) as crate::TokenId)).chain([2]).collect();
        let data = vec![seq];
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.lstm");
        let first = LstmRequest {
            model: Some(LstmConfig { embed: 8, hidden: 16, layers: 1, dropout: 0.0, tie_weights: false }),
            overrides: TrainOverrides {
                batch: Some(2),
                window: Some(16),
                steps: Some(3),
                device: Some("cpu".into()),
                transpose: Some(0),
                ..TrainOverrides::default()
            },
            ..Default::default()
        };
        let (model, cfg) = first.resolve(3).unwrap();
        let never = std::sync::atomic::AtomicBool::new(false);
        let opts = RunOptions {
            stop: &never,
            progress: None,
            resume: None,
            init: None,
            max_steps_this_run: None,
            corpus: None,
        };
        train(&model, &cfg, &tok, TrainData { train: &data, valid: &data }, &out, &opts).unwrap();
        let last = last_path(&out);
        // The checkpoint's shape and seed, the checkpoint's settings overridden by the flags.
        let again = LstmRequest {
            resume: Some(last.clone()),
            overrides: TrainOverrides { steps: Some(5), ..TrainOverrides::default() },
            ..Default::default()
        };
        let (m2, c2) = again.resolve(99).unwrap();
        assert_eq!(m2, model);
        assert_eq!((c2.seed, c2.steps, c2.batch, c2.window), (3, Some(5), 2, 16));
        // Another shape on resume is refused.
        let other = LstmRequest { model: Some(LstmConfig { hidden: 32, ..model }), ..again };
        assert!(matches!(other.resolve(3), Err(Error::Model(ModelError::ResumeChangesShape))));
    }
}
