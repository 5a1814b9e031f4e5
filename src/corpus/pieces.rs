//! The seam between the tokenized pieces and what learns from or scores them: [`Pieces`], which
//! a loaded [`Corpus`](super::Corpus) and a mapped token store (`crate::store`) both provide, so
//! training, evaluation and the corpus summary have one code path for either.

use std::collections::BTreeMap;
use std::path::Path;

use super::{CorpusSummary, PieceInfo, Split, SplitKey};
use crate::error::{CorpusError, Error, Result};
use crate::tokens::{TokenId, Tokenizer};

/// One piece, borrowed from whatever holds it (its tokens may live in a memory map).
#[derive(Debug, Clone, Copy)]
pub struct PieceRef<'a> {
    /// Path relative to the corpus root.
    pub path: &'a Path,
    /// blake3 hash of the file's bytes.
    pub hash: &'a [u8; 32],
    pub split: Split,
    pub info: &'a PieceInfo,
    /// `BOS ... EOS`.
    pub tokens: &'a [TokenId],
}

/// Tokenized pieces in path order, split into train / valid / test.
pub trait Pieces: Sync {
    /// The corpus folder the pieces were read from (as it was given).
    fn root(&self) -> &Path;
    fn tokenizer(&self) -> &Tokenizer;
    /// How the pieces were split, and whether musical duplicates were left out.
    fn split_key(&self) -> SplitKey;
    fn dedup(&self) -> bool;
    /// How many files could not be used.
    fn skipped_count(&self) -> usize;
    /// Every piece, in path order.
    fn pieces(&self) -> Box<dyn Iterator<Item = PieceRef<'_>> + '_>;

    /// The pieces of one split, in path order.
    fn of_split(&self, split: Split) -> Box<dyn Iterator<Item = PieceRef<'_>> + '_> {
        Box::new(self.pieces().filter(move |p| p.split == split))
    }

    /// The copy index ([`crate::copies`]) of the pieces of `split` as the tokenizer keeps them
    /// (decoded from their tokens: what a model trained on them saw), named by their paths.
    fn copy_index(&self, split: Split) -> crate::copies::CopyIndex {
        let mut index = crate::copies::CopyIndex::new();
        for (name, keys) in self.copy_notes(Some(split)) {
            index.add_piece(name, keys);
        }
        index
    }

    /// The notes of the copy definition ([`crate::copies::note_keys`]) of the pieces of `split`
    /// (every piece with `None`), decoded from their tokens in parallel, named by their paths,
    /// in path order.
    fn copy_notes(&self, split: Option<Split>) -> Vec<(String, Vec<crate::copies::NoteKey>)> {
        use rayon::prelude::*;
        let refs: Vec<PieceRef<'_>> = self.pieces().filter(|p| split.is_none_or(|s| p.split == s)).collect();
        refs.par_iter()
            .map(|p| {
                let piece = self.tokenizer().decode(p.tokens);
                (p.path.display().to_string(), crate::copies::note_keys(&piece))
            })
            .collect()
    }

    /// The token sequences of one split, borrowed.
    fn slices(&self, split: Split) -> Vec<&[TokenId]> {
        self.of_split(split).map(|p| p.tokens).collect()
    }

    /// As [`Pieces::slices`], an error naming the corpus unless `split` holds a piece.
    fn require_slices(&self, split: Split) -> Result<Vec<&[TokenId]>> {
        let seqs = self.slices(split);
        if seqs.is_empty() {
            let problem = CorpusError::EmptySplit {
                split: split.name(),
                pieces: self.pieces().count(),
                skipped: self.skipped_count(),
            };
            return Err(Error::Corpus { path: self.root().to_path_buf(), problem });
        }
        Ok(seqs)
    }

    /// Total duration of one split's pieces, seconds.
    fn split_seconds(&self, split: Split) -> f64 {
        self.of_split(split).map(|p| p.info.seconds).sum()
    }

    /// A digest of the pieces: their sorted content hashes, the tokenizer configuration and the
    /// split key. Equal digests mean equal token sequences in equal splits. (A corpus split by
    /// file bytes has the digest it had before the music key.)
    fn content_hash(&self) -> String {
        content_hash_of(self.pieces().map(|p| *p.hash).collect(), self.tokenizer(), self.split_key())
    }

    /// What a checkpoint records about these pieces: their folder, content hash, and pieces and
    /// tokens per split.
    fn summary(&self) -> CorpusSummary {
        let mut pieces: BTreeMap<String, usize> = Split::ALL.iter().map(|s| (s.to_string(), 0)).collect();
        let mut tokens: BTreeMap<String, u64> = Split::ALL.iter().map(|s| (s.to_string(), 0)).collect();
        for p in self.pieces() {
            *pieces.get_mut(p.split.name()).expect("every split") += 1;
            *tokens.get_mut(p.split.name()).expect("every split") += p.tokens.len() as u64;
        }
        CorpusSummary {
            root: self.root().display().to_string(),
            content_hash: self.content_hash(),
            pieces,
            tokens,
            split_key: self.split_key(),
            dedup: self.dedup(),
        }
    }
}

/// [`Pieces::content_hash`] of pieces with file hashes `hashes` (in any order).
pub fn content_hash_of(mut hashes: Vec<[u8; 32]>, tokenizer: &Tokenizer, split_key: SplitKey) -> String {
    hashes.sort();
    let mut h = blake3::Hasher::new();
    for x in &hashes {
        h.update(x);
    }
    h.update(tokenizer.config().digest().as_bytes());
    if split_key != SplitKey::FileBytes {
        h.update(b"\0split-key=");
        h.update(split_key.name().as_bytes());
    }
    h.finalize().to_hex()[..16].to_string()
}
