//! Pixel-per-lane arithmetic: `L` pixels side by side, one per SIMD lane.
//!
//! The topofit kernels fit tens of interferograms per pixel, too few for a vector loop
//! along a row (tails, horizontal sums).  Put [`L`] pixels in the lanes instead and every
//! step becomes a vertical operation on `[f32; L]` / `[f64; L]` values that LLVM turns
//! into whole-register AVX2 instructions.  The sums here reproduce NumPy's pairwise order
//! per lane (see [`crate::num`]), so a lane gives exactly what the row-wise code gives.
//!
//! The const parameter `FMA` of the helpers is true only in code compiled for AVX2 + FMA
//! (the `fma_dispatch!` builds): there `a * b + c` may fuse and the transcendental helpers
//! use the explicit AVX2 forms of [`crate::vmath_avx2`] (bit-identical to the scalar ones,
//! which LLVM does not vectorise reliably).

use crate::vmath::{atan2, cabs32, cabs64, sincos};

/// Pixels per block (one AVX2 register of f32).
pub const L: usize = 8;
/// `L` f32 values, one per pixel.
pub type F32x = [f32; L];
/// `L` f64 values, one per pixel.
pub type F64x = [f64; L];

/// NumPy's pairwise summation block size.
const PW_BLOCKSIZE: usize = 128;

/// `a * b + c`, fused when `FMA` (one rounding), else two roundings.
#[inline(always)]
pub fn madd32<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `a * b + c` in f64, fused when `FMA` (one rounding), else two roundings.
#[inline(always)]
pub fn madd64<const FMA: bool>(a: f64, b: f64, c: f64) -> f64 {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// `fma(a, b, c)` in f32: the hardware instruction when `FMA`, else emulated through f64
/// (the product of two f32 is exact in f64; the double rounding differs from a true fma
/// with probability ~2^-29).
#[inline(always)]
pub fn fma32<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA {
        a.mul_add(b, c)
    } else {
        crate::num::fma32(a, b, c)
    }
}

/// NumPy's complex64 product `(ar + i ai)(br + i bi)` on FMA hardware ([`crate::num::cmul32`]),
/// lane by lane.
#[inline(always)]
pub fn cmul32x<const FMA: bool>(ar: &F32x, ai: &F32x, br: &F32x, bi: &F32x) -> (F32x, F32x) {
    let re: F32x = std::array::from_fn(|l| fma32::<FMA>(ar[l], br[l], -(ai[l] * bi[l])));
    let im: F32x = std::array::from_fn(|l| fma32::<FMA>(ar[l], bi[l], ai[l] * br[l]));
    (re, im)
}

macro_rules! pairwise_lanes {
    ($name:ident, $split:ident, $t:ty) => {
        /// The > 128 values case of the pairwise sum: halves (a multiple of 8), each summed
        /// pairwise (an out-of-line function, so that the common case inlines).
        #[inline(never)]
        fn $split(a: &[[$t; L]]) -> [$t; L] {
            let n = a.len();
            let mut n2 = n / 2;
            n2 -= n2 % 8;
            let (x, y) = ($name(&a[..n2]), $name(&a[n2..]));
            let mut res = [0 as $t; L];
            for l in 0..L {
                res[l] = x[l] + y[l];
            }
            res
        }

        /// NumPy's pairwise `add.reduce` of each lane over the slice (per lane the same
        /// operations as [`crate::num::pairwise_sum_f32`] / `_f64` on that lane's values).
        #[inline(always)]
        pub fn $name(a: &[[$t; L]]) -> [$t; L] {
            let n = a.len();
            if n < 8 {
                let mut res = [0 as $t; L];
                for x in a {
                    for l in 0..L {
                        res[l] += x[l];
                    }
                }
                res
            } else if n <= PW_BLOCKSIZE {
                let mut r = [[0 as $t; L]; 8];
                r.copy_from_slice(&a[..8]);
                let mut i = 8;
                while i < n - (n % 8) {
                    for j in 0..8 {
                        for l in 0..L {
                            r[j][l] += a[i + j][l];
                        }
                    }
                    i += 8;
                }
                let mut res = [0 as $t; L];
                for l in 0..L {
                    res[l] = ((r[0][l] + r[1][l]) + (r[2][l] + r[3][l]))
                        + ((r[4][l] + r[5][l]) + (r[6][l] + r[7][l]));
                }
                while i < n {
                    for l in 0..L {
                        res[l] += a[i][l];
                    }
                    i += 1;
                }
                res
            } else {
                $split(a)
            }
        }
    };
}
pairwise_lanes!(pairwise_f32x, pairwise_f32x_split, f32);
pairwise_lanes!(pairwise_f64x, pairwise_f64x_split, f64);

/// The > 128 values case of [`pairwise_c32x`] (out of line, so that the common case inlines).
#[inline(never)]
fn pairwise_c32x_split(re: &[F32x], im: &[F32x]) -> (F32x, F32x) {
    let n = 2 * re.len();
    let mut n2 = n / 2;
    n2 -= n2 % 8;
    let c2 = n2 / 2;
    let (a, b) = (
        pairwise_c32x(&re[..c2], &im[..c2]),
        pairwise_c32x(&re[c2..], &im[c2..]),
    );
    (
        std::array::from_fn(|l| a.0[l] + b.0[l]),
        std::array::from_fn(|l| a.1[l] + b.1[l]),
    )
}

/// NumPy's pairwise sum of complex64 values per lane (real and imaginary parts given
/// separately; the same operations as [`crate::topofit::pairwise_sum_c32`] on one lane).
#[inline(always)]
pub fn pairwise_c32x(re: &[F32x], im: &[F32x]) -> (F32x, F32x) {
    let c = re.len();
    let n = 2 * c;
    if n < 8 {
        let (mut rr, mut ri) = ([-0.0f32; L], [-0.0f32; L]);
        for k in 0..c {
            for l in 0..L {
                rr[l] += re[k][l];
                ri[l] += im[k][l];
            }
        }
        (rr, ri)
    } else if n <= PW_BLOCKSIZE {
        let mut r = [re[0], im[0], re[1], im[1], re[2], im[2], re[3], im[3]];
        let mut i = 4;
        while i < c - (c % 4) {
            for q in 0..4 {
                for l in 0..L {
                    r[2 * q][l] += re[i + q][l];
                    r[2 * q + 1][l] += im[i + q][l];
                }
            }
            i += 4;
        }
        let (mut rr, mut ri) = ([0f32; L], [0f32; L]);
        for l in 0..L {
            rr[l] = (r[0][l] + r[2][l]) + (r[4][l] + r[6][l]);
            ri[l] = (r[1][l] + r[3][l]) + (r[5][l] + r[7][l]);
        }
        while i < c {
            for l in 0..L {
                rr[l] += re[i][l];
                ri[l] += im[i][l];
            }
            i += 1;
        }
        (rr, ri)
    } else {
        pairwise_c32x_split(re, im)
    }
}

/// Runs the AVX2 form when `FMA` (the caller is compiled for AVX2 + FMA), else `$scalar`.
macro_rules! avx2_or {
    ($fma:ident, $avx2:expr, $scalar:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            if $fma {
                // SAFETY: `FMA` is true only inside the AVX2 + FMA build of `fma_dispatch!`
                #[allow(unused_unsafe)]
                return unsafe { $avx2 };
            }
        }
        $scalar
    }};
}

/// Lane-wise complex64 modulus ([`cabs32`]).
#[inline(always)]
pub fn cabs32x<const FMA: bool>(re: &F32x, im: &F32x) -> F32x {
    avx2_or!(
        FMA,
        crate::vmath_avx2::cabs32x(re, im),
        std::array::from_fn(|l| cabs32(re[l], im[l]))
    )
}

/// Lane-wise f64 modulus ([`cabs64`]).
#[inline(always)]
pub fn cabs64x<const FMA: bool>(re: &F64x, im: &F64x) -> F64x {
    avx2_or!(
        FMA,
        crate::vmath_avx2::cabs64x(re, im),
        std::array::from_fn(|l| cabs64(re[l], im[l]))
    )
}

/// Lane-wise `atan2(y, x)` of f32 values: in f32 in the AVX2 build (within 3 ulp),
/// else evaluated in f64 and rounded once.
#[inline(always)]
pub fn atan2_32x<const FMA: bool>(y: &F32x, x: &F32x) -> F32x {
    avx2_or!(
        FMA,
        crate::vmath_avx2::atan2_f32x(y, x),
        std::array::from_fn(|l| atan2(y[l] as f64, x[l] as f64) as f32)
    )
}

/// Lane-wise f64 `atan2(y, x)`.
#[inline(always)]
pub fn atan2_64x<const FMA: bool>(y: &F64x, x: &F64x) -> F64x {
    avx2_or!(
        FMA,
        crate::vmath_avx2::atan2_64x(y, x),
        std::array::from_fn(|l| atan2(y[l], x[l]))
    )
}

/// Lane-wise f64 `(sin x, cos x)`.
#[inline(always)]
pub fn sincos_64x<const FMA: bool>(x: &F64x) -> (F64x, F64x) {
    avx2_or!(FMA, crate::vmath_avx2::sincos_64x(x), {
        let sc: [(f64, f64); L] = std::array::from_fn(|l| sincos(x[l]));
        (
            std::array::from_fn(|l| sc[l].0),
            std::array::from_fn(|l| sc[l].1),
        )
    })
}

/// Lane-wise `exp(-i x)` of f32 arguments as f32 (cos, -sin): in f32 in the AVX2 build
/// (absolute error <= 1.2e-7 for |x| < 1e4), else evaluated in f64 and rounded once.
#[inline(always)]
pub fn cis_neg32x<const FMA: bool>(x: &F32x) -> (F32x, F32x) {
    avx2_or!(FMA, crate::vmath_avx2::cis_neg_f32x(x), {
        let sc: [(f64, f64); L] = std::array::from_fn(|l| sincos(x[l] as f64));
        (
            std::array::from_fn(|l| sc[l].1 as f32),
            std::array::from_fn(|l| -(sc[l].0 as f32)),
        )
    })
}

/// Lane-wise `exp(-i x)` of f32 arguments as f32 (cos, -sin), always evaluated in f64
/// and rounded once: the same values as a trial table built with [`sincos`].
#[inline(always)]
pub fn cis_neg32x_f64<const FMA: bool>(x: &F32x) -> (F32x, F32x) {
    avx2_or!(FMA, crate::vmath_avx2::cis_neg32x(x), {
        let sc: [(f64, f64); L] = std::array::from_fn(|l| sincos(x[l] as f64));
        (
            std::array::from_fn(|l| sc[l].1 as f32),
            std::array::from_fn(|l| -(sc[l].0 as f32)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::num::{pairwise_sum_f32, pairwise_sum_f64};
    use crate::topofit::pairwise_sum_c32;

    fn lanes_of(n: usize, seed: u32) -> (Vec<F32x>, Vec<F32x>) {
        let mut x = seed.wrapping_mul(2654435761).max(1);
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        let re: Vec<F32x> = (0..n).map(|_| std::array::from_fn(|_| next())).collect();
        let im: Vec<F32x> = (0..n).map(|_| std::array::from_fn(|_| next())).collect();
        (re, im)
    }

    #[test]
    fn lane_sums_equal_the_row_sums_bit_for_bit() {
        for n in [
            0usize, 1, 3, 4, 7, 8, 9, 15, 16, 30, 63, 64, 65, 127, 128, 129, 300, 1000,
        ] {
            let (re, im) = lanes_of(n, n as u32 + 1);
            let s = pairwise_f32x(&re);
            let d: Vec<F64x> = re
                .iter()
                .map(|v| std::array::from_fn(|l| v[l] as f64 * 1.1))
                .collect();
            let sd = pairwise_f64x(&d);
            let (cr, ci) = pairwise_c32x(&re, &im);
            for l in 0..L {
                let row: Vec<f32> = re.iter().map(|v| v[l]).collect();
                let rowi: Vec<f32> = im.iter().map(|v| v[l]).collect();
                let rowd: Vec<f64> = d.iter().map(|v| v[l]).collect();
                assert_eq!(
                    s[l].to_bits(),
                    pairwise_sum_f32(&row).to_bits(),
                    "f32 n={n}"
                );
                assert_eq!(
                    sd[l].to_bits(),
                    pairwise_sum_f64(&rowd).to_bits(),
                    "f64 n={n}"
                );
                let (a, b) = pairwise_sum_c32(&row, &rowi);
                assert_eq!(
                    (cr[l].to_bits(), ci[l].to_bits()),
                    (a.to_bits(), b.to_bits()),
                    "c32 n={n}"
                );
            }
        }
    }

    #[test]
    fn emulated_and_hardware_fma_agree_on_exact_cases() {
        // products exact in f32: both forms round once
        assert_eq!(
            fma32::<true>(1.5, 2.0, 0.25),
            fma32::<false>(1.5, 2.0, 0.25)
        );
        assert_eq!(cmul32x::<true>(&[1.0; L], &[2.0; L], &[3.0; L], &[-1.0; L]), ([5.0; L], [5.0; L]));
        assert_eq!(cmul32x::<false>(&[1.0; L], &[2.0; L], &[3.0; L], &[-1.0; L]), ([5.0; L], [5.0; L]));
    }
}
