//! Fill in the middle (FIM): training windows cut into prefix, middle and suffix and reordered
//! as `PREFIX prefix SUFFIX suffix GAP gap MIDDLE middle` (the "PSM" order of Bavarian et al.,
//! 2022, with the gap's length stated), so that a network reads what comes before and after a
//! gap and how long the gap lasts, then writes the gap.
//!
//! `gap` is the time the middle moves, written as the tokenizer writes a time move (SHIFT
//! tokens, the longest first: [`crate::tokens::Tokenizer::shift_tokens`]); empty under REMI,
//! whose bars and positions state time absolutely. In training it is measured from the middle's
//! own SHIFTs; at infill time it is the region's end less the primer's end, so the network knows
//! how much music to write (without it, a middle's length is a guess: the first FIM networks,
//! trained without the gap, wrote twice as many notes as the region had).
//!
//! Two orders ([`Order`]): the one above (PSM) and `SUFFIX suffix GAP gap PREFIX prefix MIDDLE
//! middle` (SPM), where the music before comes right before the middle, so that the middle's
//! first tokens read the state the music before leaves (which notes sound, where time stands)
//! as a left-to-right network reads it. Under PSM that state lies a whole suffix back: reading
//! the real regions of the Bach test chorales, a PSM network paid 2.8-3.0 bits a token more
//! than left to right for a region's first 4 tokens, 0.5 for the next 8 and nothing after
//! (`examples/edit_quality.rs --probe-only`).
//!
//! A network trained with a FIM rate above zero has four sentinel tokens after the tokenizer's
//! vocabulary: [`prefix`], [`suffix`], [`middle`] and [`gap`] of a vocabulary of `vocab` tokens
//! are `vocab` to `vocab + 3`. They are never sampled nor scored: the network's distributions
//! are read over the tokenizer's vocabulary alone (see [`super::sample`]). A network of the
//! first layout ([`SENTINELS_NO_GAP`] sentinels, no GAP section) is still read.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::tokens::TokenId;

/// The order a FIM network reads the music around a middle in, before it writes the middle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// `PREFIX prefix SUFFIX suffix GAP gap MIDDLE middle`.
    #[default]
    Psm,
    /// `SUFFIX suffix GAP gap PREFIX prefix MIDDLE middle`: the music before right before the
    /// middle.
    Spm,
}

impl std::str::FromStr for Order {
    type Err = Error;

    fn from_str(s: &str) -> Result<Order> {
        match s.trim().to_ascii_lowercase().as_str() {
            "psm" => Ok(Order::Psm),
            "spm" => Ok(Order::Spm),
            other => Err(Error::setting("fim-order", format!("{other:?}"), "psm or spm")),
        }
    }
}

/// Sentinel tokens a FIM network has beyond the tokenizer's vocabulary.
pub const SENTINELS: usize = 4;

/// Sentinel tokens of the first FIM layout, `PREFIX prefix SUFFIX suffix MIDDLE middle`.
pub const SENTINELS_NO_GAP: usize = 3;

/// The PREFIX sentinel of a vocabulary of `vocab` tokens.
pub fn prefix(vocab: usize) -> TokenId {
    vocab as TokenId
}

/// The SUFFIX sentinel.
pub fn suffix(vocab: usize) -> TokenId {
    (vocab + 1) as TokenId
}

/// The MIDDLE sentinel.
pub fn middle(vocab: usize) -> TokenId {
    (vocab + 2) as TokenId
}

/// The GAP sentinel.
pub fn gap(vocab: usize) -> TokenId {
    (vocab + 3) as TokenId
}

/// `tokens` cut before `i` and before `j` (`i <= j <= len`) into prefix, middle and suffix,
/// reordered in `order` with the middle last (`gap` is the middle's time as time tokens; the
/// result is `SENTINELS + gap.len()` tokens longer).
pub fn reorder(
    tokens: &[TokenId],
    i: usize,
    j: usize,
    gap_tokens: &[TokenId],
    vocab: usize,
    order: Order,
) -> Vec<TokenId> {
    let (i, j) = (i.min(tokens.len()), j.min(tokens.len()).max(i.min(tokens.len())));
    let mut out = primer(&tokens[..i], &tokens[j..], Some(gap_tokens), vocab, order);
    out.extend_from_slice(&tokens[i..j]);
    out
}

/// The original order of a [`reorder`]ed sequence, of either order (`None` if it is not one).
pub fn restore(reordered: &[TokenId], vocab: usize) -> Option<Vec<TokenId>> {
    let (p, s, g, m) = (prefix(vocab), suffix(vocab), gap(vocab), middle(vocab));
    // Where the sentinel `sentinel` stands in `rest`, from `from` on.
    let (first, rest) = reordered.split_first()?;
    let section =
        |from: usize, sentinel: TokenId| Some(from + rest[from..].iter().position(|&t| t == sentinel)?);
    let (before, after, middle_at) = if *first == p {
        let at_s = section(0, s)?;
        let at_g = section(at_s + 1, g)?;
        let at_m = section(at_g + 1, m)?;
        (&rest[..at_s], &rest[at_s + 1..at_g], at_m + 1)
    } else if *first == s {
        let at_g = section(0, g)?;
        let at_p = section(at_g + 1, p)?;
        let at_m = section(at_p + 1, m)?;
        (&rest[at_p + 1..at_m], &rest[..at_g], at_m + 1)
    } else {
        return None;
    };
    let mut out = before.to_vec();
    out.extend_from_slice(&rest[middle_at..]);
    out.extend_from_slice(after);
    Some(out)
}

/// `before` and `after` cut so that a FIM primer of them leaves room for the middle within a
/// training window of `window` tokens, `reserved` of which the sentinels and the gap take: at
/// most 40% of the rest for the end of `before`, 30% for the start of `after` (each takes what
/// the other leaves), at least 30% for the middle. The network never saw a reordered window
/// longer than its training window; read past it, a Transformer's cache slides and drops the
/// sentinels and the prefix.
pub fn fit<'a>(
    before: &'a [TokenId],
    after: &'a [TokenId],
    window: usize,
    reserved: usize,
) -> (&'a [TokenId], &'a [TokenId]) {
    let room = (window + 1).saturating_sub(reserved);
    let (max_before, max_after) = (room * 4 / 10, room * 3 / 10);
    let keep_after = after.len().min(max_after.max(max_before + max_after - before.len().min(max_before)));
    let keep_before = before.len().min(max_before + max_after - keep_after);
    (&before[before.len() - keep_before..], &after[..keep_after])
}

/// What a FIM network trained on windows of `window` tokens reads before it writes the middle
/// between `before` and `after` lasting `gap_tokens`: both cut by [`fit`] to leave the middle
/// its room, then [`primer`] (`None`: a network of the first layout, without the GAP section).
pub fn fitted_primer(
    before: &[TokenId],
    after: &[TokenId],
    gap_tokens: Option<&[TokenId]>,
    window: usize,
    vocab: usize,
    order: Order,
) -> Vec<TokenId> {
    let reserved = gap_tokens.map_or(SENTINELS_NO_GAP, |g| SENTINELS + g.len());
    let (near_before, near_after) = fit(before, after, window, reserved);
    primer(near_before, near_after, gap_tokens, vocab, order)
}

/// What a FIM network reads, in `order`, before it writes the middle between `before` and
/// `after`, which lasts `gap_tokens` (`None`: a network of the first layout, without the GAP
/// section).
pub fn primer(
    before: &[TokenId],
    after: &[TokenId],
    gap_tokens: Option<&[TokenId]>,
    vocab: usize,
    order: Order,
) -> Vec<TokenId> {
    let gap_len = gap_tokens.map_or(0, |g| g.len() + 1);
    let mut out = Vec::with_capacity(before.len() + after.len() + gap_len + SENTINELS_NO_GAP);
    let push_before = |out: &mut Vec<TokenId>| {
        out.push(prefix(vocab));
        out.extend_from_slice(before);
    };
    if order == Order::Psm {
        push_before(&mut out);
    }
    out.push(suffix(vocab));
    out.extend_from_slice(after);
    if let Some(g) = gap_tokens {
        out.push(gap(vocab));
        out.extend_from_slice(g);
    }
    if order == Order::Spm {
        push_before(&mut out);
    }
    out.push(middle(vocab));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordering_round_trips_exactly_for_every_cut() {
        let tokens: Vec<TokenId> = (1..=12).collect();
        let gap_tokens = [7, 7];
        for i in 0..=tokens.len() {
            for j in i..=tokens.len() {
                let r = reorder(&tokens, i, j, &gap_tokens, 100, Order::Psm);
                assert_eq!(r.len(), tokens.len() + SENTINELS + gap_tokens.len());
                assert_eq!(r[0], 100);
                assert_eq!(r[i + 1], 101);
                let at_gap = 1 + i + 1 + tokens.len() - j;
                assert_eq!(r[at_gap], 103);
                assert_eq!(r[at_gap + 1..at_gap + 3], gap_tokens);
                assert_eq!(r[at_gap + 3], 102);
                assert_eq!(restore(&r, 100).as_deref(), Some(&tokens[..]), "{i} {j}");
                // The middle comes last: a primer of the rest is the reordered sequence up to it.
                assert_eq!(
                    primer(&tokens[..i], &tokens[j..], Some(&gap_tokens), 100, Order::Psm),
                    r[..r.len() - (j - i)]
                );
            }
        }
        assert_eq!(restore(&tokens, 100), None);
        // The first layout: no GAP section.
        assert_eq!(primer(&[1], &[2], None, 100, Order::Psm), vec![100, 1, 101, 2, 102]);
    }

    #[test]
    fn suffix_first_puts_the_music_before_right_before_the_middle() {
        let tokens: Vec<TokenId> = (1..=12).collect();
        let gap_tokens = [7];
        for i in 0..=tokens.len() {
            for j in i..=tokens.len() {
                let r = reorder(&tokens, i, j, &gap_tokens, 100, Order::Spm);
                assert_eq!(r.len(), tokens.len() + SENTINELS + gap_tokens.len());
                // SUFFIX suffix GAP gap PREFIX prefix MIDDLE middle.
                let mut expected = vec![101];
                expected.extend_from_slice(&tokens[j..]);
                expected.extend([103, 7, 100]);
                expected.extend_from_slice(&tokens[..i]);
                expected.push(102);
                expected.extend_from_slice(&tokens[i..j]);
                assert_eq!(r, expected, "{i} {j}");
                assert_eq!(restore(&r, 100).as_deref(), Some(&tokens[..]), "{i} {j}");
                assert_eq!(
                    primer(&tokens[..i], &tokens[j..], Some(&gap_tokens), 100, Order::Spm),
                    r[..r.len() - (j - i)]
                );
            }
        }
        // Cut sections are refused: no MIDDLE, or a PREFIX missing.
        assert_eq!(restore(&[101, 5, 103, 100, 1], 100), None);
        assert_eq!(restore(&[101, 5, 103, 102, 1], 100), None);
        assert_eq!("SPM".parse::<Order>().unwrap(), Order::Spm);
        assert!("pms".parse::<Order>().is_err());
    }

    #[test]
    fn a_primer_is_cut_to_leave_the_middle_room_in_the_window() {
        let long: Vec<TokenId> = (0..1000).collect();
        let (b, a) = fit(&long, &long, 255, 3);
        assert_eq!((b.len(), a.len()), (101, 75));
        assert_eq!(b.last(), Some(&999), "the end of the music before");
        assert_eq!(a.first(), Some(&0), "the start of the music after");
        // What one side does not need, the other may take.
        let (b, a) = fit(&long[..10], &long, 255, 3);
        assert_eq!((b.len(), a.len()), (10, 166));
        let (b, a) = fit(&long, &long[..5], 255, 3);
        assert_eq!((b.len(), a.len()), (171, 5));
        assert!(b.len() + a.len() + 3 <= 256 * 7 / 10 + 1);
        // The gap's tokens take their room too.
        let (b, a) = fit(&long, &long, 255, 4 + 23);
        assert_eq!((b.len(), a.len()), (91, 68));
    }
}
