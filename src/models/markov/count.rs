//! Parallel n-gram counting: raw counts for the highest order, Kneser-Ney continuation counts
//! for the lower ones, one order at a time.
//!
//! Every occurrence of a highest-order n-gram becomes one 128-bit item
//! `(context hash, target token, target position)`; the items are sorted in parallel (rayon)
//! and runs of equal `(context, target)` give the counts. Each *distinct* n-gram `v h w` then
//! becomes one item `(h, w)` of the next lower order (its context hash follows from the
//! position, see [`super::hash::retract`]), so counting those items gives the continuation count
//! `N1+(. h w)` = the number of distinct tokens seen before `h w`. N-grams that start at the
//! beginning of a sequence (with BOS) cannot be extended to the left: their occurrences are
//! added as raw counts (as KenLM does), so `p(w | BOS)` learns how pieces open.
//!
//! Memory: the retained model is proportional to the number of distinct n-grams; the transient
//! item buffer holds one order at a time (16 bytes per token for the highest order, one item per
//! distinct n-gram below it), never order x tokens.

use indicatif::ProgressBar;
use rayon::prelude::*;

use super::hash::{context_hash, retract, SEED};
use super::level::Level;
use crate::error::{Error, Result};
use crate::tokens::{TokenId, BOS, PAD};

/// Whether `t` can be a target (PAD and BOS never are).
#[inline]
pub(crate) fn is_target(t: TokenId) -> bool {
    t != PAD && t != BOS
}

#[inline]
fn pack(ctx: u64, token: TokenId, pos: u32) -> u128 {
    (u128::from(ctx) << 64) | (u128::from(token) << 32) | u128::from(pos)
}

/// Count every order `1..=order` of `train`; `levels[k - 1]` holds the n-grams of length `k`
/// (discounts not yet set).
pub(crate) fn count_levels(
    order: usize,
    vocab_size: usize,
    train: &[Vec<TokenId>],
    progress: Option<&ProgressBar>,
) -> Result<Vec<Level>> {
    // Flatten: positions become u32 offsets into one token array.
    let total_len: usize = train.iter().map(Vec::len).sum();
    if total_len >= u32::MAX as usize {
        return Err(Error::Model(format!("markov: training set too large ({total_len} tokens)")));
    }
    if let Some(bad) = train.par_iter().flatten().find_any(|&&t| usize::from(t) >= vocab_size) {
        return Err(Error::Model(format!(
            "markov: token {bad} outside the vocabulary of {vocab_size} tokens"
        )));
    }
    let mut flat = Vec::with_capacity(total_len);
    let mut starts = Vec::with_capacity(train.len());
    for seq in train {
        starts.push(flat.len());
        flat.extend_from_slice(seq);
    }
    let targets: usize = train.par_iter().map(|s| s.iter().skip(1).filter(|&&t| is_target(t)).count()).sum();
    if targets == 0 {
        return Err(Error::Model("markov: no training tokens (every sequence is empty or BOS only)".into()));
    }

    if let Some(pb) = progress {
        pb.set_length(order as u64);
        pb.set_position(0);
    }

    // Highest order: every target with a full context of `order - 1` tokens.
    let first = (order - 1).max(1);
    let mut items: Vec<u128> = train
        .par_iter()
        .zip(starts.par_iter())
        .flat_map_iter(|(seq, &start)| {
            (first..seq.len()).filter(|&i| is_target(seq[i])).map(move |i| {
                let ctx = context_hash(&seq[i + 1 - order..i]);
                pack(ctx, seq[i], (start + i) as u32)
            })
        })
        .collect();

    let mut levels = Vec::with_capacity(order);
    for k in (1..=order).rev() {
        if let Some(pb) = progress {
            pb.set_message(format!("counting {k}-grams"));
        }
        if k < order && k >= 2 {
            // n-grams of length k that open a sequence: raw counts.
            for (seq, &start) in train.iter().zip(&starts) {
                if seq.len() > k - 1 && is_target(seq[k - 1]) {
                    items.push(pack(context_hash(&seq[..k - 1]), seq[k - 1], (start + k - 1) as u32));
                }
            }
        }
        items.par_sort_unstable();
        levels.push(build_level(k, &flat, &mut items));
        if let Some(pb) = progress {
            pb.inc(1);
        }
    }
    levels.reverse();
    Ok(levels)
}

/// Turn the sorted items of order `k` into its [`Level`], and replace `items` by the items of
/// order `k - 1` derived from its distinct n-grams (in place: item `j` is written only after
/// item `j` has been read).
fn build_level(k: usize, flat: &[TokenId], items: &mut Vec<u128>) -> Level {
    let mut level = Level::new();
    let n = items.len();
    let mut out = 0;
    let mut i = 0;
    while i < n {
        let key = items[i] >> 32;
        let mut j = i + 1;
        while j < n && items[j] >> 32 == key {
            j += 1;
        }
        let ctx = (key >> 32) as u64;
        let token = key as u16;
        let pos = items[i] as u32;
        level.push(ctx, token, (j - i) as u32);
        if k >= 2 {
            let first = flat[pos as usize + 1 - k];
            items[out] = pack(retract(ctx, first), token, pos);
            out += 1;
        }
        i = j;
    }
    items.truncate(out);
    debug_assert!(k > 1 || level.ctx_hash.iter().all(|&h| h == SEED));
    level.shrink();
    level
}
