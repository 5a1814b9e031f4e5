//! Small dense kernels for the HMM inner loops: matrix-vector products and the
//! transposed outer-product sum behind the expected transition counts.
//!
//! Every kernel is generic over `FMA`: with `FMA = true` it uses fused multiply-add, which is
//! only fast inside a function compiled with the `fma` target feature (see [`simd`]); with
//! `FMA = false` it uses a plain multiply and add that vectorizes on the baseline target. The
//! kernels are `#[inline(always)]` so that they take on the target features of their caller.

/// `a * b + c`, fused when `FMA`.
#[inline(always)]
pub(crate) fn madd<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `y = M^T x` for a row-major `M` with `x.len()` rows and `y.len()` columns, i.e.
/// `y[j] = sum_i x[i] * m[i][j]`. Blocks of 32 outputs stay in registers while the rows of `M`
/// stream past, one broadcast of `x[i]` feeding 32 multiply-adds.
#[inline(always)]
pub(crate) fn matvec_t<const FMA: bool>(m: &[f64], x: &[f64], y: &mut [f64]) {
    let cols = y.len();
    debug_assert!(m.len() >= x.len() * cols);
    let mut j = 0;
    while j + 32 <= cols {
        y[j..j + 32].copy_from_slice(&block::<FMA, 32>(m, x, cols, j));
        j += 32;
    }
    while j + 8 <= cols {
        y[j..j + 8].copy_from_slice(&block::<FMA, 8>(m, x, cols, j));
        j += 8;
    }
    while j < cols {
        y[j] = block::<FMA, 1>(m, x, cols, j)[0];
        j += 1;
    }
}

/// Columns `j..j + W` of `M^T x` (see [`matvec_t`]).
#[inline(always)]
fn block<const FMA: bool, const W: usize>(m: &[f64], x: &[f64], cols: usize, j: usize) -> [f64; W] {
    let mut acc = [0.0f64; W];
    for (i, &xi) in x.iter().enumerate() {
        let row: &[f64; W] = m[i * cols + j..i * cols + j + W].try_into().expect("W columns");
        for l in 0..W {
            acc[l] = madd::<FMA>(xi, row[l], acc[l]);
        }
    }
    acc
}

/// `out += sum_t a[t]^T b[t]`: the sum of outer products of matching rows of two row-major
/// `T x K` matrices, into the row-major `K x K` matrix `out`. Like [`matvec_t`], each block of
/// 32 outputs stays in registers while the rows of `b` stream past.
#[inline(always)]
pub(crate) fn outer_sum<const FMA: bool>(a: &[f64], b: &[f64], k: usize, out: &mut [f64]) {
    if k == 0 {
        return;
    }
    let t_len = (a.len() / k).min(b.len() / k);
    // Tiles of rows of `b` small enough to stay in the L1 cache while every row of `out` uses them.
    let tile = (2048 / k).max(1);
    let mut t0 = 0;
    while t0 < t_len {
        let t1 = (t0 + tile).min(t_len);
        for (i, orow) in out.chunks_exact_mut(k).enumerate().take(k) {
            let mut j = 0;
            while j + 32 <= k {
                outer_block::<FMA, 32>(a, b, k, t0..t1, i, j, &mut orow[j..j + 32]);
                j += 32;
            }
            while j + 8 <= k {
                outer_block::<FMA, 8>(a, b, k, t0..t1, i, j, &mut orow[j..j + 8]);
                j += 8;
            }
            while j < k {
                outer_block::<FMA, 1>(a, b, k, t0..t1, i, j, &mut orow[j..j + 1]);
                j += 1;
            }
        }
        t0 = t1;
    }
}

/// `out[l] += sum_t a[t][i] * b[t][j + l]` for `l < W` (see [`outer_sum`]).
#[inline(always)]
fn outer_block<const FMA: bool, const W: usize>(
    a: &[f64],
    b: &[f64],
    k: usize,
    rows: std::ops::Range<usize>,
    i: usize,
    j: usize,
    out: &mut [f64],
) {
    let mut acc: [f64; W] = std::array::from_fn(|l| out[l]);
    for t in rows {
        let x = a[t * k + i];
        let row: &[f64; W] = b[t * k + j..t * k + j + W].try_into().expect("W columns");
        for l in 0..W {
            acc[l] = madd::<FMA>(x, row[l], acc[l]);
        }
    }
    out.copy_from_slice(&acc);
}

/// `sum_i x[i]`, in eight interleaved partial sums so that it vectorizes.
#[inline(always)]
pub(crate) fn sum(x: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().sum();
    for c in chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// Whether the fused-multiply-add build of the hot loops can run on this CPU.
pub(crate) mod simd {
    /// True when the CPU has AVX2 and FMA (checked once, cached by the standard library).
    #[inline]
    pub(crate) fn fma_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rand_vec(rng: &mut crate::sampler::SampleRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.random::<f64>() - 0.5).collect()
    }

    #[test]
    fn kernels_match_naive_loops() {
        let mut rng = crate::sampler::SampleRng::seed_from_u64(1);
        for &(rows, n) in &[(1, 1), (3, 5), (4, 8), (7, 9), (13, 17), (64, 64), (75, 33), (5, 0)] {
            let m = rand_vec(&mut rng, rows * n);
            let x = rand_vec(&mut rng, n);
            let naive: Vec<f64> = (0..rows).map(|r| (0..n).map(|c| m[r * n + c] * x[c]).sum()).collect();
            let mt = super::super::model::transpose(&m, rows, n);
            for fma in [false, true] {
                let mut y = vec![f64::NAN; rows];
                if fma {
                    matvec_t::<true>(&mt, &x, &mut y);
                } else {
                    matvec_t::<false>(&mt, &x, &mut y);
                }
                for (a, b) in y.iter().zip(&naive) {
                    assert!((a - b).abs() < 1e-12, "rows {rows} n {n}: {a} vs {b}");
                }
            }
        }
        let v = rand_vec(&mut rng, 29);
        for n in [0, 1, 8, 29] {
            assert!((sum(&v[..n]) - v[..n].iter().sum::<f64>()).abs() < 1e-13);
        }
        for &(t, k) in &[(1, 3), (8, 4), (19, 5), (17, 64), (3, 75)] {
            let a = rand_vec(&mut rng, t * k);
            let b = rand_vec(&mut rng, t * k);
            let init = rand_vec(&mut rng, k * k);
            let mut out = init.clone();
            outer_sum::<false>(&a, &b, k, &mut out);
            for i in 0..k {
                for j in 0..k {
                    let want = init[i * k + j] + (0..t).map(|s| a[s * k + i] * b[s * k + j]).sum::<f64>();
                    assert!((out[i * k + j] - want).abs() < 1e-12);
                }
            }
        }
    }
}
