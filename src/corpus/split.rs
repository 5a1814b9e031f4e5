//! Deterministic train / valid / test assignment from a piece's content alone, so the split of a
//! piece never changes when other files are added, removed or renamed.
//!
//! What is hashed is the [`SplitKey`]: by default the piece's music
//! ([`super::music_key`]), so copies of one piece that differ in their bytes (another tempo,
//! other track names, an extra chunk) still land in one split; checkpoints made before that
//! record no key and were split by file bytes ([`SplitKey::FileBytes`]), which `eval` and
//! `compare` keep using for them.

use serde::{Deserialize, Serialize};

/// A part of the corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    /// Lower-case name, as on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }
}

impl std::str::FromStr for Split {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        Split::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| crate::Error::setting("split", format!("`{s}`"), "train, valid or test"))
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the split of a piece is computed from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SplitKey {
    /// The hash of the piece's quantized notes ([`super::music_key`]): files with the same
    /// music share a split.
    #[default]
    Music,
    /// The blake3 hash of the file's bytes: how cadenza split corpora before the music key
    /// (checkpoints whose corpus summary names no key). Byte-different copies of one piece can
    /// land in train and test.
    FileBytes,
}

impl SplitKey {
    /// The key of checkpoints that record none (made before [`SplitKey::Music`] existed).
    pub fn legacy() -> SplitKey {
        SplitKey::FileBytes
    }

    /// As on the command line: `music` or `file-bytes`.
    pub fn name(self) -> &'static str {
        match self {
            SplitKey::Music => "music",
            SplitKey::FileBytes => "file-bytes",
        }
    }
}

/// How a corpus was split, for messages: `by music`, `by file-bytes with --dedup`.
pub fn describe_split(key: SplitKey, dedup: bool) -> String {
    format!("by {}{}", key.name(), if dedup { " with --dedup" } else { "" })
}

impl std::str::FromStr for SplitKey {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        [SplitKey::Music, SplitKey::FileBytes]
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| crate::Error::setting("split key", format!("`{s}`"), "music or file-bytes"))
    }
}

impl std::fmt::Display for SplitKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Shares of the corpus for valid and test (the rest is train). Default 80/10/10.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitRatios {
    pub valid: f64,
    pub test: f64,
}

impl Default for SplitRatios {
    fn default() -> Self {
        SplitRatios { valid: 0.1, test: 0.1 }
    }
}

impl SplitRatios {
    /// The split of a piece whose key hash ([`SplitKey`]) is `hash`: the hash's first 8 bytes read as a
    /// number in [0, 1) fall into test, then valid, then train.
    pub fn assign(&self, hash: &[u8; 32]) -> Split {
        let mut b = [0u8; 8];
        b.copy_from_slice(&hash[..8]);
        let u = (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
        if u < self.test {
            Split::Test
        } else if u < self.test + self.valid {
            Split::Valid
        } else {
            Split::Train
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_match_the_ratios_on_many_files() {
        let r = SplitRatios::default();
        let mut n = [0usize; 3];
        for i in 0..20_000u32 {
            let h = blake3::hash(&i.to_le_bytes());
            n[r.assign(h.as_bytes()) as usize] += 1;
        }
        let f = |k: usize| n[k] as f64 / 20_000.0;
        assert!(
            (f(0) - 0.8).abs() < 0.015 && (f(1) - 0.1).abs() < 0.01 && (f(2) - 0.1).abs() < 0.01,
            "{n:?}"
        );
    }

    #[test]
    fn split_keys_parse_and_print() {
        for k in [SplitKey::Music, SplitKey::FileBytes] {
            assert_eq!(k.name().parse::<SplitKey>().unwrap(), k);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{}\"", k.name()));
        }
        assert!("bytes".parse::<SplitKey>().is_err());
    }

    #[test]
    fn depends_only_on_content() {
        let r = SplitRatios::default();
        let h = blake3::hash(b"some midi bytes");
        assert_eq!(r.assign(h.as_bytes()), r.assign(blake3::hash(b"some midi bytes").as_bytes()));
    }
}
