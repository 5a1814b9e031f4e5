//! Context hashing: a token context is stored as one 64-bit hash instead of its tokens.
//!
//! A context `t_1 .. t_j` (oldest first) hashes as
//! `H(t_1 .. t_j) = fmix64(H(t_2 .. t_j) ^ key(t_1))` with `H() = SEED`: contexts grow to the
//! *left*, so scoring builds the hashes of all context lengths in one pass from the most recent
//! token backwards. `fmix64` (the MurmurHash3 finalizer) is a bijection on `u64`, so the hash of a
//! context's suffix is recovered from the hash of the context and its first token
//! ([`retract`]); counting uses that to derive the lower-order n-grams from the higher ones
//! without storing any tokens.
//!
//! Collisions: contexts of different lengths live in different tables, so only two distinct
//! contexts of the *same* length can collide. Modelling the hashes as uniform random, a table of
//! `M` distinct contexts holds a colliding pair with probability at most `M^2 / 2^65`: about
//! `3e-6` for `M = 10^7` and `3e-4` for `M = 10^8`. A collision merges the follower counts of
//! the two contexts; the model stays a proper distribution, only slightly less sharp there.

/// Hash of the empty context.
pub const SEED: u64 = 0x243F_6A88_85A3_08D3;

const C1: u64 = 0xff51_afd7_ed55_8ccd;
const C2: u64 = 0xc4ce_b9fe_1a85_ec53;
const C1_INV: u64 = mod_inverse(C1);
const C2_INV: u64 = mod_inverse(C2);

/// Multiplicative inverse of an odd number modulo 2^64 (Newton's iteration doubles the number
/// of correct low bits each step: 3 -> 6 -> ... -> 96).
const fn mod_inverse(c: u64) -> u64 {
    let mut inv = c; // correct to 3 bits for odd c
    let mut i = 0;
    while i < 5 {
        inv = inv.wrapping_mul(2u64.wrapping_sub(c.wrapping_mul(inv)));
        i += 1;
    }
    inv
}

#[inline]
fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(C1);
    x ^= x >> 33;
    x = x.wrapping_mul(C2);
    x ^= x >> 33;
    x
}

#[inline]
fn fmix64_inv(mut x: u64) -> u64 {
    x ^= x >> 33; // x ^ (x >> 33) is its own inverse: 33 >= 64 / 2
    x = x.wrapping_mul(C2_INV);
    x ^= x >> 33;
    x = x.wrapping_mul(C1_INV);
    x ^= x >> 33;
    x
}

/// A pseudo-random 64-bit key per token (SplitMix64 of the id).
#[inline]
fn key(token: u16) -> u64 {
    let mut z = u64::from(token).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hash of the context `token, <context hashed as h>`: one token added on the left.
#[inline]
pub fn extend(h: u64, token: u16) -> u64 {
    fmix64(h ^ key(token))
}

/// Inverse of [`extend`]: the hash of the context without its first token `token`.
#[inline]
pub fn retract(h: u64, token: u16) -> u64 {
    fmix64_inv(h) ^ key(token)
}

/// Hash of a whole context (oldest token first).
#[cfg(test)]
pub fn context_hash(context: &[u16]) -> u64 {
    context_hash_from(SEED, context)
}

/// Hash of a whole context grown from `seed` instead of [`SEED`]: a conditioned context (see
/// [`condition_seed`]). [`retract`] works on it alike, down to `seed`.
pub fn context_hash_from(seed: u64, context: &[u16]) -> u64 {
    context.iter().rev().fold(seed, |h, &t| extend(h, t))
}

/// Mixed into the seeds of conditioned contexts.
const CONDITION_SALT: u64 = 0x434f_4e44_4954_494f; // "CONDITIO"

/// The empty context under the condition `tokens` (one control token, or a set of them): a
/// seed no plain context hash equals except by collision.
pub fn condition_seed(tokens: &[u16]) -> u64 {
    tokens.iter().fold(fmix64(SEED ^ CONDITION_SALT), |h, &t| extend(h, t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverses_are_inverses() {
        assert_eq!(C1.wrapping_mul(C1_INV), 1);
        assert_eq!(C2.wrapping_mul(C2_INV), 1);
        let mut x = 0x1234_5678_9abc_def0u64;
        for t in 0..1000u16 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            assert_eq!(fmix64_inv(fmix64(x)), x);
            assert_eq!(retract(extend(x, t), t), x);
        }
    }

    #[test]
    fn context_hash_grows_leftwards() {
        let ctx = [5u16, 9, 7, 3];
        assert_eq!(context_hash(&ctx), extend(context_hash(&ctx[1..]), 5));
        assert_eq!(retract(context_hash(&ctx), 5), context_hash(&ctx[1..]));
        assert_eq!(context_hash(&[]), SEED);
        assert_ne!(context_hash(&[1, 2]), context_hash(&[2, 1]));
    }

    #[test]
    fn no_collisions_among_all_short_contexts() {
        // Every context of length <= 3 over 40 tokens: 65,640 hashes, all distinct.
        let mut all = Vec::new();
        for a in 0..40u16 {
            all.push(context_hash(&[a]));
            for b in 0..40u16 {
                all.push(context_hash(&[a, b]));
                for c in 0..40u16 {
                    all.push(context_hash(&[a, b, c]));
                }
            }
        }
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n);
    }
}
