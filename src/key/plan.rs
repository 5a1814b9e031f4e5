//! Sampling in a key: how a job moves a seed into a key-relative model's keys, which of its
//! candidate samples sound most in the asked key, and how the chosen one is moved out again.
//!
//! A key-relative model ([`TokenizerConfig::key_relative`]) learned every piece in C major or
//! A minor, so it writes in those keys (which of the two it drifts to is its own choice). Asked
//! for E minor, a job samples several candidates, keeps the one whose notes correlate best with
//! A minor (E minor's reference), and moves it up a fifth. A seed is first moved from its own
//! key to that key's reference, and without `--key` the output goes back to the seed's key.

use std::borrow::Cow;

use super::finder::{correlations, key_of_piece, pitch_class_beats, Profile};
use super::name::Key;
use super::to_key;
use crate::error::{Error, Result};
use crate::midi::Piece;
use crate::tokens::TokenizerConfig;

/// Candidates sampled for each piece asked for in a key, by default. Of single samples of
/// key-relative Markov and HMM models of the Bach chorales, about half are heard in the asked key
/// (the others in its relative or a neighbouring key); with 8 candidates, 76 to 80 of 80 pieces
/// asked for in four keys were (README, "Keys").
pub const DEFAULT_KEY_CANDIDATES: usize = 8;

/// How one sampling job handles keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyPlan {
    /// The seed's key (key-relative models only; `None` without a seed or pitched seed notes).
    pub seed_key: Option<Key>,
    /// The key the output is written in: the asked key, else the seed's (key-relative models
    /// only; `None`: the model's own reference keys, C major or A minor, are kept). For a
    /// model with a key control token (and not key-relative), the asked key only.
    pub target: Option<Key>,
    /// Whether the model learned key-relative pieces, so music moves in and out of its
    /// reference keys; else a target is stated as a key token and nothing moves.
    pub relative: bool,
}

impl KeyPlan {
    /// The plan for a model with tokenizer settings `config`, continuing `seed` (if any), asked
    /// for `asked` (if any). Asking a model that was not trained key-relative for a key is an
    /// error naming the flag it needs.
    pub fn new(config: &TokenizerConfig, seed: Option<&Piece>, asked: Option<Key>) -> Result<KeyPlan> {
        if !config.key_relative {
            let stated = config.controls.has(crate::tokens::Control::Key);
            if let (Some(key), false) = (asked, stated) {
                return Err(Error::setting(
                    "key",
                    key,
                    "a checkpoint trained with key control (train --transpose-to-key or --controls key); this one was not",
                ));
            }
            return Ok(KeyPlan { seed_key: None, target: asked, relative: false });
        }
        let seed_key = seed.and_then(|p| key_of_piece(p, None, Profile::default())).map(|e| e.key);
        Ok(KeyPlan { seed_key, target: asked.or(seed_key), relative: true })
    }

    /// The key a key control token states for `asked`: the asked key itself, or its reference
    /// key (C major or A minor) for a key-relative model.
    pub fn stated(&self, asked: Key) -> Key {
        if self.relative {
            asked.reference()
        } else {
            asked
        }
    }

    /// Whether candidates are worth sampling: a key-relative model with a key to write in (the
    /// asked key, or the seed's).
    pub fn chooses(&self) -> bool {
        self.target.is_some()
    }

    /// The seed as the model should read it: moved from its key to its reference key.
    pub fn seed<'a>(&self, seed: &'a Piece) -> Cow<'a, Piece> {
        match self.seed_key {
            Some(k) => Cow::Owned(to_key(seed, k, k.reference()).0),
            None => Cow::Borrowed(seed),
        }
    }

    /// How well a sampled piece (still in the model's keys) suits the target: its correlation
    /// with the target's reference key (C major or A minor; the target itself for a model that
    /// is not key-relative) minus its best correlation with any
    /// other key, so positive exactly when the key finder hears the target (its relative key
    /// correlates almost as well with the same notes, so the raw correlation would not tell
    /// them apart); -2 without notes, 0 without a target.
    pub fn fit(&self, sampled: &Piece) -> f64 {
        let Some(target) = self.target else { return 0.0 };
        let Some(r) = correlations(&pitch_class_beats(sampled, None), Profile::default()) else {
            return -2.0;
        };
        let want = self.stated(target).index();
        let other = (0..24).filter(|&i| i != want).map(|i| r[i]).fold(f64::NEG_INFINITY, f64::max);
        r[want] - other
    }

    /// A sampled piece moved from the model's keys to the target key.
    pub fn output(&self, sampled: Piece) -> Piece {
        match self.target {
            Some(target) if self.relative => to_key(&sampled, target.reference(), target).0,
            _ => sampled,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Mode;
    use crate::midi::{Instrument, Note};

    fn triad(root: u8, minor: bool) -> Piece {
        let mut piece = Piece::new(4);
        let third = if minor { 3 } else { 4 };
        let notes = [0, third, 7, 12].map(|s| Note { start: 0, end: 8, pitch: root + s, velocity: 80 });
        piece.instruments.push(Instrument { notes: notes.to_vec(), ..Instrument::default() });
        piece
    }

    #[test]
    fn a_model_without_key_control_refuses_a_key_and_passes_music_through() {
        let config = TokenizerConfig::default();
        let err = KeyPlan::new(&config, None, Some(Key::A_MINOR)).unwrap_err().to_string();
        assert!(err.contains("--transpose-to-key") && err.contains("A minor"), "{err}");
        // With a key control token, the key is stated and nothing moves.
        let stated = TokenizerConfig { controls: "key".parse().unwrap(), ..config };
        let plan = KeyPlan::new(&stated, Some(&triad(62, false)), Some(Key::A_MINOR)).unwrap();
        assert!(plan.chooses() && !plan.relative);
        assert_eq!(plan.stated(Key::A_MINOR), Key::A_MINOR);
        assert_eq!(plan.seed(&triad(62, false)).into_owned(), triad(62, false));
        assert_eq!(plan.output(triad(57, true)), triad(57, true));
        assert!(plan.fit(&triad(57, true)) > 0.0 && plan.fit(&triad(60, false)) < 0.0);
        let plan = KeyPlan::new(&config, Some(&triad(62, false)), None).unwrap();
        assert!(!plan.chooses());
        assert_eq!(plan.seed(&triad(62, false)).into_owned(), triad(62, false));
        assert_eq!(plan.output(triad(62, false)), triad(62, false));
    }

    #[test]
    fn seeds_move_to_their_reference_and_outputs_to_the_target() {
        let config = TokenizerConfig { key_relative: true, ..TokenizerConfig::default() };
        // A D major seed, asked for nothing: read in C major, written back in D major.
        let plan = KeyPlan::new(&config, Some(&triad(62, false)), None).unwrap();
        assert_eq!(plan.target, Some(Key::new(2, Mode::Major)));
        assert_eq!(plan.seed(&triad(62, false)).into_owned(), triad(60, false));
        assert_eq!(plan.output(triad(60, false)), triad(62, false));
        // Asked for E minor without a seed: A minor music is moved up to E minor, and of two
        // candidates the A minor one fits better than the C major one.
        let e_minor: Key = "E minor".parse().unwrap();
        let plan = KeyPlan::new(&config, None, Some(e_minor)).unwrap();
        assert!(plan.chooses());
        assert!(plan.fit(&triad(57, true)) > 0.0 && plan.fit(&triad(60, false)) < 0.0);
        let out = plan.output(triad(57, true));
        assert_eq!(crate::key::key_of_notes(&out, None, Profile::default()).unwrap().key, e_minor);
    }
}
