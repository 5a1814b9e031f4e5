//! Tokens → piece: reads any token sequence and always yields a valid [`Piece`].
//!
//! Each scheme's decoder ([`super::midi_like`], [`super::durations`]) turns tokens into grid
//! notes by its own rules, which make it total: it never fails, and a token it cannot use is
//! skipped and counted as *dropped* ([`Tokenizer::dropped_tokens`]). The notes are then put in
//! canonical form (see [`super::grid`]: FIFO-consistent pairing, identical notes merged, each
//! merge counted as a dropped token too) and laid out as a piece: see
//! [`Tokenizer::decode_with`] for its resolution, tempo, channels and names. Decoded pieces are
//! therefore fixed points of [`Tokenizer::quantize`].

use super::config::Scheme;
use super::grid::{self, DecodeOptions, GridNote};
use super::vocab::Vocab;
use super::{durations, midi_like, TokenId, Tokenizer};
use crate::midi::Piece;

/// What a scheme's decoder read from a token sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Decoded {
    /// The notes, in canonical form.
    pub notes: Vec<GridNote>,
    /// Tokens the decoder could not use (see the scheme's rules), plus notes merged away as
    /// duplicates.
    pub dropped: usize,
    /// REMI: the meter of the first bar and each change, as `(step, (numerator, denominator))`.
    pub meters: Vec<(u64, (u8, u8))>,
    /// The time, in steps, after the last token read.
    pub end: u64,
}

impl Decoded {
    /// Canonicalize `notes` (cut at `max_note_steps`), counting merged duplicates as dropped.
    pub fn new(
        notes: Vec<GridNote>,
        max_note_steps: u32,
        dropped: usize,
        meters: Vec<(u64, (u8, u8))>,
        end: u64,
    ) -> Self {
        let read = notes.len();
        let notes = grid::canonicalize(notes, max_note_steps);
        Decoded { dropped: dropped + (read - notes.len()), notes, meters, end }
    }
}

/// The bin a decoded note stores for bin `b`: the bin its velocity re-encodes to, so decoded
/// pieces re-encode to the same bins even for a bin no velocity maps to (bin 127 of 128).
pub(super) fn canonical_bin(vocab: &Vocab, b: u8) -> u8 {
    vocab.velocity_bin(vocab.bin_velocity(b))
}

/// What the decoder of `t`'s scheme reads from `tokens`.
pub(super) fn decode_notes(t: &Tokenizer, tokens: &[TokenId]) -> Decoded {
    let (config, vocab) = (t.config(), t.vocab());
    // Control tokens carry no music (see `super::controls`).
    let tokens = &*super::controls::strip(vocab, tokens);
    match config.scheme {
        Scheme::MidiLike => midi_like::decode(config, vocab, tokens),
        Scheme::Tsd | Scheme::Remi => durations::decode(config, vocab, tokens),
    }
}

/// A piece from any token sequence, laid out by `options`.
pub(super) fn decode(t: &Tokenizer, tokens: &[TokenId], options: &DecodeOptions) -> Piece {
    let decoded = decode_notes(t, tokens);
    grid::to_piece(t.config(), t.vocab(), &decoded.notes, &decoded.meters, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::Note;
    use crate::tokens::{ProgramMode, TimeMode, TokenizerConfig, BOS, EOS, PAD};

    fn tok() -> Tokenizer {
        Tokenizer::new(TokenizerConfig::default()).expect("valid config")
    }

    use crate::tokens::testing::ids;

    /// `(program or 255 for drums, channel, notes as (start, end, pitch, velocity))`.
    type Summary = Vec<(u8, u8, Vec<(u64, u64, u8, u8)>)>;

    /// A [`Summary`] of each instrument.
    fn summary(p: &Piece) -> Summary {
        p.instruments
            .iter()
            .map(|i| {
                let prog = if i.is_drum { 255 } else { i.program };
                (prog, i.channel, i.notes.iter().map(|n| (n.start, n.end, n.pitch, n.velocity)).collect())
            })
            .collect()
    }

    #[test]
    fn defaults_before_any_program_or_velocity() {
        let t = tok();
        // Middle bin of 32 is 16: velocities 1 + [ceil(16*127/32), ceil(17*127/32) - 1] =
        // 1 + [64, 67] → centre 1 + 65 = 66. Steps are 40 ticks at 480 tpb.
        let p = t.decode(&ids(&t, "NOTE_ON_60 SHIFT_12 NOTE_OFF_60"));
        assert_eq!(p.ticks_per_beat, 480);
        assert_eq!(p.tempos.len(), 1);
        assert_eq!(p.tempos[0].micros_per_beat, 500_000);
        assert_eq!(summary(&p), vec![(0, 0, vec![(0, 480, 60, 66)])]);
        assert_eq!(p.instruments[0].name, "Acoustic Grand Piano");
    }

    #[test]
    fn fifo_pairing_and_stray_offs() {
        let t = tok();
        // A stray NOTE_OFF first (ignored); two C4s opened at steps 0 and 2, closed at 3 and 5;
        // the oldest closes first. Velocity bin 0 → velocity 1 + (0 + 3) / 2 = 2.
        let p = t.decode(&ids(
            &t,
            "NOTE_OFF_60 VELOCITY_0 NOTE_ON_60 SHIFT_2 NOTE_ON_60 SHIFT_1 NOTE_OFF_60 SHIFT_2 NOTE_OFF_60 NOTE_OFF_60",
        ));
        assert_eq!(summary(&p), vec![(0, 0, vec![(0, 120, 60, 2), (80, 200, 60, 2)])]);
    }

    #[test]
    fn zero_length_and_unclosed_notes() {
        let t = tok(); // max_note_steps = 192 steps = 7680 ticks
        let p = t.decode(&ids(&t, "NOTE_ON_60 NOTE_OFF_60 NOTE_ON_64"));
        assert_eq!(summary(&p)[0].2, vec![(0, 40, 60, 66), (0, 7680, 64, 66)]);
        // A note open for more than 192 steps is closed at 192; the late NOTE_OFF then finds
        // nothing. One open exactly 192 steps closes normally.
        let mut names = String::from("NOTE_ON_60 NOTE_ON_62");
        names += &" SHIFT_48".repeat(4); // step 192
        names += " NOTE_OFF_62 SHIFT_1 NOTE_OFF_60";
        let p = t.decode(&ids(&t, &names));
        assert_eq!(summary(&p)[0].2, vec![(0, 7680, 60, 66), (0, 7680, 62, 66)]);
    }

    #[test]
    fn skips_pad_bos_unknown_ids_and_stops_at_eos() {
        let t = tok();
        let mut seq = vec![PAD, BOS, 60_000, u16::MAX];
        seq.extend(ids(&t, "NOTE_ON_60 SHIFT_1 NOTE_OFF_60"));
        seq.push(EOS);
        seq.extend(ids(&t, "NOTE_ON_62 SHIFT_1 NOTE_OFF_62"));
        let p = t.decode(&seq);
        assert_eq!(summary(&p), vec![(0, 0, vec![(0, 40, 60, 66)])]);
        assert_eq!(t.decode(&[]).instruments.len(), 0);
    }

    #[test]
    fn channels_skip_nine_and_drums_take_nine() {
        let t = tok();
        let mut names = String::new();
        for prog in 0..11 {
            names += &format!(" PROGRAM_{prog} NOTE_ON_60 SHIFT_1");
        }
        names += " DRUMS NOTE_ON_36";
        let p = t.decode(&ids(&t, &names));
        let channels: Vec<(u8, u8)> = p.instruments.iter().map(|i| (i.program, i.channel)).collect();
        let mut expected: Vec<(u8, u8)> = (0..9).map(|k| (k, k)).collect();
        expected.extend([(9, 10), (10, 11), (0, 9)]);
        assert_eq!(channels, expected);
        let drums = p.instruments.last().expect("drums");
        assert!(drums.is_drum);
        assert_eq!(drums.name, "Drums");
        assert_eq!(p.instruments[1].name, "Bright Acoustic Piano");
    }

    #[test]
    fn decode_with_keeps_tempo_and_time_signature() {
        let t = tok();
        let opts = DecodeOptions { micros_per_beat: 400_000, time_signature: Some((3, 4)) };
        let p = t.decode_with(&ids(&t, "NOTE_ON_60 SHIFT_1 NOTE_OFF_60"), &opts);
        assert_eq!(p.tempos[0].micros_per_beat, 400_000);
        assert_eq!((p.time_signatures[0].numerator, p.time_signatures[0].denominator), (3, 4));
        assert_eq!(DecodeOptions::from_piece(&p), opts);
        // Seconds mode: 1 tick = 1 ms whatever the tempo.
        let cfg = TokenizerConfig { time: TimeMode::Seconds { step_ms: 10 }, ..Default::default() };
        let t = Tokenizer::new(cfg).expect("valid config");
        let p = t.decode_with(&ids(&t, "SHIFT_3 NOTE_ON_60 SHIFT_10 NOTE_OFF_60"), &opts);
        assert_eq!((p.ticks_per_beat, p.tempos[0].micros_per_beat), (400, 400_000));
        assert_eq!(p.instruments[0].notes[0], Note { start: 30, end: 130, pitch: 60, velocity: 66 });
    }

    #[test]
    fn merge_piano_has_one_part() {
        let cfg = TokenizerConfig { programs: ProgramMode::MergePiano, ..Default::default() };
        let t = Tokenizer::new(cfg).expect("valid config");
        let p = t.decode(&ids(&t, "NOTE_ON_60 NOTE_ON_64 SHIFT_6 NOTE_OFF_64 NOTE_OFF_60"));
        assert_eq!(summary(&p), vec![(0, 0, vec![(0, 240, 60, 66), (0, 240, 64, 66)])]);
    }
}
