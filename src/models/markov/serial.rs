//! The binary form of a [`MarkovModel`]: compact, little-endian, versioned and checksummed.
//!
//! ```text
//! magic "CDZMARKV" | version u32 | order u32 | vocab_size u32
//! | discount mode u8 (0 auto, 1 fixed) | fixed d1 d2 d3 f64 (0 when auto)
//! | per order k = 1..=order:
//! |   D1 D2 D3 f64 | n_contexts u64 | n_followers u64
//! |   context hashes u64 x n_contexts | followers per context u32 x n_contexts
//! |   follower tokens u16 x n_followers | follower counts u32 x n_followers
//! | CRC-32 of everything before, u32
//! ```
//!
//! Totals and N1/N2/N3+ are recomputed on load. Loading checks every length against the bytes
//! left before allocating and every invariant the scorer relies on (sorted unique hashes and
//! followers, followers in the support, positive counts, totals within `u32`, valid discounts),
//! so bad input gives [`Error::Model`], never a panic.

use super::config::{check_discounts, Discounts, MarkovConfig, MAX_ORDER};
use super::count::is_target;
use super::hash::SEED;
use super::level::Level;
use super::model::{check_vocab_size, MarkovModel};
use crate::error::{Error, Result};

const MAGIC: &[u8; 8] = b"CDZMARKV";
const VERSION: u32 = 1;

fn bad(reason: impl Into<String>) -> Error {
    Error::Model(format!("markov model bytes: {}", reason.into()))
}

impl MarkovModel {
    /// The model as bytes (see the module docs of `serial` for the layout).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.heap_bytes());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&(self.config.order as u32).to_le_bytes());
        out.extend_from_slice(&(self.vocab_size as u32).to_le_bytes());
        let (mode, fixed) = match self.config.discounts {
            Discounts::Auto => (0u8, [0.0; 3]),
            Discounts::Fixed { d1, d2, d3 } => (1u8, [d1, d2, d3]),
        };
        out.push(mode);
        for d in fixed {
            out.extend_from_slice(&d.to_le_bytes());
        }
        for level in &self.levels {
            for d in level.discounts {
                out.extend_from_slice(&d.to_le_bytes());
            }
            out.extend_from_slice(&(level.contexts() as u64).to_le_bytes());
            out.extend_from_slice(&(level.ngrams() as u64).to_le_bytes());
            for h in &level.ctx_hash {
                out.extend_from_slice(&h.to_le_bytes());
            }
            for w in level.ctx_start.windows(2) {
                out.extend_from_slice(&(w[1] - w[0]).to_le_bytes());
            }
            for t in &level.fol_token {
                out.extend_from_slice(&t.to_le_bytes());
            }
            for c in &level.fol_count {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Load a model written by [`MarkovModel::to_bytes`]. Truncated, corrupted or inconsistent
    /// bytes give [`Error::Model`].
    pub fn from_bytes(bytes: &[u8]) -> Result<MarkovModel> {
        if bytes.len() < MAGIC.len() + 8 || &bytes[..MAGIC.len()] != MAGIC {
            return Err(bad("not a cadenza markov model (bad magic)"));
        }
        let (body, crc) = bytes.split_at(bytes.len() - 4);
        let mut r = Reader { bytes: body, pos: MAGIC.len() };
        let version = r.u32()?;
        if version != VERSION {
            return Err(bad(format!("unsupported version {version} (this build reads {VERSION})")));
        }
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(bad("checksum mismatch (corrupted or truncated)"));
        }
        let order = r.u32()? as usize;
        let vocab_size = r.u32()? as usize;
        let mode = r.u8()?;
        let fixed = [r.f64()?, r.f64()?, r.f64()?];
        let discounts = match mode {
            0 => Discounts::Auto,
            1 => Discounts::Fixed { d1: fixed[0], d2: fixed[1], d3: fixed[2] },
            m => return Err(bad(format!("unknown discount mode {m}"))),
        };
        let config = MarkovConfig { order, discounts };
        config.validate().map_err(|e| bad(e.to_string()))?;
        check_vocab_size(vocab_size).map_err(|e| bad(e.to_string()))?;
        debug_assert!(order <= MAX_ORDER);

        let mut levels = Vec::with_capacity(order);
        for k in 1..=order {
            levels.push(read_level(&mut r, k, vocab_size)?);
        }
        if r.pos != body.len() {
            return Err(bad(format!("{} unexpected trailing bytes", body.len() - r.pos)));
        }
        Ok(MarkovModel { config, vocab_size, levels })
    }
}

fn read_level(r: &mut Reader<'_>, k: usize, vocab_size: usize) -> Result<Level> {
    let discounts = [r.f64()?, r.f64()?, r.f64()?];
    check_discounts(discounts).map_err(|e| bad(format!("order {k}: {e}")))?;
    let n_ctx = r.u64()?;
    let n_fol = r.u64()?;
    // Check the lengths against what is left before allocating anything.
    let need = n_ctx.checked_mul(12).and_then(|a| n_fol.checked_mul(6).and_then(|b| a.checked_add(b)));
    match need {
        Some(need) if need <= r.left() as u64 => {}
        _ => return Err(bad(format!("order {k}: {n_ctx} contexts / {n_fol} n-grams exceed the data"))),
    }
    let (n_ctx, n_fol) = (n_ctx as usize, n_fol as usize);
    if k == 1 && n_ctx > 1 {
        return Err(bad("more than one empty context"));
    }
    let hashes = (0..n_ctx).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
    let lens = (0..n_ctx).map(|_| r.u32()).collect::<Result<Vec<_>>>()?;
    let tokens = (0..n_fol).map(|_| r.u16()).collect::<Result<Vec<_>>>()?;
    let counts = (0..n_fol).map(|_| r.u32()).collect::<Result<Vec<_>>>()?;
    if hashes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad(format!("order {k}: contexts not sorted")));
    }
    if k == 1 && hashes.first().is_some_and(|&h| h != SEED) {
        return Err(bad("bad empty-context hash"));
    }
    if lens.iter().map(|&l| l as u64).sum::<u64>() != n_fol as u64 {
        return Err(bad(format!("order {k}: follower lengths do not add up")));
    }
    let mut level = Level::with_capacity(n_ctx, n_fol);
    let mut start = 0usize;
    for (&h, &len) in hashes.iter().zip(&lens) {
        let end = start + len as usize;
        if len == 0 {
            return Err(bad(format!("order {k}: context without followers")));
        }
        let mut total = 0u64;
        for i in start..end {
            let (t, c) = (tokens[i], counts[i]);
            if usize::from(t) >= vocab_size || !is_target(t) || c == 0 || (i > start && tokens[i - 1] >= t) {
                return Err(bad(format!("order {k}: bad follower {t} (count {c})")));
            }
            total += u64::from(c);
        }
        if total >= u64::from(u32::MAX) {
            return Err(bad(format!("order {k}: counts overflow")));
        }
        for i in start..end {
            level.push(h, tokens[i], counts[i]);
        }
        start = end;
    }
    level.discounts = discounts;
    Ok(level)
}

/// Bounds-checked little-endian reads.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end =
            self.pos.checked_add(N).filter(|&e| e <= self.bytes.len()).ok_or_else(|| bad("truncated"))?;
        let mut a = [0u8; N];
        a.copy_from_slice(&self.bytes[self.pos..end]);
        self.pos = end;
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.take()?))
    }
}
