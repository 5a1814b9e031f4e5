//! Small dense kernels for the HMM inner loops: dot products, matrix-vector products and the
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

/// Independent accumulator lanes: enough to hide the add latency and fill the vector units.
const LANES: usize = 8;

/// `sum_i x[i] * y[i]` over the common length.
#[inline(always)]
pub(crate) fn dot<const FMA: bool>(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [0.0f64; LANES];
    let xc = x.chunks_exact(LANES);
    let yc = y.chunks_exact(LANES);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..LANES {
            acc[l] = madd::<FMA>(a[l], b[l], acc[l]);
        }
    }
    let mut tail = 0.0;
    for (a, b) in xr.iter().zip(yr) {
        tail = madd::<FMA>(*a, *b, tail);
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

/// `y = M x` for a row-major `M` with `y.len()` rows and `x.len()` columns. Four rows are done
/// together so each load of `x` feeds four products.
#[inline(always)]
pub(crate) fn matvec<const FMA: bool>(m: &[f64], x: &[f64], y: &mut [f64]) {
    let n = x.len();
    if n == 0 {
        y.fill(0.0);
        return;
    }
    let rows = y.len();
    debug_assert!(m.len() >= rows * n);
    let full = rows / 4 * 4;
    let main = n / LANES * LANES;
    for r in (0..full).step_by(4) {
        let m0 = &m[r * n..(r + 1) * n];
        let m1 = &m[(r + 1) * n..(r + 2) * n];
        let m2 = &m[(r + 2) * n..(r + 3) * n];
        let m3 = &m[(r + 3) * n..(r + 4) * n];
        let mut a0 = [0.0f64; LANES];
        let mut a1 = [0.0f64; LANES];
        let mut a2 = [0.0f64; LANES];
        let mut a3 = [0.0f64; LANES];
        let mut c = 0;
        while c < main {
            let xs = &x[c..c + LANES];
            let (r0, r1, r2, r3) = (
                &m0[c..c + LANES],
                &m1[c..c + LANES],
                &m2[c..c + LANES],
                &m3[c..c + LANES],
            );
            for l in 0..LANES {
                a0[l] = madd::<FMA>(r0[l], xs[l], a0[l]);
                a1[l] = madd::<FMA>(r1[l], xs[l], a1[l]);
                a2[l] = madd::<FMA>(r2[l], xs[l], a2[l]);
                a3[l] = madd::<FMA>(r3[l], xs[l], a3[l]);
            }
            c += LANES;
        }
        let mut s = [hsum(&a0), hsum(&a1), hsum(&a2), hsum(&a3)];
        for c in main..n {
            s[0] = madd::<FMA>(m0[c], x[c], s[0]);
            s[1] = madd::<FMA>(m1[c], x[c], s[1]);
            s[2] = madd::<FMA>(m2[c], x[c], s[2]);
            s[3] = madd::<FMA>(m3[c], x[c], s[3]);
        }
        y[r..r + 4].copy_from_slice(&s);
    }
    for r in full..rows {
        y[r] = dot::<FMA>(&m[r * n..(r + 1) * n], x);
    }
}

#[inline(always)]
fn hsum(a: &[f64; LANES]) -> f64 {
    ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]))
}

/// `out += sum_t a[t]^T b[t]`: the sum of outer products of matching rows of two row-major
/// `T x K` matrices, into the row-major `K x K` matrix `out`. Rows are taken eight at a time so
/// each pass over `out` does eight multiply-adds per element.
#[inline(always)]
pub(crate) fn outer_sum<const FMA: bool>(a: &[f64], b: &[f64], k: usize, out: &mut [f64]) {
    if k == 0 {
        return;
    }
    let t_len = (a.len() / k).min(b.len() / k);
    const BLOCK: usize = 8;
    let mut t = 0;
    while t + BLOCK <= t_len {
        let bs: [&[f64]; BLOCK] = std::array::from_fn(|s| &b[(t + s) * k..(t + s + 1) * k]);
        for (i, row) in out.chunks_exact_mut(k).enumerate().take(k) {
            let w: [f64; BLOCK] = std::array::from_fn(|s| a[(t + s) * k + i]);
            for j in 0..k {
                let mut acc = row[j];
                acc = madd::<FMA>(w[0], bs[0][j], acc);
                acc = madd::<FMA>(w[1], bs[1][j], acc);
                acc = madd::<FMA>(w[2], bs[2][j], acc);
                acc = madd::<FMA>(w[3], bs[3][j], acc);
                acc = madd::<FMA>(w[4], bs[4][j], acc);
                acc = madd::<FMA>(w[5], bs[5][j], acc);
                acc = madd::<FMA>(w[6], bs[6][j], acc);
                acc = madd::<FMA>(w[7], bs[7][j], acc);
                row[j] = acc;
            }
        }
        t += BLOCK;
    }
    while t < t_len {
        let bt = &b[t * k..(t + 1) * k];
        for (i, row) in out.chunks_exact_mut(k).enumerate().take(k) {
            let w = a[t * k + i];
            for (o, &x) in row.iter_mut().zip(bt) {
                *o = madd::<FMA>(w, x, *o);
            }
        }
        t += 1;
    }
}

/// Whether the fused-multiply-add build of the hot loops can run on this CPU.
pub(crate) mod simd {
    /// True when the CPU has AVX2 and FMA (checked once, cached by the standard library).
    #[inline]
    pub(crate) fn fma_available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
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
        for &(rows, n) in &[(1, 1), (3, 5), (4, 8), (7, 9), (13, 17), (64, 64), (5, 0)] {
            let m = rand_vec(&mut rng, rows * n);
            let x = rand_vec(&mut rng, n);
            let naive: Vec<f64> = (0..rows)
                .map(|r| (0..n).map(|c| m[r * n + c] * x[c]).sum())
                .collect();
            for fma in [false, true] {
                let mut y = vec![f64::NAN; rows];
                if fma {
                    matvec::<true>(&m, &x, &mut y);
                } else {
                    matvec::<false>(&m, &x, &mut y);
                }
                for (a, b) in y.iter().zip(&naive) {
                    assert!((a - b).abs() < 1e-12, "rows {rows} n {n}: {a} vs {b}");
                }
            }
            if rows > 0 && n > 0 {
                let d = dot::<false>(&m[..n], &x);
                assert!((d - naive[0]).abs() < 1e-12);
            }
        }
        for &(t, k) in &[(1, 3), (8, 4), (19, 5), (17, 64)] {
            let a = rand_vec(&mut rng, t * k);
            let b = rand_vec(&mut rng, t * k);
            let init = rand_vec(&mut rng, k * k);
            let mut out = init.clone();
            outer_sum::<false>(&a, &b, k, &mut out);
            for i in 0..k {
                for j in 0..k {
                    let want =
                        init[i * k + j] + (0..t).map(|s| a[s * k + i] * b[s * k + j]).sum::<f64>();
                    assert!((out[i * k + j] - want).abs() < 1e-12);
                }
            }
        }
    }
}
