//! Pitch statistics of pitched (non-drum) notes, sorted by `(start, pitch)`.

use crate::midi::Note;

/// Major scale steps; the natural minor scale is its rotation from the sixth degree.
const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
const MINOR: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];

/// Share of notes on each pitch class (all 0 without notes).
pub fn pitch_class_histogram(notes: &[Note]) -> [f64; 12] {
    let mut h = [0.0; 12];
    for n in notes {
        h[usize::from(n.pitch % 12)] += 1.0;
    }
    normalize(&mut h);
    h
}

/// Shannon entropy in bits of a distribution (zero entries contribute nothing).
pub fn entropy_bits(p: &[f64]) -> f64 {
    p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.log2()).sum::<f64>().max(0.0)
}

/// Highest minus lowest pitch.
pub fn pitch_range(notes: &[Note]) -> Option<f64> {
    let lo = notes.iter().map(|n| n.pitch).min()?;
    let hi = notes.iter().map(|n| n.pitch).max()?;
    Some(f64::from(hi - lo))
}

/// Number of distinct pitches.
pub fn pitches_used(notes: &[Note]) -> f64 {
    let mut seen = [false; 128];
    for n in notes {
        seen[usize::from(n.pitch & 127)] = true;
    }
    seen.iter().filter(|&&s| s).count() as f64
}

/// Largest share of notes inside one of the 24 major and natural-minor scales.
pub fn scale_consistency(notes: &[Note]) -> Option<f64> {
    if notes.is_empty() {
        return None;
    }
    let mut counts = [0usize; 12];
    for n in notes {
        counts[usize::from(n.pitch % 12)] += 1;
    }
    let best = (0..12)
        .flat_map(|tonic| [MAJOR, MINOR].map(move |s| (tonic, s)))
        .map(|(tonic, scale)| scale.iter().map(|&d| counts[(tonic + usize::from(d)) % 12]).sum::<usize>())
        .max()
        .unwrap_or(0);
    Some(best as f64 / notes.len() as f64)
}

/// The top (highest) pitch at each distinct onset, in time order: the melody line the interval
/// and transition statistics follow.
pub fn top_line(notes: &[Note]) -> Vec<u8> {
    let mut line: Vec<(u64, u8)> = Vec::new();
    for n in notes {
        match line.last_mut() {
            Some((start, pitch)) if *start == n.start => *pitch = (*pitch).max(n.pitch),
            _ => line.push((n.start, n.pitch)),
        }
    }
    line.into_iter().map(|(_, p)| p).collect()
}

/// Mean absolute interval between consecutive pitches of `line` (`None` with fewer than two).
pub fn melodic_interval(line: &[u8]) -> Option<f64> {
    if line.len() < 2 {
        return None;
    }
    let sum: f64 = line.windows(2).map(|w| f64::from(w[0].abs_diff(w[1]))).sum();
    Some(sum / (line.len() - 1) as f64)
}

/// Pitch-class transitions between consecutive pitches of `line`, normalized to sum to 1.
pub fn transition_matrix(line: &[u8]) -> [[f64; 12]; 12] {
    let mut m = [[0.0; 12]; 12];
    for w in line.windows(2) {
        m[usize::from(w[0] % 12)][usize::from(w[1] % 12)] += 1.0;
    }
    let total: f64 = m.iter().flatten().sum();
    if total > 0.0 {
        m.iter_mut().flatten().for_each(|x| *x /= total);
    }
    m
}

fn normalize(h: &mut [f64]) {
    let total: f64 = h.iter().sum();
    if total > 0.0 {
        h.iter_mut().for_each(|x| *x /= total);
    }
}
