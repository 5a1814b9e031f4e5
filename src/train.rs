//! Training a model of any kind on a corpus folder: the one entry point behind `cadenza train`
//! (and anything else that trains, such as a web page).
//!
//! [`run`] loads the corpus with the request's tokenizer, fits the model on its train split,
//! scores it on the valid split, writes the checkpoint (every kind through
//! [`crate::models::saved`]) and returns what happened. It reports progress, and lines worth
//! keeping (the Markov order search, finished epochs), through [`Progress`]; LSTM training
//! stops cleanly, writing its state, when [`Progress::should_stop`] says so.

use std::path::{Path, PathBuf};

use crate::checkpoint::Header;
use crate::corpus::{Corpus, LoadOptions, Pieces, Split};
use crate::error::Result;
use crate::models::hmm::{HmmConfig, HmmModel};
use crate::models::markov::{MarkovConfig, MarkovModel};
use crate::models::saved::{self, Model, Record};
use crate::models::{corpus_bits, ModelKind};
use crate::progress::Progress;
use crate::score::Score;
use crate::tokens::Tokenizer;

/// Which model to train, with its settings.
#[derive(Debug, Clone)]
pub enum ModelSpec {
    /// A Markov chain: one order, or several to try ([`crate::models::markov::AUTO_ORDERS`]),
    /// keeping the one with the lowest validation bits/token.
    Markov { orders: Vec<usize> },
    /// An HMM fitted by Baum-Welch (its `seed` is replaced by the request's).
    Hmm(HmmConfig),
    /// An LSTM on libtorch.
    #[cfg(feature = "lstm")]
    Lstm(Box<crate::models::lstm::LstmRequest>),
    /// A decoder-only Transformer on libtorch.
    #[cfg(feature = "lstm")]
    Transformer(Box<crate::models::transformer::TransformerRequest>),
}

impl ModelSpec {
    /// The kind of model this trains.
    pub fn kind(&self) -> ModelKind {
        match self {
            ModelSpec::Markov { .. } => ModelKind::Markov,
            ModelSpec::Hmm(_) => ModelKind::Hmm,
            #[cfg(feature = "lstm")]
            ModelSpec::Lstm(_) => ModelKind::Lstm,
            #[cfg(feature = "lstm")]
            ModelSpec::Transformer(_) => ModelKind::Transformer,
        }
    }

    /// The checkpoint a neural run starts from (`--init`), if any (not when it resumes).
    #[cfg(feature = "lstm")]
    pub fn init(&self) -> Option<&Path> {
        match self {
            ModelSpec::Lstm(r) if r.resume.is_none() => r.init.as_deref(),
            ModelSpec::Transformer(r) if r.resume.is_none() => r.init.as_deref(),
            _ => None,
        }
    }

    /// Check the model's settings (orders, states, network shape and training schedule, device,
    /// a `--resume` checkpoint's kind and shape) without reading any corpus, so that a mistake
    /// is told before minutes of loading. `seed` is the request's.
    pub fn validate(&self, seed: u64) -> Result<()> {
        #[cfg(not(feature = "lstm"))]
        let _ = seed;
        match self {
            ModelSpec::Markov { orders } => {
                if orders.is_empty() {
                    return Err(crate::error::ModelError::NoOrders.into());
                }
                for &order in orders {
                    MarkovConfig { order, ..MarkovConfig::default() }.validate()?;
                }
            }
            ModelSpec::Hmm(config) => config.validate()?,
            #[cfg(feature = "lstm")]
            ModelSpec::Lstm(r) => {
                let (_, train) = r.resolve_for::<crate::models::lstm::Net>(seed)?;
                crate::models::neural::parse_device(&train.device)?;
            }
            #[cfg(feature = "lstm")]
            ModelSpec::Transformer(r) => {
                let (_, train) = r.resolve_for::<crate::models::transformer::Net>(seed)?;
                crate::models::neural::parse_device(&train.device)?;
            }
        }
        Ok(())
    }
}

/// A training job.
#[derive(Debug, Clone)]
pub struct TrainRequest {
    /// The corpus folder: its train split is learned, its valid split scored. With
    /// [`TrainRequest::store`], the store is read instead (and this is only its name).
    pub corpus: PathBuf,
    /// A token store (`cadenza corpus build`) to train from instead of reading `corpus`: its
    /// tokenizer must be `tokenizer`.
    pub store: Option<PathBuf>,
    pub tokenizer: Tokenizer,
    pub load: LoadOptions,
    pub model: ModelSpec,
    /// The checkpoint to write ([`default_out`] is the command line's default).
    pub out: PathBuf,
    /// Seed of every random choice (HMM start, LSTM initialisation and batches).
    pub seed: u64,
}

impl TrainRequest {
    /// What can be checked before the corpus is read: the model's settings
    /// ([`ModelSpec::validate`]) and that an `--init` checkpoint speaks this tokenizer.
    pub fn check(&self) -> Result<()> {
        self.model.validate(self.seed)?;
        #[cfg(feature = "lstm")]
        if let Some(path) = self.model.init() {
            let header = crate::checkpoint::load_header(path)?;
            crate::checkpoint::check_init_tokenizer(path, &header, &self.tokenizer)?;
        }
        Ok(())
    }
}

/// How a neural run (LSTM, Transformer) ended.
#[cfg(feature = "lstm")]
#[derive(Debug, Clone)]
pub struct NeuralRun {
    pub stopped: crate::models::neural::StopReason,
    pub state: crate::models::neural::TrainState,
    /// The latest-state checkpoint, to resume from.
    pub last_path: PathBuf,
}

/// What a training job did.
#[derive(Debug, Clone)]
pub struct Trained {
    pub kind: ModelKind,
    /// The checkpoint written, and its header.
    pub path: PathBuf,
    pub header: Header,
    pub train_pieces: usize,
    pub train_tokens: u64,
    pub valid_pieces: usize,
    /// Bits per token on the train split (the LSTM's: its latest training loss).
    pub train_bits_per_token: Option<f64>,
    /// Bits per token and per note on the valid split (the LSTM's: its best validation).
    pub valid_bits_per_token: Option<f64>,
    pub valid_bits_per_note: Option<f64>,
    /// How a neural (LSTM or Transformer) run ended.
    #[cfg(feature = "lstm")]
    pub lstm: Option<NeuralRun>,
}

/// How a fine-tuning run goes (`cadenza finetune`, the studio's fine-tuning jobs): defaults for
/// a folder of tens of pieces.
#[cfg(feature = "lstm")]
#[derive(Debug, Clone)]
pub struct FinetuneOptions {
    /// Optimizer steps at most (early stopping usually ends sooner); 20 of them warm up.
    pub steps: u64,
    /// Peak learning rate, lower than pretraining's.
    pub lr: f64,
    pub batch: usize,
    /// Tokens per window; `None`: the base's training window.
    pub window: Option<usize>,
    /// Validations without improvement before stopping.
    pub patience: u64,
    /// Random transposition of up to ±N semitones; `None`: 5, or 0 for a key-relative base.
    pub transpose: Option<u8>,
    /// `auto`, `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    pub seed: u64,
    /// How the folder is read (its split gives the held-out tenth).
    pub load: LoadOptions,
    /// Continue an interrupted fine-tune from its `OUT.last` (its settings are the run's).
    pub resume: Option<PathBuf>,
    /// Stop as an interrupt does after this many steps of this run.
    pub stop_after: Option<u64>,
}

#[cfg(feature = "lstm")]
impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            steps: 400,
            lr: 3e-4,
            batch: 8,
            window: None,
            patience: 3,
            transpose: None,
            device: "auto".into(),
            seed: 0,
            load: LoadOptions::default(),
            resume: None,
            stop_after: None,
        }
    }
}

/// The training job that fine-tunes the checkpoint `base` (an LSTM or a Transformer: its kind,
/// shape and tokenizer are the new model's) on the MIDI files of `folder` into `out`. A base of
/// another kind is an error naming the setting `base`.
#[cfg(feature = "lstm")]
pub fn finetune_request(
    base: &Path,
    folder: &Path,
    out: &Path,
    opts: &FinetuneOptions,
) -> Result<TrainRequest> {
    use crate::models::neural::{NeuralRequest, TrainOverrides};

    let header = crate::checkpoint::load_header(base)?;
    let tokenizer = header.tokenizer()?;
    let window = opts.window.or_else(|| {
        header.hyperparameters.pointer("/train/window").and_then(|w| w.as_u64()).map(|w| w as usize)
    });
    let overrides = TrainOverrides {
        batch: Some(opts.batch),
        window,
        lr: Some(opts.lr),
        steps: Some(opts.steps),
        warmup: Some(opts.steps.min(20)),
        patience: Some(opts.patience),
        transpose: Some(opts.transpose.unwrap_or(if tokenizer.config().key_relative { 0 } else { 5 })),
        device: Some(opts.device.clone()),
        ..TrainOverrides::default()
    };
    // The same request whatever the network's shape type.
    fn neural<C: Default>(
        overrides: TrainOverrides,
        base: &Path,
        opts: &FinetuneOptions,
    ) -> Box<NeuralRequest<C>> {
        Box::new(NeuralRequest {
            overrides,
            init: Some(base.to_path_buf()),
            resume: opts.resume.clone(),
            stop_after: opts.stop_after,
            ..Default::default()
        })
    }
    let model = match header.kind {
        ModelKind::Lstm => ModelSpec::Lstm(neural(overrides, base, opts)),
        ModelKind::Transformer => ModelSpec::Transformer(neural(overrides, base, opts)),
        other => {
            return Err(crate::Error::setting(
                "base",
                format!("{} (a {other} checkpoint)", base.display()),
                "an LSTM or Transformer checkpoint (train a Markov chain or an HMM with `train`)",
            ))
        }
    };
    Ok(TrainRequest {
        corpus: folder.to_path_buf(),
        store: None,
        tokenizer,
        load: opts.load.clone(),
        model,
        out: out.to_path_buf(),
        seed: opts.seed,
    })
}

/// The name [`NeuralRun`] had when the LSTM was the only neural model.
#[cfg(feature = "lstm")]
pub type LstmRun = NeuralRun;

/// `checkpoints/<corpus folder name>.<kind>`.
pub fn default_out(corpus: &Path, kind: ModelKind) -> PathBuf {
    let name = corpus.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
    PathBuf::from("checkpoints").join(format!("{name}.{kind}"))
}

/// Train the model `request` asks for and write its checkpoint.
///
/// ```no_run
/// use cadenza::corpus::LoadOptions;
/// use cadenza::progress::Silent;
/// use cadenza::train::{run, ModelSpec, TrainRequest};
/// use cadenza::{Tokenizer, TokenizerConfig};
///
/// let request = TrainRequest {
///     corpus: "corpora/bach".into(),
///     store: None,
///     tokenizer: Tokenizer::new(TokenizerConfig::default())?,
///     load: LoadOptions::default(),
///     model: ModelSpec::Markov { orders: vec![4] },
///     out: "checkpoints/bach.markov".into(),
///     seed: 0,
/// };
/// let trained = run(&request, &Silent)?;
/// println!("valid {:?} bits/note", trained.valid_bits_per_note);
/// # Ok::<(), cadenza::Error>(())
/// ```
pub fn run(request: &TrainRequest, progress: &dyn Progress) -> Result<Trained> {
    request.check()?;
    if let Some(dir) = &request.store {
        let store = crate::store::TokenStore::open(dir)?;
        store.require_tokenizer(&request.tokenizer)?;
        return train_on(&store, request, progress);
    }
    let corpus = Corpus::load_with(&request.corpus, &request.tokenizer, &request.load, Some(progress))?;
    train_on(&corpus, request, progress)
}

/// As [`run`], on pieces already loaded (a [`Corpus`] or a [`crate::store::TokenStore`], with
/// `request.tokenizer`; `request.corpus`, `request.store` and `request.load` are not used).
pub fn train_on(corpus: &dyn Pieces, request: &TrainRequest, progress: &dyn Progress) -> Result<Trained> {
    let splits = TrainSplits::of(corpus, progress)?;
    let (train, valid) = (splits.train(), splits.valid());
    let summary = corpus.summary();
    let kind = request.model.kind();
    let tokenizer = corpus.tokenizer();
    let vocab = tokenizer.vocab_size();
    let train_tokens = summary.tokens[Split::Train.name()];
    progress.message(&format!(
        "training {kind} on {} pieces ({train_tokens} tokens), validating on {} pieces",
        train.len(),
        valid.len()
    ));
    let (model, hyperparameters, extra) = match &request.model {
        ModelSpec::Markov { orders } => {
            let several = orders.len() > 1;
            let m = MarkovModel::fit_best_order(
                &MarkovConfig::default(),
                orders,
                vocab,
                &train,
                &valid,
                condition_spec(tokenizer),
                Some(progress),
                |m, bits| {
                    if several && bits.is_finite() {
                        progress.message(&format!("  order {:>2}: valid {bits:.4} bits/token", m.order()));
                    } else if several {
                        progress.message(&format!("  order {:>2}: nothing to validate on", m.order()));
                    }
                },
            )?;
            let hyper = json(m.config(), "Markov configuration")?;
            (Model::Markov(m), hyper, serde_json::Value::Null)
        }
        ModelSpec::Hmm(config) => {
            let config = HmmConfig { seed: request.seed, ..config.clone() };
            let (m, report) = HmmModel::fit(&config, vocab, &train, Some(progress))?;
            // With control tokens, a short chain counted under them rescales the HMM's
            // predictions, so they hold far into a piece as the Markov chain's do.
            let m = match condition_spec(tokenizer) {
                None => m,
                Some(spec) => {
                    let order = MarkovConfig {
                        order: crate::models::markov::CONDITION_ORDER,
                        ..MarkovConfig::default()
                    };
                    m.with_conditions(Some(MarkovModel::fit_conditioned(
                        &order,
                        vocab,
                        &train,
                        Some(spec),
                        None,
                    )?))?
                }
            };
            progress.message(&format!("  {} EM iterations", report.iterations()));
            (Model::Hmm(m), json(&config, "HMM configuration")?, json(&report, "EM report")?)
        }
        #[cfg(feature = "lstm")]
        ModelSpec::Lstm(lstm) => {
            return train_neural::<crate::models::lstm::Net>(corpus, request, lstm, progress)
        }
        #[cfg(feature = "lstm")]
        ModelSpec::Transformer(t) => {
            return train_neural::<crate::models::transformer::Net>(corpus, request, t, progress)
        }
    };
    let (train_bits, scored) = corpus_bits(&model, &train)?;
    let mut record = Record { hyperparameters, corpus: Some(summary), extra, ..Record::default() };
    record.metrics.insert("train_bits_per_token".into(), train_bits);
    record.metrics.insert("train_tokens".into(), scored as f64);
    let valid_score = if valid.is_empty() {
        None
    } else if splits.by_time {
        let seconds = corpus.split_seconds(Split::Train) * HELD_OUT_BY_TIME;
        record.metrics.insert("valid_held_out_by_time".into(), HELD_OUT_BY_TIME);
        Some(Score::of(&model, corpus.tokenizer(), &valid, seconds)?)
    } else {
        Some(Score::of_split(&model, corpus, Split::Valid)?)
    };
    if let Some(s) = &valid_score {
        record.metrics.insert("valid_bits_per_token".into(), s.bits_per_token());
        record.metrics.insert("valid_tokens".into(), s.tokens as f64);
        record.metrics.insert("valid_bits_per_note".into(), s.bits_per_note());
        record.metrics.insert("valid_notes".into(), s.notes as f64);
    }
    let header = saved::save(&request.out, &model, tokenizer, record)?;
    Ok(Trained {
        kind,
        path: request.out.clone(),
        header,
        train_pieces: train.len(),
        train_tokens,
        valid_pieces: valid.len(),
        train_bits_per_token: Some(train_bits),
        valid_bits_per_token: valid_score.as_ref().map(Score::bits_per_token),
        valid_bits_per_note: valid_score.as_ref().map(Score::bits_per_note),
        #[cfg(feature = "lstm")]
        lstm: None,
    })
}

/// The share of each training piece's tokens held out, at its end, to validate on when a folder
/// is too small to leave a piece for the valid split.
pub const HELD_OUT_BY_TIME: f64 = 0.1;

/// The sequences a run trains and validates on: the corpus's train and valid splits, or, when the
/// valid split is empty (a folder too small for piece-level splits: with 12 pieces about one
/// time in four), every training piece cut by time: its first 90% of tokens to train on, and its
/// last 10% (cut between events, after BOS and the piece's control prefix) to validate on, so
/// every model validates and none prints NaN. The checkpoint records it
/// (`valid_held_out_by_time`).
struct TrainSplits<'a> {
    train: Vec<&'a [crate::tokens::TokenId]>,
    valid: Vec<std::borrow::Cow<'a, [crate::tokens::TokenId]>>,
    by_time: bool,
}

impl<'a> TrainSplits<'a> {
    fn of(corpus: &'a dyn Pieces, progress: &dyn Progress) -> Result<TrainSplits<'a>> {
        let train = corpus.require_slices(Split::Train)?;
        let valid = corpus.slices(Split::Valid);
        if !valid.is_empty() {
            return Ok(TrainSplits {
                train,
                valid: valid.into_iter().map(Into::into).collect(),
                by_time: false,
            });
        }
        let tokenizer = corpus.tokenizer();
        let vocab = tokenizer.vocab();
        let (mut kept, mut held) = (Vec::new(), Vec::new());
        for seq in train {
            let start = 1 + crate::tokens::controls::prefix_len(vocab, seq);
            let at = start + ((seq.len() - start.min(seq.len())) as f64 * (1.0 - HELD_OUT_BY_TIME)) as usize;
            let cut = tokenizer.time_boundary(seq, at);
            if cut <= start || cut + 1 >= seq.len() {
                kept.push(seq);
                continue;
            }
            kept.push(&seq[..cut]);
            let mut tail = seq[..start.min(seq.len())].to_vec();
            tail.extend_from_slice(&seq[cut..]);
            held.push(std::borrow::Cow::Owned(tail));
        }
        progress.message(&format!(
            "no piece left for validation: holding out the last {:.0}% of each of the {} training pieces instead",
            HELD_OUT_BY_TIME * 100.0,
            held.len()
        ));
        Ok(TrainSplits { train: kept, by_time: !held.is_empty(), valid: held })
    }

    fn train(&self) -> Vec<&[crate::tokens::TokenId]> {
        self.train.clone()
    }

    fn valid(&self) -> Vec<&[crate::tokens::TokenId]> {
        self.valid.iter().map(|v| v.as_ref()).collect()
    }
}

/// Which tokens of `tokenizer` are control tokens, for the Markov chain's (and the HMM's)
/// conditions; `None` without controls.
fn condition_spec(tokenizer: &crate::tokens::Tokenizer) -> Option<crate::models::markov::ConditionSpec> {
    let (first, instruments, end) = tokenizer.vocab().control_span()?;
    Some(crate::models::markov::ConditionSpec { first, instruments, end })
}

fn json(value: &impl serde::Serialize, what: &'static str) -> Result<serde_json::Value> {
    serde_json::to_value(value).map_err(|source| crate::Error::Json { what, source })
}

#[cfg(feature = "lstm")]
fn train_neural<N: crate::models::neural::Network>(
    corpus: &dyn Pieces,
    request: &TrainRequest,
    neural: &crate::models::neural::NeuralRequest<N::Config>,
    progress: &dyn Progress,
) -> Result<Trained> {
    use crate::models::neural::{self, NetConfig, RunOptions, TrainData};

    let tokenizer = corpus.tokenizer();
    let splits = TrainSplits::of(corpus, progress)?;
    let (train, valid) = (splits.train(), splits.valid());
    let summary = corpus.summary();
    let train_tokens = summary.tokens[Split::Train.name()];
    let (model_cfg, mut train_cfg) = neural.resolve_for::<N>(request.seed)?;
    if tokenizer.config().key_relative && neural.overrides.transpose.is_none() {
        // Random transposition would undo what key-relative pieces are for.
        train_cfg.transpose = 0;
    }
    let device = neural::parse_device(&train_cfg.device)?;
    progress.message(&format!(
        "{}: {}, on {device:?}{}; batch {} × {} tokens, lr {}{}",
        N::KIND,
        model_cfg.describe(tokenizer.vocab_size() + train_cfg.sentinels()),
        if train_cfg.bf16 && device.is_cuda() { " (bf16)" } else { "" },
        train_cfg.batch,
        train_cfg.window,
        train_cfg.lr,
        if train_cfg.fim_rate > 0.0 {
            format!(
                ", fill in the middle on {:.0}% of windows ({})",
                train_cfg.fim_rate * 100.0,
                match train_cfg.fim_order {
                    crate::models::neural::fim::Order::Psm => "prefix, suffix, middle",
                    crate::models::neural::fim::Order::Spm => "suffix, prefix, middle",
                }
            )
        } else {
            String::new()
        },
    ));
    let never = std::sync::atomic::AtomicBool::new(false);
    let opts = RunOptions {
        stop: &never,
        progress: Some(progress),
        resume: neural.resume.as_deref(),
        init: neural.init.as_deref(),
        max_steps_this_run: neural.stop_after,
        corpus: Some(&summary),
    };
    let report = neural::train::train::<N, _>(
        &model_cfg,
        &train_cfg,
        tokenizer,
        TrainData { train: &train, valid: &valid },
        &request.out,
        &opts,
    )?;
    // Valid bits/token over every token after BOS, so total bits over the notes is bits/note.
    let valid_tokens: usize = valid.iter().map(|v| v.len().saturating_sub(1)).sum();
    let valid_notes: usize = valid.iter().map(|v| tokenizer.note_count(v)).sum();
    let best = report.state.best_valid_bits;
    let header = crate::checkpoint::load_header(&report.best_path)?;
    Ok(Trained {
        kind: N::KIND,
        path: report.best_path.clone(),
        header,
        train_pieces: train.len(),
        train_tokens,
        valid_pieces: valid.len(),
        train_bits_per_token: report.state.train_loss.map(|l| l / std::f64::consts::LN_2),
        valid_bits_per_token: best,
        valid_bits_per_note: best
            .filter(|_| valid_notes > 0)
            .map(|b| b * valid_tokens as f64 / valid_notes as f64),
        lstm: Some(NeuralRun { stopped: report.stopped, state: report.state, last_path: report.last_path }),
    })
}
