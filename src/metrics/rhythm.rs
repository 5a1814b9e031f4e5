//! Rhythm and texture statistics. Notes are sorted by `(start, pitch)`; `tpb` is ticks per
//! beat (quarter note).

use super::NOTE_LENGTH_BINS;
use crate::midi::Note;

/// Grid positions per beat of the groove pattern (MusPy's default resolution of 12 per beat).
pub const GROOVE_STEPS_PER_BEAT: f64 = 12.0;

/// Mean number of notes sounding over the time at least one sounds.
pub fn polyphony(notes: &[Note]) -> Option<f64> {
    let mut events: Vec<(u64, i64)> = notes.iter().flat_map(|n| [(n.start, 1), (n.end, -1)]).collect();
    events.sort_unstable();
    let (mut active, mut last, mut weighted, mut covered) = (0i64, 0u64, 0u128, 0u128);
    for (t, d) in events {
        if active > 0 {
            let dt = u128::from(t - last);
            weighted += dt * active as u128;
            covered += dt;
        }
        active += d;
        last = t;
    }
    (covered > 0).then(|| weighted as f64 / covered as f64)
}

/// Length of the piece in beats: to the end of its last note.
fn length_beats(notes: &[Note], tpb: f64) -> f64 {
    notes.iter().map(|n| n.end).max().unwrap_or(0) as f64 / tpb
}

/// Notes per beat.
pub fn note_density(notes: &[Note], tpb: f64) -> Option<f64> {
    let len = length_beats(notes, tpb);
    (len > 0.0).then(|| notes.len() as f64 / len)
}

/// Mean time between consecutive distinct onsets, in beats.
pub fn ioi_mean(notes: &[Note], tpb: f64) -> Option<f64> {
    let mut onsets: Vec<u64> = notes.iter().map(|n| n.start).collect();
    onsets.dedup();
    if onsets.len() < 2 {
        return None;
    }
    Some((onsets[onsets.len() - 1] - onsets[0]) as f64 / tpb / (onsets.len() - 1) as f64)
}

/// Mean note length in beats.
pub fn mean_note_length(notes: &[Note], tpb: f64) -> Option<f64> {
    (!notes.is_empty())
        .then(|| notes.iter().map(|n| n.duration() as f64).sum::<f64>() / tpb / notes.len() as f64)
}

/// Share of notes in each [`NOTE_LENGTH_BINS`] bin: the nearest centre on a log scale (lengths
/// beyond the ends go to the end bins).
pub fn note_length_histogram(notes: &[Note], tpb: f64) -> [f64; 7] {
    let mut h = [0.0; 7];
    for n in notes {
        let beats = (n.duration() as f64 / tpb).max(1e-9).log2();
        let bin = NOTE_LENGTH_BINS
            .iter()
            .enumerate()
            .min_by(|a, b| (a.1.log2() - beats).abs().total_cmp(&(b.1.log2() - beats).abs()))
            .map_or(0, |(i, _)| i);
        h[bin] += 1.0;
    }
    if !notes.is_empty() {
        h.iter_mut().for_each(|x| *x /= notes.len() as f64);
    }
    h
}

/// Share of beats (up to the last note's end, rounded up) in which no note starts.
pub fn empty_beat_rate(notes: &[Note], tpb: f64) -> Option<f64> {
    let beats = length_beats(notes, tpb).ceil() as usize;
    if beats == 0 {
        return None;
    }
    let mut busy = vec![false; beats];
    for n in notes {
        let b = ((n.start as f64 / tpb) as usize).min(beats - 1);
        busy[b] = true;
    }
    Some(busy.iter().filter(|&&b| !b).count() as f64 / beats as f64)
}

/// MusPy's groove consistency: onsets on a 12-per-beat grid, one binary pattern per bar of
/// `beats_per_bar` beats, then `1 - mean(Hamming(bar i, bar i+1) / positions per bar)`. `None`
/// with fewer than two bars (up to the bar of the last onset).
pub fn groove_consistency(notes: &[Note], tpb: f64, beats_per_bar: f64) -> Option<f64> {
    let per_bar = (beats_per_bar * GROOVE_STEPS_PER_BEAT).round().max(1.0) as usize;
    let positions: Vec<usize> =
        notes.iter().map(|n| (n.start as f64 / tpb * GROOVE_STEPS_PER_BEAT).round() as usize).collect();
    let bars = positions.iter().max().map_or(0, |&p| p / per_bar + 1);
    if bars < 2 {
        return None;
    }
    let mut pattern = vec![false; bars * per_bar];
    for p in positions {
        pattern[p] = true;
    }
    let hamming: usize = (0..bars - 1)
        .map(|b| (0..per_bar).filter(|&i| pattern[b * per_bar + i] != pattern[(b + 1) * per_bar + i]).count())
        .sum();
    Some(1.0 - hamming as f64 / (per_bar * (bars - 1)) as f64)
}
