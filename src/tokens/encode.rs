//! Piece → tokens: a piece's canonical grid notes (and, for REMI, its bar lines) handed to the
//! encoder of the tokenizer's scheme. The order of events within each scheme is described in
//! that scheme's module ([`super::midi_like`], [`super::durations`]).

use super::config::Scheme;
use super::grid::{self, GridNote};
use super::{bars, durations, midi_like, TokenId, Tokenizer, BOS, EOS};
use crate::midi::Piece;

/// The canonical grid notes of `piece` under `t`'s configuration.
pub(super) fn canonical_notes(t: &Tokenizer, piece: &Piece) -> Vec<GridNote> {
    let notes = grid::quantize_notes(t.config(), t.vocab(), piece);
    grid::canonicalize(notes, t.config().max_note_steps)
}

/// `BOS, events..., EOS`.
pub(super) fn encode(t: &Tokenizer, piece: &Piece) -> Vec<TokenId> {
    let mut out = encode_prefix(t, piece, f64::INFINITY);
    out.push(EOS);
    out
}

/// `BOS` and the events at grid positions before `cut` (in steps), without `EOS`.
pub(super) fn encode_prefix(t: &Tokenizer, piece: &Piece, cut: f64) -> Vec<TokenId> {
    let notes = canonical_notes(t, piece);
    let (config, vocab) = (t.config(), t.vocab());
    match config.scheme {
        Scheme::MidiLike => midi_like::encode(config, vocab, &notes, cut),
        Scheme::Tsd => durations::encode(config, vocab, &notes, None, cut),
        Scheme::Remi => {
            let lines = bars::BarLines::for_piece(config, piece);
            durations::encode(config, vocab, &notes, Some(lines), cut)
        }
    }
}

/// The tokens that follow a sequence standing at step `from` (see [`Tokenizer::encode_suffix`]),
/// without BOS, with EOS.
pub(super) fn encode_suffix(t: &Tokenizer, piece: &Piece, from: u64) -> Vec<TokenId> {
    let (config, vocab) = (t.config(), t.vocab());
    let mut out = match config.scheme {
        Scheme::MidiLike | Scheme::Tsd => {
            let notes: Vec<GridNote> = canonical_notes(t, piece)
                .into_iter()
                .filter(|n| n.start >= from)
                .map(|n| GridNote { start: n.start - from, end: n.end - from, ..n })
                .collect();
            match config.scheme {
                Scheme::MidiLike => midi_like::encode(config, vocab, &notes, f64::INFINITY),
                _ => durations::encode(config, vocab, &notes, None, f64::INFINITY),
            }
        }
        Scheme::Remi => {
            // Bar lines and positions are absolute: the rest of the whole encoding.
            let whole = encode_prefix(t, piece, f64::INFINITY);
            let before = encode_prefix(t, piece, from as f64).len();
            let mut rest = vec![BOS];
            rest.extend_from_slice(&whole[before.min(whole.len())..]);
            rest
        }
    };
    out.remove(0);
    out.push(EOS);
    out
}
