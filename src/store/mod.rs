//! Token stores: a corpus tokenized once into memory-mappable shards, for corpora larger than
//! memory (`cadenza corpus build DIR --out STORE`, then `--store STORE` wherever `--corpus DIR`
//! is taken).
//!
//! - [`format`] lays out `manifest.json` and the shard files.
//! - [`build`] streams a folder into a store with bounded memory, resuming an interrupted build.
//!
//! [`TokenStore::open`] refuses, with one line naming the file and the reason, a store that is
//! incomplete or whose shards do not match the manifest (length, CRC32, counts): a store never
//! loads with missing pieces. It then maps every shard and keeps only the index of pieces in
//! memory; the tokens stay in the page cache, and [`Pieces`] hands them out as slices of the
//! maps.

pub mod build;
pub mod format;

use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::corpus::{Duplicate, PieceRef, Pieces, Skipped, SplitKey};
use crate::error::{Error, Result, StoreError};
use crate::tokens::{Bpe, TokenId, Tokenizer};

pub use build::{build, BuildOptions, Built};
pub use format::{IndexEntry, Manifest, ShardEntry, ShardIndex, Totals};

/// One piece of a store: where its tokens are.
#[derive(Debug, Clone)]
struct Located {
    shard: usize,
    entry: IndexEntry,
}

/// A complete token store, mapped.
pub struct TokenStore {
    /// The store folder.
    pub dir: PathBuf,
    /// The corpus folder it was built from, as given then.
    pub source: PathBuf,
    pub tokenizer: Tokenizer,
    pub manifest: Manifest,
    pub skipped: Vec<Skipped>,
    pub duplicates: Vec<Duplicate>,
    maps: Vec<Mmap>,
    pieces: Vec<Located>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("dir", &self.dir)
            .field("shards", &self.maps.len())
            .field("pieces", &self.pieces.len())
            .finish()
    }
}

/// An error about the store file `path`.
pub(crate) fn err(path: &Path, problem: StoreError) -> Error {
    Error::Store { path: path.to_path_buf(), problem }
}

/// Read `dir/manifest.json`, `None` if there is none.
pub fn read_manifest(dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(format::MANIFEST_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| err(&path, StoreError::Manifest(e)))?;
    if m.format != format::MANIFEST_FORMAT || m.version == 0 || m.version > format::MANIFEST_VERSION {
        let problem = StoreError::ManifestFormat {
            found: m.format,
            version: m.version,
            expected: format::MANIFEST_FORMAT,
            newest: format::MANIFEST_VERSION,
        };
        return Err(err(&path, problem));
    }
    Ok(Some(m))
}

/// A finalized shard, mapped and checked against its manifest entry.
pub(crate) struct MappedShard {
    pub map: Mmap,
    pub tokens: u64,
    pub index: ShardIndex,
}

/// Map `dir/entry.file` and check its length, CRC32, framing and counts against `entry`.
pub(crate) fn open_shard(dir: &Path, entry: &ShardEntry) -> Result<MappedShard> {
    let path = dir.join(&entry.file);
    let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let len = file.metadata().map_err(|e| Error::io(&path, e))?.len();
    if len != entry.bytes {
        return Err(err(&path, StoreError::ShardLength { found: len, expected: entry.bytes }));
    }
    // The CRC is computed with streaming reads: hashing the map instead would make every page of
    // it resident in this process (the page cache holds them either way).
    let found = trailing_crc_of(&file, len).map_err(|e| Error::io(&path, e))?;
    if found != entry.crc32 {
        return Err(err(&path, StoreError::ShardCrc { found, expected: entry.crc32 }));
    }
    let computed = crc_of(&file, len.saturating_sub(4)).map_err(|e| Error::io(&path, e))?;
    if computed != found {
        let problem = format::SHARD.error(crate::error::FormatProblem::Checksum);
        return Err(err(&path, StoreError::Shard(problem)));
    }
    // SAFETY: the store's files are written once (to a temporary name, then renamed) and never
    // modified in place; a store being rebuilt with --restart by another process is not
    // supported while it is open.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(&path, e))?;
    let (tokens, index) =
        format::decode_verified_shard(&map).map_err(|e| err(&path, StoreError::Shard(e)))?;
    // The index has been copied out: let its pages go from this process's resident set (they
    // stay in the page cache; a token page is faulted back in when a piece is read).
    #[cfg(unix)]
    // SAFETY: the map is read-only and shared, so MADV_DONTNEED discards nothing: a later read
    // of the range reads the file again.
    let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    for (what, found, expected) in [
        ("tokens", tokens, entry.tokens),
        ("pieces", index.pieces.len() as u64, entry.pieces),
        ("source files", index.files, entry.files),
        ("as its first source file", index.first_file, entry.first_file),
    ] {
        if found != expected {
            return Err(err(&path, StoreError::ShardCounts { what, found, expected }));
        }
    }
    Ok(MappedShard { map, tokens, index })
}

/// The CRC-32 of the first `len` bytes of `file`, read in 1 MiB pieces.
fn crc_of(file: &std::fs::File, len: u64) -> std::io::Result<u32> {
    use std::io::{Read, Seek};
    let mut h = crc32fast::Hasher::new();
    let mut f = file;
    f.seek(std::io::SeekFrom::Start(0))?;
    let mut r = f.take(len);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize())
}

/// The CRC-32 a file of `len` bytes ends with (0 if it is shorter than 4 bytes).
fn trailing_crc_of(file: &std::fs::File, len: u64) -> std::io::Result<u32> {
    use std::io::{Read, Seek};
    if len < 4 {
        return Ok(0);
    }
    let mut b = [0u8; 4];
    let mut f = file;
    f.seek(std::io::SeekFrom::Start(len - 4))?;
    f.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// The tokens of a mapped shard (`count` of them after the header).
fn shard_tokens(map: &Mmap, count: u64) -> &[TokenId] {
    let bytes = &map[format::HEADER_BYTES..format::HEADER_BYTES + count as usize * 2];
    // SAFETY: maps start on a page boundary and the tokens at byte 64, so the pointer is aligned
    // for u16; the length is in bounds (checked by `decode_shard`); every bit pattern is a valid
    // u16; and `open` refuses big-endian machines, so the little-endian bytes read as written.
    let (head, tokens, tail) = unsafe { bytes.align_to::<TokenId>() };
    assert!(head.is_empty() && tail.is_empty(), "shard tokens are aligned");
    tokens
}

impl TokenStore {
    /// Open the complete store in `dir`: every shard checked and mapped, the index in memory.
    pub fn open(dir: &Path) -> Result<TokenStore> {
        if cfg!(target_endian = "big") {
            return Err(err(dir, StoreError::BigEndian));
        }
        let manifest_path = dir.join(format::MANIFEST_FILE);
        let manifest = read_manifest(dir)?.ok_or_else(|| err(dir, StoreError::NoManifest))?;
        if !manifest.complete {
            let problem = StoreError::Incomplete {
                shards: manifest.shards.len(),
                files: manifest.files_done(),
                total: manifest.build.files,
            };
            return Err(err(&manifest_path, problem));
        }
        let tokenizer = tokenizer_of(&manifest).map_err(|e| match e {
            Error::Tokenizer(t) => {
                Error::Store { path: manifest_path.clone(), problem: StoreError::Tokenizer(t) }
            }
            other => other,
        })?;
        let mut maps = Vec::with_capacity(manifest.shards.len());
        let mut pieces = Vec::with_capacity(manifest.shards.iter().map(|s| s.pieces as usize).sum());
        let mut skipped = Vec::new();
        let mut duplicates = Vec::new();
        for (i, entry) in manifest.shards.iter().enumerate() {
            let shard = open_shard(dir, entry)?;
            pieces.extend(shard.index.pieces.into_iter().map(|entry| Located { shard: i, entry }));
            skipped.extend(shard.index.skipped);
            duplicates.extend(shard.index.duplicates);
            maps.push(shard.map);
        }
        if manifest.files_done() != manifest.build.files {
            let problem = StoreError::ShardCounts {
                what: "source files in all",
                found: manifest.files_done(),
                expected: manifest.build.files,
            };
            return Err(err(&manifest_path, problem));
        }
        Ok(TokenStore {
            dir: dir.to_path_buf(),
            source: PathBuf::from(&manifest.source),
            tokenizer,
            manifest,
            skipped,
            duplicates,
            maps,
            pieces,
        })
    }

    /// An error unless `tokenizer` is the store's.
    pub fn require_tokenizer(&self, tokenizer: &Tokenizer) -> Result<()> {
        if tokenizer.digest() == self.tokenizer.digest() {
            return Ok(());
        }
        let name = |t: &Tokenizer| format!("{} {}", t.scheme(), t.digest());
        let problem = StoreError::TokenizerDiffers { store: name(&self.tokenizer), asked: name(tokenizer) };
        Err(err(&self.dir, problem))
    }

    /// An error unless the store is split as `load` says the checkpoint `checkpoint` was
    /// trained ([`crate::corpus::LoadOptions::as_recorded`]).
    pub fn require_split(&self, checkpoint: &Path, load: &crate::corpus::LoadOptions) -> Result<()> {
        let b = &self.manifest.build;
        let describe = crate::corpus::describe_split;
        if (load.split_key, load.dedup) == (b.split_key, b.dedup) && load.split == b.split {
            return Ok(());
        }
        let problem = StoreError::SplitDiffers {
            checkpoint: checkpoint.to_path_buf(),
            recorded: describe(load.split_key, load.dedup),
            store: describe(b.split_key, b.dedup),
        };
        Err(err(&self.dir, problem))
    }

    /// How many pieces the store holds.
    pub fn len(&self) -> usize {
        self.pieces.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pieces.is_empty()
    }

    /// Where each piece's tokens are, in store order: its shard (an index into
    /// `manifest.shards`) and its index entry (token offset and length in that shard, split,
    /// path). What a reader that maps the shards itself (the Python package) needs.
    pub fn locations(&self) -> impl Iterator<Item = (usize, &IndexEntry)> + '_ {
        self.pieces.iter().map(|l| (l.shard, &l.entry))
    }

    /// The tokens of every shard, in shard order (each a slice of its map).
    pub fn shard_tokens(&self) -> Vec<&[TokenId]> {
        self.maps.iter().zip(&self.manifest.shards).map(|(m, e)| shard_tokens(m, e.tokens)).collect()
    }
}

/// The tokenizer a manifest records.
pub(crate) fn tokenizer_of(m: &Manifest) -> Result<Tokenizer> {
    let t = Tokenizer::new(m.build.tokenizer)?;
    match &m.build.bpe {
        None => Ok(t),
        Some(spec) => t.with_bpe(Bpe::from_spec(spec)?),
    }
}

impl Pieces for TokenStore {
    fn root(&self) -> &Path {
        &self.source
    }
    fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }
    fn split_key(&self) -> SplitKey {
        self.manifest.build.split_key
    }
    fn dedup(&self) -> bool {
        self.manifest.build.dedup
    }
    fn skipped_count(&self) -> usize {
        self.skipped.len()
    }
    fn pieces(&self) -> Box<dyn Iterator<Item = PieceRef<'_>> + '_> {
        Box::new(self.pieces.iter().map(|l| {
            let shard = shard_tokens(&self.maps[l.shard], self.manifest.shards[l.shard].tokens);
            let e = &l.entry;
            PieceRef {
                path: &e.path,
                hash: &e.hash,
                split: e.split,
                info: &e.info,
                tokens: &shard[e.offset as usize..(e.offset + e.len) as usize],
            }
        }))
    }
}
