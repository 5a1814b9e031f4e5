//! Key finding by the Krumhansl-Schmuckler method: the pitch classes of a piece (or of a span
//! of it), each weighted by how long it sounds in beats, are correlated (Pearson) with a key
//! profile rotated to each of the 24 keys; the best correlation names the key. Two profiles:
//! Krumhansl-Kessler's probe-tone ratings and Aarden-Essen's folk-song frequencies (the one
//! music21's `analyze('key')` uses). A file's own key signature is taken when it agrees with
//! the notes (see [`key_of_piece`]).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::name::{Key, Mode};
use crate::midi::Piece;

/// A key profile: how strongly each scale degree belongs to a major and to a minor key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Krumhansl and Kessler (1982), the probe-tone ratings of Krumhansl-Schmuckler.
    KrumhanslKessler,
    /// Aarden (2003), note frequencies in the Essen folk songs; music21's default.
    #[default]
    AardenEssen,
}

impl Profile {
    /// The profile's weights of the 12 degrees above the tonic, for `mode`.
    pub fn weights(self, mode: Mode) -> [f64; 12] {
        match (self, mode) {
            (Profile::KrumhanslKessler, Mode::Major) => {
                [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
            }
            (Profile::KrumhanslKessler, Mode::Minor) => {
                [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]
            }
            (Profile::AardenEssen, Mode::Major) => [
                17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494,
                0.232998, 4.95122,
            ],
            (Profile::AardenEssen, Mode::Minor) => [
                18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186,
                7.37619, 1.75623,
            ],
        }
    }
}

/// What the key finder concluded.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KeyEstimate {
    pub key: Key,
    /// The notes' correlation with the key's profile, in -1..=1.
    pub correlation: f64,
    /// The best key's correlation minus the second best's: how sure the finder is.
    pub margin: f64,
    /// Whether the key is the file's key signature (which agreed with the notes).
    pub from_signature: bool,
}

/// How much weaker than the best key a key signature's key may correlate and still be taken.
pub const SIGNATURE_MARGIN: f64 = 0.05;

/// The time each pitch class sounds, in beats, over the pitched (non-drum) notes of `piece`;
/// within `span` (ticks) only, when given (a note counts for the part of it inside the span).
pub fn pitch_class_beats(piece: &Piece, span: Option<Range<u64>>) -> [f64; 12] {
    let tpb = f64::from(piece.ticks_per_beat.max(1));
    let mut h = [0.0; 12];
    for inst in piece.instruments.iter().filter(|i| !i.is_drum) {
        for n in &inst.notes {
            let (start, end) = match &span {
                Some(s) => (n.start.max(s.start), n.end.min(s.end)),
                None => (n.start, n.end),
            };
            if end > start {
                h[usize::from(n.pitch % 12)] += (end - start) as f64 / tpb;
            }
        }
    }
    h
}

/// The Pearson correlation of `weights` (per pitch class) with `profile` in each of the 24
/// keys, in [`Key::all`] order; `None` when `weights` are all equal (no notes, or every pitch
/// class alike).
pub fn correlations(weights: &[f64; 12], profile: Profile) -> Option<[f64; 24]> {
    let mean = weights.iter().sum::<f64>() / 12.0;
    let dev: Vec<f64> = weights.iter().map(|w| w - mean).collect();
    let norm = dev.iter().map(|d| d * d).sum::<f64>().sqrt();
    if !(norm > 1e-12) {
        return None;
    }
    let mut out = [0.0; 24];
    for key in Key::all() {
        let p = profile.weights(key.mode);
        let p_mean = p.iter().sum::<f64>() / 12.0;
        let mut top = 0.0;
        let mut p_norm = 0.0;
        for (pc, d) in dev.iter().enumerate() {
            let q = p[(pc + 12 - usize::from(key.tonic)) % 12] - p_mean;
            top += q * d;
            p_norm += q * q;
        }
        out[key.index()] = top / (p_norm.sqrt() * norm);
    }
    Some(out)
}

/// The best-correlating key of `weights` under `profile` (ties to the earlier key of
/// [`Key::all`]); `None` as for [`correlations`].
pub fn find_key(weights: &[f64; 12], profile: Profile) -> Option<KeyEstimate> {
    correlations(weights, profile).map(|r| best_of(&r))
}

/// The best key of `weights` heard by both profiles at once: each key's correlations under
/// Krumhansl-Kessler and Aarden-Essen averaged, so a key both profiles hear well beats one that
/// only one of them hears best (on a short phrase they often disagree, about its relative minor
/// or the keys a fifth away). `None` as for [`correlations`].
pub fn find_key_by_both(weights: &[f64; 12]) -> Option<KeyEstimate> {
    correlations_by_both(weights).map(|r| best_of(&r))
}

/// The mean of [`correlations`] under the two profiles, per key (see [`find_key_by_both`]).
pub fn correlations_by_both(weights: &[f64; 12]) -> Option<[f64; 24]> {
    let kk = correlations(weights, Profile::KrumhanslKessler)?;
    let ae = correlations(weights, Profile::AardenEssen)?;
    Some(std::array::from_fn(|i| (kk[i] + ae[i]) / 2.0))
}

/// The best key of correlations `r` (in [`Key::all`] order; ties to the earlier key).
fn best_of(r: &[f64; 24]) -> KeyEstimate {
    let keys: Vec<Key> = Key::all().collect();
    let mut order: Vec<usize> = (0..24).collect();
    order.sort_by(|&a, &b| r[b].total_cmp(&r[a]).then(a.cmp(&b)));
    KeyEstimate {
        key: keys[order[0]],
        correlation: r[order[0]],
        margin: r[order[0]] - r[order[1]],
        from_signature: false,
    }
}

/// The key of `piece` (or of its `span`, in ticks): the first key signature in force at the
/// span's start when it agrees with the notes (its key or its relative correlates within
/// [`SIGNATURE_MARGIN`] of the best key; the better of the two is taken, so a minor piece written
/// with a major signature's mode flag is still minor), else the best-correlating key. `None`
/// without pitched notes (or with every pitch class sounding alike).
pub fn key_of_piece(piece: &Piece, span: Option<Range<u64>>, profile: Profile) -> Option<KeyEstimate> {
    let from = span.as_ref().map_or(0, |s| s.start);
    let r = correlations(&pitch_class_beats(piece, span), profile)?;
    let best = best_of(&r);
    let signature = piece
        .key_signatures
        .iter()
        .take_while(|k| k.tick <= from)
        .last()
        .or_else(|| piece.key_signatures.first());
    let Some(sig) = signature else { return Some(best) };
    let named = Key::from_signature(sig);
    let candidate =
        [named, named.relative()].into_iter().max_by(|a, b| r[a.index()].total_cmp(&r[b.index()]))?;
    if r[candidate.index()] + SIGNATURE_MARGIN >= best.correlation {
        Some(KeyEstimate {
            key: candidate,
            correlation: r[candidate.index()],
            margin: r[candidate.index()] - best.correlation,
            from_signature: true,
        })
    } else {
        Some(best)
    }
}

/// The key of the notes alone (key signatures ignored): what a listener would hear.
pub fn key_of_notes(piece: &Piece, span: Option<Range<u64>>, profile: Profile) -> Option<KeyEstimate> {
    find_key(&pitch_class_beats(piece, span), profile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::midi::{Instrument, KeySignature, Note};

    /// A one-part piece at 4 ticks per beat from `(pitch, beats)` played one after another.
    fn line(notes: &[(u8, u64)]) -> Piece {
        let mut piece = Piece::new(4);
        let mut t = 0;
        let mut inst = Instrument { program: 0, channel: 0, ..Instrument::default() };
        for &(pitch, beats) in notes {
            inst.notes.push(Note { start: t, end: t + beats * 4, pitch, velocity: 80 });
            t += beats * 4;
        }
        piece.instruments.push(inst);
        piece
    }

    /// Up and down the key's scale (harmonic minor's raised seventh for minor keys), then a
    /// V-I cadence in the bass and the tonic held: what any listener calls that key.
    fn scale_and_cadence(key: Key) -> Piece {
        let t = key.tonic + 60;
        let mut steps: Vec<u8> = match key.mode {
            Mode::Major => vec![0, 2, 4, 5, 7, 9, 11, 12],
            Mode::Minor => vec![0, 2, 3, 5, 7, 8, 11, 12],
        };
        let down: Vec<u8> = steps.iter().rev().skip(1).copied().collect();
        steps.extend(down);
        let mut notes: Vec<(u8, u64)> = steps.iter().map(|s| (t + s, 1)).collect();
        let third = if key.mode == Mode::Major { 4 } else { 3 };
        notes.extend([(t - 5, 2), (t + 7 - 12 + 4, 1), (t - 12, 2), (t + third, 2), (t, 4)]);
        line(&notes)
    }

    #[test]
    fn scales_and_cadences_are_found_in_all_24_keys_with_both_profiles() {
        for profile in [Profile::KrumhanslKessler, Profile::AardenEssen] {
            for key in Key::all() {
                let found = key_of_notes(&scale_and_cadence(key), None, profile).unwrap();
                assert_eq!(found.key, key, "{profile:?}");
                assert!(found.margin > 0.0 && found.correlation > 0.6, "{profile:?} {key}: {found:?}");
            }
        }
    }

    #[test]
    fn both_profiles_name_the_key_of_their_highest_mean_correlation() {
        // A phrase of G A C B E G D C (quarters held 80%): Aarden-Essen alone hears C major,
        // Krumhansl-Kessler alone G major (no F sounds); the key of the highest mean of the two
        // correlations, by brute force over the 24 keys, is the one `find_key_by_both` names.
        let mut w = [0.0; 12];
        for p in [55u8, 57, 60, 59, 52, 55, 62, 60] {
            w[usize::from(p % 12)] += 0.8;
        }
        let (kk, ae) = (
            correlations(&w, Profile::KrumhanslKessler).unwrap(),
            correlations(&w, Profile::AardenEssen).unwrap(),
        );
        let brute =
            (0..24).max_by(|&i, &j| (kk[i] + ae[i]).total_cmp(&(kk[j] + ae[j])).then(j.cmp(&i))).unwrap();
        let both = find_key_by_both(&w).unwrap();
        assert_eq!(both.key.index(), brute);
        assert!((both.correlation - (kk[brute] + ae[brute]) / 2.0).abs() < 1e-12 && both.margin >= 0.0);
        assert_ne!(
            find_key(&w, Profile::AardenEssen).unwrap().key,
            find_key(&w, Profile::KrumhanslKessler).unwrap().key
        );
        assert!(find_key_by_both(&[1.0; 12]).is_none());
    }

    #[test]
    fn correlations_match_a_direct_pearson_computation() {
        let w = [3.0, 0.0, 1.5, 0.0, 1.5, 0.0, 2.0, 0.0, 0.0, 0.0, 1.5, 0.0];
        let r = correlations(&w, Profile::KrumhanslKessler).unwrap();
        // numpy.corrcoef(w, numpy.roll(kk_major, 2))[0, 1] for D major.
        let p = Profile::KrumhanslKessler.weights(Mode::Major);
        let rolled: Vec<f64> = (0..12).map(|pc| p[(pc + 10) % 12]).collect();
        let (mw, mp) = (w.iter().sum::<f64>() / 12.0, rolled.iter().sum::<f64>() / 12.0);
        let cov: f64 = (0..12).map(|i| (w[i] - mw) * (rolled[i] - mp)).sum();
        let sw: f64 = w.iter().map(|x| (x - mw).powi(2)).sum::<f64>().sqrt();
        let sp: f64 = rolled.iter().map(|x| (x - mp).powi(2)).sum::<f64>().sqrt();
        assert!((r[2] - cov / (sw * sp)).abs() < 1e-12);
        assert!(correlations(&[1.0; 12], Profile::AardenEssen).is_none());
        assert!(key_of_notes(&Piece::new(4), None, Profile::AardenEssen).is_none());
    }

    #[test]
    fn durations_weigh_and_spans_cut() {
        // A held C and E with a short F#: C major; the span over the F# alone is not C major.
        let piece = line(&[(60, 8), (64, 8), (67, 4), (66, 1)]);
        assert_eq!(pitch_class_beats(&piece, None)[6], 1.0);
        assert_eq!(pitch_class_beats(&piece, Some(30..34))[0], 0.5);
        assert_eq!(key_of_notes(&piece, None, Profile::AardenEssen).unwrap().key, Key::C_MAJOR);
        let mut drums = piece.clone();
        drums.instruments[0].is_drum = true;
        assert!(key_of_notes(&drums, None, Profile::AardenEssen).is_none());
    }

    #[test]
    fn a_signature_is_taken_when_it_agrees_and_its_mode_follows_the_notes() {
        let mut piece = scale_and_cadence(Key::A_MINOR);
        // Written with C major's signature (mode flag lost): the notes say A minor.
        piece.key_signatures.push(KeySignature { tick: 0, sharps: 0, minor: false });
        let found = key_of_piece(&piece, None, Profile::AardenEssen).unwrap();
        assert_eq!((found.key, found.from_signature), (Key::A_MINOR, true));
        // A signature the notes contradict (four flats over A minor) is ignored.
        piece.key_signatures[0].sharps = -4;
        let found = key_of_piece(&piece, None, Profile::AardenEssen).unwrap();
        assert_eq!((found.key, found.from_signature), (Key::A_MINOR, false));
    }
}
