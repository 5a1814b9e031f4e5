//! Corpora: a folder of MIDI files, read and tokenized in parallel, split deterministically into
//! train / valid / test, and cached on disk.
//!
//! - [`files`] finds the MIDI files under a folder.
//! - [`split`] assigns each file to a split from its content alone.
//! - [`cache`] stores tokenized pieces keyed by file content and tokenizer configuration.
//! - [`stats`] summarizes a loaded corpus for `cadenza corpus stats`.

pub mod cache;
pub mod files;
pub mod split;
pub mod stats;

use std::path::{Path, PathBuf};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::progress::{report, Progress};
use rayon::prelude::*;

pub use split::{Split, SplitRatios};

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
}

/// One readable file of the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusPiece {
    /// Path relative to the corpus root.
    pub path: PathBuf,
    /// blake3 hash of the file's bytes.
    pub hash: [u8; 32],
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

/// How to load a corpus.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub split: SplitRatios,
    /// Folder for the token cache; `None` disables caching.
    pub cache_dir: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { split: SplitRatios::default(), cache_dir: default_cache_dir() }
    }
}

impl LoadOptions {
    /// The default options, without the token cache when `no_cache`.
    pub fn cached(no_cache: bool) -> Self {
        LoadOptions { cache_dir: if no_cache { None } else { default_cache_dir() }, ..LoadOptions::default() }
    }
}

/// What a checkpoint says about the corpus its model was trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorpusSummary {
    pub root: String,
    pub content_hash: String,
    pub pieces: BTreeMap<String, usize>,
    pub tokens: BTreeMap<String, u64>,
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
                    let split = opts.split.assign(&hash);
                    pieces.push(CorpusPiece { path: rel, hash, split, info, tokens });
                }
                Err(reason) => skipped.push(Skipped { path: rel, reason }),
            }
        }
        cache.save();
        pieces.sort_by(|a, b| a.path.cmp(&b.path));
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Corpus { root: root.to_path_buf(), tokenizer: tokenizer.clone(), pieces, skipped, cache_hits })
    }

    /// What a checkpoint records about this corpus: its folder, content hash, and pieces and
    /// tokens per split.
    pub fn summary(&self) -> CorpusSummary {
        let mut pieces = BTreeMap::new();
        let mut tokens = BTreeMap::new();
        for s in Split::ALL {
            pieces.insert(s.to_string(), self.split(s).count());
            tokens.insert(s.to_string(), self.split(s).map(|p| p.tokens.len() as u64).sum());
        }
        CorpusSummary {
            root: self.root.display().to_string(),
            content_hash: self.content_hash(),
            pieces,
            tokens,
        }
    }

    /// Total duration of one split's pieces, seconds.
    pub fn seconds(&self, split: Split) -> f64 {
        self.split(split).map(|p| p.info.seconds).sum()
    }

    /// The pieces of one split.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &CorpusPiece> {
        self.pieces.iter().filter(move |p| p.split == split)
    }

    /// Copies of the token sequences of one split.
    pub fn sequences(&self, split: Split) -> Vec<Vec<TokenId>> {
        self.split(split).map(|p| p.tokens.clone()).collect()
    }

    /// A digest of the corpus: the sorted content hashes of its readable pieces plus the
    /// tokenizer configuration. Equal digests mean equal token sequences.
    pub fn content_hash(&self) -> String {
        let mut hashes: Vec<&[u8; 32]> = self.pieces.iter().map(|p| &p.hash).collect();
        hashes.sort();
        let mut h = blake3::Hasher::new();
        for x in hashes {
            h.update(x);
        }
        h.update(self.tokenizer.config().digest().as_bytes());
        h.finalize().to_hex()[..16].to_string()
    }

    /// Error unless `split` holds at least one piece.
    pub fn require(&self, split: Split) -> Result<Vec<Vec<TokenId>>> {
        let seqs = self.sequences(split);
        if seqs.is_empty() {
            let problem = CorpusError::EmptySplit {
                split: split.name(),
                pieces: self.pieces.len(),
                skipped: self.skipped.len(),
            };
            return Err(Error::Corpus { path: self.root.clone(), problem });
        }
        Ok(seqs)
    }
}

fn read_limited(path: &Path) -> std::result::Result<Vec<u8>, String> {
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
    let tokens = tokenizer.encode(&piece);
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
        }
    }
}
