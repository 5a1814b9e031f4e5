//! `cadenza corpus build`: stream a corpus folder into a token store with bounded memory.
//!
//! Files are read in sorted path order, a chunk at a time (each chunk in parallel with rayon),
//! and their tokens appended to the shard being filled; when the next piece would take it past
//! [`BuildOptions::shard_tokens`] the shard is written (to a temporary name, then renamed) and
//! the manifest rewritten atomically to list it, and its tokens are dropped. The only state kept
//! for the whole corpus is one path per file and, with `--dedup`, the music key of each kept
//! piece. A build that stops (killed, power cut) leaves a manifest that lists only finalized
//! shards and says `complete: false`; the same command resumes after the last of them, and the
//! result equals an uninterrupted build byte for byte (shard boundaries depend only on the
//! pieces). Other options than the store was started with are refused unless `restart`, and so
//! is a folder whose files changed: another list of paths, or a file whose size or modification
//! time differs (a file rewritten in place after the interruption would otherwise keep its old
//! tokens in the finalized shards).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::format::{self, BuildKey, IndexEntry, Manifest, ShardEntry, ShardIndex, Totals};
use super::{err, open_shard, read_manifest};
use crate::corpus::{self, files, Duplicate, LoadOptions, MusicKey, Skipped, SplitKey, SplitRatios};
use crate::error::{CorpusError, Error, Result, StoreError};
use crate::progress::{report, Progress};
use crate::tokens::{TokenId, Tokenizer};

/// How to build a store.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub split: SplitRatios,
    pub split_key: SplitKey,
    pub dedup: bool,
    /// Start again from nothing even if `out` holds a store (of any options).
    pub restart: bool,
    /// A shard is finalized before the piece that would take it past this many tokens (a single
    /// longer piece gets a shard of its own).
    pub shard_tokens: u64,
    /// Files read in parallel at a time.
    pub chunk_files: usize,
}

/// 32M tokens: 64 MB a shard.
pub const DEFAULT_SHARD_TOKENS: u64 = 32 << 20;
pub const DEFAULT_CHUNK_FILES: usize = 512;

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            split: SplitRatios::default(),
            split_key: SplitKey::default(),
            dedup: false,
            restart: false,
            shard_tokens: DEFAULT_SHARD_TOKENS,
            chunk_files: DEFAULT_CHUNK_FILES,
        }
    }
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct Built {
    pub manifest: Manifest,
    /// Finalized shards and source files found from an earlier, interrupted build.
    pub resumed_shards: usize,
    pub resumed_files: u64,
    /// The store was already complete with these options: nothing was read.
    pub already_complete: bool,
}

/// `shard-00042.cdzs`.
fn shard_name(i: usize) -> String {
    format!("shard-{i:05}.cdzs")
}

fn is_store_file(name: &str) -> bool {
    name == format::MANIFEST_FILE
        || (name.starts_with("shard-") && name.ends_with(".cdzs"))
        || (name.starts_with(".cadenza-") && name.ends_with(".tmp"))
}

/// The first setting in which `a` and `b` differ.
fn difference(a: &BuildKey, b: &BuildKey) -> Option<&'static str> {
    if a.tokenizer != b.tokenizer || a.bpe != b.bpe || a.tokenizer_digest != b.tokenizer_digest {
        Some("tokenizer")
    } else if a.split != b.split {
        Some("split ratios")
    } else if a.split_key != b.split_key {
        Some("split key")
    } else if a.dedup != b.dedup {
        Some("--dedup")
    } else if a.files != b.files || a.files_digest != b.files_digest {
        Some("the folder's MIDI files changed")
    } else if a.files_stat_digest.is_some()
        && b.files_stat_digest.is_some()
        && a.files_stat_digest != b.files_stat_digest
    {
        Some("a MIDI file of the folder was modified (size or modification time)")
    } else {
        None
    }
}

/// A file's size and modification time (nanoseconds since the epoch; 0 where the file system
/// keeps none), as 16 bytes.
fn file_stamp(path: &Path) -> Result<[u8; 16]> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64);
    let mut stamp = [0; 16];
    stamp[..8].copy_from_slice(&meta.len().to_le_bytes());
    stamp[8..].copy_from_slice(&modified.to_le_bytes());
    Ok(stamp)
}

/// Remove the store files (manifest first, so a half-removed store reads as none) of `out`.
fn clear(out: &Path) -> Result<()> {
    let manifest = out.join(format::MANIFEST_FILE);
    if manifest.exists() {
        std::fs::remove_file(&manifest).map_err(|e| Error::io(&manifest, e))?;
    }
    remove_files(out, |_| true)
}

/// Remove the shard and temporary files of `out` for which `drop` holds.
fn remove_files(out: &Path, drop: impl Fn(&str) -> bool) -> Result<()> {
    for entry in std::fs::read_dir(out).map_err(|e| Error::io(out, e))? {
        let entry = entry.map_err(|e| Error::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != format::MANIFEST_FILE && is_store_file(&name) && drop(&name) {
            std::fs::remove_file(entry.path()).map_err(|e| Error::io(&entry.path(), e))?;
        }
    }
    Ok(())
}

/// The state a build carries from shard to shard.
struct Builder<'a> {
    out: &'a Path,
    opts: &'a BuildOptions,
    load: LoadOptions,
    manifest: Manifest,
    /// With `--dedup`: the first path of each music key kept so far.
    seen: HashMap<MusicKey, PathBuf>,
    tokens: Vec<TokenId>,
    index: ShardIndex,
}

impl Builder<'_> {
    fn write_manifest(&self) -> Result<()> {
        let json = serde_json::to_vec_pretty(&self.manifest)
            .map_err(|source| Error::Json { what: "token store manifest", source })?;
        crate::atomic::write(&self.out.join(format::MANIFEST_FILE), &json)
    }

    /// Write the shard being filled, list it in the manifest, and start the next at `next_file`.
    fn finalize(&mut self, next_file: u64) -> Result<()> {
        self.index.files = next_file - self.index.first_file;
        let name = shard_name(self.manifest.shards.len());
        let bytes = format::encode_shard(&self.tokens, &self.index);
        crate::atomic::write(&self.out.join(&name), &bytes)?;
        self.manifest.shards.push(ShardEntry {
            file: name,
            bytes: bytes.len() as u64,
            crc32: format::trailing_crc(&bytes).expect("a shard ends with its CRC"),
            tokens: self.tokens.len() as u64,
            pieces: self.index.pieces.len() as u64,
            first_file: self.index.first_file,
            files: self.index.files,
        });
        self.write_manifest()?;
        self.tokens = shard_buffer(self.opts);
        self.index = ShardIndex { first_file: next_file, ..ShardIndex::default() };
        Ok(())
    }

    /// Add file number `i` (relative path `rel`, byte hash `hash`) as read.
    fn add(&mut self, i: u64, rel: PathBuf, hash: [u8; 32], entry: corpus::Entry) -> Result<()> {
        let (info, tokens) = match entry {
            Ok(x) => x,
            Err(reason) => {
                self.index.skipped.push(Skipped { path: rel, reason });
                return Ok(());
            }
        };
        if self.opts.dedup {
            if let Some(of) = self.seen.get(&info.music_key) {
                self.index.duplicates.push(Duplicate { path: rel, of: of.clone() });
                return Ok(());
            }
            self.seen.insert(info.music_key, rel.clone());
        }
        if !self.tokens.is_empty() && (self.tokens.len() + tokens.len()) as u64 > self.opts.shard_tokens {
            self.finalize(i)?;
        }
        let split = corpus::split_of(&self.load, &info, &hash);
        let offset = self.tokens.len() as u64;
        self.tokens.extend_from_slice(&tokens);
        self.index.pieces.push(IndexEntry { path: rel, hash, split, offset, len: tokens.len() as u64, info });
        Ok(())
    }
}

/// The token buffer of a new shard, with room for a full shard: growing it by doubling would
/// hold the old and the new buffer at once, half again the shard's size (pages of the room not
/// yet filled are not resident).
fn shard_buffer(opts: &BuildOptions) -> Vec<TokenId> {
    Vec::with_capacity(opts.shard_tokens.min(DEFAULT_SHARD_TOKENS * 4) as usize + 1)
}

/// Build (or finish building) the token store `out` from the MIDI files under `root`.
pub fn build(
    root: &Path,
    tokenizer: &Tokenizer,
    out: &Path,
    opts: &BuildOptions,
    progress: Option<&dyn Progress>,
) -> Result<Built> {
    if cfg!(target_endian = "big") {
        return Err(err(out, StoreError::BigEndian));
    }
    let paths = files::midi_files(root)?;
    if paths.is_empty() {
        return Err(Error::Corpus { path: root.to_path_buf(), problem: CorpusError::NoMidiFiles });
    }
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).to_path_buf();
    let mut digest = blake3::Hasher::new();
    let mut stat_digest = blake3::Hasher::new();
    for p in &paths {
        digest.update(rel(p).to_string_lossy().as_bytes());
        digest.update(b"\0");
        stat_digest.update(rel(p).to_string_lossy().as_bytes());
        stat_digest.update(b"\0");
        stat_digest.update(&file_stamp(p)?);
    }
    let key = BuildKey {
        tokenizer: *tokenizer.config(),
        bpe: tokenizer.bpe().map(|b| b.spec()),
        tokenizer_digest: tokenizer.digest(),
        split: opts.split,
        split_key: opts.split_key,
        dedup: opts.dedup,
        files: paths.len() as u64,
        files_digest: digest.finalize().to_hex()[..32].to_string(),
        files_stat_digest: Some(stat_digest.finalize().to_hex()[..32].to_string()),
    };

    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let existing = read_manifest(out)?;
    if existing.is_none() {
        let mut entries = std::fs::read_dir(out).map_err(|e| Error::io(out, e))?;
        let foreign = entries.any(|e| e.is_ok_and(|e| !is_store_file(&e.file_name().to_string_lossy())));
        if foreign {
            return Err(err(out, StoreError::NotAStore));
        }
    }
    let mut manifest = match existing {
        Some(m) if opts.restart => {
            let _ = m;
            clear(out)?;
            None
        }
        Some(m) => {
            if let Some(what) = difference(&m.build, &key) {
                return Err(err(&out.join(format::MANIFEST_FILE), StoreError::OptionsDiffer { what }));
            }
            Some(m)
        }
        None => {
            clear(out)?;
            None
        }
    }
    .unwrap_or_else(|| Manifest {
        format: format::MANIFEST_FORMAT.into(),
        version: format::MANIFEST_VERSION,
        source: root.display().to_string(),
        build: key,
        shards: Vec::new(),
        complete: false,
        totals: None,
    });
    if manifest.complete {
        let shards = manifest.shards.len();
        let files = manifest.files_done();
        return Ok(Built { manifest, resumed_shards: shards, resumed_files: files, already_complete: true });
    }
    // Resuming: shards past the manifest's were never listed (the build stopped between writing
    // one and the manifest); the listed ones must still be intact, and give the keys seen.
    manifest.source = root.display().to_string();
    let listed: std::collections::HashSet<String> = manifest.shards.iter().map(|s| s.file.clone()).collect();
    remove_files(out, |name| !listed.contains(name))?;
    let mut seen = HashMap::new();
    for entry in &manifest.shards {
        let shard = open_shard(out, entry)?;
        if opts.dedup {
            for p in shard.index.pieces {
                seen.insert(p.info.music_key, p.path);
            }
        }
    }
    let resumed_shards = manifest.shards.len();
    let start = manifest.files_done();
    let load =
        LoadOptions { split: opts.split, split_key: opts.split_key, dedup: opts.dedup, cache_dir: None };
    let mut b = Builder {
        out,
        opts,
        load,
        manifest,
        seen,
        tokens: shard_buffer(opts),
        index: ShardIndex { first_file: start, ..ShardIndex::default() },
    };
    b.write_manifest()?;

    let total = paths.len() as u64;
    let read_opts = tokenizer.read_options();
    report(progress, start, total, "tokenizing");
    let chunk = opts.chunk_files.max(1);
    let mut i = start;
    for files in paths[start as usize..].chunks(chunk) {
        let read: Vec<(PathBuf, [u8; 32], corpus::Entry)> = files
            .par_iter()
            .map(|path| match corpus::read_limited(path) {
                Ok(bytes) => {
                    let hash = *blake3::hash(&bytes).as_bytes();
                    (rel(path), hash, corpus::read_piece(&bytes, path, &read_opts, tokenizer))
                }
                Err(reason) => (rel(path), [0; 32], Err(reason)),
            })
            .collect();
        for (rel, hash, entry) in read {
            b.add(i, rel, hash, entry)?;
            i += 1;
        }
        report(progress, i, total, "tokenizing");
    }
    if i > b.index.first_file {
        b.finalize(i)?;
    }

    // Complete: totals from the shards (each checked once more as it is read back).
    let mut totals = Totals::default();
    let mut hashes: Vec<[u8; 32]> = Vec::new();
    for entry in &b.manifest.shards {
        let shard = open_shard(out, entry)?;
        totals.pieces += shard.index.pieces.len() as u64;
        totals.tokens += shard.tokens;
        totals.skipped += shard.index.skipped.len() as u64;
        totals.duplicates += shard.index.duplicates.len() as u64;
        hashes.extend(shard.index.pieces.iter().map(|p| p.hash));
    }
    totals.content_hash = crate::corpus::pieces::content_hash_of(hashes, tokenizer, opts.split_key);
    b.manifest.totals = Some(totals);
    b.manifest.complete = true;
    b.write_manifest()?;
    Ok(Built { manifest: b.manifest, resumed_shards, resumed_files: start, already_complete: false })
}
