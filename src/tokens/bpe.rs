//! Byte-pair encoding over a scheme's tokens (Fradet et al., 2023): frequent adjacent pairs
//! become one token, so sequences get shorter and a token carries more music.
//!
//! **Learning** ([`Bpe::learn`]) starts from the base tokenizer's sequences (a corpus's
//! training split) and repeatedly merges the most frequent adjacent pair (ties: the smallest
//! pair of ids) into a new token, until the vocabulary has the size asked for or no pair occurs
//! twice. PAD, BOS, EOS and control tokens are never merged. Merge `i` makes token `base_len + i`.
//!
//! **Encoding** ([`Bpe::encode`]) applies the merges in the order they were learned (each to
//! every non-overlapping occurrence, left to right); **decoding** ([`Bpe::expand`]) replaces
//! every merged token by the base tokens it stands for, so `expand(encode(t)) == t` for every
//! base sequence `t`: BPE loses nothing. Ids past the vocabulary are kept as they are (the
//! base decoder drops them).
//!
//! **Files** are JSON: `{"format": "cadenza-bpe", "version": 1, "tokenizer": {...},
//! "merges": [[a, b], ...]}`, the tokenizer being the base configuration; checkpoints carry the
//! same object in their header.

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{TokenId, Tokenizer, TokenizerConfig, BOS, EOS, PAD};
use crate::error::{BpeFileError, Error, Result, TokenizerError};

const FORMAT: &str = "cadenza-bpe";
const VERSION: u32 = 1;

/// Learned merges over one base tokenizer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bpe {
    base: TokenizerConfig,
    base_len: usize,
    merges: Vec<[TokenId; 2]>,
    /// Base tokens of every merged token (index `id - base_len`).
    expansions: Vec<Vec<TokenId>>,
    /// `(a, b)` → (rank, merged id).
    ranks: HashMap<(TokenId, TokenId), (usize, TokenId)>,
}

/// The serialized form (files and checkpoint headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BpeSpec {
    pub format: String,
    pub version: u32,
    /// The base tokenizer the merges were learned on.
    pub tokenizer: TokenizerConfig,
    pub merges: Vec<[TokenId; 2]>,
}

impl Bpe {
    /// Merges `merges` over the base tokenizer `base`, checked: each pair names tokens that
    /// exist when it is made, never PAD/BOS/EOS, and the vocabulary fits token ids.
    pub fn new(base: TokenizerConfig, merges: Vec<[TokenId; 2]>) -> Result<Bpe> {
        let base_vocab = *Tokenizer::new(base)?.vocab();
        let base_len = base_vocab.len();
        if base_len + merges.len() > usize::from(TokenId::MAX) {
            return Err(TokenizerError::TooManyMerges {
                merges: merges.len(),
                base: base_len,
                max: TokenId::MAX.into(),
            }
            .into());
        }
        let mut expansions: Vec<Vec<TokenId>> = Vec::with_capacity(merges.len());
        let mut ranks = HashMap::with_capacity(merges.len());
        for (i, &[a, b]) in merges.iter().enumerate() {
            let known = base_len + i;
            for t in [a, b] {
                let control = super::controls::control_of(&base_vocab, t).is_some();
                if usize::from(t) >= known || [PAD, BOS, EOS].contains(&t) || control {
                    return Err(TokenizerError::Unmergeable { merge: i, token: t }.into());
                }
            }
            let id = known as TokenId;
            let mut e = Vec::new();
            for t in [a, b] {
                match usize::from(t).checked_sub(base_len) {
                    Some(k) => e.extend_from_slice(&expansions[k]),
                    None => e.push(t),
                }
            }
            expansions.push(e);
            if ranks.insert((a, b), (i, id)).is_some() {
                return Err(TokenizerError::RepeatedMerge { merge: i, a, b }.into());
            }
        }
        Ok(Bpe { base, base_len, merges, expansions, ranks })
    }

    /// Learn merges on `sequences` of `base`'s tokens until the vocabulary has `vocab_size`
    /// tokens (or no adjacent pair occurs twice). `progress` is told each merge's number.
    pub fn learn(
        base: &Tokenizer,
        sequences: &[Vec<TokenId>],
        vocab_size: usize,
        mut progress: impl FnMut(usize),
    ) -> Result<Bpe> {
        let base_len = base.vocab().len();
        if vocab_size <= base_len || vocab_size > usize::from(TokenId::MAX) {
            return Err(TokenizerError::BpeVocab {
                asked: vocab_size,
                base: base_len,
                max: TokenId::MAX.into(),
            }
            .into());
        }
        let mut seqs: Vec<Vec<TokenId>> = sequences.to_vec();
        let mut merges: Vec<[TokenId; 2]> = Vec::new();
        // Control tokens stay single tokens: the guard, the conditions and the prefix read them.
        let vocab = base.vocab();
        let special =
            |t: TokenId| t == PAD || t == BOS || t == EOS || super::controls::control_of(vocab, t).is_some();
        while base_len + merges.len() < vocab_size {
            let mut counts: HashMap<(TokenId, TokenId), u64> = HashMap::new();
            for s in &seqs {
                for w in s.windows(2) {
                    if !special(w[0]) && !special(w[1]) {
                        *counts.entry((w[0], w[1])).or_insert(0) += 1;
                    }
                }
            }
            let Some((&pair, &count)) = counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) else {
                break;
            };
            if count < 2 {
                break;
            }
            let id = (base_len + merges.len()) as TokenId;
            for s in &mut seqs {
                replace_pair(s, pair, id);
            }
            merges.push([pair.0, pair.1]);
            progress(merges.len());
        }
        Bpe::new(*base.config(), merges)
    }

    /// The base tokenizer configuration.
    pub fn base(&self) -> &TokenizerConfig {
        &self.base
    }

    /// Size of the base vocabulary.
    pub fn base_len(&self) -> usize {
        self.base_len
    }

    /// Size of the whole vocabulary: base tokens and merged ones.
    pub fn len(&self) -> usize {
        self.base_len + self.merges.len()
    }

    /// Whether there are no merges.
    pub fn is_empty(&self) -> bool {
        self.merges.is_empty()
    }

    /// The merges, in the order learned.
    pub fn merges(&self) -> &[[TokenId; 2]] {
        &self.merges
    }

    /// The base tokens `token` stands for (`None` for a base token or an unknown id).
    pub fn expansion(&self, token: TokenId) -> Option<&[TokenId]> {
        usize::from(token).checked_sub(self.base_len).and_then(|k| self.expansions.get(k)).map(Vec::as_slice)
    }

    /// `tokens` (base tokens) with the merges applied.
    pub fn encode(&self, tokens: &[TokenId]) -> Vec<TokenId> {
        let mut out = tokens.to_vec();
        // Applying the lowest-ranked pair present, repeatedly, is applying the merges in order:
        // a merge only creates pairs with its new token, whose merges come later.
        loop {
            let best = out.windows(2).filter_map(|w| self.ranks.get(&(w[0], w[1]))).min_by_key(|r| r.0);
            let Some(&(rank, id)) = best else { break };
            let [a, b] = self.merges[rank];
            replace_pair(&mut out, (a, b), id);
        }
        out
    }

    /// `tokens` with every merged token replaced by its base tokens.
    pub fn expand(&self, tokens: &[TokenId]) -> Vec<TokenId> {
        let mut out = Vec::with_capacity(tokens.len() * 2);
        for &t in tokens {
            match self.expansion(t) {
                Some(e) => out.extend_from_slice(e),
                None => out.push(t),
            }
        }
        out
    }

    /// The serialized form.
    pub fn spec(&self) -> BpeSpec {
        BpeSpec { format: FORMAT.into(), version: VERSION, tokenizer: self.base, merges: self.merges.clone() }
    }

    /// Merges from their serialized form (checked as [`Bpe::new`] does).
    pub fn from_spec(spec: &BpeSpec) -> Result<Bpe> {
        if spec.format != FORMAT || spec.version != VERSION {
            return Err(TokenizerError::BpeFormat {
                format: spec.format.clone(),
                version: spec.version,
                expected_format: FORMAT,
                expected_version: VERSION,
            }
            .into());
        }
        Bpe::new(spec.tokenizer, spec.merges.clone())
    }

    /// Read merges from a BPE file (one error naming the file on failure).
    pub fn load(path: &Path) -> Result<Bpe> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |problem| Error::BpeFile { path: path.to_path_buf(), problem };
        let spec: BpeSpec = serde_json::from_slice(&bytes).map_err(|e| bad(BpeFileError::Json(e)))?;
        Bpe::from_spec(&spec).map_err(|e| match e {
            Error::Tokenizer(t) => bad(BpeFileError::Merges(t)),
            other => other,
        })
    }

    /// Write the merges to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(&self.spec()).expect("a BPE spec serializes");
        crate::atomic::write(path, &json)
    }
}

/// Replace every non-overlapping occurrence of `pair` in `s`, left to right, by `id`.
fn replace_pair(s: &mut Vec<TokenId>, pair: (TokenId, TokenId), id: TokenId) {
    let mut w = 0;
    let mut r = 0;
    while r < s.len() {
        if r + 1 < s.len() && (s[r], s[r + 1]) == pair {
            s[w] = id;
            r += 2;
        } else {
            s[w] = s[r];
            r += 1;
        }
        w += 1;
    }
    s.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tok() -> Tokenizer {
        Tokenizer::new(TokenizerConfig { scheme: super::super::Scheme::Tsd, ..TokenizerConfig::default() })
            .unwrap()
    }

    #[test]
    fn learns_the_most_frequent_pairs_and_round_trips() {
        let t = tok();
        let n = t.vocab().len() as TokenId;
        // 10 11 occurs 4 times, then (n, 12) 3 times.
        let seqs = vec![
            vec![BOS, 10, 11, 12, 10, 11, 12, EOS],
            vec![BOS, 10, 11, 12, 13, 10, 11, EOS],
            vec![BOS, 14, 15, EOS],
        ];
        let bpe = Bpe::learn(&t, &seqs, usize::from(n) + 5, |_| {}).unwrap();
        assert_eq!(bpe.merges()[0], [10, 11]);
        assert_eq!(bpe.merges()[1], [n, 12]);
        // (n+1, n+1) occurs once only: learning stops there.
        assert_eq!(bpe.len(), usize::from(n) + 2);
        assert_eq!(bpe.expansion(n + 1), Some(&[10, 11, 12][..]));
        let enc = bpe.encode(&seqs[0]);
        assert_eq!(enc, vec![BOS, n + 1, n + 1, EOS]);
        for s in &seqs {
            assert_eq!(bpe.expand(&bpe.encode(s)), *s);
        }
        // Overlaps merge left to right: 10 10 10 with (10, 10).
        let mut s = vec![10, 10, 10];
        replace_pair(&mut s, (10, 10), 99);
        assert_eq!(s, vec![99, 10]);
    }

    #[test]
    fn control_tokens_are_never_merged() {
        let config = TokenizerConfig { controls: "key".parse().unwrap(), ..TokenizerConfig::default() };
        let t = Tokenizer::new(config).unwrap();
        let key = t.vocab().id(crate::tokens::Event::Key(7)).unwrap();
        // KEY 10 is the most frequent pair, and is not merged; 10 11 is.
        let seqs = vec![vec![BOS, key, 10, 11, 12, EOS]; 5];
        let bpe = Bpe::learn(&t, &seqs, t.vocab().len() + 4, |_| {}).unwrap();
        assert!(bpe.merges.iter().all(|m| !m.contains(&key)), "{:?}", bpe.merges);
        assert!(!bpe.merges.is_empty());
        assert!(Bpe::new(config, vec![[key, 10]]).is_err(), "a merge holding a control token");
        assert!(t.with_bpe(bpe).is_ok());
    }

    #[test]
    fn bad_merges_and_files_are_refused() {
        let t = tok();
        let n = t.vocab().len() as TokenId;
        assert!(Bpe::new(*t.config(), vec![[10, n]]).is_err(), "a token made later");
        assert!(Bpe::new(*t.config(), vec![[BOS, 10]]).is_err(), "a special token");
        assert!(Bpe::new(*t.config(), vec![[10, 11], [10, 11]]).is_err(), "a repeated pair");
        assert!(Bpe::learn(&t, &[], 10, |_| {}).is_err(), "smaller than the base vocabulary");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.bpe");
        let bpe = Bpe::new(*t.config(), vec![[10, 11]]).unwrap();
        bpe.save(&path).unwrap();
        assert_eq!(Bpe::load(&path).unwrap(), bpe);
        std::fs::write(&path, b"{}").unwrap();
        let e = Bpe::load(&path).unwrap_err().to_string();
        assert!(e.contains("x.bpe") && e.contains("not a cadenza BPE file"), "{e}");
    }
}
