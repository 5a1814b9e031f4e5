//! Turning a trained model and an optional seed piece into new pieces: priming, sampling in a
//! batch, and decoding (with the seed's tempo and time signature), optionally without the primer.
//!
//! [`run`] is the whole job behind `cadenza generate` (checkpoint and seed file in, MIDI files
//! out); [`generate`] is its core, on a model already in memory; [`Sample`] is the one way from
//! sampled tokens to pieces, shared with `compare`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::copies::CopyIndex;
use crate::corpus::{Corpus, LoadOptions, Pieces, Split};
use crate::density::{self, Density};
use crate::error::{Error, ModelError, Result};
use crate::key::{Key, KeyPlan};
use crate::midi::{self, Piece};
use crate::models::{saved, Generator};
use crate::progress::Progress;
use crate::sampler::{Guard, Sampler};
use crate::tokens::{DecodeOptions, TokenId, Tokenizer, BOS};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// How many pieces.
    pub count: usize,
    /// Most new tokens per piece (EOS may end a piece sooner).
    pub length: usize,
    pub sampler: Sampler,
    pub rng_seed: u64,
    /// Cut the seed after this many quarter notes...
    pub seed_beats: Option<f64>,
    /// ...or seconds (the earlier cut wins; neither: the whole seed).
    pub seed_seconds: Option<f64>,
    /// Leave the primer's notes out of the written pieces.
    pub strip_primer: bool,
    /// The key to write in (needs a key-relative checkpoint; with a seed, the seed's key is the
    /// default). See [`crate::key::plan`].
    pub key: Option<Key>,
    /// With a key or a density: candidates sampled per piece, the one of the asked density's
    /// third that sounds most in the key kept ([`crate::key::DEFAULT_KEY_CANDIDATES`]; 1 takes
    /// the first).
    pub candidates: usize,
    /// How dense the pieces should be, against the other candidates ([`crate::density`]).
    pub density: Option<Density>,
    /// Which instruments the samples may play (by default the seed's).
    pub instruments: Instruments,
    /// The tempo of the written pieces in quarter notes a minute (default: the seed's, else
    /// 120). Beats-grid tokenizers only: their tokens count beats, so the tempo is the player's
    /// to choose; on the seconds grid the tokens themselves fix the timing.
    pub tempo: Option<f64>,
}

/// Which instruments samples may play (through the sampler's constraints, see
/// [`crate::tokens::Constraints::only_instruments`]; tokenizers that merge every instrument into
/// one piano part have no choice to make).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Instruments {
    /// The instruments of the seed file (all of its parts, not only the primer's); any without
    /// a seed, or when sampling unguarded.
    #[default]
    Seed,
    /// Whatever the model writes.
    Any,
    /// Only these, `(program, is_drum)` (see [`crate::tokens::gm_names::parse_instrument`]).
    Only(Vec<(u8, bool)>),
}

impl std::str::FromStr for Instruments {
    type Err = Error;

    /// `seed`, `any`, or General MIDI names, program numbers and `drums` separated by commas
    /// ("Flute,33,drums"; see [`crate::tokens::gm_names::parse_instrument`]).
    fn from_str(s: &str) -> Result<Instruments> {
        match s.trim() {
            "seed" => return Ok(Instruments::Seed),
            "any" => return Ok(Instruments::Any),
            _ => {}
        }
        s.split(',')
            .map(|name| {
                crate::tokens::gm_names::parse_instrument(name).ok_or_else(|| {
                    Error::setting(
                        "instruments",
                        format!("{:?}", name.trim()),
                        "General MIDI names such as \"Flute\", program numbers 0-127 or drums, separated by commas; or seed, or any",
                    )
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Instruments::Only)
    }
}

impl Instruments {
    /// The instrument list for sampling with `tokenizer` after `seed`: `None` for no limit. An
    /// explicit list with a tokenizer without instruments, or unguarded, is an error.
    pub fn resolve(
        &self,
        tokenizer: &Tokenizer,
        seed: Option<&Piece>,
        guarded: bool,
    ) -> Result<Option<Vec<(u8, bool)>>> {
        let programs = tokenizer.config().programs == crate::tokens::ProgramMode::Programs;
        match self {
            Instruments::Any => Ok(None),
            Instruments::Seed => Ok(seed.filter(|_| programs && guarded).map(|p| {
                p.instruments.iter().filter(|i| !i.notes.is_empty()).map(|i| (i.program, i.is_drum)).collect()
            })),
            Instruments::Only(list) => {
                if !programs {
                    return Err(Error::setting(
                        "instruments",
                        list.len(),
                        "a checkpoint whose tokenizer keeps instruments (this one merges them into one piano part)",
                    ));
                }
                if !guarded {
                    return Err(Error::setting(
                        "instruments",
                        list.len(),
                        "the note guard on (not --unguarded)",
                    ));
                }
                Ok(Some(list.clone()))
            }
        }
    }
}

/// One generated piece.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The primer tokens (starting with BOS).
    pub primer: Vec<TokenId>,
    /// The sampled tokens (possibly ending with EOS); the piece also has the NOTE_OFFs that
    /// [`Sampler::finished`] adds.
    pub continuation: Vec<TokenId>,
    pub piece: Piece,
    /// With a copy limit: the longest copy in the piece, in notes, ending at a sampled note or
    /// not (1 when none; see [`crate::copies`]).
    pub longest_copy: Option<usize>,
    /// Tokens sampled for this piece: its continuation's, plus its rival candidates' when it
    /// was chosen among several (a key asked of a key-relative model).
    pub sampled_tokens: usize,
}

/// Sample `opts.count` continuations of `seed` (or of BOS alone) from `model`. With
/// `opts.sampler.notes` set (the command line's default), every continuation stays well formed
/// and ends with its sounding notes closed (see [`crate::tokens::NoteGuard`]).
pub fn generate(
    model: &dyn Generator,
    tokenizer: &Tokenizer,
    seed: Option<&Piece>,
    opts: &GenerateOptions,
) -> Result<Vec<Generated>> {
    check_sampling(model, tokenizer, &opts.sampler, opts.count, opts.length)?;
    let plan = KeyPlan::new(tokenizer.config(), seed, opts.key)?;
    let seed = seed.map(|p| plan.seed(p));
    let (primer, mut decode_opts) = match seed.as_deref() {
        Some(p) => {
            (tokenizer.encode_prefix(p, opts.seed_beats, opts.seed_seconds), DecodeOptions::from_piece(p))
        }
        None => (vec![BOS], DecodeOptions::default()),
    };
    if let Some(bpm) = opts.tempo {
        decode_opts.micros_per_beat = micros_per_beat(bpm, tokenizer)?;
    }
    let mut sampler = opts.sampler.clone();
    let instruments = opts.instruments.resolve(tokenizer, seed.as_deref(), sampler.notes.is_some())?;
    if let Some(list) = &instruments {
        let only = Arc::new(crate::tokens::Constraints::new().only_instruments(list));
        sampler.notes = sampler.notes.map(|r| r.with_constraints(Some(only)));
    }
    let primer = stated_controls(model, tokenizer, seed.as_deref(), &plan, opts, instruments, primer)?;
    let candidates = candidate_count(&plan, opts.density, opts.candidates);
    let (_, ticks_per_step) = tokenizer.decoded_resolution(&decode_opts);
    let primer_end = tokenizer.end_step(&primer).saturating_mul(ticks_per_step);
    let primers = vec![primer.clone(); opts.count * candidates];
    let outs = model.generate_batch(&primers, opts.length, &sampler, opts.rng_seed)?;
    let mut rows = outs.into_iter();
    let mut pieces = Vec::with_capacity(opts.count);
    for _ in 0..opts.count {
        // Each candidate decoded once, primer included: ranked on it, then written (unless the
        // primer is left out) and checked for copies.
        let mut decoded: Vec<(Vec<TokenId>, Sample, Piece)> = Vec::with_capacity(candidates);
        let mut sampled_tokens = 0;
        for continuation in rows.by_ref().take(candidates) {
            sampled_tokens += continuation.len();
            let sample = Sample::new(&sampler, &primer, &continuation);
            let whole = sample.piece(tokenizer, &decode_opts);
            decoded.push((continuation, sample, whole));
        }
        let wholes: Vec<&Piece> = decoded.iter().map(|(.., whole)| whole).collect();
        let Some(chosen) = choose(&wholes, primer_end, &plan, opts.density) else { break };
        let (continuation, sample, whole) = decoded.swap_remove(chosen);
        let longest_copy = sampler.notes.as_ref().and_then(|r| r.copy_limit()).map(|limit| {
            let keys = crate::copies::note_keys(&whole);
            limit.index.longest(&keys)
        });
        let piece =
            if opts.strip_primer { sample.continuation_piece(tokenizer, &decode_opts) } else { whole };
        pieces.push(Generated {
            primer: primer.clone(),
            continuation,
            piece: plan.output(piece),
            longest_copy,
            sampled_tokens,
        });
    }
    Ok(pieces)
}

/// `primer` with the control prefix a checkpoint with control tokens reads (see
/// [`crate::controls`]): the seed's measured values, replaced by what `opts` asks for (the key,
/// the tempo, the instruments; a density becomes the bin at the asked third of the model's own
/// distribution over density tokens, read after the controls before it). Unchanged for other
/// checkpoints. Without a seed, the controls not asked for are left to the model.
fn stated_controls(
    model: &dyn Generator,
    tokenizer: &Tokenizer,
    seed: Option<&Piece>,
    plan: &KeyPlan,
    opts: &GenerateOptions,
    instruments: Option<Vec<(u8, bool)>>,
    primer: Vec<TokenId>,
) -> Result<Vec<TokenId>> {
    let set = tokenizer.config().controls;
    if set.is_empty() {
        return Ok(primer);
    }
    let vocab = tokenizer.vocab();
    let measured = seed.map(|p| crate::controls::measure(p, set)).unwrap_or_default();
    let mut asked = crate::controls::Asked {
        key: opts.key.map(|k| plan.stated(k)),
        tempo: opts.tempo,
        density_bin: None,
        instruments: instruments.filter(|_| opts.instruments != Instruments::Any),
    };
    let mut values = asked.apply(set, measured);
    if opts.instruments == Instruments::Any {
        values.instruments = None;
    }
    if let (Some(want), true) = (opts.density, set.has(crate::tokens::Control::Density)) {
        let before = crate::tokens::ControlValues { density: None, instruments: None, ..values.clone() };
        let mut stream = model.stream(&before.prefix(vocab, &[BOS]))?;
        let mut probs = Vec::new();
        stream.next_probs(&mut probs);
        let weights: Vec<f64> = (0..crate::tokens::controls::DENSITY_BINS as u8)
            .map(|b| vocab.id(crate::tokens::Event::Density(b)).map_or(0.0, |id| probs[usize::from(id)]))
            .collect();
        asked.density_bin = crate::controls::density_bin_of(&weights, want);
        values.density = asked.density_bin.or(values.density);
    }
    Ok(values.prefix(vocab, &primer))
}

/// Rows to sample per piece: `asked` (at least 1) when a key or a density asks for a choice
/// among them ([`choose`]), else 1.
pub fn candidate_count(plan: &KeyPlan, density: Option<Density>, asked: usize) -> usize {
    if plan.chooses() || density.is_some() {
        asked.max(1)
    } else {
        1
    }
}

/// Which of `candidates` (decoded samples of one primer, primer included) a job keeps: of the
/// third `density` asks for ([`density::pick`], by notes per beat from `primer_end`, in ticks;
/// every candidate without a density), the one `plan` hears most clearly in its key (the first
/// of that third when the plan has no key to choose by). `None` only without candidates.
/// `generate` and `compare` choose through this.
pub fn choose(
    candidates: &[&Piece],
    primer_end: u64,
    plan: &KeyPlan,
    density: Option<Density>,
) -> Option<usize> {
    let allowed = match density {
        Some(want) => {
            let d: Vec<f64> = candidates.iter().map(|p| density::notes_per_beat(p, primer_end)).collect();
            density::pick(&d, want)
        }
        None => (0..candidates.len()).collect(),
    };
    let mut best: Option<(f64, usize)> = None;
    for i in allowed {
        let fit = if plan.chooses() && candidates.len() > 1 { plan.fit(candidates[i]) } else { 0.0 };
        if best.is_none_or(|(f, _)| fit > f) {
            best = Some((fit, i));
        }
    }
    best.map(|(_, i)| i)
}

/// Microseconds per quarter note of `bpm`, for a tokenizer on the beats grid (an error naming
/// the setting otherwise, or for a tempo outside 10-400 bpm).
fn micros_per_beat(bpm: f64, tokenizer: &Tokenizer) -> Result<u32> {
    if !matches!(tokenizer.config().time, crate::tokens::TimeMode::Beats { .. }) {
        return Err(Error::setting(
            "tempo",
            bpm,
            "a checkpoint on the beats grid (on the seconds grid the model's tokens fix the timing)",
        ));
    }
    if !(bpm.is_finite() && (10.0..=400.0).contains(&bpm)) {
        return Err(Error::setting("tempo", bpm, "10 to 400 quarter notes a minute"));
    }
    Ok((60_000_000.0 / bpm).round() as u32)
}

/// The checks every sampling job makes before it samples: the sampler's options, at least one
/// piece of at least one new token, a model of the tokenizer's vocabulary.
pub(crate) fn check_sampling(
    model: &dyn Generator,
    tokenizer: &Tokenizer,
    sampler: &Sampler,
    count: usize,
    length: usize,
) -> Result<()> {
    sampler.validate()?;
    if count == 0 {
        return Err(Error::setting("count", 0, "at least 1 piece"));
    }
    if length == 0 {
        return Err(Error::setting("length", 0, "at least 1 new token"));
    }
    if model.vocab_size() != tokenizer.vocab_size() {
        return Err(ModelError::VocabMismatch {
            model: model.vocab_size(),
            tokenizer: tokenizer.vocab_size(),
        }
        .into());
    }
    Ok(())
}

/// Write `pieces` into `out` (created if missing) as `<checkpoint stem>-NNN.mid`, each
/// atomically; the paths, in order.
pub(crate) fn write_pieces<'a>(
    out: &Path,
    checkpoint: &Path,
    pieces: impl Iterator<Item = &'a Piece>,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let stem = checkpoint.file_stem().map_or("piece".into(), |s| s.to_string_lossy().into_owned());
    pieces
        .enumerate()
        .map(|(i, piece)| {
            let path = out.join(format!("{stem}-{i:03}.mid"));
            midi::write_file(piece, &path)?;
            Ok(path)
        })
        .collect()
}

/// A primer and its sampled continuation, made ready to decode: the one way from sampled tokens
/// to pieces, for `generate` and `compare`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Primer and continuation, finished by the sampler's guard ([`Sampler::finished`]).
    pub tokens: Vec<TokenId>,
    /// How many of `tokens` are the primer's.
    pub primer_len: usize,
}

impl Sample {
    /// `primer` followed by `continuation`, finished under `sampler`'s note rules.
    pub fn new(sampler: &Sampler, primer: &[TokenId], continuation: &[TokenId]) -> Sample {
        let tokens = sampler.finished(primer.iter().chain(continuation).copied().collect());
        Sample { tokens, primer_len: primer.len() }
    }

    /// Primer and continuation as one piece.
    pub fn piece(&self, tokenizer: &Tokenizer, options: &DecodeOptions) -> Piece {
        tokenizer.decode_with(&self.tokens, options)
    }

    /// The continuation alone, in the state the primer left (see [`Tokenizer::strip_primer`]).
    pub fn continuation_piece(&self, tokenizer: &Tokenizer, options: &DecodeOptions) -> Piece {
        let (primer, rest) = self.tokens.split_at(self.primer_len.min(self.tokens.len()));
        tokenizer.decode_with(&tokenizer.strip_primer(primer, rest), options)
    }
}

/// A generation job: sample from a checkpoint and write the pieces as MIDI files.
#[derive(Debug, Clone)]
pub struct GenerateRequest {
    pub checkpoint: PathBuf,
    /// Device for libtorch models: `auto`, `cpu`, `cuda`, `cuda:N`.
    pub device: String,
    /// A MIDI file whose opening primes the model.
    pub seed_file: Option<PathBuf>,
    /// What to sample (the note rules of `options.sampler` are made from `guard`).
    pub options: GenerateOptions,
    pub guard: Guard,
    /// With `guard.max_copy`: the corpus folder whose training split (as the checkpoint
    /// records its split) samples may not copy; `None`: the corpus the checkpoint records.
    pub copy_corpus: Option<PathBuf>,
    /// The folder for the files, named `<checkpoint stem>-NNN.mid`.
    pub out: PathBuf,
}

/// What a generation job wrote.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Each file written, with its piece and tokens.
    pub pieces: Vec<(PathBuf, Generated)>,
    /// Sampling time (loading and writing left out), and the tokens sampled in it.
    pub seconds: f64,
    pub new_tokens: usize,
}

/// Sample `request.options.count` pieces from `request.checkpoint` and write them.
///
/// ```no_run
/// use cadenza::generate::{run, GenerateOptions, GenerateRequest};
/// use cadenza::progress::Silent;
/// use cadenza::sampler::{Guard, Sampler};
///
/// let request = GenerateRequest {
///     checkpoint: "checkpoints/bach.lstm".into(),
///     device: "auto".into(),
///     seed_file: None,
///     options: GenerateOptions {
///         count: 2,
///         length: 512,
///         sampler: Sampler::default(),
///         rng_seed: 7,
///         seed_beats: None,
///         seed_seconds: None,
///         strip_primer: false,
///         key: None,
///         candidates: 1,
///         density: None,
///         instruments: Default::default(),
///         tempo: None,
///     },
///     guard: Guard::default(),
///     copy_corpus: None,
///     out: "out".into(),
/// };
/// for (path, g) in run(&request, &Silent)?.pieces {
///     println!("{}: {} notes", path.display(), g.piece.note_count());
/// }
/// # Ok::<(), cadenza::Error>(())
/// ```
pub fn run(request: &GenerateRequest, progress: &dyn Progress) -> Result<Generation> {
    let loaded = saved::load(&request.checkpoint, &request.device)?;
    let options = &request.options;
    progress.update(0, options.count as u64, "sampling");
    let copies = copies_for(&loaded, &request.guard, request.copy_corpus.as_deref(), progress)?;
    let sampled = sample_loaded(&loaded, request.seed_file.as_deref(), options, &request.guard, copies)?;
    progress.update(options.count as u64, options.count as u64, "sampling");
    let (pieces, seconds, new_tokens) = (sampled.pieces, sampled.seconds, sampled.new_tokens);
    let paths = write_pieces(&request.out, &request.checkpoint, pieces.iter().map(|g| &g.piece))?;
    Ok(Generation { pieces: paths.into_iter().zip(pieces).collect(), seconds, new_tokens })
}

/// What [`sample_loaded`] sampled.
#[derive(Debug, Clone)]
pub struct Sampled {
    pub pieces: Vec<Generated>,
    /// Sampling time, and the tokens sampled in it.
    pub seconds: f64,
    pub new_tokens: usize,
}

/// [`run`]'s sampling, from a checkpoint already loaded (the studio keeps a few loaded between
/// requests) and without writing files: `options.count` continuations of the opening of
/// `seed_file` (or of BOS alone), with note rules made from `guard` (and `copies`, the index of
/// the training music, for its copy limit).
pub fn sample_loaded(
    loaded: &saved::LoadedModel,
    seed_file: Option<&Path>,
    options: &GenerateOptions,
    guard: &Guard,
    copies: Option<Arc<CopyIndex>>,
) -> Result<Sampled> {
    let seed = match seed_file {
        Some(p) => Some(midi::read_file(p, &loaded.tokenizer.read_options())?),
        None => None,
    };
    let mut options = options.clone();
    options.sampler.notes = guard.rules_with_copies(&loaded.tokenizer, copies)?;
    let t0 = Instant::now();
    let pieces = generate(&loaded.model, &loaded.tokenizer, seed.as_ref(), &options)?;
    let seconds = t0.elapsed().as_secs_f64();
    let new_tokens = pieces.iter().map(|g| g.sampled_tokens).sum();
    Ok(Sampled { pieces, seconds, new_tokens })
}

/// The index `guard`'s copy limit checks against ([`training_copies`]), when it asks for one.
pub fn copies_for(
    loaded: &saved::LoadedModel,
    guard: &Guard,
    corpus: Option<&Path>,
    progress: &dyn Progress,
) -> Result<Option<Arc<CopyIndex>>> {
    match guard.max_copy {
        Some(_) => Ok(Some(Arc::new(training_copies(loaded, corpus, progress)?))),
        None => Ok(None),
    }
}

/// The copy index of the training split of `loaded`'s model: of `corpus` when given, else of the
/// corpus its checkpoint records, split as the checkpoint records (from the token cache when it
/// has the pieces). `corpus` may also be a token store (a folder with a `manifest.json`): its
/// train split, as the store was built. A checkpoint trained elsewhere records a folder this
/// machine may not have (`/tmp/.../corpora/bach`): then `corpora/<its name>` under the current
/// folder serves when it holds the same pieces (the recorded content hash), and nothing else does.
pub fn training_copies(
    loaded: &saved::LoadedModel,
    corpus: Option<&Path>,
    progress: &dyn Progress,
) -> Result<CopyIndex> {
    let summary = loaded.header.corpus.as_ref();
    let wanted = "a training corpus folder to check copies against (--corpus DIR)";
    let (root, expect_hash) = match (corpus, summary) {
        (Some(c), _) => (c.to_path_buf(), None),
        (None, Some(s)) => {
            let recorded = PathBuf::from(&s.root);
            match local_copy_of(&recorded) {
                Some(local) if !recorded.is_dir() => (local, Some(s.content_hash.as_str())),
                _ => (recorded, None),
            }
        }
        (None, None) => {
            return Err(Error::setting("max-copy", "a checkpoint that records no training corpus", wanted))
        }
    };
    if !root.is_dir() {
        return Err(Error::setting("max-copy", format!("{} (not found)", root.display()), wanted));
    }
    progress.update(0, 1, "indexing the training split");
    if root.join(crate::store::format::MANIFEST_FILE).is_file() {
        // A token store (`cadenza corpus build`): its own split, decoded with its tokenizer.
        let store = crate::store::TokenStore::open(&root)?;
        progress.update(1, 1, "indexing the training split");
        return Ok(store.copy_index(Split::Train));
    }
    let opts = LoadOptions::default().as_recorded(summary);
    let corpus = Corpus::load(&root, &loaded.tokenizer, &opts)?;
    if let (Some(hash), Some(s)) = (expect_hash, summary) {
        if corpus.content_hash() != hash {
            return Err(Error::setting(
                "max-copy",
                format!("{} (not found; {} holds other pieces)", s.root, root.display()),
                wanted,
            ));
        }
    }
    progress.update(1, 1, "indexing the training split");
    Ok(corpus.copy_index(Split::Train))
}

/// `corpora/<name>` under the current folder for a recorded corpus folder named `name`, when
/// there is one (and it is not the recorded path itself). A token store there is not one: its
/// pieces could not be checked against the recorded content hash.
fn local_copy_of(recorded: &Path) -> Option<PathBuf> {
    let local = Path::new("corpora").join(recorded.file_name()?);
    let store = local.join(crate::store::format::MANIFEST_FILE).is_file();
    (local.is_dir() && !store && local != recorded).then_some(local)
}
