//! The library's error type: every failure names what it was working on and why it failed.
//!
//! [`Error`] is the one type every public function returns. Its variants say *where* (a path,
//! a setting, a tensor operation) and carry a typed *what* ([`FormatError`],
//! [`CheckpointError`], [`CorpusError`], [`TokenizerError`], [`ModelError`]), so callers can
//! match on the cause while the command line prints each error as one line.
//!
//! This module is the root of the crate's dependency graph: it uses no other module of the
//! crate, so every module can use it.

use std::path::PathBuf;

/// A token id (the same type as [`crate::tokens::TokenId`]; spelled out so that this module
/// depends on no other module of the crate).
type TokenId = u16;

/// A model kind's name (`markov`, `hmm`, `lstm`: [`crate::models::ModelKind::name`]).
type KindName = &'static str;

/// `e` and the errors under it on one line (`a: b: c`), each cause left out when the message
/// above already says it: how the command line and the Python package report an error.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg.replace('\n', " ")
}

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library. Each variant renders as one line that names the
/// file (where there is one) and the reason.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that is not a valid (or not a usable) Standard MIDI File.
    #[error("{}: invalid MIDI file: {problem}", path.display())]
    InvalidMidi { path: PathBuf, problem: MidiProblem },
    /// A file in one of cadenza's binary formats (checkpoint, token cache) whose bytes cannot
    /// be read.
    #[error("{}: {source}", path.display())]
    Format {
        path: PathBuf,
        #[source]
        source: FormatError,
    },
    /// Bytes in one of cadenza's binary formats that did not come from a file (a checkpoint's
    /// payload, say) and cannot be read.
    #[error(transparent)]
    Bytes(#[from] FormatError),
    /// A checkpoint that reads fine but cannot be used (wrong kind, another tokenizer...).
    #[error("{}: bad checkpoint: {problem}", path.display())]
    Checkpoint { path: PathBuf, problem: CheckpointError },
    /// A BPE file that cannot be used (unreadable, malformed, or for another tokenizer).
    #[error("{}: bad BPE file: {problem}", path.display())]
    BpeFile { path: PathBuf, problem: BpeFileError },
    /// A corpus folder that cannot be used.
    #[error("{}: {problem}", path.display())]
    Corpus { path: PathBuf, problem: CorpusError },
    /// A token store (`cadenza corpus build`) that cannot be built or loaded; `path` names the
    /// store folder, its manifest or the shard at fault.
    #[error("{}: {problem}", path.display())]
    Store { path: PathBuf, problem: StoreError },
    /// A setting (command-line option, config field) outside what it can be.
    #[error("{name} must be {expected}, got {value}")]
    Setting { name: &'static str, value: String, expected: String },
    /// A TOML file of settings that cannot be read.
    #[error("{}: bad settings file: {problem}", path.display())]
    SettingsFile { path: PathBuf, problem: String },
    /// A tokenizer configuration that makes no sense, or BPE merges that do not fit it.
    #[error("tokenizer: {0}")]
    Tokenizer(#[from] TokenizerError),
    /// A model given inputs it cannot work with, or parameters that are not a model.
    #[error("{0}")]
    Model(#[from] ModelError),
    /// `compare` was given no checkpoints.
    #[error("no checkpoints to compare")]
    NothingToCompare,
    /// A playback failure (audio device, MIDI port, SoundFont, bad option), about `subject`.
    #[error("{subject}: {reason}")]
    Play { subject: String, reason: String },
    /// A value that cannot be written as JSON (a report, a checkpoint header).
    #[error("cannot write the {what} as JSON: {source}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// A style classifier's data, options or use (see `crate::classify`).
    #[error(transparent)]
    Classify(#[from] ClassifyError),
    /// A live session that had to end (a port that went away; see `crate::live`).
    #[error("live: {0}")]
    Live(String),
    /// An edit (infill, harmonization) that cannot be done on this piece, about `path` (see
    /// `crate::edit`).
    #[error("{}: {problem}", path.display())]
    Edit { path: PathBuf, problem: EditError },
    /// A studio request that cannot be served (see `crate::studio`).
    #[error(transparent)]
    Studio(#[from] StudioError),
    /// A failure inside libtorch, with the operation that failed.
    #[cfg(feature = "lstm")]
    #[error("libtorch ({op}): {source}")]
    Torch {
        op: &'static str,
        #[source]
        source: tch::TchError,
    },
}

impl Error {
    /// Wrap an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// An invalid-MIDI error for `path`.
    pub fn invalid_midi(path: impl Into<PathBuf>, problem: MidiProblem) -> Self {
        Error::InvalidMidi { path: path.into(), problem }
    }

    /// A setting outside its range: `name` must be `expected`, got `value`.
    pub fn setting(name: &'static str, value: impl std::fmt::Display, expected: impl Into<String>) -> Self {
        Error::Setting { name, value: value.to_string(), expected: expected.into() }
    }

    /// A checkpoint at `path` that cannot be used because of `problem`.
    pub fn checkpoint(path: impl Into<PathBuf>, problem: CheckpointError) -> Self {
        Error::Checkpoint { path: path.into(), problem }
    }
}

#[cfg(feature = "lstm")]
impl From<tch::TchError> for Error {
    fn from(source: tch::TchError) -> Self {
        Error::Torch { op: "tensor operation", source }
    }
}

/// Why an edit cannot be done on a piece (see `crate::edit`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    #[error("the region must end after it starts: {start}-{end} {unit}")]
    EmptyRegion { start: f64, end: f64, unit: &'static str },
    #[error("the region {start}-{end} {unit} lies outside the piece, which ends at {unit_end} {unit}")]
    RegionOutside { start: f64, end: f64, unit: &'static str, unit_end: f64 },
    #[error("bar {bar} does not exist (bars are numbered from 1)")]
    NoSuchBar { bar: u32 },
    #[error("the melody has no notes the model's tokenizer keeps ({notes} notes in the file)")]
    EmptyMelody { notes: usize },
    #[error("the melody must be a single line, but {first} and {second} start together at beat {beat}")]
    Chord { beat: f64, first: String, second: String },
    #[error("melody note {note} at beat {beat} is outside the model's pitch range {low}-{high}")]
    MelodyOutOfRange { note: String, beat: f64, low: String, high: String },
    #[error("the model's tokenizer keeps none of the piece's {notes} notes ({why})")]
    NothingToKeep { notes: usize, why: String },
    #[error("the model's tokenizer has a grid in milliseconds; editing needs a grid in beats")]
    SecondsGrid,
}

/// Why a file is not a usable Standard MIDI File.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MidiProblem {
    /// midly's own reason (not a MIDI file, a bad header, an unknown format...).
    #[error("{0}")]
    Parse(String),
    #[error("invalid SMPTE frame rate -128")]
    SmpteFrameRate,
    #[error("ticks per beat is 0")]
    ZeroTicksPerBeat,
    #[error("SMPTE ticks per frame is 0")]
    ZeroTicksPerFrame,
    #[error(
        "track {track}: chunk length {len} runs past the end of the file ({available} bytes left) and the \
         track has no End of Track event"
    )]
    ChunkOverrun { track: usize, len: u32, available: usize },
    #[error("track {track}: byte {offset}: {problem}")]
    Event { track: usize, offset: usize, problem: EventProblem },
    #[error("too many notes (more than {0})")]
    TooManyNotes(usize),
    #[error("too many tempo, signature and pedal events (more than {0})")]
    TooManyControlEvents(usize),
    #[error(
        "a note starts too far into the piece (tick {tick}: beat {beat}, {hours:.1} hours in; the limits \
         are beat {max_beats} and 24 hours)"
    )]
    TooLong { tick: u64, beat: u64, hours: f64, max_beats: u64 },
    #[error("too long to play ({ticks} ticks; at most {max})")]
    TooLongToPlay { ticks: usize, max: usize },
}

/// What is wrong with one event of a MIDI track.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventProblem {
    #[error("{field}: truncated variable-length number")]
    TruncatedNumber { field: &'static str },
    #[error("{field}: variable-length number longer than 4 bytes")]
    LongNumber { field: &'static str },
    #[error("truncated {0}")]
    Truncated(&'static str),
    #[error("{what} length {len} runs past the end of the track ({left} bytes left)")]
    LengthOverrun { what: &'static str, len: u32, left: usize },
    #[error("malformed midi message")]
    MalformedMessage,
    #[error("malformed or truncated event")]
    Unreadable,
    /// midly's own reason.
    #[error("{0}")]
    Parse(String),
}

/// The classifier's failures (wrapped as [`Error::Classify`]).
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// A data folder with fewer than two label subfolders.
    #[error(
        "{}: a labelled corpus needs at least two label folders (subfolders holding MIDI files), found {found}{}",
        path.display(),
        if labels.is_empty() { String::new() } else { format!(" ({})", labels.join(", ")) }
    )]
    TooFewLabels { path: PathBuf, found: usize, labels: Vec<String> },
    /// A label subfolder without any MIDI file.
    #[error("{}: label folder `{label}` holds no MIDI files (.mid, .midi)", path.display())]
    EmptyLabel { path: PathBuf, label: String },
    /// A label subfolder whose MIDI files are all unusable.
    #[error("{}: none of the {files} MIDI file(s) of label `{label}` is usable (first: {first})", path.display())]
    NothingReadable { path: PathBuf, label: String, files: usize, first: String },
    /// A label with no piece in a split that needs one (training needs every label).
    #[error("{}: label `{label}` has no piece in the {split} split ({pieces} readable pieces in all)", path.display())]
    EmptySplit { path: PathBuf, label: String, split: String, pieces: usize },
    /// No piece at all in the split asked for.
    #[error("{}: the {split} split holds no piece", path.display())]
    NoPieces { path: PathBuf, split: String },
    /// Data with a label the checkpoint's classifier does not know.
    #[error(
        "{}: label `{label}` of {} is unknown to this classifier (it knows {})",
        checkpoint.display(),
        data.display(),
        known.join(", ")
    )]
    UnknownLabel { checkpoint: PathBuf, data: PathBuf, label: String, known: Vec<String> },
    /// A setting that cannot work (window of zero beats, empty pitch range...).
    #[error("classifier: {name} must be {expected}, got {value}")]
    Setting { name: &'static str, value: String, expected: String },
    /// A MIDI file with no note the classifier can see.
    #[error("{}: no notes in the classifier's pitch range", path.display())]
    NoNotes { path: PathBuf },
    /// Training produced a non-finite loss.
    #[error("classifier: training diverged at step {step} (loss {loss}); try a lower learning rate")]
    Diverged { step: u64, loss: f64 },
    /// A judge label (`compare --judge-label`) the judging classifier does not know.
    #[error(
        "{}: no label `{label}` in this classifier (it knows {})",
        checkpoint.display(),
        known.join(", ")
    )]
    UnknownJudgeLabel { checkpoint: PathBuf, label: String, known: Vec<String> },
    /// A classifier asked of a build without the `lstm` feature (libtorch).
    #[error("{}: style classifiers need a build with the `lstm` feature", checkpoint.display())]
    NeedsLstm { checkpoint: PathBuf },
}

impl ClassifyError {
    /// A setting outside its range.
    pub fn setting(name: &'static str, value: impl std::fmt::Display, expected: impl Into<String>) -> Self {
        ClassifyError::Setting { name, value: value.to_string(), expected: expected.into() }
    }
}

/// Why a request to the studio (`cadenza studio`) cannot be served. Each renders as one line,
/// the `error` of the studio's JSON answers.
#[derive(Debug, thiserror::Error)]
pub enum StudioError {
    /// No route for this method and path.
    #[error("no such endpoint: {method} {path}")]
    NoRoute { method: String, path: String },
    /// A request body that is not the JSON the endpoint wants.
    #[error("bad JSON body: {0}")]
    BadJson(#[source] serde_json::Error),
    /// A field of a request outside what it can be.
    #[error("{field}: {problem}")]
    BadField { field: &'static str, problem: String },
    /// A request body over the cap.
    #[error("request body too large (more than {limit} bytes)")]
    TooLarge { limit: usize },
    /// A sample, upload or trial id that is not of the studio's form (32 lowercase hex digits).
    #[error("malformed {what} id")]
    BadId { what: &'static str },
    /// A name (checkpoint, corpus piece) that could reach outside the studio's folders.
    #[error("{what} name not allowed: {name:?}")]
    UnsafeName { what: &'static str, name: String },
    /// Something well named that does not exist.
    #[error("no such {what}: {name}")]
    NotFound { what: &'static str, name: String },
    /// Audio asked of a server that cannot make it.
    #[error("no audio: {0}")]
    NoAudio(String),
    /// A MIDI port that cannot be played to (none of that name, no MIDI system, no JACK server).
    #[error("{0}")]
    NoPort(String),
    /// A corpus piece asked of a server started without `--corpus`.
    #[error("the studio was started without --corpus")]
    NoCorpus,
    /// A name a request would write that is already taken.
    #[error("a {what} named {name} exists already")]
    Exists { what: &'static str, name: String },
    /// A vote on a trial that already has one.
    #[error("trial {0} already has a vote")]
    AlreadyVoted(String),
    /// A request whose Host header is not the loopback name the studio serves (DNS rebinding).
    #[error("host {0:?} not allowed; use http://127.0.0.1 or http://localhost")]
    ForeignHost(String),
    /// A POST body of a type the endpoint does not take (JSON endpoints want
    /// `application/json`, uploads `audio/midi`: neither can be sent cross-site without a
    /// preflight, which the studio never grants).
    #[error("content type {found:?} not accepted; send {expected}")]
    ContentType { found: String, expected: &'static str },
    /// The votes database failed.
    #[error("votes database {}: {reason}", path.display())]
    Database { path: PathBuf, reason: String },
}

/// Why the bytes of a cadenza binary file (see [`crate::binio`]) cannot be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("bad {format}: {problem}")]
pub struct FormatError {
    /// Which format: `checkpoint`, `token cache`, `markov model`.
    pub format: &'static str,
    pub problem: FormatProblem,
}

/// What is wrong with the bytes of a cadenza binary file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormatProblem {
    #[error("not a cadenza {0} (bad magic)")]
    BadMagic(&'static str),
    #[error("truncated (file is shorter than its header says)")]
    Truncated,
    #[error("format version {found} was written by a newer cadenza; this one reads up to version {newest}")]
    NewerVersion { found: u32, newest: u32 },
    #[error("format version {0} is invalid")]
    InvalidVersion(u32),
    #[error("{0} unexpected bytes after the end")]
    TrailingBytes(usize),
    #[error("corrupted (checksum mismatch)")]
    Checksum,
    #[error("{field}: {problem}")]
    Invalid { field: &'static str, problem: String },
}

/// Why a readable checkpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("unreadable header: {0}")]
    Header(#[source] serde_json::Error),
    #[error("holds a {found} model, expected {expected}")]
    WrongKind { found: KindName, expected: KindName },
    #[error("its tokenizer settings are invalid: {0}")]
    Tokenizer(#[source] TokenizerError),
    /// Schemes by name, settings by [`crate::tokens::Tokenizer::digest`].
    #[error(
        "its tokenizer ({ours_scheme} {ours}) differs from the corpus's ({theirs_scheme} {theirs}); \
         re-tokenize the corpus with the checkpoint's settings"
    )]
    TokenizerDiffers { ours_scheme: &'static str, ours: String, theirs_scheme: &'static str, theirs: String },
    #[error("vocabulary mismatch: model {model} tokens, tokenizer {tokenizer}, header {header}")]
    VocabMismatch { model: usize, tokenizer: usize, header: usize },
    #[error("payload format {found:?}, expected {expected}")]
    PayloadFormat { found: String, expected: &'static str },
    #[error("its {format} payload: {source}")]
    Payload {
        format: &'static str,
        #[source]
        source: Box<Error>,
    },
    #[error("hyperparameters: {0}")]
    Hyperparameters(String),
    #[error("its model ({saved}) differs from the one asked for ({asked})")]
    ShapeDiffers { saved: String, asked: String },
    #[error("no training state to resume: {0}")]
    NoTrainingState(#[source] serde_json::Error),
    #[error(
        "it holds the model but not the optimizer state (only a run's latest-state checkpoint does); resume from {}",
        last.display()
    )]
    NoOptimizerState { last: PathBuf },
    #[error("holds a style classifier, not a generator (use it with `cadenza classify`)")]
    NotAGenerator,
    #[error("{0} models need a build with the `lstm` feature")]
    NeedsFeature(KindName),
}

/// Why a BPE file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BpeFileError {
    #[error("not a cadenza BPE file: {0}")]
    Json(#[source] serde_json::Error),
    #[error("{0}")]
    Merges(#[source] TokenizerError),
}

/// Why a token store cannot be built, resumed or loaded.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not a token store (no manifest.json; build one with `cadenza corpus build DIR --out STORE`)")]
    NoManifest,
    #[error("exists and is not a token store; choose another --out or empty it")]
    NotAStore,
    #[error("bad token store manifest: {0}")]
    Manifest(#[source] serde_json::Error),
    #[error(
        "token store format {found:?} version {version}, this build reads {expected:?} version {newest}"
    )]
    ManifestFormat { found: String, version: u32, expected: &'static str, newest: u32 },
    #[error(
        "incomplete token store ({shards} finalized shards covering {files} of {total} files); rerun `cadenza corpus build` to finish it"
    )]
    Incomplete { shards: usize, files: u64, total: u64 },
    #[error("token store shard is {found} bytes, the manifest says {expected}")]
    ShardLength { found: u64, expected: u64 },
    #[error("token store shard has CRC32 {found:08x}, the manifest says {expected:08x}")]
    ShardCrc { found: u32, expected: u32 },
    #[error("token store shard holds {found} {what}, the manifest says {expected}")]
    ShardCounts { what: &'static str, found: u64, expected: u64 },
    #[error("{0}")]
    Shard(#[source] FormatError),
    #[error("the store was started with other options ({what}); pass --restart to rebuild it from scratch")]
    OptionsDiffer { what: &'static str },
    #[error("its tokenizer settings are invalid: {0}")]
    Tokenizer(#[source] TokenizerError),
    #[error(
        "the store was tokenized as {store}, not as {asked}; build a store with those tokenizer options"
    )]
    TokenizerDiffers { store: String, asked: String },
    #[error("{} was trained on the corpus split {recorded}, the store is split {store}; build a store with that split", checkpoint.display())]
    SplitDiffers { checkpoint: PathBuf, recorded: String, store: String },
    #[error("token stores hold little-endian tokens and this machine is big-endian")]
    BigEndian,
}

/// Why a corpus folder cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CorpusError {
    #[error("no MIDI files (.mid, .midi) found")]
    NoMidiFiles,
    #[error("the {split} split is empty ({pieces} readable pieces, {skipped} skipped)")]
    EmptySplit { split: &'static str, pieces: usize, skipped: usize },
    #[error("not the corpus whose test split {compared} was compared on")]
    NotCompared { compared: PathBuf },
    /// Checkpoints whose training runs split the corpus differently (one by its music, one by
    /// file bytes, or one with `--dedup`): no one test split is held out for both.
    #[error(
        "{} was trained on the corpus split {first_split} and {} on it split {other_split}: no test split is held out for both (retrain one with the other's split)",
        first.display(), other.display()
    )]
    SplitsDiffer { first: PathBuf, first_split: String, other: PathBuf, other_split: String },
    /// A corpus or token store in which no piece has two pitched notes: nothing to find copies
    /// of (see `crate::originality`).
    #[error("no piece with two or more pitched notes to find copies of ({pieces} readable pieces, {skipped} skipped)")]
    NoNotes { pieces: usize, skipped: usize },
}

/// A tokenizer configuration that makes no sense, or BPE merges that do not fit it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TokenizerError {
    #[error("unknown tokenization scheme `{0}` (expected midi-like, tsd or remi)")]
    UnknownScheme(String),
    #[error("{name} must be {expected}, got {value}")]
    Setting { name: &'static str, value: String, expected: String },
    #[error("the {scheme} scheme {needs}")]
    Scheme { scheme: String, needs: String },
    #[error("{merges} merges over {base} base tokens do not fit {max}-token ids")]
    TooManyMerges { merges: usize, base: usize, max: usize },
    #[error("BPE merge {merge} uses token {token}, which it cannot merge")]
    Unmergeable { merge: usize, token: TokenId },
    #[error("BPE merge {merge} repeats an earlier pair ({a}, {b})")]
    RepeatedMerge { merge: usize, a: TokenId, b: TokenId },
    #[error("the BPE vocabulary must be larger than the base vocabulary ({base} tokens) and at most {max}, got {asked}")]
    BpeVocab { asked: usize, base: usize, max: usize },
    #[error("not a cadenza BPE file (format {format:?} version {version}, expected {expected_format:?} version {expected_version})")]
    BpeFormat { format: String, version: u32, expected_format: &'static str, expected_version: u32 },
    /// Schemes by name, settings by digest.
    #[error(
        "the BPE merges were learned for the {learned_scheme} tokenizer with settings {learned}, not \
         {scheme} with {ours}"
    )]
    BpeBase { learned_scheme: &'static str, learned: String, scheme: &'static str, ours: String },
}

impl TokenizerError {
    /// A setting outside its range.
    pub fn setting(name: &'static str, value: impl std::fmt::Display, expected: impl Into<String>) -> Self {
        TokenizerError::Setting { name, value: value.to_string(), expected: expected.into() }
    }
}

/// A model given inputs it cannot work with, or parameters that are not a model.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("{model}: training sequence {sequence} holds token {token} at {index}, outside the vocabulary of {vocab} tokens")]
    TokenOutOfVocab { model: KindName, sequence: usize, index: usize, token: TokenId, vocab: usize },
    #[error("{0}: no training tokens (every sequence is empty or BOS only)")]
    NoTrainingTokens(KindName),
    #[error("{model}: training set too large ({tokens} tokens)")]
    TooManyTokens { model: KindName, tokens: usize },
    #[error("{model}: vocabulary of {size} tokens, expected {expected}")]
    VocabSize { model: KindName, size: usize, expected: String },
    #[error("the model has {model} tokens but its tokenizer {tokenizer}")]
    VocabMismatch { model: usize, tokenizer: usize },
    #[error(
        "{0}: this model was not trained to fill in the middle (train a transformer or lstm with --fim-rate)"
    )]
    NoFillInTheMiddle(KindName),
    #[error("markov: no order to try")]
    NoOrders,
    #[error("training diverged at step {step} (loss is {loss}); try a lower learning rate")]
    Diverged { step: u64, loss: f64 },
    #[error(
        "training log-likelihood is {0}: some training token has zero probability under the model \
         (use a positive pseudo-count)"
    )]
    ZeroLikelihood(f64),
    #[error("{matrix} has {entries} entries, expected {rows} x {cols}")]
    MatrixSize { matrix: &'static str, entries: usize, rows: usize, cols: usize },
    #[error("{matrix} row {row} holds {value}, not a probability")]
    NotProbability { matrix: &'static str, row: usize, value: f64 },
    #[error("{matrix} row {row} sums to {sum}, not 1")]
    RowSum { matrix: &'static str, row: usize, sum: f64 },
    #[error("tensor {name}: {problem}")]
    Tensor { name: String, problem: String },
    #[error("tensor {name} is missing")]
    MissingTensor { name: String },
    #[error("tensor {name} has shape {found:?}, the model needs {expected:?}")]
    TensorShape { name: String, found: Vec<i64>, expected: Vec<i64> },
    #[error("--resume keeps the checkpoint's model shape; drop the model options")]
    ResumeChangesShape,
    #[error("--init starts from the checkpoint's model shape; drop the model options")]
    InitChangesShape,
    #[error("--viterbi needs an HMM checkpoint, this one is {0}")]
    NotAnHmm(KindName),
}
