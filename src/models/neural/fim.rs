//! Fill in the middle (FIM): training windows cut into prefix, middle and suffix and reordered
//! as `PREFIX prefix SUFFIX suffix MIDDLE middle` (the "PSM" order of Bavarian et al., 2022), so
//! that a network reads what comes before and after a gap, then writes the gap.
//!
//! A network trained with a FIM rate above zero has three sentinel tokens after the tokenizer's
//! vocabulary: [`prefix`], [`suffix`] and [`middle`] of a vocabulary of `vocab` tokens are
//! `vocab`, `vocab + 1` and `vocab + 2`. They are never sampled nor scored: the network's
//! distributions are read over the tokenizer's vocabulary alone (see [`super::sample`]).

use crate::tokens::TokenId;

/// Sentinel tokens a FIM network has beyond the tokenizer's vocabulary.
pub const SENTINELS: usize = 3;

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

/// `tokens` cut before `i` and before `j` (`i <= j <= len`) into prefix, middle and suffix,
/// reordered as `PREFIX prefix SUFFIX suffix MIDDLE middle` (three tokens longer).
pub fn reorder(tokens: &[TokenId], i: usize, j: usize, vocab: usize) -> Vec<TokenId> {
    let (i, j) = (i.min(tokens.len()), j.min(tokens.len()).max(i.min(tokens.len())));
    let mut out = Vec::with_capacity(tokens.len() + SENTINELS);
    out.push(prefix(vocab));
    out.extend_from_slice(&tokens[..i]);
    out.push(suffix(vocab));
    out.extend_from_slice(&tokens[j..]);
    out.push(middle(vocab));
    out.extend_from_slice(&tokens[i..j]);
    out
}

/// The original order of a [`reorder`]ed sequence (`None` if it is not one).
pub fn restore(reordered: &[TokenId], vocab: usize) -> Option<Vec<TokenId>> {
    let (p, s, m) = (prefix(vocab), suffix(vocab), middle(vocab));
    let rest = reordered.strip_prefix(&[p])?;
    let at_s = rest.iter().position(|&t| t == s)?;
    let at_m = at_s + 1 + rest[at_s + 1..].iter().position(|&t| t == m)?;
    let mut out = rest[..at_s].to_vec();
    out.extend_from_slice(&rest[at_m + 1..]);
    out.extend_from_slice(&rest[at_s + 1..at_m]);
    Some(out)
}

/// `before` and `after` cut so that a FIM primer of them leaves room for the middle within a
/// training window of `window` tokens: at most 40% of it for the end of `before`, 30% for the
/// start of `after` (each takes what the other leaves), at least 30% for the middle. The
/// network never saw a reordered window longer than its training window; read past it, a
/// Transformer's cache slides and drops the sentinels and the prefix.
pub fn fit<'a>(before: &'a [TokenId], after: &'a [TokenId], window: usize) -> (&'a [TokenId], &'a [TokenId]) {
    let room = (window + 1).saturating_sub(SENTINELS);
    let (max_before, max_after) = (room * 4 / 10, room * 3 / 10);
    let keep_after = after.len().min(max_after.max(max_before + max_after - before.len().min(max_before)));
    let keep_before = before.len().min(max_before + max_after - keep_after);
    (&before[before.len() - keep_before..], &after[..keep_after])
}

/// What a FIM network reads before it writes the middle between `before` and `after`.
pub fn primer(before: &[TokenId], after: &[TokenId], vocab: usize) -> Vec<TokenId> {
    let mut out = Vec::with_capacity(before.len() + after.len() + SENTINELS);
    out.push(prefix(vocab));
    out.extend_from_slice(before);
    out.push(suffix(vocab));
    out.extend_from_slice(after);
    out.push(middle(vocab));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reordering_round_trips_exactly_for_every_cut() {
        let tokens: Vec<TokenId> = (1..=12).collect();
        for i in 0..=tokens.len() {
            for j in i..=tokens.len() {
                let r = reorder(&tokens, i, j, 100);
                assert_eq!(r.len(), tokens.len() + SENTINELS);
                assert_eq!(r[0], 100);
                assert_eq!(r[i + 1], 101);
                assert_eq!(r[1 + i + 1 + tokens.len() - j], 102);
                assert_eq!(restore(&r, 100).as_deref(), Some(&tokens[..]), "{i} {j}");
                // The middle comes last: a primer of the rest is the reordered sequence up to it.
                assert_eq!(primer(&tokens[..i], &tokens[j..], 100), r[..r.len() - (j - i)]);
            }
        }
        assert_eq!(restore(&tokens, 100), None);
    }

    #[test]
    fn a_primer_is_cut_to_leave_the_middle_room_in_the_window() {
        let long: Vec<TokenId> = (0..1000).collect();
        let (b, a) = fit(&long, &long, 255);
        assert_eq!((b.len(), a.len()), (101, 75));
        assert_eq!(b.last(), Some(&999), "the end of the music before");
        assert_eq!(a.first(), Some(&0), "the start of the music after");
        // What one side does not need, the other may take.
        let (b, a) = fit(&long[..10], &long, 255);
        assert_eq!((b.len(), a.len()), (10, 166));
        let (b, a) = fit(&long, &long[..5], 255);
        assert_eq!((b.len(), a.len()), (171, 5));
        assert!(b.len() + a.len() + SENTINELS <= 256 * 7 / 10 + 1);
    }
}
