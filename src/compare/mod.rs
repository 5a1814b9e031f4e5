//! `cadenza compare`: several trained models side by side on one corpus's test split, objective
//! and reproducible.
//!
//! [`run`] scores every model on the same test pieces (bits/token, bits/note and bits/second, as
//! `cadenza eval`; models may use different tokenizers, each scored on the corpus in its own
//! tokens, and are ranked by bits/note, the figure comparable across tokenizations), samples
//! the same primed continuations from each (the opening beats of test pieces, one seed), measures
//! the musical statistics of [`crate::metrics`] on every continuation and every test piece,
//! compares their distributions (overlapped area, KL, histogram distances) and measures how much
//! of each continuation copies the training split, on notes ([`copies`], against the test
//! pieces' own continuations) and on tokens (n-grams). Two judges say how real the samples
//! look: a real-vs-generated [`discriminator`] per model (always), and a style classifier
//! ([`judge`], when one is given) that attributes samples and test pieces to its labels.
//! [`write`] saves the samples and the reports ([`report`]: terminal table, JSON, Markdown;
//! [`html`]: one self-contained page).

pub mod copies;
pub mod discriminator;
pub mod html;
pub mod judge;
pub mod report;
pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

pub use self::copies::NoteCopyStats;
use self::discriminator::DiscriminatorReport;
pub use self::judge::{Judge, JudgeRequest, JudgeSummary, ModelJudge};
use crate::checkpoint::{self, Header};
use crate::corpus::{Corpus, LoadOptions, PieceRef, Pieces, Split};
use crate::error::{CorpusError, Error, Result};
use crate::generate::Sample;
use crate::metrics::distance::{density_pair, mean_histogram, total_variation};
use crate::metrics::originality::{longest_copied_span, NgramIndex};
use crate::metrics::{Features, HISTOGRAM_NAMES, SCALAR_NAMES};
use crate::midi::{self, Piece};
use crate::models::{saved, Generator};
use crate::progress::Progress;
use crate::sampler::{Guard, Sampler};
use crate::score::Score;
use crate::tokens::{DecodeOptions, NoteRules, TokenId, Tokenizer, TokenizerConfig};

/// What to compare and how.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Generated pieces per model.
    pub samples: usize,
    /// New tokens per piece (a sampled EOS ends one sooner).
    pub length: usize,
    /// Seed of the sampler (the same for every model).
    pub rng_seed: u64,
    /// Primer length: this many beats from the start of a test piece.
    pub primer_beats: f64,
    /// n of the n-grams of the originality share.
    pub ngram: usize,
    /// Copies on notes of at least this many notes count in the copied share (at least 2).
    pub copy_min: usize,
    pub sampler: Sampler,
    /// Ask every model for this key (key-relative checkpoints only; see [`crate::key::plan`]):
    /// each sample is the one of `candidates` that sounds most in it, moved to it.
    pub key: Option<crate::key::Key>,
    /// Ask every model for this density: each sample is taken from the asked third of
    /// `candidates` ([`crate::density`]).
    pub density: Option<crate::density::Density>,
    /// Candidates sampled per primer when a key or a density asks for a choice.
    pub candidates: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            samples: 20,
            length: 512,
            rng_seed: 0,
            primer_beats: 4.0,
            ngram: 8,
            copy_min: copies::DEFAULT_COPY_MIN,
            sampler: Sampler::default(),
            key: None,
            density: None,
            candidates: crate::key::DEFAULT_KEY_CANDIDATES,
        }
    }
}

/// One model to compare.
pub struct Contender<'a> {
    /// Short unique name (used for sample folders).
    pub name: String,
    pub checkpoint: PathBuf,
    pub header: &'a Header,
    pub model: &'a dyn Generator,
    /// The corpus tokenized with this model's tokenizer: a loaded [`Corpus`] or a mapped token
    /// store.
    pub corpus: &'a dyn Pieces,
}

/// The distinct tokenizers of `checkpoints`, in order of first use, and for each checkpoint the
/// index of its tokenizer in that list.
pub fn tokenizers(checkpoints: &[(&Path, &Header)]) -> Result<(Vec<Tokenizer>, Vec<usize>)> {
    if checkpoints.is_empty() {
        return Err(Error::NothingToCompare);
    }
    let mut distinct: Vec<Tokenizer> = Vec::new();
    let mut which = Vec::with_capacity(checkpoints.len());
    for (path, h) in checkpoints {
        let t =
            h.tokenizer().map_err(|e| Error::checkpoint(*path, crate::checkpoint::tokenizer_problem(e)))?;
        match distinct.iter().position(|d| d.config() == t.config()) {
            Some(i) => which.push(i),
            None => {
                which.push(distinct.len());
                distinct.push(t);
            }
        }
    }
    Ok((distinct, which))
}

/// The load options of `checkpoints`' training runs: the split key and `--dedup` their corpus
/// summaries record (they must agree, so that one test split is held out for every model), over
/// `load`.
pub fn recorded_split(
    corpus: &Path,
    load: &LoadOptions,
    checkpoints: &[(&Path, &Header)],
) -> Result<LoadOptions> {
    let mut first: Option<(&Path, LoadOptions)> = None;
    for (path, h) in checkpoints {
        let Some(summary) = h.corpus.as_ref() else { continue };
        let mine = load.as_recorded(Some(summary));
        match &first {
            None => first = Some((path, mine)),
            Some((p0, l0)) if (l0.split_key, l0.dedup) != (mine.split_key, mine.dedup) => {
                let describe = |l: &LoadOptions| crate::corpus::describe_split(l.split_key, l.dedup);
                return Err(Error::Corpus {
                    path: corpus.to_path_buf(),
                    problem: CorpusError::SplitsDiffer {
                        first: p0.to_path_buf(),
                        first_split: describe(l0),
                        other: path.to_path_buf(),
                        other_split: describe(&mine),
                    },
                });
            }
            Some(_) => {}
        }
    }
    Ok(first.map_or_else(|| load.clone(), |(_, l)| l))
}

/// A primer and how its continuations are laid out.
#[derive(Debug, Clone)]
pub struct Primer {
    /// The test piece it comes from (relative to the corpus root).
    pub source: PathBuf,
    pub tokens: Vec<TokenId>,
    pub decode: DecodeOptions,
}

/// One generated piece, kept for the reports.
#[derive(Debug, Clone)]
pub struct SamplePiece {
    /// Primer and continuation together.
    pub piece: Piece,
    /// Where the continuation starts in `piece`.
    pub primer_end_tick: u64,
}

/// Everything a comparison produced: the numbers and the pieces.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    /// Per model, its samples in order.
    pub pieces: Vec<Vec<SamplePiece>>,
}

/// All the numbers of a comparison (written as `report.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub corpus: String,
    pub split: Split,
    pub tokenizer_digest: String,
    pub test_pieces: usize,
    pub test_tokens: usize,
    pub train_pieces: usize,
    pub samples_per_model: usize,
    pub length: usize,
    pub rng_seed: u64,
    pub primer_beats: f64,
    pub temperature: f64,
    /// Whether samples were drawn with the note guard ([`crate::tokens::NoteGuard`]).
    #[serde(default)]
    pub note_guard: bool,
    /// The guard's polyphony limit, if any.
    #[serde(default)]
    pub max_polyphony: Option<usize>,
    pub ngram: usize,
    /// The `min` of the copied share on notes.
    #[serde(default = "copies::default_copy_min")]
    pub copy_min: usize,
    /// Copies on notes of the test pieces' own continuations: the reference row.
    #[serde(default)]
    pub reference_copies: Option<NoteCopyStats>,
    pub scalar_features: Vec<String>,
    pub histogram_features: Vec<String>,
    /// Statistics of the test pieces.
    pub real: RealSet,
    /// The style judge's verdict on the test pieces, when a judge was given.
    #[serde(default)]
    pub judge: Option<JudgeSummary>,
    pub models: Vec<ModelReport>,
}

impl Report {
    /// How the samples were guarded, for the reports: `on`, `on (max polyphony N)` or `off`.
    pub fn guard_description(&self) -> String {
        match (self.note_guard, self.max_polyphony) {
            (false, _) => "off".into(),
            (true, None) => "on".into(),
            (true, Some(n)) => format!("on (max polyphony {n})"),
        }
    }
}

/// The real music the models are measured against.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RealSet {
    /// Per scalar feature: mean and standard deviation over the test pieces where defined.
    pub scalars: BTreeMap<String, Moments>,
    /// Per histogram feature: the mean histogram and the mean total-variation distance of each
    /// test piece's histogram to it (the spread real music has).
    pub histograms: BTreeMap<String, HistogramSummary>,
    /// Every test piece's features.
    pub pieces: Vec<PieceFeatures>,
}

/// Mean, standard deviation and count of one feature over a set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    pub mean: Option<f64>,
    pub std: Option<f64>,
    /// Pieces where the feature is defined.
    pub n: usize,
}

impl Moments {
    fn of(v: &[f64]) -> Moments {
        if v.is_empty() {
            return Moments { mean: None, std: None, n: 0 };
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        Moments { mean: Some(mean), std: Some(std), n: v.len() }
    }
}

/// A histogram feature over a set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistogramSummary {
    pub mean: Vec<f64>,
    /// Mean total-variation distance of the set's histograms to the test set's mean histogram.
    pub mean_distance: Option<f64>,
    /// Total-variation distance of this set's mean histogram to the test set's.
    pub distance_of_means: Option<f64>,
}

/// One piece's features and where it came from.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PieceFeatures {
    pub file: String,
    pub features: Features,
}

/// One scalar feature of one model against the real music.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScalarComparison {
    pub model: Moments,
    pub real: Moments,
    /// Overlapped area of the two KDEs (1: same distribution).
    pub overlap: Option<f64>,
    /// KL(real ‖ model) of the two KDEs, nats.
    pub kl: Option<f64>,
}

/// One generated sample.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleReport {
    /// `samples/<model>/NNN.mid`, relative to the report.
    pub file: String,
    /// `samples/<model>/NNN.wav` when rendered.
    pub wav: Option<String>,
    /// The test piece the primer came from.
    pub primer_source: String,
    pub primer_tokens: usize,
    pub new_tokens: usize,
    /// Notes of the continuation.
    pub notes: usize,
    /// Features of the continuation alone.
    pub features: Features,
    /// Share of the continuation's n-grams found in the training split.
    pub copied_share: Option<f64>,
    /// Longest run of the continuation found verbatim in a training sequence, in tokens.
    pub longest_copy: usize,
    /// Tokens of primer and continuation the decoder dropped (0 under the note guard).
    #[serde(default)]
    pub dropped_tokens: usize,
    /// The continuation's longest copy on notes and copied share ([`copies`]).
    #[serde(default)]
    pub note_copy: Option<crate::originality::CopyReport>,
}

/// How much the samples copy from the training split, in tokens (tokenizer-specific; copies on
/// notes are [`NoteCopyStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Originality {
    pub ngram: usize,
    pub mean_copied_share: Option<f64>,
    pub mean_longest_copy: f64,
    pub max_longest_copy: usize,
}

/// Everything measured about one model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelReport {
    pub name: String,
    pub checkpoint: String,
    pub kind: String,
    /// Its tokenization scheme (`midi-like`, `tsd`, `remi`) and configuration digest.
    #[serde(default)]
    pub tokenizer: String,
    #[serde(default)]
    pub tokenizer_digest: String,
    /// Held-out bits/token on the test split (equal to `cadenza eval`'s); comparable only
    /// between models of one tokenizer.
    pub bits_per_token: f64,
    pub perplexity: f64,
    pub scored_tokens: usize,
    /// Held-out bits per note (total bits over the test pieces' notes): comparable across
    /// tokenizers, the figure models are ranked by.
    #[serde(default)]
    pub bits_per_note: Option<f64>,
    /// Held-out bits per second of music.
    #[serde(default)]
    pub bits_per_second: Option<f64>,
    #[serde(default)]
    pub scored_notes: usize,
    pub generated_tokens: usize,
    pub generation_seconds: f64,
    pub tokens_per_second: f64,
    /// Mean overlapped area over the scalar features both sets define: the summary score.
    pub mean_overlap: Option<f64>,
    pub scalars: BTreeMap<String, ScalarComparison>,
    pub histograms: BTreeMap<String, HistogramSummary>,
    pub originality: Originality,
    /// Copies on notes of the samples ([`copies`]).
    #[serde(default)]
    pub note_copies: Option<NoteCopyStats>,
    /// The style judge's verdict on the samples, when a judge was given.
    #[serde(default)]
    pub judge: Option<ModelJudge>,
    /// The real-vs-generated discriminator: how well the test pieces are told from the samples.
    #[serde(default)]
    pub discriminator: Option<DiscriminatorReport>,
    pub samples: Vec<SampleReport>,
}

/// A folder-safe version of `name`.
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("m{s}")
    } else {
        s
    }
}

/// Names for checkpoints: their file names, made unique.
pub fn contender_names(paths: &[PathBuf]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for p in paths {
        let base =
            safe_name(&p.file_name().map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned()));
        let mut name = base.clone();
        let mut k = 2;
        while names.contains(&name) {
            name = format!("{base}-{k}");
            k += 1;
        }
        names.push(name);
    }
    names
}

/// The primers: the first `beats` beats of test pieces, cycling through them, `count` in all
/// (after the control prefix of their piece, for a tokenizer with control tokens).
pub fn primers(corpus: &dyn Pieces, count: usize, beats: f64) -> Result<Vec<Primer>> {
    corpus.require_slices(Split::Test)?;
    let tests: Vec<PieceRef<'_>> = corpus.of_split(Split::Test).collect();
    let tokenizer = corpus.tokenizer();
    let per_piece: Vec<Primer> = tests
        .iter()
        .take(count)
        .map(|t| {
            let decode = decode_options(corpus, t);
            let piece = tokenizer.decode_with(t.tokens, &decode);
            // With control tokens, the test piece's own controls are stated (as a seed's are).
            let stated = crate::tokens::ControlValues::read(tokenizer.vocab(), t.tokens);
            let tokens =
                stated.prefix(tokenizer.vocab(), &tokenizer.encode_prefix(&piece, Some(beats), None));
            Primer { source: t.path.to_path_buf(), tokens, decode }
        })
        .collect();
    Ok((0..count).map(|i| per_piece[i % per_piece.len()].clone()).collect())
}

/// How the tokens of a corpus piece are laid out: the original file's opening tempo and time
/// signature (defaults when it cannot be read again).
fn decode_options(corpus: &dyn Pieces, piece: &PieceRef<'_>) -> DecodeOptions {
    let read_opts = corpus.tokenizer().read_options();
    midi::read_file(&corpus.root().join(piece.path), &read_opts)
        .map_or_else(|_| DecodeOptions::default(), |p| DecodeOptions::from_piece(&p))
}

fn histogram_summary(hists: &[Vec<f64>], real_mean: Option<&[f64]>) -> HistogramSummary {
    let refs: Vec<&[f64]> = hists.iter().map(Vec::as_slice).collect();
    let mean = mean_histogram(&refs);
    let reference = real_mean.unwrap_or(&mean);
    let mean_distance = (!refs.is_empty() && !reference.is_empty())
        .then(|| refs.iter().map(|h| total_variation(h, reference)).sum::<f64>() / refs.len() as f64);
    let distance_of_means =
        (!mean.is_empty() && !reference.is_empty()).then(|| total_variation(&mean, reference));
    HistogramSummary { mean, mean_distance, distance_of_means }
}

fn scalar_values(features: &[&Features], name: &str) -> Vec<f64> {
    features
        .iter()
        .filter_map(|f| f.scalars().iter().find(|(n, _)| *n == name).and_then(|(_, v)| *v))
        .collect()
}

fn histogram_values(features: &[&Features], name: &str) -> Vec<Vec<f64>> {
    features
        .iter()
        .filter_map(|f| f.histograms().into_iter().find(|(n, _)| *n == name).and_then(|(_, v)| v))
        .collect()
}

/// What `run` prepares once per tokenizer: its configuration, primers, training sequences and
/// n-gram index.
type PerTokenizer<'a> = (TokenizerConfig, Vec<Primer>, Vec<&'a [TokenId]>, NgramIndex);

/// A comparison job: checkpoints (any kinds and tokenizers) on one corpus folder.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    /// The corpus folder: its test split is scored and primes the samples, its train split is
    /// the reference for originality.
    pub corpus: PathBuf,
    /// A token store to compare on instead of reading `corpus` (read from its memory maps):
    /// every checkpoint must speak its tokenizer and record its split.
    pub store: Option<PathBuf>,
    pub models: Vec<PathBuf>,
    pub load: LoadOptions,
    /// Device for libtorch models: `auto`, `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    /// What to sample and measure (the note rules of `options.sampler` are made from `guard`,
    /// for each model under its own tokenizer).
    pub options: CompareOptions,
    pub guard: Guard,
    /// A style classifier judging the samples (feature `lstm`; without it, an error).
    pub judge: Option<JudgeRequest>,
}

/// Load every checkpoint of `request` and the corpus in each of their tokenizations, then
/// compare them ([`compare_loaded`]); [`write`] saves the outcome.
///
/// ```no_run
/// use cadenza::compare::{run, write, CompareOptions, CompareRequest};
/// use cadenza::corpus::LoadOptions;
/// use cadenza::progress::Silent;
/// use cadenza::sampler::Guard;
///
/// let request = CompareRequest {
///     corpus: "corpora/bach".into(),
///     store: None,
///     models: vec!["checkpoints/bach.markov".into(), "checkpoints/bach.lstm".into()],
///     load: LoadOptions::default(),
///     device: "auto".into(),
///     options: CompareOptions::default(),
///     guard: Guard::default(),
///     judge: None,
/// };
/// let mut outcome = run(&request, &Silent)?;
/// write(&mut outcome, "out/compare".as_ref(), None)?;
/// # Ok::<(), cadenza::Error>(())
/// ```
pub fn run(request: &CompareRequest, progress: &dyn Progress) -> Result<Outcome> {
    copies::check_min(request.options.copy_min)?;
    // Check the tokenizers from the headers before loading any model.
    let headers = request.models.iter().map(|p| checkpoint::load_header(p)).collect::<Result<Vec<_>>>()?;
    let pairs: Vec<_> = request.models.iter().map(PathBuf::as_path).zip(&headers).collect();
    let (tokenizers, which) = tokenizers(&pairs)?;
    let load = recorded_split(&request.corpus, &request.load, &pairs)?;
    let judge = request.judge.as_ref().map(|j| Judge::load(j, &request.device)).transpose()?;
    let loaded =
        request.models.iter().map(|p| saved::load(p, &request.device)).collect::<Result<Vec<_>>>()?;
    let corpora: Vec<Box<dyn Pieces>> = match &request.store {
        // One tokenization only: every checkpoint must speak the store's.
        Some(dir) => {
            let store = crate::store::TokenStore::open(dir)?;
            for (path, header) in &pairs {
                store.require_split(path, &load)?;
                checkpoint::check_tokenizer(path, header, &store.tokenizer)?;
            }
            vec![Box::new(store)]
        }
        None => tokenizers
            .iter()
            .map(|t| {
                Ok(Box::new(Corpus::load_with(&request.corpus, t, &load, Some(progress))?) as Box<dyn Pieces>)
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let which = if request.store.is_some() { vec![0; which.len()] } else { which };
    let corpus = corpora[0].as_ref();
    let names = contender_names(&request.models);
    let contenders: Vec<Contender<'_>> = loaded
        .iter()
        .zip(&request.models)
        .zip(names)
        .zip(&which)
        .map(|(((l, path), name), &k)| Contender {
            name,
            checkpoint: path.clone(),
            header: &l.header,
            model: &l.model,
            corpus: corpora[k].as_ref(),
        })
        .collect();
    let mut options = request.options.clone();
    let copies = match request.guard.max_copy {
        Some(_) => {
            progress.message("indexing the training split for --max-copy");
            Some(std::sync::Arc::new(corpus.copy_index(Split::Train)))
        }
        None => None,
    };
    options.sampler.notes = request.guard.rules_with_copies(corpus.tokenizer(), copies)?;
    compare_judged(corpus, &contenders, &options, judge.as_ref(), progress)
}

/// Run the comparison of `models`, each on its own tokenization of one corpus; `corpus` (any
/// of them) gives the test pieces the samples are measured against. With note rules in
/// `opts.sampler`, each model samples under the rules of its own tokenizer (same polyphony
/// limit). No style judge: see [`compare_judged`].
pub fn compare_loaded(
    corpus: &dyn Pieces,
    models: &[Contender<'_>],
    opts: &CompareOptions,
    progress: &dyn Progress,
) -> Result<Outcome> {
    compare_judged(corpus, models, opts, None, progress)
}

/// [`compare_loaded`] with a style judge (when `judge` is given) attributing the test pieces
/// and every model's samples (the continuations alone, as the statistics measure them).
pub fn compare_judged(
    corpus: &dyn Pieces,
    models: &[Contender<'_>],
    opts: &CompareOptions,
    judge: Option<&Judge>,
    progress: &dyn Progress,
) -> Result<Outcome> {
    opts.sampler.validate()?;
    if opts.samples == 0 {
        return Err(Error::setting("samples", 0, "at least 1"));
    }
    copies::check_min(opts.copy_min)?;
    let tokenizer = corpus.tokenizer();
    let test = corpus.require_slices(Split::Test)?;
    let test_hashes = |c: &dyn Pieces| -> Vec<[u8; 32]> {
        let mut h: Vec<[u8; 32]> = c.of_split(Split::Test).map(|p| *p.hash).collect();
        h.sort_unstable();
        h
    };
    let reference_hashes = test_hashes(corpus);
    for m in models {
        let t = m.corpus.tokenizer();
        crate::checkpoint::check_tokenizer(&m.checkpoint, m.header, t)?;
        if m.corpus.root() != corpus.root() || test_hashes(m.corpus) != reference_hashes {
            return Err(Error::Corpus {
                path: m.corpus.root().to_path_buf(),
                problem: CorpusError::NotCompared { compared: corpus.root().to_path_buf() },
            });
        }
    }
    progress.message("measuring the test pieces");
    let real_decoded: Vec<(String, Piece)> = corpus
        .of_split(Split::Test)
        .map(|p| (p.path.display().to_string(), tokenizer.decode_with(p.tokens, &decode_options(corpus, &p))))
        .collect();
    let real_pieces: Vec<PieceFeatures> = real_decoded
        .iter()
        .map(|(file, piece)| PieceFeatures { file: file.clone(), features: Features::of(piece) })
        .collect();
    let real_rows: Vec<discriminator::Row> =
        real_pieces.iter().map(|p| discriminator::row(&p.features)).collect();
    let judge_summary = match judge {
        Some(j) => {
            progress.message("judge: attributing the test pieces");
            let refs: Vec<&Piece> = real_decoded.iter().map(|(_, p)| p).collect();
            Some(j.judge_real(&refs, progress)?)
        }
        None => None,
    };
    let real_refs: Vec<&Features> = real_pieces.iter().map(|p| &p.features).collect();
    let real_scalars: BTreeMap<String, Vec<f64>> =
        SCALAR_NAMES.iter().map(|n| (n.to_string(), scalar_values(&real_refs, n))).collect();
    let mut real_hist = BTreeMap::new();
    for name in HISTOGRAM_NAMES {
        real_hist.insert(name.to_string(), histogram_summary(&histogram_values(&real_refs, name), None));
    }
    let copy_index = copies::training_index(corpus, opts, progress);
    let reference_copies = copies::reference(&copy_index, tokenizer, &real_decoded, opts);
    // Per tokenizer: its primers, training sequences and n-gram index.
    let mut per_tokenizer: Vec<PerTokenizer> = Vec::new();

    let mut reports = Vec::new();
    let mut all_pieces = Vec::new();
    for m in models {
        let tokenizer = m.corpus.tokenizer();
        let k = match per_tokenizer.iter().position(|(c, ..)| c == tokenizer.config()) {
            Some(k) => k,
            None => {
                progress.message(&format!("indexing the training split ({})", tokenizer.scheme()));
                let train = m.corpus.slices(Split::Train);
                let index = NgramIndex::new(opts.ngram, &train);
                let primers = primers(m.corpus, opts.samples, opts.primer_beats)?;
                per_tokenizer.push((*tokenizer.config(), primers, train, index));
                per_tokenizer.len() - 1
            }
        };
        let (_, primers, train, index) = &per_tokenizer[k];
        // With a key or a density to ask for, `k` candidates per primer, one kept.
        let plan = crate::key::KeyPlan::new(tokenizer.config(), None, opts.key)?;
        let k = crate::generate::candidate_count(&plan, opts.density, opts.candidates);
        // A key asked of a checkpoint with key tokens is stated in each primer's prefix.
        let asked = |tokens: &Vec<TokenId>| match opts.key {
            Some(key) if tokenizer.config().controls.has(crate::tokens::Control::Key) => {
                let mut stated = crate::tokens::ControlValues::read(tokenizer.vocab(), tokens);
                stated.key = Some(plan.stated(key).index() as u8);
                stated.prefix(tokenizer.vocab(), tokens)
            }
            _ => tokens.clone(),
        };
        let primer_tokens: Vec<Vec<TokenId>> =
            primers.iter().flat_map(|p| std::iter::repeat_n(asked(&p.tokens), k)).collect();
        let rules = opts.sampler.notes.as_ref().map(|r| {
            NoteRules::new(tokenizer)
                .with_max_polyphony(r.max_polyphony())
                .with_copy_limit(r.copy_limit().cloned())
        });
        let sampler = opts.sampler.clone().with_notes(rules);
        progress.message(&format!("{}: scoring the test split", m.name));
        let score = Score::of_split(m.model, m.corpus, Split::Test)?;
        let bits = score.bits_per_token();
        progress.message(&format!("{}: generating {} pieces", m.name, primers.len()));
        let t0 = Instant::now();
        let outs = m.model.generate_batch(&primer_tokens, opts.length, &sampler, opts.rng_seed)?;
        let secs = t0.elapsed().as_secs_f64();
        let generated: usize = outs.iter().map(Vec::len).sum();
        progress.message(&format!("{}: measuring the samples", m.name));
        let mut samples = Vec::new();
        let mut pieces = Vec::new();
        let mut continuations = Vec::new();
        for (i, (primer, rows)) in primers.iter().zip(outs.chunks(k)).enumerate() {
            let (_, ticks_per_step) = tokenizer.decoded_resolution(&primer.decode);
            let primer_end_tick = tokenizer.end_step(&primer.tokens) * ticks_per_step;
            let mut decoded: Vec<(Sample, Piece)> = rows
                .iter()
                .map(|cont| {
                    let sample = Sample::new(&sampler, &primer.tokens, cont);
                    let piece = sample.piece(tokenizer, &primer.decode);
                    (sample, piece)
                })
                .collect();
            let wholes: Vec<&Piece> = decoded.iter().map(|(_, p)| p).collect();
            let chosen = crate::generate::choose(&wholes, primer_end_tick, &plan, opts.density).unwrap_or(0);
            let cont = &rows[chosen];
            let (sample, piece) = decoded.swap_remove(chosen);
            let piece = plan.output(piece);
            let full = &sample.tokens;
            let alone = plan.output(sample.continuation_piece(tokenizer, &primer.decode));
            let file = format!("samples/{}/{i:03}.mid", m.name);
            samples.push(SampleReport {
                file: file.clone(),
                wav: None,
                primer_source: primer.source.display().to_string(),
                primer_tokens: primer.tokens.len(),
                new_tokens: cont.len(),
                notes: alone.note_count(),
                features: Features::of(&alone),
                copied_share: index.copied_share(cont),
                longest_copy: longest_copied_span(cont, train),
                dropped_tokens: tokenizer.dropped_tokens(full),
                note_copy: Some(crate::originality::check_piece(&copy_index, file, &alone, opts.copy_min)),
            });
            pieces.push(SamplePiece { piece, primer_end_tick });
            continuations.push(alone);
        }
        let model_judge = match (judge, &judge_summary) {
            (Some(j), Some(summary)) => {
                progress.message(&format!("{}: judging the samples", m.name));
                let refs: Vec<&Piece> = continuations.iter().collect();
                Some(j.judge_samples(summary, &refs, progress)?)
            }
            _ => None,
        };
        let generated_rows: Vec<discriminator::Row> =
            samples.iter().map(|s| discriminator::row(&s.features)).collect();
        let discriminated =
            discriminator::cross_validate(&real_rows, &generated_rows, discriminator::FOLDS, opts.rng_seed);
        let refs: Vec<&Features> = samples.iter().map(|s| &s.features).collect();
        let mut scalars = BTreeMap::new();
        for name in SCALAR_NAMES {
            let mine = scalar_values(&refs, name);
            let real = &real_scalars[name];
            let pair = density_pair(real, &mine);
            scalars.insert(
                name.to_string(),
                ScalarComparison {
                    model: Moments::of(&mine),
                    real: Moments::of(real),
                    overlap: pair.as_ref().map(|d| d.overlap()),
                    kl: pair.as_ref().map(|d| d.kl()),
                },
            );
        }
        let overlaps: Vec<f64> = scalars.values().filter_map(|s| s.overlap).collect();
        let mut histograms = BTreeMap::new();
        for name in HISTOGRAM_NAMES {
            let real_mean = &real_hist[name].mean;
            histograms.insert(
                name.to_string(),
                histogram_summary(
                    &histogram_values(&refs, name),
                    (!real_mean.is_empty()).then_some(real_mean.as_slice()),
                ),
            );
        }
        let shares: Vec<f64> = samples.iter().filter_map(|s| s.copied_share).collect();
        let originality = Originality {
            ngram: index.n(),
            mean_copied_share: (!shares.is_empty()).then(|| shares.iter().sum::<f64>() / shares.len() as f64),
            mean_longest_copy: if samples.is_empty() {
                0.0
            } else {
                samples.iter().map(|s| s.longest_copy as f64).sum::<f64>() / samples.len() as f64
            },
            max_longest_copy: samples.iter().map(|s| s.longest_copy).max().unwrap_or(0),
        };
        reports.push(ModelReport {
            name: m.name.clone(),
            checkpoint: m.checkpoint.display().to_string(),
            kind: m.header.kind.to_string(),
            tokenizer: tokenizer.scheme().to_string(),
            tokenizer_digest: tokenizer.config().digest(),
            bits_per_token: bits,
            perplexity: bits.exp2(),
            scored_tokens: score.tokens,
            bits_per_note: Some(score.bits_per_note()),
            bits_per_second: Some(score.bits_per_second()),
            scored_notes: score.notes,
            generated_tokens: generated,
            generation_seconds: secs,
            tokens_per_second: generated as f64 / secs.max(1e-9),
            mean_overlap: (!overlaps.is_empty())
                .then(|| overlaps.iter().sum::<f64>() / overlaps.len() as f64),
            scalars,
            histograms,
            originality,
            note_copies: Some(NoteCopyStats::of(
                opts.copy_min,
                samples.iter().filter_map(|s| s.note_copy.as_ref()),
            )),
            judge: model_judge,
            discriminator: Some(discriminated),
            samples,
        });
        all_pieces.push(pieces);
    }
    let report = Report {
        corpus: corpus.root().display().to_string(),
        split: Split::Test,
        tokenizer_digest: tokenizer.config().digest(),
        test_pieces: test.len(),
        test_tokens: test.iter().map(|t| t.len()).sum(),
        train_pieces: corpus.of_split(Split::Train).count(),
        samples_per_model: opts.samples,
        length: opts.length,
        rng_seed: opts.rng_seed,
        primer_beats: opts.primer_beats,
        temperature: opts.sampler.temperature,
        note_guard: opts.sampler.notes.is_some(),
        max_polyphony: opts.sampler.notes.as_ref().and_then(|r| r.max_polyphony()),
        ngram: opts.ngram,
        copy_min: opts.copy_min,
        reference_copies: Some(reference_copies),
        scalar_features: SCALAR_NAMES.iter().map(|s| s.to_string()).collect(),
        histogram_features: HISTOGRAM_NAMES.iter().map(|s| s.to_string()).collect(),
        real: RealSet {
            scalars: real_scalars.iter().map(|(k, v)| (k.clone(), Moments::of(v))).collect(),
            histograms: real_hist,
            pieces: real_pieces,
        },
        judge: judge_summary,
        models: reports,
    };
    Ok(Outcome { report, pieces: all_pieces })
}

/// How many samples per model get a piano roll (and a WAV) in the HTML page.
pub const SHOWN_SAMPLES: usize = 3;

/// Save every sample as `samples/<model>/NNN.mid` under `out`, render the first
/// [`SHOWN_SAMPLES`] of each model to WAV when `soundfont` is given (feature `audio`), and write
/// `report.json`, `report.md` and `report.html`. Every file is written atomically.
pub fn write(outcome: &mut Outcome, out: &Path, soundfont: Option<&Path>) -> Result<()> {
    let font = soundfont.map(load_font).transpose()?;
    for (m, pieces) in outcome.report.models.iter_mut().zip(&outcome.pieces) {
        for (i, (s, p)) in m.samples.iter_mut().zip(pieces).enumerate() {
            let path = out.join(&s.file);
            let bytes = midi::write_to_bytes(&p.piece);
            crate::atomic::write(&path, &bytes)?;
            if i < SHOWN_SAMPLES {
                if let Some(font) = &font {
                    s.wav = render_wav(&path, &bytes, font, &out.join(s.file.replace(".mid", ".wav")))?
                        .then(|| s.file.replace(".mid", ".wav"));
                }
            }
        }
    }
    let json = serde_json::to_vec_pretty(&outcome.report)
        .map_err(|source| Error::Json { what: "report", source })?;
    crate::atomic::write(&out.join("report.json"), &json)?;
    crate::atomic::write(&out.join("report.md"), report::markdown(&outcome.report).as_bytes())?;
    crate::atomic::write(&out.join("report.html"), html::page(&outcome.report, &outcome.pieces).as_bytes())?;
    Ok(())
}

#[cfg(feature = "audio")]
type Font = std::sync::Arc<rustysynth::SoundFont>;
#[cfg(not(feature = "audio"))]
type Font = ();

#[cfg(feature = "audio")]
fn load_font(path: &Path) -> Result<Font> {
    crate::play::load_soundfont(path)
}

#[cfg(not(feature = "audio"))]
fn load_font(_: &Path) -> Result<Font> {
    Ok(())
}

/// Render one sample to a WAV file; `Ok(false)` when this build has no audio.
#[cfg(feature = "audio")]
fn render_wav(mid: &Path, bytes: &[u8], font: &Font, wav: &Path) -> Result<bool> {
    use crate::play::{render::render_to_wav, RenderOptions, Song, Synth, WAV_SAMPLE_RATE};
    let mut synth = Synth::new(font, WAV_SAMPLE_RATE)?;
    let song = Song::from_bytes(mid, bytes)?;
    render_to_wav(&song, &mut synth, wav, &RenderOptions::default())?;
    Ok(true)
}

#[cfg(not(feature = "audio"))]
fn render_wav(_: &Path, _: &[u8], _: &Font, _: &Path) -> Result<bool> {
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelKind;

    #[test]
    fn checkpoints_are_grouped_by_tokenizer() {
        let t = Tokenizer::new(TokenizerConfig::default()).unwrap();
        let u = Tokenizer::new(TokenizerConfig {
            scheme: crate::tokens::Scheme::Tsd,
            ..TokenizerConfig::default()
        })
        .unwrap();
        let a = Header::new(ModelKind::Markov, &t, serde_json::Value::Null, "x");
        let b = Header::new(ModelKind::Hmm, &u, serde_json::Value::Null, "x");
        let (distinct, which) =
            tokenizers(&[(Path::new("a.markov"), &a), (Path::new("b.hmm"), &b), (Path::new("c"), &a)])
                .unwrap();
        assert_eq!(distinct, vec![t, u]);
        assert_eq!(which, vec![0, 1, 0]);
        assert!(tokenizers(&[]).is_err());
    }

    #[test]
    fn names_are_unique_and_folder_safe() {
        let names = contender_names(&["x/m.markov".into(), "y/m.markov".into(), "a b/../c d".into()]);
        assert_eq!(names, vec!["m.markov", "m.markov-2", "c_d"]);
        assert_eq!(safe_name(".."), "m..");
    }
}
