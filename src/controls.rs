//! A piece's control values, measured: the key the key finder hears, the tempo it starts at, its
//! notes per beat and the instruments that play. The tokens that state them, and the grammar that
//! keeps them in the prefix, are `crate::tokens::controls`; this module, above both the key finder
//! and the tokenizer, measures pieces for them ([`measure`]) and encodes a piece with its prefix
//! ([`encode`]), which is how every training piece of a checkpoint with `--controls` is read.
//!
//! At generation the seed's measured values are the defaults, and what the user asks for replaces
//! them ([`Asked::apply`]); a density asked as `low`, `medium` or `high` becomes a bin of the
//! model's own distribution (see `crate::generate`).

use crate::density::{self, Density};
use crate::key::{key_of_piece, Key, Profile};
use crate::midi::Piece;
use crate::tokens::controls::{density_bin, tempo_bin};
use crate::tokens::{Control, ControlSet, ControlValues, TokenId, Tokenizer};

/// The values of the controls in `set` that `piece` has (a key only when the key finder hears
/// one; instruments only when it has notes).
pub fn measure(piece: &Piece, set: ControlSet) -> ControlValues {
    let mut v = ControlValues::default();
    if set.has(Control::Key) {
        v.key = key_of_piece(piece, None, Profile::default()).map(|e| e.key.index() as u8);
    }
    if set.has(Control::Tempo) {
        v.tempo = Some(tempo_bin(first_bpm(piece)));
    }
    if set.has(Control::Density) && piece.note_count() > 0 {
        v.density = Some(density_bin(density::notes_per_beat(piece, 0)));
    }
    if set.has(Control::Instruments) {
        let list = instrument_list(
            piece.instruments.iter().filter(|i| !i.notes.is_empty()).map(|i| (i.program, i.is_drum)),
        );
        v.instruments = (!list.is_empty()).then_some(list);
    }
    v
}

/// Instrument controls of `(program, is_drum)` pairs: programs, 128 for drums; sorted, unique.
pub fn instrument_list(instruments: impl Iterator<Item = (u8, bool)>) -> Vec<u8> {
    let mut list: Vec<u8> = instruments.map(|(p, drum)| if drum { 128 } else { p.min(127) }).collect();
    list.sort_unstable();
    list.dedup();
    list
}

/// The tempo `piece` starts at, in quarter notes a minute (120 without tempo events).
pub fn first_bpm(piece: &Piece) -> f64 {
    let micros = piece.tempos.first().filter(|t| t.tick == 0).map_or(500_000, |t| t.micros_per_beat);
    60_000_000.0 / f64::from(micros.max(1))
}

/// `piece` encoded by `tokenizer`, with the control prefix its configuration asks for (see
/// `crate::tokens::controls`): the tokens every training piece is read as.
pub fn encode(tokenizer: &Tokenizer, piece: &Piece) -> Vec<TokenId> {
    let tokens = tokenizer.encode(piece);
    let set = tokenizer.config().controls;
    if set.is_empty() {
        return tokens;
    }
    measure(piece, set).prefix(tokenizer.vocab(), &tokens)
}

/// What a sampling job asks for, control by control (`None`: the seed's value, or none).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Asked {
    /// The key to state (already the model's reference key for a key-relative checkpoint).
    pub key: Option<Key>,
    /// Quarter notes a minute.
    pub tempo: Option<f64>,
    /// A density bin (see `crate::generate`, which turns low/medium/high into one).
    pub density_bin: Option<u8>,
    /// Instruments, `(program, is_drum)`.
    pub instruments: Option<Vec<(u8, bool)>>,
}

impl Asked {
    /// `seed`'s values (of the controls in `set`) with what is asked put in their place.
    pub fn apply(&self, set: ControlSet, seed: ControlValues) -> ControlValues {
        let mut v = seed;
        if set.has(Control::Key) {
            v.key = self.key.map(|k| k.index() as u8).or(v.key);
        }
        if set.has(Control::Tempo) {
            v.tempo = self.tempo.map(tempo_bin).or(v.tempo);
        }
        if set.has(Control::Density) {
            v.density = self.density_bin.or(v.density);
        }
        if set.has(Control::Instruments) {
            if let Some(list) = &self.instruments {
                v.instruments = Some(instrument_list(list.iter().copied()));
            }
        }
        v
    }
}

/// Which density bin stands for `want` in a distribution over the density bins (`weights`,
/// one per bin): the bin at the middle of the asked third of its probability mass (1/6, 1/2,
/// 5/6), so "low" is what the model's training corpus calls sparse. `None` without weight.
pub fn density_bin_of(weights: &[f64], want: Density) -> Option<u8> {
    let total: f64 = weights.iter().sum();
    if !(total > 0.0) {
        return None;
    }
    let q = match want {
        Density::Low => 1.0 / 6.0,
        Density::Medium => 0.5,
        Density::High => 5.0 / 6.0,
    } * total;
    let mut acc = 0.0;
    for (i, &w) in weights.iter().enumerate() {
        acc += w;
        if acc >= q && w > 0.0 {
            return Some(i as u8);
        }
    }
    weights.iter().rposition(|&w| w > 0.0).map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, Note, TempoChange};
    use crate::tokens::{Event, TokenizerConfig};

    fn scale(root: u8, minor: bool) -> Piece {
        let steps: &[u8] =
            if minor { &[0, 2, 3, 5, 7, 8, 11, 12, 7, 3, 0] } else { &[0, 2, 4, 5, 7, 9, 11, 12, 7, 4, 0] };
        let mut piece = Piece::new(480);
        let notes = steps
            .iter()
            .enumerate()
            .map(|(i, &s)| Note {
                start: i as u64 * 240,
                end: i as u64 * 240 + 240,
                pitch: root + s,
                velocity: 80,
            })
            .collect();
        piece.instruments.push(Instrument { program: 40, notes, ..Instrument::default() });
        piece.tempos = vec![TempoChange { tick: 0, micros_per_beat: 600_000 }];
        piece
    }

    #[test]
    fn measured_values_are_the_pieces_key_tempo_density_and_instruments() {
        let all: ControlSet = "all".parse().unwrap();
        let v = measure(&scale(57, true), all);
        assert_eq!(v.key, Some(Key::A_MINOR.index() as u8));
        assert_eq!(v.tempo, Some(tempo_bin(100.0)));
        assert_eq!(v.density, Some(density_bin(2.0)), "eighth notes: two a beat");
        assert_eq!(v.instruments, Some(vec![40]));
        let only_key = measure(&scale(57, true), "key".parse().unwrap());
        assert_eq!((only_key.tempo, only_key.density, only_key.instruments), (None, None, None));
        assert_eq!(measure(&Piece::new(480), all).key, None, "no notes, no key");
    }

    #[test]
    fn encoding_puts_the_prefix_after_bos_and_decoding_ignores_it() {
        let t = Tokenizer::new(TokenizerConfig {
            controls: "all".parse().unwrap(),
            ..TokenizerConfig::default()
        })
        .unwrap();
        let p = scale(60, false);
        let tokens = encode(&t, &p);
        assert_eq!(t.vocab().event(tokens[1]), Event::Key(0));
        assert!(matches!(t.vocab().event(tokens[4]), Event::Instrument(40)));
        assert_eq!(t.decode(&tokens), t.quantize(&p));
        assert_eq!(t.dropped_tokens(&tokens), 0);
        // Asked values replace the seed's; the rest stay.
        let asked = Asked {
            key: Some(Key::A_MINOR),
            instruments: Some(vec![(0, false), (0, true)]),
            ..Asked::default()
        };
        let v = asked.apply(t.config().controls, measure(&p, t.config().controls));
        assert_eq!((v.key, v.instruments.clone()), (Some(21), Some(vec![0, 128])));
        assert_eq!(v.tempo, measure(&p, t.config().controls).tempo);
    }

    #[test]
    fn density_bins_come_from_the_thirds_of_the_distribution() {
        let w = [0.0, 0.1, 0.2, 0.4, 0.2, 0.1];
        assert_eq!(density_bin_of(&w, Density::Low), Some(2));
        assert_eq!(density_bin_of(&w, Density::Medium), Some(3));
        assert_eq!(density_bin_of(&w, Density::High), Some(4));
        assert_eq!(density_bin_of(&[0.0; 4], Density::Low), None);
    }
}
