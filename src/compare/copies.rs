//! `compare`'s originality on notes (issue 24): how much of each continuation copies the
//! training split, by the one definition of a copy of [`crate::copies`] (runs of equal pitch
//! intervals and onset gaps: transposed and re-tempoed quotes count, whatever the tokenizer), and
//! the same figures for the test pieces' own continuations, the reference a model is read
//! against.
//!
//! - Every sample's continuation (the piece the features measure) is checked against one
//!   [`CopyIndex`] of the training split ([`training_index`]) with [`check_piece`] at `min` =
//!   [`CompareOptions::copy_min`] (its [`CopyReport`] is [`super::SampleReport::note_copy`]);
//!   [`NoteCopyStats`] sums them up per model.
//! - The reference ([`reference()`]): each test piece's real continuation, what a sample stands
//!   for: the test piece as `compare` decodes it, cut as the samples' primers are cut (the first
//!   `primer_beats` beats, [`Tokenizer::encode_prefix`]), then the next `length` tokens of its
//!   own encoding (the samples' budget; fewer where the piece ends sooner), decoded on their own
//!   as a sample's continuation is ([`Tokenizer::strip_primer`]), so that a reference copy has
//!   the same room to grow as a sample's.
//! - The views: the summary table's cells ([`longest_cell`], [`share_cell`]), the note under it
//!   ([`note`]) and each sample's line ([`describe`]).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{CompareOptions, Report};
use crate::copies::CopyIndex;
use crate::corpus::{Pieces, Split};
use crate::error::{Error, Result};
use crate::midi::Piece;
use crate::originality::report::{check_piece, CopyReport, MIN_COPY_NOTES};
use crate::progress::Progress;
use crate::tokens::{DecodeOptions, Tokenizer};

/// The default `min` of the copied share: copies of at least 8 notes (two four-part chords).
pub const DEFAULT_COPY_MIN: usize = 8;

/// [`DEFAULT_COPY_MIN`], for reports written before the field existed.
pub(super) fn default_copy_min() -> usize {
    DEFAULT_COPY_MIN
}

/// An error naming `copy-min` unless `min` is a copy length (at least [`MIN_COPY_NOTES`]).
pub fn check_min(min: usize) -> Result<()> {
    if min < MIN_COPY_NOTES {
        return Err(Error::setting("copy-min", min, format!("at least {MIN_COPY_NOTES} notes")));
    }
    Ok(())
}

/// The copies on notes of a set of pieces (a model's samples, or the test pieces' continuations).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NoteCopyStats {
    /// Copies of at least this many notes count in the copied share.
    pub min: usize,
    /// Pieces checked.
    pub pieces: usize,
    /// Mean, median and largest [`CopyReport::longest_notes`] (0 without pieces).
    pub mean_longest: f64,
    pub median_longest: f64,
    pub max_longest: usize,
    /// Mean [`CopyReport::copied_share`] (0 without pieces).
    pub mean_copied_share: f64,
}

impl NoteCopyStats {
    /// The figures of `reports`, checked at `min`.
    pub fn of<'a>(min: usize, reports: impl IntoIterator<Item = &'a CopyReport>) -> Self {
        let mut longest: Vec<usize> = Vec::new();
        let mut share = 0.0;
        for r in reports {
            longest.push(r.longest_notes);
            share += r.copied_share;
        }
        longest.sort_unstable();
        let n = longest.len();
        let mean = |total: f64| if n == 0 { 0.0 } else { total / n as f64 };
        let median = match n {
            0 => 0.0,
            _ if n % 2 == 1 => longest[n / 2] as f64,
            _ => (longest[n / 2 - 1] + longest[n / 2]) as f64 / 2.0,
        };
        NoteCopyStats {
            min,
            pieces: n,
            mean_longest: mean(longest.iter().sum::<usize>() as f64),
            median_longest: median,
            max_longest: longest.last().copied().unwrap_or(0),
            mean_copied_share: mean(share),
        }
    }
}

/// The copy index of the training split of `corpus`: the one the copy limit of `opts`' note
/// rules already holds (`--max-copy`), else built from the split's tokens.
pub fn training_index(corpus: &dyn Pieces, opts: &CompareOptions, progress: &dyn Progress) -> Arc<CopyIndex> {
    match opts.sampler.notes.as_ref().and_then(|r| r.copy_limit()) {
        Some(limit) => Arc::clone(&limit.index),
        None => {
            progress.message("indexing the training split's notes for the copy figures");
            Arc::new(corpus.copy_index(Split::Train))
        }
    }
}

/// The real continuation of `piece` (a test piece as `compare` decodes it): the next `length`
/// tokens of its encoding after the primer of its first `primer_beats` beats, decoded on their
/// own (see the module documentation); with BPE, cut in merged tokens, as the samples are.
pub fn real_continuation(tokenizer: &Tokenizer, piece: &Piece, primer_beats: f64, length: usize) -> Piece {
    let primer = tokenizer.encode_prefix(piece, Some(primer_beats), None);
    let full = tokenizer.encode(piece);
    // The primer's base tokens are a prefix of the whole piece's.
    let (primer_base, full_base) = (tokenizer.base_tokens(&primer), tokenizer.base_tokens(&full));
    let rest = full_base.get(primer_base.len()..).unwrap_or(&[]);
    let rest = match tokenizer.bpe() {
        Some(bpe) => bpe.encode(rest),
        None => rest.to_vec(),
    };
    let rest = &rest[..rest.len().min(length)];
    tokenizer.decode_with(&tokenizer.strip_primer(&primer, rest), &DecodeOptions::from_piece(piece))
}

/// The reference figures: every test piece of `real` (named, decoded as `compare` measures them)
/// cut to its real continuation ([`real_continuation`]) and checked against `index` at
/// `opts.copy_min`.
pub fn reference(
    index: &CopyIndex,
    tokenizer: &Tokenizer,
    real: &[(String, Piece)],
    opts: &CompareOptions,
) -> NoteCopyStats {
    use rayon::prelude::*;
    let reports: Vec<CopyReport> = real
        .par_iter()
        .map(|(name, piece)| {
            let cont = real_continuation(tokenizer, piece, opts.primer_beats, opts.length);
            check_piece(index, name.as_str(), &cont, opts.copy_min)
        })
        .collect();
    NoteCopyStats::of(opts.copy_min, &reports)
}

/// The summary table's "longest copy (notes)" cell: `mean (max N)`, or `–`.
pub fn longest_cell(s: Option<&NoteCopyStats>) -> String {
    match s {
        Some(s) if s.pieces > 0 => format!("{:.1} (max {})", s.mean_longest, s.max_longest),
        _ => "–".into(),
    }
}

/// The summary table's "copied ≥N notes" cell: the mean copied share as a percentage, or `–`.
pub fn share_cell(s: Option<&NoteCopyStats>) -> String {
    super::report::percent(s.filter(|s| s.pieces > 0).map(|s| s.mean_copied_share))
}

/// The summary table's header of the copied share column.
pub fn share_header(r: &Report) -> String {
    format!("copied ≥{} notes", r.copy_min)
}

/// `x` beats, without trailing zeros (copy-grid beats are twelfths: at most two decimals).
fn beats(x: f64) -> String {
    let s = format!("{x:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A sample's longest copy for the per-sample listings: `longest copy N notes at beat B, from
/// SOURCE beat B' (+T)`, `no copy`, or `longest copy –` when not measured.
pub fn describe(c: Option<&CopyReport>) -> String {
    let Some(c) = c else { return "longest copy –".into() };
    match (&c.source, c.source_beat, c.transposition) {
        (Some(source), Some(at), Some(t)) => format!(
            "longest copy {} notes at beat {}, from {source} beat {} ({t:+})",
            c.longest_notes,
            beats(c.beat),
            beats(at)
        ),
        _ => "no copy".into(),
    }
}

/// What the copy columns and the reference row mean, in one paragraph (for the terminal,
/// report.md and report.html).
pub fn note(r: &Report) -> String {
    let mut s = format!(
        "longest copy (notes): per sample, the longest run of consecutive notes of the continuation whose pitch intervals and onset gaps (in beats) equal those of a run of one training piece, so transposed and re-tempoed quotes count, whatever the tokenizer; mean (max) over the samples. {}: mean share of the continuations' notes inside such copies of at least {} notes.",
        share_header(r),
        r.copy_min
    );
    if let Some(c) = &r.reference_copies {
        s.push_str(&format!(
            " test pieces (reference): the {} test pieces' own continuations (the first {} tokens after the same {}-beat primers) against the same training split: what real music of the corpus scores (median longest copy {}).",
            c.pieces,
            r.length,
            r.primer_beats,
            beats(c.median_longest)
        ));
    }
    s.push_str(&format!(
        " token {n}-grams in train: share of the continuations' {n}-token n-grams found in the training split; tokenizer-specific (not comparable across tokenizers, and without a reference).",
        n = r.ngram
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(longest_notes: usize, copied_share: f64) -> CopyReport {
        CopyReport {
            file: "x.mid".into(),
            longest_notes,
            beat: 0.0,
            source: None,
            source_beat: None,
            transposition: None,
            copied_share,
        }
    }

    #[test]
    fn stats_are_the_mean_median_and_max_longest_copy_and_the_mean_share() {
        let odd = [report(3, 0.0), report(12, 0.5), report(5, 0.25)];
        let s = NoteCopyStats::of(8, &odd);
        assert_eq!((s.min, s.pieces, s.max_longest), (8, 3, 12));
        assert_eq!((s.mean_longest, s.median_longest, s.mean_copied_share), (20.0 / 3.0, 5.0, 0.25));
        // An even count: the median is the mean of the middle two.
        let even = [report(4, 1.0), report(1, 0.0), report(9, 0.5), report(2, 0.5)];
        let s = NoteCopyStats::of(16, &even);
        assert_eq!((s.min, s.pieces, s.max_longest), (16, 4, 9));
        assert_eq!((s.mean_longest, s.median_longest, s.mean_copied_share), (4.0, 3.0, 0.5));
        let empty = NoteCopyStats::of(8, &[]);
        assert_eq!((empty.pieces, empty.max_longest), (0, 0));
        assert_eq!((empty.mean_longest, empty.median_longest, empty.mean_copied_share), (0.0, 0.0, 0.0));
        assert_eq!((longest_cell(Some(&empty)), share_cell(Some(&empty))), ("–".into(), "–".into()));
        assert_eq!(longest_cell(Some(&NoteCopyStats::of(8, &odd))), "6.7 (max 12)");
        assert_eq!(share_cell(Some(&NoteCopyStats::of(8, &odd))), "25.0%");
    }

    #[test]
    fn the_real_continuation_is_the_piece_after_the_primer_within_the_token_budget() {
        use crate::midi::{Instrument, Note};
        use crate::tokens::TokenizerConfig;
        let tokenizer = Tokenizer::new(TokenizerConfig::default()).unwrap();
        // 16 half-beat notes a beat apart, pitches 60, 62, 64, 61, 63, 65, ...
        let mut p = Piece::new(480);
        let notes = (0..16u8)
            .map(|i| Note {
                start: u64::from(i) * 480,
                end: u64::from(i) * 480 + 240,
                pitch: 60 + i % 3 * 2 + i / 3,
                velocity: 80,
            })
            .collect();
        p.instruments.push(Instrument { notes, ..Instrument::default() });
        let piece = tokenizer.decode(&tokenizer.encode(&p));
        let cont = real_continuation(&tokenizer, &piece, 4.0, 10_000);
        let pitches = |p: &Piece| {
            p.instruments.iter().flat_map(|i| i.notes.iter().map(|n| n.pitch)).collect::<Vec<_>>()
        };
        assert_eq!(pitches(&cont), pitches(&piece)[4..], "the notes from beat 4 on");
        // Time 0 is the primer's last event (the note-off at beat 3.5), as in a sample's.
        assert_eq!(cont.instruments[0].notes[0].start, 240);
        // A budget of a few tokens holds fewer notes; none holds none.
        let short = real_continuation(&tokenizer, &piece, 4.0, 6);
        assert!((1..12).contains(&short.note_count()), "{}", short.note_count());
        assert_eq!(real_continuation(&tokenizer, &piece, 4.0, 0).note_count(), 0);
        assert_eq!(real_continuation(&tokenizer, &piece, 64.0, 100).note_count(), 0);
        // Against an index of the whole piece, all of it is copied.
        let index = crate::originality::index_pieces([("p.mid".into(), &piece)]);
        let opts = CompareOptions { length: 10_000, ..CompareOptions::default() };
        let s = reference(&index, &tokenizer, &[("p.mid".into(), piece)], &opts);
        assert_eq!((s.pieces, s.max_longest, s.mean_copied_share), (1, 12, 1.0));
    }

    #[test]
    fn a_copy_is_described_with_its_source_and_transposition() {
        let mut r = report(12, 0.5);
        assert_eq!(describe(Some(&r)), "no copy");
        (r.beat, r.source, r.source_beat, r.transposition) =
            (57.25, Some("bwv190.7.mid".into()), Some(12.0), Some(-2));
        assert_eq!(describe(Some(&r)), "longest copy 12 notes at beat 57.25, from bwv190.7.mid beat 12 (-2)");
        r.transposition = Some(0);
        assert!(describe(Some(&r)).ends_with("(+0)"));
        assert_eq!(describe(None), "longest copy –");
        assert!(check_min(1).unwrap_err().to_string().contains("copy-min"));
        assert!(check_min(2).is_ok());
    }
}
