//! Musical statistics of a piece, after MusPy (Dong et al. 2020) and Yang & Lerch (2020), and
//! the distances that compare their distributions between generated and real music.
//!
//! - [`pitch`]: pitch-class histogram and entropy, range, pitches used, scale consistency,
//!   melodic interval and the pitch-class transition matrix (drums excluded).
//! - [`rhythm`]: polyphony, note density, inter-onset interval, note-length histogram, empty-beat
//!   rate and groove consistency.
//! - [`distance`]: Gaussian KDE, overlapped area, KL divergence, total-variation distance.
//! - [`originality`]: how much of a token sequence is copied from the training data.
//!
//! [`Features::of`] gathers every statistic of one piece. Scalars that are undefined for a piece
//! (the pitch range of a piece without pitched notes, the groove of a one-bar piece) are `None`,
//! never NaN; histograms of a piece without notes are all zeros.

pub mod distance;
pub mod originality;
pub mod pitch;
pub mod rhythm;

use serde::{Deserialize, Serialize};

use crate::midi::{Note, Piece};

/// Bin centres of the note-length histogram, in beats (quarter notes): 1/16 to 4.
pub const NOTE_LENGTH_BINS: [f64; 7] = [0.0625, 0.125, 0.25, 0.5, 1.0, 2.0, 4.0];

/// Names of the scalar features, in report order.
pub const SCALAR_NAMES: [&str; 11] = [
    "pitch_class_entropy",
    "pitch_range",
    "pitches_used",
    "polyphony",
    "note_density",
    "ioi_mean",
    "melodic_interval",
    "scale_consistency",
    "empty_beat_rate",
    "groove_consistency",
    "mean_note_length",
];

/// Names of the histogram features (the transition matrix is flattened row by row).
pub const HISTOGRAM_NAMES: [&str; 3] =
    ["pitch_class_histogram", "note_length_histogram", "pitch_class_transitions"];

/// Every statistic of one piece.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Share of pitched notes on each pitch class (C = 0); sums to 1, or all 0 without notes.
    pub pitch_class_histogram: [f64; 12],
    /// Shannon entropy (bits) of the pitch-class histogram.
    pub pitch_class_entropy: Option<f64>,
    /// Highest minus lowest pitched note, in semitones.
    pub pitch_range: Option<f64>,
    /// Number of distinct pitches used.
    pub pitches_used: f64,
    /// Mean number of pitched notes sounding, over the time when at least one sounds.
    pub polyphony: Option<f64>,
    /// Notes (drums included) per beat, over the piece's length in beats.
    pub note_density: Option<f64>,
    /// Mean time between consecutive distinct onsets (drums included), in beats.
    pub ioi_mean: Option<f64>,
    /// Mean absolute interval (semitones) between the top notes of consecutive onsets.
    pub melodic_interval: Option<f64>,
    /// Largest share of pitched notes inside one major or natural-minor scale (24 keys).
    pub scale_consistency: Option<f64>,
    /// Share of beats in which no note (drums included) starts.
    pub empty_beat_rate: Option<f64>,
    /// MusPy's groove consistency: 1 - mean Hamming distance between the onset patterns of
    /// consecutive bars (12 positions per beat).
    pub groove_consistency: Option<f64>,
    /// Mean length of pitched notes, in beats.
    pub mean_note_length: Option<f64>,
    /// Share of pitched notes in each [`NOTE_LENGTH_BINS`] bin (nearest bin on a log scale).
    pub note_length_histogram: Vec<f64>,
    /// Transitions between the pitch classes of the top notes of consecutive onsets,
    /// `[from][to]`, normalized to sum to 1 (all 0 with fewer than two onsets).
    pub pitch_class_transitions: [[f64; 12]; 12],
}

impl Features {
    /// Every statistic of `piece`.
    pub fn of(piece: &Piece) -> Features {
        let view = View::new(piece);
        let pitched = &view.pitched;
        let pc = pitch::pitch_class_histogram(pitched);
        let melody = pitch::top_line(pitched);
        Features {
            pitch_class_histogram: pc,
            pitch_class_entropy: (!pitched.is_empty()).then(|| pitch::entropy_bits(&pc)),
            pitch_range: pitch::pitch_range(pitched),
            pitches_used: pitch::pitches_used(pitched),
            polyphony: rhythm::polyphony(pitched),
            note_density: rhythm::note_density(&view.all, view.tpb),
            ioi_mean: rhythm::ioi_mean(&view.all, view.tpb),
            melodic_interval: pitch::melodic_interval(&melody),
            scale_consistency: pitch::scale_consistency(pitched),
            empty_beat_rate: rhythm::empty_beat_rate(&view.all, view.tpb),
            groove_consistency: rhythm::groove_consistency(&view.all, view.tpb, view.beats_per_bar),
            mean_note_length: rhythm::mean_note_length(pitched, view.tpb),
            note_length_histogram: rhythm::note_length_histogram(pitched, view.tpb).to_vec(),
            pitch_class_transitions: pitch::transition_matrix(&melody),
        }
    }

    /// The scalar features as `(name, value)`, in [`SCALAR_NAMES`] order.
    pub fn scalars(&self) -> [(&'static str, Option<f64>); 11] {
        let v = [
            self.pitch_class_entropy,
            self.pitch_range,
            Some(self.pitches_used),
            self.polyphony,
            self.note_density,
            self.ioi_mean,
            self.melodic_interval,
            self.scale_consistency,
            self.empty_beat_rate,
            self.groove_consistency,
            self.mean_note_length,
        ];
        std::array::from_fn(|i| (SCALAR_NAMES[i], v[i]))
    }

    /// The histogram features as `(name, values)`, in [`HISTOGRAM_NAMES`] order; `None` for a
    /// histogram with nothing in it.
    pub fn histograms(&self) -> [(&'static str, Option<Vec<f64>>); 3] {
        let nonzero = |v: Vec<f64>| v.iter().any(|&x| x > 0.0).then_some(v);
        [
            (HISTOGRAM_NAMES[0], nonzero(self.pitch_class_histogram.to_vec())),
            (HISTOGRAM_NAMES[1], nonzero(self.note_length_histogram.clone())),
            (HISTOGRAM_NAMES[2], nonzero(self.pitch_class_transitions.iter().flatten().copied().collect())),
        ]
    }
}

/// The notes of a piece as the metrics see them.
struct View {
    /// Pitched notes, sorted by `(start, pitch)`.
    pitched: Vec<Note>,
    /// All notes (drums included), sorted by `(start, pitch)`.
    all: Vec<Note>,
    tpb: f64,
    /// Quarter notes per bar from the first time signature (4/4 without one).
    beats_per_bar: f64,
}

impl View {
    fn new(piece: &Piece) -> View {
        let mut pitched = Vec::new();
        let mut all = Vec::new();
        for inst in &piece.instruments {
            all.extend_from_slice(&inst.notes);
            if !inst.is_drum {
                pitched.extend_from_slice(&inst.notes);
            }
        }
        pitched.sort_by_key(|n| (n.start, n.pitch, n.end));
        all.sort_by_key(|n| (n.start, n.pitch, n.end));
        let beats_per_bar = piece
            .time_signatures
            .first()
            .filter(|ts| ts.numerator > 0 && ts.denominator > 0)
            .map_or(4.0, |ts| f64::from(ts.numerator) * 4.0 / f64::from(ts.denominator));
        View { pitched, all, tpb: f64::from(piece.ticks_per_beat.max(1)), beats_per_bar }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, TimeSignature};

    const TPB: u64 = 480;

    fn note(start_beats: f64, len_beats: f64, pitch: u8) -> Note {
        let start = (start_beats * TPB as f64) as u64;
        Note { start, end: start + (len_beats * TPB as f64) as u64, pitch, velocity: 80 }
    }

    fn piece(notes: Vec<Note>, drums: bool) -> Piece {
        let mut p = Piece::new(TPB as u16);
        p.instruments.push(Instrument {
            program: 0,
            channel: if drums { 9 } else { 0 },
            is_drum: drums,
            name: String::new(),
            notes,
        });
        p.normalize();
        p
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    fn c_major_scale() -> Piece {
        let pitches = [60, 62, 64, 65, 67, 69, 71, 72];
        piece(pitches.iter().enumerate().map(|(i, &p)| note(i as f64, 1.0, p)).collect(), false)
    }

    #[test]
    fn c_major_scale_by_hand() {
        let f = Features::of(&c_major_scale());
        let mut pc = [0.0; 12];
        pc[0] = 0.25;
        for k in [2, 4, 5, 7, 9, 11] {
            pc[k] = 0.125;
        }
        assert_eq!(f.pitch_class_histogram, pc);
        // -(1/4 log2 1/4) - 6 (1/8 log2 1/8) = 0.5 + 2.25
        assert!(close(f.pitch_class_entropy, 2.75));
        assert!(close(f.pitch_range, 12.0));
        assert_eq!(f.pitches_used, 8.0);
        assert!(close(f.polyphony, 1.0));
        assert!(close(f.note_density, 1.0));
        assert!(close(f.ioi_mean, 1.0));
        assert!(close(f.melodic_interval, 12.0 / 7.0));
        assert!(close(f.scale_consistency, 1.0));
        assert!(close(f.empty_beat_rate, 0.0));
        assert!(close(f.groove_consistency, 1.0));
        assert!(close(f.mean_note_length, 1.0));
        assert_eq!(f.note_length_histogram, vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]);
        let mut m = [[0.0; 12]; 12];
        for (a, b) in [(0, 2), (2, 4), (4, 5), (5, 7), (7, 9), (9, 11), (11, 0)] {
            m[a][b] = 1.0 / 7.0;
        }
        assert_eq!(f.pitch_class_transitions, m);
    }

    #[test]
    fn groove_follows_the_time_signature() {
        // In 3/4 the 8 one-beat notes make bars {0,12,24} {0,12,24} {0,12}: one difference over
        // two bar pairs of 36 positions.
        let mut p = c_major_scale();
        p.time_signatures.push(TimeSignature { tick: 0, numerator: 3, denominator: 4 });
        assert!(close(Features::of(&p).groove_consistency, 1.0 - 1.0 / 72.0));
    }

    #[test]
    fn c_major_triad_by_hand() {
        let f = Features::of(&piece(vec![note(0.0, 2.0, 60), note(0.0, 2.0, 64), note(0.0, 2.0, 67)], false));
        assert!(close(f.pitch_class_entropy, 3f64.log2()));
        assert!(close(f.pitch_range, 7.0));
        assert_eq!(f.pitches_used, 3.0);
        assert!(close(f.polyphony, 3.0));
        assert!(close(f.note_density, 1.5));
        assert_eq!(f.ioi_mean, None);
        assert_eq!(f.melodic_interval, None);
        assert!(close(f.scale_consistency, 1.0));
        assert!(close(f.empty_beat_rate, 0.5));
        assert_eq!(f.groove_consistency, None);
        assert!(close(f.mean_note_length, 2.0));
        assert_eq!(f.note_length_histogram[5], 1.0);
        assert!(f.pitch_class_transitions.iter().flatten().all(|&x| x == 0.0));
        // A C# among them: best scale holds 3 of 4 notes.
        let g = Features::of(&piece(
            vec![note(0.0, 1.0, 60), note(0.0, 1.0, 61), note(0.0, 1.0, 64), note(0.0, 1.0, 67)],
            false,
        ));
        assert!(close(g.scale_consistency, 0.75));
        // Overlapping notes: 0..2 and 1..3 beats sound together for one of three beats.
        let h = Features::of(&piece(vec![note(0.0, 2.0, 60), note(1.0, 2.0, 62)], false));
        assert!(close(h.polyphony, 4.0 / 3.0));
    }

    #[test]
    fn drum_groove_by_hand() {
        // Bar 1: kick on 1 and 3, snare on 2 and 4, hi-hat on every eighth; bar 2 the same with
        // hi-hats on the beats only. Lengths 1/8 beat.
        let mut notes = Vec::new();
        for bar in 0..2 {
            let b = bar as f64 * 4.0;
            notes.extend([
                note(b, 0.125, 36),
                note(b + 2.0, 0.125, 36),
                note(b + 1.0, 0.125, 38),
                note(b + 3.0, 0.125, 38),
            ]);
            let hats: Vec<f64> =
                if bar == 0 { (0..8).map(|i| i as f64 * 0.5).collect() } else { vec![0.0, 1.0, 2.0, 3.0] };
            notes.extend(hats.into_iter().map(|h| note(b + h, 0.125, 42)));
        }
        let f = Features::of(&piece(notes, true));
        // Pitch statistics ignore drums.
        assert_eq!(f.pitch_class_histogram, [0.0; 12]);
        assert_eq!(
            (f.pitch_class_entropy, f.pitch_range, f.polyphony, f.scale_consistency),
            (None, None, None, None)
        );
        assert_eq!(f.pitches_used, 0.0);
        // 20 notes over 7.125 beats; 12 distinct onsets over 7 beats; every beat has an onset.
        assert!(close(f.note_density, 20.0 / 7.125));
        assert!(close(f.ioi_mean, 7.0 / 11.0));
        assert!(close(f.empty_beat_rate, 0.0));
        // Bars differ in the 4 off-beat eighths of 48 positions.
        assert!(close(f.groove_consistency, 1.0 - 4.0 / 48.0));
    }

    #[test]
    fn silence_gives_no_nan_and_no_panic() {
        let empty = Piece::new(480);
        let mut silent = Piece::new(96);
        silent.instruments.push(Instrument::default());
        for p in [empty, silent] {
            let f = Features::of(&p);
            assert!(f.scalars().iter().all(|(_, v)| v.is_none_or(f64::is_finite)));
            assert!(f.scalars().iter().filter(|(n, _)| *n != "pitches_used").all(|(_, v)| v.is_none()));
            assert_eq!(f.pitches_used, 0.0);
            assert!(f.histograms().iter().all(|(_, h)| h.is_none()));
            assert!(f.note_length_histogram.iter().chain(f.pitch_class_histogram.iter()).all(|&x| x == 0.0));
        }
    }
}
