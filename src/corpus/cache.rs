//! On-disk cache of tokenized corpus files, so a second run over an unchanged folder does not
//! parse anything.
//!
//! One file per (corpus folder, tokenizer configuration, cadenza version); entries are keyed by
//! the blake3 hash of each MIDI file's bytes, so edited files are re-read and renamed files are
//! not. The file carries a magic, a version and a CRC32; anything unexpected makes the cache
//! start empty (it is only a cache). Saved atomically, holding only the entries of the last load.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{Entry, PieceInfo};
use crate::binio::{Format, Reader, Writer};
use crate::error::FormatError;
use crate::tokens::TokenId;

/// Bump the version when the reader or the encoder changes what they produce.
const FORMAT: Format = Format { name: "token cache", magic: b"CDZTOKC\0", version: 2 };

/// Tokenized entries by file-content hash.
#[derive(Debug)]
pub struct TokenCache {
    path: Option<PathBuf>,
    entries: HashMap<[u8; 32], Entry>,
    used: HashSet<[u8; 32]>,
    dirty: bool,
}

impl TokenCache {
    /// A cache that remembers nothing.
    pub fn disabled() -> Self {
        TokenCache { path: None, entries: HashMap::new(), used: HashSet::new(), dirty: false }
    }

    /// Open (or start) the cache of corpus `root` under the tokenizer of digest
    /// `tokenizer_digest` ([`crate::tokens::Tokenizer::digest`]) in folder `dir`.
    pub fn open(dir: &Path, root: &Path, tokenizer_digest: &str) -> Self {
        let abs = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let key = blake3::hash(
            format!(
                "{}\0{}\0{}\0{}",
                abs.display(),
                tokenizer_digest,
                env!("CARGO_PKG_VERSION"),
                FORMAT.version
            )
            .as_bytes(),
        );
        let path = dir.join(format!("{}.bin", &key.to_hex()[..24]));
        let entries = std::fs::read(&path).ok().and_then(|b| decode(&b).ok()).unwrap_or_default();
        TokenCache { path: Some(path), entries, used: HashSet::new(), dirty: false }
    }

    /// Where this cache lives, if enabled.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Whether an entry for `hash` is stored.
    pub fn contains(&self, hash: &[u8; 32]) -> bool {
        self.path.is_some() && self.entries.contains_key(hash)
    }

    /// The entry for `hash`, marking it as used.
    pub fn get(&mut self, hash: &[u8; 32]) -> Option<&Entry> {
        self.used.insert(*hash);
        self.entries.get(hash)
    }

    /// Store a freshly read entry.
    pub fn insert(&mut self, hash: [u8; 32], entry: Entry) {
        if self.path.is_some() {
            self.used.insert(hash);
            self.entries.insert(hash, entry);
            self.dirty = true;
        }
    }

    /// Write the used entries back if anything changed. Failures are ignored: the cache is an
    /// optimisation, never a reason to fail a load.
    pub fn save(&mut self) {
        let Some(path) = &self.path else { return };
        if !self.dirty && self.used.len() == self.entries.len() {
            return;
        }
        self.entries.retain(|h, _| self.used.contains(h));
        let _ = crate::atomic::write(path, &encode(&self.entries));
        self.dirty = false;
    }
}

fn encode(entries: &HashMap<[u8; 32], Entry>) -> Vec<u8> {
    let mut keys: Vec<_> = entries.keys().collect();
    keys.sort();
    let mut w = Writer::new(&FORMAT);
    w.u64(keys.len() as u64);
    for k in keys {
        w.bytes(k);
        match &entries[k] {
            Ok((info, tokens)) => {
                w.u8(0);
                write_info(&mut w, info);
                w.u32(tokens.len() as u32);
                for &t in tokens {
                    w.u16(t);
                }
            }
            Err(reason) => {
                w.u8(1);
                w.u32(reason.len() as u32);
                w.bytes(reason.as_bytes());
            }
        }
    }
    w.finish()
}

/// Write `info` (the token store's index shares this layout).
pub(crate) fn write_info(w: &mut Writer, info: &PieceInfo) {
    w.u64(info.notes);
    w.f64(info.seconds);
    w.u32(info.instruments.len() as u32);
    for &(p, d) in &info.instruments {
        w.u8(p);
        w.u8(d as u8);
    }
    let (has, lo, hi) = info.pitch_range.map_or((0, 0, 0), |(lo, hi)| (1, lo, hi));
    w.bytes(&[has, lo, hi]);
    w.bytes(&info.music_key);
}

/// Read what [`write_info`] wrote.
pub(crate) fn read_info(r: &mut Reader<'_>) -> Result<PieceInfo, FormatError> {
    let notes = r.u64()?;
    let seconds = r.f64()?;
    let ni = r.u32()? as usize;
    let raw = r.take(ni.saturating_mul(2))?;
    let instruments = raw.chunks_exact(2).map(|c| (c[0], c[1] != 0)).collect();
    let (has, lo, hi) = (r.u8()?, r.u8()?, r.u8()?);
    let music_key: [u8; 32] = r.take(32)?.try_into().expect("32 bytes");
    Ok(PieceInfo { notes, seconds, instruments, pitch_range: (has == 1).then_some((lo, hi)), music_key })
}

fn decode(bytes: &[u8]) -> Result<HashMap<[u8; 32], Entry>, FormatError> {
    let mut r = Reader::open(&FORMAT, bytes)?;
    if r.version() != FORMAT.version {
        return Err(r.invalid("version", format!("{} is not {}", r.version(), FORMAT.version)));
    }
    let n = r.u64()?;
    let mut out = HashMap::new();
    for _ in 0..n {
        let key: [u8; 32] = r.take(32)?.try_into().expect("32 bytes");
        let entry = match r.u8()? {
            0 => {
                let info = read_info(&mut r)?;
                let nt = r.u32()? as usize;
                let raw = r.take(nt.saturating_mul(2))?;
                let tokens: Vec<TokenId> =
                    raw.chunks_exact(2).map(|c| TokenId::from_le_bytes([c[0], c[1]])).collect();
                Ok((info, tokens))
            }
            1 => {
                let len = r.u32()? as usize;
                Err(String::from_utf8_lossy(r.take(len)?).into_owned())
            }
            other => return Err(r.invalid("entry tag", format!("{other} is neither 0 nor 1"))),
        };
        out.insert(key, entry);
    }
    r.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::TokenizerConfig;

    fn sample() -> HashMap<[u8; 32], Entry> {
        let mut m = HashMap::new();
        let info = PieceInfo {
            notes: 3,
            seconds: 1.5,
            instruments: vec![(0, false), (0, true)],
            pitch_range: Some((60, 72)),
            music_key: [9; 32],
        };
        m.insert([1; 32], Ok((info, vec![1, 40, 7, 2])));
        m.insert([2; 32], Err("truncated track".to_string()));
        m
    }

    #[test]
    fn encode_decode_round_trip() {
        let m = sample();
        assert_eq!(decode(&encode(&m)).unwrap(), m);
    }

    #[test]
    fn any_damage_empties_the_cache() {
        let bytes = encode(&sample());
        for cut in [0, 3, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(decode(&bytes[..cut]).is_err(), "cut {cut}");
        }
        for i in (0..bytes.len()).step_by(7) {
            let mut b = bytes.clone();
            b[i] ^= 0x10;
            assert!(decode(&b).is_err(), "flip {i}");
        }
    }

    #[test]
    fn persists_used_entries_between_opens() {
        let d = tempfile::tempdir().unwrap();
        let cfg = TokenizerConfig::default();
        let mut c = TokenCache::open(d.path(), Path::new("/corpus"), &cfg.digest());
        for (k, v) in sample() {
            c.insert(k, v);
        }
        c.save();
        let mut c2 = TokenCache::open(d.path(), Path::new("/corpus"), &cfg.digest());
        assert!(c2.contains(&[1; 32]) && c2.contains(&[2; 32]));
        // Only [1] is used this time: [2] is dropped on save.
        assert!(c2.get(&[1; 32]).is_some());
        c2.save();
        let c3 = TokenCache::open(d.path(), Path::new("/corpus"), &cfg.digest());
        assert!(c3.contains(&[1; 32]) && !c3.contains(&[2; 32]));
        // Another configuration is another cache.
        let other = TokenizerConfig { velocity_bins: 8, ..cfg };
        assert!(!TokenCache::open(d.path(), Path::new("/corpus"), &other.digest()).contains(&[1; 32]));
    }
}
