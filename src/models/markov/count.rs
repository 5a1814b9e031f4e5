//! Parallel n-gram counting: raw counts for the highest order, Kneser-Ney continuation counts
//! for the lower ones, one order at a time.
//!
//! Every occurrence of a highest-order n-gram becomes one 128-bit item
//! `(context hash, target token, target position)`. Items are bucketed by the top bits of the
//! context hash (one counting-sort pass); the buckets are then sorted and counted in parallel
//! (rayon), and since a context never spans two buckets, the per-bucket tables concatenate into
//! the order's table. Each *distinct* n-gram `v h w` becomes one item `(h, w)` of the next lower
//! order (its context hash follows from the position, see [`super::hash::retract`]), so
//! counting those items gives the continuation count `N1+(. h w)`: the number of distinct tokens
//! seen before `h w`. N-grams that open a sequence (start with BOS) cannot be extended to the
//! left: their occurrences are added as raw counts (as KenLM does), so `p(w | BOS ...)` learns
//! how pieces open.
//!
//! Memory: the retained model is proportional to the number of distinct n-grams; the transient
//! item buffers hold one order at a time (2 x 16 bytes per token for the highest order, per
//! distinct n-gram below it), never order x tokens.

use crate::progress::{report, Progress};
use rayon::prelude::*;

use super::hash::{context_hash_from, retract, SEED};
use super::level::Level;
use crate::error::{ModelError, Result};
use crate::models::ModelKind;
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
/// (discounts not yet set). `seeds`, when given, holds one context seed per sequence (see
/// [`super::hash::condition_seed`]: conditioned contexts); else every context grows from
/// [`SEED`].
pub(crate) fn count_levels<S: AsRef<[TokenId]> + Sync>(
    order: usize,
    vocab_size: usize,
    train: &[S],
    seeds: Option<&[u64]>,
    progress: Option<&dyn Progress>,
) -> Result<Vec<Level>> {
    let train: Vec<&[TokenId]> = train.iter().map(AsRef::as_ref).collect();
    let train = train.as_slice();
    let seed_of = |s: usize| seeds.map_or(SEED, |all| all[s]);
    // Flatten: positions become u32 offsets into one token array.
    let total_len: usize = train.iter().map(|s| s.len()).sum();
    if total_len >= u32::MAX as usize {
        return Err(ModelError::TooManyTokens { model: ModelKind::Markov.name(), tokens: total_len }.into());
    }
    if let Some(bad) = train.par_iter().enumerate().find_map_first(|(s, seq)| {
        seq.iter().position(|&t| usize::from(t) >= vocab_size).map(|i| (s, i, seq[i]))
    }) {
        return Err(ModelError::TokenOutOfVocab {
            model: ModelKind::Markov.name(),
            sequence: bad.0,
            index: bad.1,
            token: bad.2,
            vocab: vocab_size,
        }
        .into());
    }
    let mut flat = Vec::with_capacity(total_len);
    let mut starts = Vec::with_capacity(train.len());
    for seq in train {
        starts.push(flat.len());
        flat.extend_from_slice(seq);
    }
    let targets: usize = train.par_iter().map(|s| s.iter().skip(1).filter(|&&t| is_target(t)).count()).sum();
    if targets == 0 {
        return Err(ModelError::NoTrainingTokens(ModelKind::Markov.name()).into());
    }
    report(progress, 0, order as u64, "counting");

    // Highest order: every target with a full context of `order - 1` tokens.
    let first = (order - 1).max(1);
    let mut parts: Vec<Vec<u128>> = train
        .par_iter()
        .zip(starts.par_iter())
        .enumerate()
        .map(|(s, (seq, &start))| {
            let seed = seed_of(s);
            (first..seq.len())
                .filter(|&i| is_target(seq[i]))
                .map(|i| pack(context_hash_from(seed, &seq[i + 1 - order..i]), seq[i], (start + i) as u32))
                .collect()
        })
        .collect();

    // One buffer for the bucketed items of every order (the highest order is the largest).
    let mut scratch = Vec::new();
    let mut levels = Vec::with_capacity(order);
    for k in (1..=order).rev() {
        let done = (order - k) as u64;
        report(progress, done, order as u64, &format!("counting {k}-grams"));
        if k < order && k >= 2 {
            // n-grams of length k that open a sequence: raw counts.
            let opening = train
                .iter()
                .zip(&starts)
                .enumerate()
                .filter(|(_, (seq, _))| seq.len() > k - 1 && is_target(seq[k - 1]))
                .map(|(s, (seq, &start))| {
                    pack(context_hash_from(seed_of(s), &seq[..k - 1]), seq[k - 1], (start + k - 1) as u32)
                })
                .collect();
            parts.push(opening);
        }
        let (level, derived) = count_level(k, &flat, std::mem::take(&mut parts), &mut scratch);
        levels.push(level);
        parts = derived;
        report(progress, done + 1, order as u64, &format!("counted {k}-grams"));
    }
    levels.reverse();
    Ok(levels)
}

/// Count the items of order `k` (in any number of parts): its [`Level`], and the items of order
/// `k - 1` derived from its distinct n-grams (one part per bucket).
fn count_level(
    k: usize,
    flat: &[TokenId],
    parts: Vec<Vec<u128>>,
    sorted: &mut Vec<u128>,
) -> (Level, Vec<Vec<u128>>) {
    let n: usize = parts.iter().map(Vec::len).sum();
    // About 2,048 items per bucket: each sorts in cache.
    let bits = (usize::BITS - (n / 2048).leading_zeros()).min(16);
    let shift = 128 - bits;
    let bucket = |x: u128| if bits == 0 { 0 } else { (x >> shift) as usize };

    // One counting-sort pass by bucket.
    let mut offsets = vec![0usize; (1 << bits) + 1];
    for part in &parts {
        for &x in part {
            offsets[bucket(x) + 1] += 1;
        }
    }
    for b in 0..1 << bits {
        offsets[b + 1] += offsets[b];
    }
    sorted.clear();
    sorted.resize(n, 0);
    let mut next = offsets.clone();
    for part in parts {
        for x in part {
            let b = bucket(x);
            sorted[next[b]] = x;
            next[b] += 1;
        }
    }

    let mut slices = Vec::with_capacity(1 << bits);
    let mut rest = sorted.as_mut_slice();
    for b in 0..1 << bits {
        let (head, tail) = rest.split_at_mut(offsets[b + 1] - offsets[b]);
        slices.push(head);
        rest = tail;
    }
    let done: Vec<(Level, Vec<u128>)> = slices
        .into_par_iter()
        .map(|items| {
            // Few contexts (low orders, tiny vocabularies) make skewed buckets: sort big ones
            // in parallel too.
            if items.len() > 1 << 18 {
                items.par_sort_unstable();
            } else {
                items.sort_unstable();
            }
            build_level(k, flat, items)
        })
        .collect();

    // Concatenate the per-bucket tables (buckets hold disjoint, increasing context ranges).
    let (ctxs, fols) = done.iter().fold((0, 0), |(c, f), (l, _)| (c + l.contexts(), f + l.ngrams()));
    let mut level = Level::with_capacity(ctxs, fols);
    let mut derived = Vec::with_capacity(done.len());
    for (part, items) in done {
        let base = level.fol_token.len() as u32;
        level.ctx_hash.extend_from_slice(&part.ctx_hash);
        level.ctx_start.extend(part.ctx_start[1..].iter().map(|&s| s + base));
        level.ctx_total.extend_from_slice(&part.ctx_total);
        level.ctx_types.extend_from_slice(&part.ctx_types);
        level.fol_token.extend_from_slice(&part.fol_token);
        level.fol_count.extend_from_slice(&part.fol_count);
        derived.push(items);
    }
    (level, derived)
}

/// Count one sorted bucket of order `k`: its part of the [`Level`] and the items of order
/// `k - 1`, one per distinct n-gram.
fn build_level(k: usize, flat: &[TokenId], items: &[u128]) -> (Level, Vec<u128>) {
    let mut level = Level::new();
    let mut derived = Vec::new();
    let n = items.len();
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
            derived.push(pack(ctx, token, pos));
        }
        i = j;
    }
    // The first context token of each n-gram is a random access into `flat`: done in a
    // separate tight loop so that the cache misses overlap.
    for x in &mut derived {
        let (ctx, pos) = ((*x >> 64) as u64, *x as u32);
        let first = flat[pos as usize + 1 - k];
        *x = pack(retract(ctx, first), (*x >> 32) as u16, pos);
    }
    (level, derived)
}
