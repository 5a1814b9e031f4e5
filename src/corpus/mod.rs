//! Corpora: a folder of MIDI files, read and tokenized in parallel, split deterministically into
//! train / valid / test, and cached on disk.
//!
//! - [`files`] finds the MIDI files under a folder.
//! - [`held_out`] finds the files of a folder that repeat another corpus's held-out pieces.
//! - [`split`] assigns each piece to a split from its content alone.
//! - [`music_key`] hashes a piece's quantized notes: the split key, and what `--dedup` compares.
//! - [`cache`] stores tokenized pieces keyed by file content and tokenizer configuration.
//! - [`stats`] summarizes a loaded corpus for `cadenza corpus stats`.
//! - [`pieces`] is the [`Pieces`] trait a loaded corpus and a token store (`crate::store`) share.

pub mod cache;
pub mod files;
pub mod held_out;
pub mod music_key;
pub mod pieces;
pub mod split;
pub mod stats;

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::progress::{report, Progress};
use rayon::prelude::*;

pub use music_key::{music_key, repeated_keys, MusicKey};
pub use pieces::{PieceRef, Pieces};
pub use split::{describe_split, Split, SplitKey, SplitRatios};

use crate::error::{CorpusError, Error, Result};
use crate::midi::{self, ReadOptions};
use crate::tokens::{TokenId, Tokenizer};

/// Files larger than this are skipped: no real MIDI file is this big.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// What the corpus keeps of each piece besides its tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PieceInfo {
    pub notes: u64,
    pub seconds: f64,
    /// `(program, is_drum)` of each instrument.
    pub instruments: Vec<(u8, bool)>,
    /// Lowest and highest pitched (non-drum) note, if any.
    pub pitch_range: Option<(u8, u8)>,
    /// The piece's musical identity ([`music_key()`]).
    pub music_key: MusicKey,
}

/// One readable file of the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusPiece {
    /// Path relative to the corpus root.
    pub path: PathBuf,
    /// blake3 hash of the file's bytes.
    pub hash: [u8; 32],
    /// From the music key or the file hash, as the corpus was loaded (see [`SplitKey`]).
    pub split: Split,
    pub info: PieceInfo,
    /// `BOS ... EOS`.
    pub tokens: Vec<TokenId>,
}

/// A file that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// A piece left out by `--dedup` because an earlier file (in path order) has the same music.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub path: PathBuf,
    /// The kept piece with the same [`MusicKey`].
    pub of: PathBuf,
}

/// How to load a corpus.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub split: SplitRatios,
    /// What a piece's split is computed from (default: its music).
    pub split_key: SplitKey,
    /// Keep only the first piece (in path order) of each [`MusicKey`].
    pub dedup: bool,
    /// Folder for the token cache; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            split: SplitRatios::default(),
            split_key: SplitKey::default(),
            dedup: false,
            cache_dir: default_cache_dir(),
        }
    }
}

impl LoadOptions {
    /// The default options, without the token cache when `no_cache`.
    pub fn cached(no_cache: bool) -> Self {
        LoadOptions { cache_dir: if no_cache { None } else { default_cache_dir() }, ..LoadOptions::default() }
    }

    /// These options with the split key and de-duplication `summary` records, so a checkpoint
    /// is scored on the held-out pieces of its own training run (a checkpoint without a summary
    /// keeps these options).
    pub fn as_recorded(&self, summary: Option<&CorpusSummary>) -> LoadOptions {
        match summary {
            Some(s) => LoadOptions { split_key: s.split_key, dedup: s.dedup, ..self.clone() },
            None => self.clone(),
        }
    }
}

/// What a checkpoint says about the corpus its model was trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorpusSummary {
    pub root: String,
    pub content_hash: String,
    pub pieces: BTreeMap<String, usize>,
    pub tokens: BTreeMap<String, u64>,
    /// How the corpus was split; absent in checkpoints from before the music key, which were
    /// split by file bytes ([`SplitKey::legacy`]).
    #[serde(default = "SplitKey::legacy")]
    pub split_key: SplitKey,
    /// Whether musical duplicates were left out (`--dedup`).
    #[serde(default)]
    pub dedup: bool,
}

/// `$CADENZA_CACHE/corpus`, else `~/.cache/cadenza/corpus`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("CADENZA_CACHE") {
        return Some(PathBuf::from(dir).join("corpus"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/cadenza/corpus"))
}

/// A tokenized corpus.
#[derive(Debug, Clone)]
pub struct Corpus {
    pub root: PathBuf,
    pub tokenizer: Tokenizer,
    /// Readable pieces, sorted by path.
    pub pieces: Vec<CorpusPiece>,
    pub skipped: Vec<Skipped>,
    /// Pieces `--dedup` left out, sorted by path (empty without it).
    pub duplicates: Vec<Duplicate>,
    /// The options the corpus was split with.
    pub split_key: SplitKey,
    pub dedup: bool,
    /// How many pieces came from the cache rather than being parsed.
    pub cache_hits: usize,
}

/// What reading one file produced: its summary and tokens, or why it is unusable.
pub(crate) type Entry = std::result::Result<(PieceInfo, Vec<TokenId>), String>;

/// How one file of a corpus was obtained.
enum Outcome {
    Unreadable(PathBuf, String),
    Cached(PathBuf, [u8; 32]),
    Parsed(PathBuf, [u8; 32], Entry),
}

impl Corpus {
    /// Load every MIDI file under `root` (recursively) with `tokenizer`.
    ///
    /// Unreadable files are listed in [`Corpus::skipped`]; a folder without any MIDI file is an
    /// error.
    pub fn load(root: &Path, tokenizer: &Tokenizer, opts: &LoadOptions) -> Result<Corpus> {
        Corpus::load_with(root, tokenizer, opts, None)
    }

    /// As [`Corpus::load`], telling `progress` how many files have been read.
    pub fn load_with(
        root: &Path,
        tokenizer: &Tokenizer,
        opts: &LoadOptions,
        progress: Option<&dyn Progress>,
    ) -> Result<Corpus> {
        let paths = files::midi_files(root)?;
        if paths.is_empty() {
            return Err(Error::Corpus { path: root.to_path_buf(), problem: CorpusError::NoMidiFiles });
        }
        let mut cache = match &opts.cache_dir {
            Some(dir) => cache::TokenCache::open(dir, root, &tokenizer.digest()),
            None => cache::TokenCache::disabled(),
        };
        let total = paths.len() as u64;
        let done = AtomicU64::new(0);
        report(progress, 0, total, "reading MIDI");
        let read_opts = tokenizer.read_options();
        let outcomes: Vec<Outcome> = paths
            .par_iter()
            .inspect(|_| report(progress, done.fetch_add(1, Ordering::Relaxed) + 1, total, "reading MIDI"))
            .map(|path| {
                let rel = path.strip_prefix(root).unwrap_or(path).to_path_buf();
                let bytes = match read_limited(path) {
                    Ok(b) => b,
                    Err(reason) => return Outcome::Unreadable(rel, reason),
                };
                let hash = *blake3::hash(&bytes).as_bytes();
                if cache.contains(&hash) {
                    return Outcome::Cached(rel, hash);
                }
                Outcome::Parsed(rel, hash, read_piece(&bytes, path, &read_opts, tokenizer))
            })
            .collect();

        let mut pieces = Vec::new();
        let mut skipped = Vec::new();
        let mut cache_hits = 0;
        for outcome in outcomes {
            let (rel, hash, entry) = match outcome {
                Outcome::Unreadable(path, reason) => {
                    skipped.push(Skipped { path, reason });
                    continue;
                }
                Outcome::Cached(rel, hash) => {
                    cache_hits += 1;
                    let entry =
                        cache.get(&hash).cloned().unwrap_or_else(|| Err("cache entry vanished".into()));
                    (rel, hash, entry)
                }
                Outcome::Parsed(rel, hash, entry) => {
                    cache.insert(hash, entry.clone());
                    (rel, hash, entry)
                }
            };
            match entry {
                Ok((info, tokens)) => {
                    let split = split_of(opts, &info, &hash);
                    pieces.push(CorpusPiece { path: rel, hash, split, info, tokens });
                }
                Err(reason) => skipped.push(Skipped { path: rel, reason }),
            }
        }
        cache.save();
        pieces.sort_by(|a, b| a.path.cmp(&b.path));
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        let duplicates = if opts.dedup { dedup(&mut pieces) } else { Vec::new() };
        Ok(Corpus {
            root: root.to_path_buf(),
            tokenizer: tokenizer.clone(),
            pieces,
            skipped,
            duplicates,
            split_key: opts.split_key,
            dedup: opts.dedup,
            cache_hits,
        })
    }

    /// How many pieces repeat the music of an earlier piece (in path order): the duplicates
    /// `--dedup` would leave out (0 after it).
    pub fn musical_duplicates(&self) -> usize {
        music_key::repeated_keys(self.pieces.iter().map(|p| &p.info.music_key))
    }

    /// What a checkpoint records about this corpus: its folder, content hash, and pieces and
    /// tokens per split ([`Pieces::summary`]).
    pub fn summary(&self) -> CorpusSummary {
        Pieces::summary(self)
    }

    /// The pieces of one split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &CorpusPiece> {
        self.pieces.iter().filter(move |p| p.split == split)
    }

    /// Copies of the token sequences of one split.
    pub fn sequences(&self, split: Split) -> Vec<Vec<TokenId>> {
        self.split(split).map(|p| p.tokens.clone()).collect()
    }

    /// A digest of the corpus ([`Pieces::content_hash`]).
    pub fn content_hash(&self) -> String {
        Pieces::content_hash(self)
    }

    /// Copies of the token sequences of `split`; an error unless it holds at least one piece
    /// ([`Pieces::require_slices`]).
    pub fn require(&self, split: Split) -> Result<Vec<Vec<TokenId>>> {
        Ok(self.require_slices(split)?.into_iter().map(<[TokenId]>::to_vec).collect())
    }
}

impl Pieces for Corpus {
    fn root(&self) -> &Path {
        &self.root
    }
    fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
    fn split_key(&self) -> SplitKey {
        self.split_key
    }
    fn dedup(&self) -> bool {
        self.dedup
    }
    fn skipped_count(&self) -> usize {
        self.skipped.len()
    }
    fn pieces(&self) -> Box<dyn Iterator<Item = PieceRef<'_>> + '_> {
        Box::new(self.pieces.iter().map(|p| PieceRef {
            path: &p.path,
            hash: &p.hash,
            split: p.split,
            info: &p.info,
            tokens: &p.tokens,
        }))
    }
}

/// Drop every piece whose music an earlier piece (in path order) has; returns the dropped.
fn dedup(pieces: &mut Vec<CorpusPiece>) -> Vec<Duplicate> {
    let mut first: std::collections::HashMap<MusicKey, PathBuf> = std::collections::HashMap::new();
    let mut dropped = Vec::new();
    pieces.retain(|p| match first.get(&p.info.music_key) {
        Some(of) => {
            dropped.push(Duplicate { path: p.path.clone(), of: of.clone() });
            false
        }
        None => {
            first.insert(p.info.music_key, p.path.clone());
            true
        }
    });
    dropped
}

/// The split of a piece with summary `info` and file hash `hash` under `opts`.
pub(crate) fn split_of(opts: &LoadOptions, info: &PieceInfo, hash: &[u8; 32]) -> Split {
    assign_split(&opts.split, opts.split_key, hash, &info.music_key)
}

/// The split, under `ratios` and `key`, of a piece whose file hash is `hash` and whose music key
/// is `music`: how [`Corpus::load`] and the token store assign every piece.
pub fn assign_split(ratios: &SplitRatios, key: SplitKey, hash: &[u8; 32], music: &MusicKey) -> Split {
    ratios.assign(match key {
        SplitKey::Music => music,
        SplitKey::FileBytes => hash,
    })
}

/// The two hashes a split can be computed from for one MIDI file's `bytes` (`path` names it in
/// errors): its blake3 file hash and its [`MusicKey`]; `None` if it is not readable MIDI. (The
/// music key does not depend on the read options: the sustain pedal moves only note ends.)
pub fn split_hashes_of_file(bytes: &[u8], path: &Path) -> Option<([u8; 32], MusicKey)> {
    let piece = midi::read_bytes(bytes, path, &ReadOptions::default()).ok()?;
    Some((*blake3::hash(bytes).as_bytes(), music_key(&piece)))
}

pub(crate) fn read_limited(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("file is {} bytes, larger than the {} byte limit", meta.len(), MAX_FILE_BYTES));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

/// Parse and tokenize one file's bytes.
pub(crate) fn read_piece(bytes: &[u8], path: &Path, opts: &ReadOptions, tokenizer: &Tokenizer) -> Entry {
    let piece = match midi::read_bytes(bytes, path, opts) {
        Ok(p) => p,
        Err(Error::InvalidMidi { problem, .. }) => return Err(problem.to_string()),
        Err(e) => return Err(e.to_string()),
    };
    let tokens = crate::controls::encode(tokenizer, &crate::key::for_model(&piece, tokenizer.config()));
    if tokens.len() <= 2 {
        return Err("no notes in the tokenizer's pitch range".into());
    }
    Ok((PieceInfo::of(&piece), tokens))
}

impl PieceInfo {
    /// Summarize `piece`.
    pub fn of(piece: &crate::Piece) -> PieceInfo {
        let pitched =
            piece.instruments.iter().filter(|i| !i.is_drum).flat_map(|i| i.notes.iter().map(|n| n.pitch));
        let pitch_range = pitched.fold(None, |acc: Option<(u8, u8)>, p| match acc {
            None => Some((p, p)),
            Some((lo, hi)) => Some((lo.min(p), hi.max(p))),
        });
        PieceInfo {
            notes: piece.note_count() as u64,
            seconds: piece.duration_seconds(),
            instruments: piece.instruments.iter().map(|i| (i.program, i.is_drum)).collect(),
            pitch_range,
            music_key: music_key(piece),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_from_before_the_music_key_mean_file_bytes() {
        let old = r#"{"root":"corpora/bach","content_hash":"0123456789abcdef","pieces":{},"tokens":{}}"#;
        let s: CorpusSummary = serde_json::from_str(old).unwrap();
        assert_eq!((s.split_key, s.dedup), (SplitKey::FileBytes, false));
        let load = LoadOptions::default().as_recorded(Some(&s));
        assert_eq!((load.split_key, load.dedup), (SplitKey::FileBytes, false));
        // New summaries say which key they used, and say it back.
        let new = CorpusSummary { split_key: SplitKey::Music, dedup: true, ..s };
        let back: CorpusSummary = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back, new);
        assert_eq!(LoadOptions::default().as_recorded(None).split_key, SplitKey::Music);
    }
}
