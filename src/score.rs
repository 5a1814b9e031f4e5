//! Held-out likelihood in the units the field compares: bits per token (within one
//! tokenization), and bits per note and per second of music (across tokenizations).
//!
//! A split's score is the total negative log-likelihood a model gives its token sequences
//! (every token after BOS, EOS included), divided by what was scored: the tokens, the notes the
//! sequences decode to ([`Tokenizer::note_count`]: the same for a piece under every scheme of
//! one grid), or the seconds the pieces last. `train`, `eval` and `compare` all report these.

use serde::{Deserialize, Serialize};

use crate::corpus::{Pieces, Split};
use crate::error::Result;
use crate::models::Generator;
use crate::tokens::{TokenId, Tokenizer};

/// What a model scored on a set of pieces.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub pieces: usize,
    /// Scored tokens (all but each sequence's BOS).
    pub tokens: usize,
    /// Notes the sequences decode to.
    pub notes: usize,
    /// Duration of the pieces, seconds (0 when unknown).
    pub seconds: f64,
    /// Sum of the natural-log probabilities of the scored tokens.
    pub log_prob: f64,
}

impl Score {
    /// Score `model` on `seqs` (tokens of `tokenizer`) lasting `seconds` in all. Sequences are
    /// scored in parallel; the sum runs in sequence order, so the result is deterministic.
    pub fn of<S: AsRef<[TokenId]> + Sync>(
        model: &dyn Generator,
        tokenizer: &Tokenizer,
        seqs: &[S],
        seconds: f64,
    ) -> Result<Score> {
        use rayon::prelude::*;
        let per_seq: Vec<(Vec<f64>, usize)> = seqs
            .par_iter()
            .map(|s| Ok((model.log_probs(s.as_ref())?, tokenizer.note_count(s.as_ref()))))
            .collect::<Result<_>>()?;
        let all: Vec<f64> = per_seq.iter().flat_map(|(lp, _)| lp.iter().copied()).collect();
        Ok(Score {
            pieces: seqs.len(),
            tokens: all.len(),
            notes: per_seq.iter().map(|(_, n)| n).sum(),
            seconds,
            log_prob: all.iter().sum(),
        })
    }

    /// Score `model` on one split of `corpus` (an error naming the corpus if it is empty).
    pub fn of_split(model: &dyn Generator, corpus: &dyn Pieces, split: Split) -> Result<Score> {
        let seqs = corpus.require_slices(split)?;
        Score::of(model, corpus.tokenizer(), &seqs, corpus.split_seconds(split))
    }

    /// Mean bits per scored token (equal to [`crate::models::corpus_bits`]).
    pub fn bits_per_token(&self) -> f64 {
        per(self.log_prob, self.tokens as f64)
    }

    /// `2^bits_per_token`.
    pub fn perplexity(&self) -> f64 {
        self.bits_per_token().exp2()
    }

    /// Total bits over the number of notes: comparable across tokenizations.
    pub fn bits_per_note(&self) -> f64 {
        per(self.log_prob, self.notes as f64)
    }

    /// Total bits over the seconds of music (0 when the duration is unknown).
    pub fn bits_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            per(self.log_prob, self.seconds)
        } else {
            0.0
        }
    }
}

/// `-log_prob / count` in bits, computed as [`crate::models::bits_per_token`] does (0 for an
/// empty count).
fn per(log_prob: f64, count: f64) -> f64 {
    if count == 0.0 {
        return 0.0;
    }
    -log_prob / count / std::f64::consts::LN_2
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{corpus_bits, ModelKind, TokenStream};
    use crate::tokens::{Scheme, TokenizerConfig};

    /// Every token has probability 1/4: two bits each.
    struct Quarter;

    impl Generator for Quarter {
        fn kind(&self) -> ModelKind {
            ModelKind::Markov
        }
        fn vocab_size(&self) -> usize {
            4
        }
        fn log_probs(&self, tokens: &[TokenId]) -> crate::Result<Vec<f64>> {
            Ok(vec![0.25f64.ln(); tokens.len().saturating_sub(1)])
        }
        fn stream(&self, _: &[TokenId]) -> crate::Result<Box<dyn TokenStream + '_>> {
            unreachable!("not sampled")
        }
    }

    #[test]
    fn bits_per_note_by_hand() {
        let t =
            Tokenizer::new(TokenizerConfig { scheme: Scheme::Tsd, ..TokenizerConfig::default() }).unwrap();
        let ids =
            |s: &str| -> Vec<TokenId> { s.split_whitespace().map(|n| t.vocab().parse(n).unwrap()).collect() };
        // Two notes in 9 scored tokens, and one note in 4: 13 tokens x 2 bits = 26 bits for
        // 3 notes, lasting 1.5 s in all.
        let seqs = vec![
            ids("BOS PITCH_60 VELOCITY_3 DURATION_4 SHIFT_4 PITCH_62 VELOCITY_3 DURATION_4 SHIFT_4 EOS"),
            ids("BOS PITCH_60 VELOCITY_3 DURATION_4 EOS"),
        ];
        let s = Score::of(&Quarter, &t, &seqs, 1.5).unwrap();
        assert_eq!((s.pieces, s.tokens, s.notes), (2, 13, 3));
        assert!((s.bits_per_token() - 2.0).abs() < 1e-12);
        assert!((s.perplexity() - 4.0).abs() < 1e-9);
        assert!((s.bits_per_note() - 26.0 / 3.0).abs() < 1e-12);
        assert!((s.bits_per_second() - 26.0 / 1.5).abs() < 1e-12);
        // Bits per token is exactly corpus_bits'.
        assert_eq!(s.bits_per_token(), corpus_bits(&Quarter, &seqs).unwrap().0);
        assert_eq!(Score::of::<Vec<TokenId>>(&Quarter, &t, &[], 0.0).unwrap().bits_per_note(), 0.0);
    }
}
