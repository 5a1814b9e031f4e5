//! The files of a token store: `manifest.json` and the shards it lists.
//!
//! ```text
//! STORE/manifest.json      what the store was built from and with, and its finalized shards
//! STORE/shard-00000.cdzs   magic "CDZSHARD" | u32 version | u32 64 | u64 tokens N
//!                          | u64 index offset | u64 index length | zeros to byte 64
//!                          | N tokens (u16, little-endian) | zeros to a multiple of 8
//!                          | index of pieces | u32 CRC-32 of everything before it
//! ```
//!
//! The framing is [`crate::binio`]'s (magic | version | body | CRC32). The tokens start at byte
//! 64, so a page-aligned map of the file holds them as an aligned `&[u16]` (and numpy reads
//! them with `np.memmap(path, "<u2", offset=64, shape=(N,))`). The index lists, in path order,
//! each piece's path, file hash, split, token offset and length in the shard and its
//! [`PieceInfo`], then the files of the shard's range that were skipped (with the reason) or
//! left out as musical duplicates, then the range of source files (in sorted path order) the
//! shard covers.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::binio::{Format, Reader, Writer};
use crate::corpus::cache::{read_info, write_info};
use crate::corpus::{Duplicate, PieceInfo, Skipped, Split, SplitKey, SplitRatios};
use crate::error::FormatError;
use crate::tokens::{BpeSpec, TokenId, TokenizerConfig};

/// The shard format (bump the version when the layout changes).
pub const SHARD: Format = Format { name: "token store shard", magic: b"CDZSHARD", version: 1 };
/// Bytes before the first token.
pub const HEADER_BYTES: usize = 64;
/// The manifest's `format` field, and the newest version this build reads.
pub const MANIFEST_FORMAT: &str = "cadenza token store";
pub const MANIFEST_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";

/// What a store is built from and with: a resumed build must match it exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BuildKey {
    pub tokenizer: TokenizerConfig,
    pub bpe: Option<BpeSpec>,
    /// [`crate::tokens::Tokenizer::digest`].
    pub tokenizer_digest: String,
    pub split: SplitRatios,
    pub split_key: SplitKey,
    pub dedup: bool,
    /// MIDI files found in the folder, and a digest of their sorted relative paths.
    pub files: u64,
    pub files_digest: String,
    /// A digest of every file's relative path, size and modification time, so that a resumed
    /// build notices a file rewritten in place (the shards already written hold its old
    /// tokens). Stores written before it have none, and resume on the paths alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_stat_digest: Option<String>,
}

/// One finalized shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardEntry {
    /// File name inside the store folder.
    pub file: String,
    pub bytes: u64,
    pub crc32: u32,
    pub tokens: u64,
    pub pieces: u64,
    /// The source files (in sorted path order) the shard covers: `first_file..first_file + files`.
    pub first_file: u64,
    pub files: u64,
}

/// Totals, written when the build completes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub pieces: u64,
    pub tokens: u64,
    pub skipped: u64,
    pub duplicates: u64,
    /// [`crate::corpus::Pieces::content_hash`], equal to loading the folder with the same options.
    pub content_hash: String,
}

/// `manifest.json`: rewritten atomically after every finalized shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The corpus folder as it was given to `corpus build`.
    pub source: String,
    pub build: BuildKey,
    pub shards: Vec<ShardEntry>,
    /// Set only once every file has been read and the last shard finalized.
    pub complete: bool,
    pub totals: Option<Totals>,
}

impl Manifest {
    /// Source files covered by the finalized shards.
    pub fn files_done(&self) -> u64 {
        self.shards.iter().map(|s| s.files).sum()
    }
}

/// One piece of a shard's index.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub path: PathBuf,
    pub hash: [u8; 32],
    pub split: Split,
    /// Token offset and length within the shard.
    pub offset: u64,
    pub len: u64,
    pub info: PieceInfo,
}

/// A shard's contents, other than its tokens.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ShardIndex {
    pub pieces: Vec<IndexEntry>,
    pub skipped: Vec<Skipped>,
    pub duplicates: Vec<Duplicate>,
    pub first_file: u64,
    pub files: u64,
}

fn write_path(w: &mut Writer, p: &std::path::Path) {
    let s = path_bytes(p);
    w.u32(s.len() as u32);
    w.bytes(&s);
}

fn write_str(w: &mut Writer, s: &str) {
    w.u32(s.len() as u32);
    w.bytes(s.as_bytes());
}

fn read_bytes<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], FormatError> {
    let n = r.u32()? as usize;
    r.take(n)
}

#[cfg(unix)]
fn path_bytes(p: &std::path::Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &std::path::Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
fn path_from(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
fn path_from(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

fn split_code(s: Split) -> u8 {
    match s {
        Split::Train => 0,
        Split::Valid => 1,
        Split::Test => 2,
    }
}

/// The bytes of a shard holding `tokens` and `index`.
pub fn encode_shard(tokens: &[TokenId], index: &ShardIndex) -> Vec<u8> {
    let mut iw = Writer::new(&SHARD);
    iw.u64(index.pieces.len() as u64);
    for p in &index.pieces {
        write_path(&mut iw, &p.path);
        iw.bytes(&p.hash);
        iw.u8(split_code(p.split));
        iw.u64(p.offset);
        iw.u64(p.len);
        write_info(&mut iw, &p.info);
    }
    iw.u64(index.skipped.len() as u64);
    for s in &index.skipped {
        write_path(&mut iw, &s.path);
        write_str(&mut iw, &s.reason);
    }
    iw.u64(index.duplicates.len() as u64);
    for d in &index.duplicates {
        write_path(&mut iw, &d.path);
        write_path(&mut iw, &d.of);
    }
    iw.u64(index.first_file);
    iw.u64(index.files);
    // The index body, without the Writer's magic, version and CRC.
    let index_bytes = iw.finish();
    let index_body = &index_bytes[12..index_bytes.len() - 4];

    let token_end = HEADER_BYTES + tokens.len() * 2;
    let index_offset = token_end.next_multiple_of(8);
    let mut w = Writer::with_capacity(&SHARD, index_offset + index_body.len() + 4);
    w.u32(HEADER_BYTES as u32);
    w.u64(tokens.len() as u64);
    w.u64(index_offset as u64);
    w.u64(index_body.len() as u64);
    w.bytes(&[0; HEADER_BYTES - 40]);
    for &t in tokens {
        w.u16(t);
    }
    w.bytes(&vec![0; index_offset - token_end]);
    w.bytes(index_body);
    w.finish()
}

/// Check a shard's framing and checksum and read its index; returns the token count (the
/// tokens are `bytes[HEADER_BYTES..HEADER_BYTES + 2 * count]`) and the index.
pub fn decode_shard(bytes: &[u8]) -> Result<(u64, ShardIndex), FormatError> {
    decode(Reader::open(&SHARD, bytes)?)
}

/// As [`decode_shard`], for bytes whose CRC-32 the caller has checked: only the header and the
/// index are read, so the pages of a mapped shard's tokens are not touched.
pub fn decode_verified_shard(bytes: &[u8]) -> Result<(u64, ShardIndex), FormatError> {
    decode(Reader::open_verified(&SHARD, bytes)?)
}

fn decode(mut r: Reader<'_>) -> Result<(u64, ShardIndex), FormatError> {
    let header = r.u32()?;
    if header as usize != HEADER_BYTES {
        return Err(r.invalid("header length", format!("{header} is not {HEADER_BYTES}")));
    }
    let n = r.u64()?;
    let index_offset = r.u64()?;
    let index_len = r.u64()?;
    r.take(HEADER_BYTES - 40)?;
    let token_bytes = n.checked_mul(2).and_then(|b| usize::try_from(b).ok());
    let token_bytes = token_bytes.ok_or_else(|| r.invalid("token count", format!("{n} is too many")))?;
    r.take(token_bytes)?;
    let want_offset = (HEADER_BYTES + token_bytes).next_multiple_of(8) as u64;
    if index_offset != want_offset {
        return Err(r.invalid("index offset", format!("{index_offset} is not {want_offset}")));
    }
    r.take((want_offset as usize) - HEADER_BYTES - token_bytes)?;
    if index_len != r.left() as u64 {
        return Err(r.invalid("index length", format!("{index_len} is not the {} bytes left", r.left())));
    }
    let mut index = ShardIndex::default();
    let pieces = r.u64()?;
    for _ in 0..pieces {
        let path = path_from(read_bytes(&mut r)?);
        let hash: [u8; 32] = r.take(32)?.try_into().expect("32 bytes");
        let split = match r.u8()? {
            0 => Split::Train,
            1 => Split::Valid,
            2 => Split::Test,
            other => return Err(r.invalid("split", format!("{other} is not 0, 1 or 2"))),
        };
        let offset = r.u64()?;
        let len = r.u64()?;
        if offset.checked_add(len).is_none_or(|end| end > n) {
            return Err(r.invalid("piece", format!("tokens {offset}+{len} run past the shard's {n}")));
        }
        let info = read_info(&mut r)?;
        index.pieces.push(IndexEntry { path, hash, split, offset, len, info });
    }
    let skipped = r.u64()?;
    for _ in 0..skipped {
        let path = path_from(read_bytes(&mut r)?);
        let reason = String::from_utf8_lossy(read_bytes(&mut r)?).into_owned();
        index.skipped.push(Skipped { path, reason });
    }
    let duplicates = r.u64()?;
    for _ in 0..duplicates {
        let path = path_from(read_bytes(&mut r)?);
        let of = path_from(read_bytes(&mut r)?);
        index.duplicates.push(Duplicate { path, of });
    }
    index.first_file = r.u64()?;
    index.files = r.u64()?;
    r.finish()?;
    Ok((n, index))
}

/// The CRC-32 a shard ends with.
pub fn trailing_crc(bytes: &[u8]) -> Option<u32> {
    let tail = bytes.len().checked_sub(4).map(|i| &bytes[i..])?;
    Some(u32::from_le_bytes(tail.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (Vec<TokenId>, ShardIndex) {
        let info = PieceInfo {
            notes: 2,
            seconds: 1.0,
            instruments: vec![(0, false)],
            pitch_range: Some((60, 64)),
            music_key: [3; 32],
        };
        let index = ShardIndex {
            pieces: vec![
                IndexEntry {
                    path: "a/x.mid".into(),
                    hash: [1; 32],
                    split: Split::Train,
                    offset: 0,
                    len: 3,
                    info: info.clone(),
                },
                IndexEntry {
                    path: "b.mid".into(),
                    hash: [2; 32],
                    split: Split::Test,
                    offset: 3,
                    len: 2,
                    info,
                },
            ],
            skipped: vec![Skipped { path: "c.mid".into(), reason: "truncated".into() }],
            duplicates: vec![Duplicate { path: "d.mid".into(), of: "b.mid".into() }],
            first_file: 7,
            files: 4,
        };
        (vec![1, 40, 2, 1, 2], index)
    }

    #[test]
    fn shards_round_trip_with_tokens_at_byte_64() {
        let (tokens, index) = sample();
        let b = encode_shard(&tokens, &index);
        let (n, back) = decode_shard(&b).unwrap();
        assert_eq!((n, &back), (5, &index));
        let raw: Vec<u16> =
            b[HEADER_BYTES..HEADER_BYTES + 10].chunks(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(raw, tokens);
        assert_eq!(trailing_crc(&b), Some(crc32fast::hash(&b[..b.len() - 4])));
    }

    #[test]
    fn every_cut_and_many_flips_are_refused() {
        let (tokens, index) = sample();
        let b = encode_shard(&tokens, &index);
        for cut in 0..b.len() {
            assert!(decode_shard(&b[..cut]).is_err(), "cut {cut}");
        }
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x04;
            assert!(decode_shard(&c).is_err(), "flip {i}");
        }
    }
}
