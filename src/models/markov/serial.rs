//! The binary form of a [`MarkovModel`]: compact, little-endian, versioned and checksummed.
//!
//! ```text
//! magic "CDZMARKV" | version u32 | order u32 | vocab_size u32
//! | discount mode u8 (0 auto, 1 fixed) | fixed d1 d2 d3 f64 (0 when auto)
//! | per order k = 1..=order:
//! |   D1 D2 D3 f64 | n_contexts u64 | n_followers u64
//! |   context hashes u64 x n_contexts | followers per context u32 x n_contexts
//! |   follower tokens u16 x n_followers | follower counts u32 x n_followers
//! | version 2, only when the chain was counted under conditions (see `condition`; a chain
//! | without them is written as version 1, byte for byte as before):
//! |   first control token u16 | first instrument control u16 | end u32 | orders u32
//! |   per order k = 1..=orders: a level as above (contexts hashed from condition seeds)
//! | CRC-32 of everything before, u32
//! ```
//!
//! Totals and N1/N2/N3+ are recomputed on load. Loading checks every length against the bytes
//! left before allocating and every invariant the scorer relies on (sorted unique hashes and
//! followers, followers in the support, positive counts, totals within `u32`, valid discounts),
//! so bad input gives a [`FormatError`], never a panic. The framing is [`crate::binio`]'s.

use super::condition::{ConditionSpec, Conditioned};
use super::config::{check_discounts, Discounts, MarkovConfig, MAX_ORDER};
use super::count::is_target;
use super::hash::SEED;
use super::level::Level;
use super::model::{check_vocab_size, MarkovModel};
use crate::binio::{Format, Reader, Writer};
use crate::error::FormatError;

const FORMAT: Format = Format { name: "markov model", magic: b"CDZMARKV", version: 2 };
/// What a chain without conditions is written as.
const FORMAT_V1: Format = Format { version: 1, ..FORMAT };

impl MarkovModel {
    /// The model as bytes (see the module docs of `serial` for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let format = if self.conditioned.is_some() { &FORMAT } else { &FORMAT_V1 };
        let mut w = Writer::with_capacity(format, 64 + self.heap_bytes());
        w.u32(self.config.order as u32);
        w.u32(self.vocab_size as u32);
        let (mode, fixed) = match self.config.discounts {
            Discounts::Auto => (0u8, [0.0; 3]),
            Discounts::Fixed { d1, d2, d3 } => (1u8, [d1, d2, d3]),
        };
        w.u8(mode);
        for d in fixed {
            w.f64(d);
        }
        for level in &self.levels {
            write_level(&mut w, level);
        }
        if let Some(c) = &self.conditioned {
            w.u16(c.spec.first);
            w.u16(c.spec.instruments);
            w.u32(c.spec.end);
            w.u32(c.levels.len() as u32);
            for level in &c.levels {
                write_level(&mut w, level);
            }
        }
        w.finish()
    }

    /// Load a model written by [`MarkovModel::to_bytes`]. Truncated, corrupted or inconsistent
    /// bytes give a [`FormatError`].
    pub fn from_bytes(bytes: &[u8]) -> Result<MarkovModel, FormatError> {
        let mut r = Reader::open(&FORMAT, bytes)?;
        let order = r.u32()? as usize;
        let vocab_size = r.u32()? as usize;
        let mode = r.u8()?;
        let fixed = [r.f64()?, r.f64()?, r.f64()?];
        let discounts = match mode {
            0 => Discounts::Auto,
            1 => Discounts::Fixed { d1: fixed[0], d2: fixed[1], d3: fixed[2] },
            m => return Err(r.invalid("discount mode", format!("unknown mode {m}"))),
        };
        let config = MarkovConfig { order, discounts };
        config.validate().map_err(|e| r.invalid("config", e.to_string()))?;
        check_vocab_size(vocab_size).map_err(|e| r.invalid("vocab_size", e.to_string()))?;
        debug_assert!(order <= MAX_ORDER);

        let mut levels = Vec::with_capacity(order);
        for k in 1..=order {
            levels.push(read_level(&mut r, k, vocab_size, false)?);
        }
        let conditioned = if r.version() >= 2 {
            let spec = ConditionSpec { first: r.u16()?, instruments: r.u16()?, end: r.u32()? };
            if !(spec.first <= spec.instruments
                && u32::from(spec.instruments) <= spec.end
                && spec.end as usize <= vocab_size
                && spec.first > 2)
            {
                return Err(
                    r.invalid("conditions", format!("control tokens {spec:?} do not fit the vocabulary"))
                );
            }
            let orders = r.u32()? as usize;
            if orders == 0 || orders > order {
                return Err(r.invalid(
                    "conditions",
                    format!("{orders} conditioned orders for a chain of order {order}"),
                ));
            }
            let mut levels = Vec::with_capacity(orders);
            for k in 1..=orders {
                levels.push(read_level(&mut r, k, vocab_size, true)?);
            }
            Some(Conditioned { spec, levels })
        } else {
            None
        };
        r.finish()?;
        Ok(MarkovModel { config, vocab_size, levels, conditioned })
    }
}

fn write_level(w: &mut Writer, level: &Level) {
    for d in level.discounts {
        w.f64(d);
    }
    w.u64(level.contexts() as u64);
    w.u64(level.ngrams() as u64);
    for &h in &level.ctx_hash {
        w.u64(h);
    }
    for win in level.ctx_start.windows(2) {
        w.u32(win[1] - win[0]);
    }
    for &t in &level.fol_token {
        w.u16(t);
    }
    for &c in &level.fol_count {
        w.u32(c);
    }
}

/// Read one level of order `k`; `conditioned`: its contexts grow from condition seeds (so
/// order 1 holds one context per condition, not the one empty context).
fn read_level(
    r: &mut Reader<'_>,
    k: usize,
    vocab_size: usize,
    conditioned: bool,
) -> Result<Level, FormatError> {
    let discounts = [r.f64()?, r.f64()?, r.f64()?];
    check_discounts(discounts).map_err(|e| r.invalid("discounts", format!("order {k}: {e}")))?;
    let n_ctx = r.u64()?;
    let n_fol = r.u64()?;
    // Check the lengths against what is left before allocating anything.
    let need = n_ctx.checked_mul(12).and_then(|a| n_fol.checked_mul(6).and_then(|b| a.checked_add(b)));
    match need {
        Some(need) if need <= r.left() as u64 => {}
        _ => {
            return Err(r.invalid(
                "level sizes",
                format!("order {k}: {n_ctx} contexts / {n_fol} n-grams exceed the data"),
            ))
        }
    }
    let (n_ctx, n_fol) = (n_ctx as usize, n_fol as usize);
    if k == 1 && n_ctx > 1 && !conditioned {
        return Err(r.invalid("level", "more than one empty context"));
    }
    let hashes = (0..n_ctx).map(|_| r.u64()).collect::<Result<Vec<_>, _>>()?;
    let lens = (0..n_ctx).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
    let tokens = (0..n_fol).map(|_| r.u16()).collect::<Result<Vec<_>, _>>()?;
    let counts = (0..n_fol).map(|_| r.u32()).collect::<Result<Vec<_>, _>>()?;
    if hashes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(r.invalid("level", format!("order {k}: contexts not sorted")));
    }
    if k == 1 && !conditioned && hashes.first().is_some_and(|&h| h != SEED) {
        return Err(r.invalid("level", "bad empty-context hash"));
    }
    if lens.iter().map(|&l| l as u64).sum::<u64>() != n_fol as u64 {
        return Err(r.invalid("level", format!("order {k}: follower lengths do not add up")));
    }
    let mut level = Level::with_capacity(n_ctx, n_fol);
    let mut start = 0usize;
    for (&h, &len) in hashes.iter().zip(&lens) {
        let end = start + len as usize;
        if len == 0 {
            return Err(r.invalid("level", format!("order {k}: context without followers")));
        }
        let mut total = 0u64;
        for i in start..end {
            let (t, c) = (tokens[i], counts[i]);
            if usize::from(t) >= vocab_size || !is_target(t) || c == 0 || (i > start && tokens[i - 1] >= t) {
                return Err(r.invalid("level", format!("order {k}: bad follower {t} (count {c})")));
            }
            total += u64::from(c);
        }
        if total >= u64::from(u32::MAX) {
            return Err(r.invalid("level", format!("order {k}: counts overflow")));
        }
        for i in start..end {
            level.push(h, tokens[i], counts[i]);
        }
        start = end;
    }
    level.discounts = discounts;
    Ok(level)
}
