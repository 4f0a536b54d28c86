//! AVX2 versions of the [`crate::vmath`] routines, for the pixel-per-lane kernels.
//!
//! LLVM does not reliably vectorise the scalar routines when a loop calls several of them
//! (it unrolls them into scalar code instead), so the hot lane helpers of
//! [`crate::lanes`] call these explicit AVX2 forms.  Every function performs exactly the
//! scalar routine's IEEE operations in the same order (no fused multiply-adds, selects
//! instead of branches), so the results are bit-identical to [`crate::vmath`] (the f32
//! modulus uses the true fused multiply-add the scalar routine emulates); the tests check
//! that on a quarter of a million arguments.  `atan2_ps`/`sincos_ps` are f32 evaluations
//! with their own (tested) error bounds.
//!
//! All functions are `unsafe`: the caller must run on a CPU with AVX2 and FMA (the
//! `fma_dispatch!` builds check that before entering).

#![allow(clippy::missing_safety_doc)]

use crate::lanes::{F32x, F64x};
use crate::vmath::consts::*;
use std::arch::x86_64::*;

#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn poly_add(a: __m256d, b: __m256d, c: f64) -> __m256d {
    // a * b + c, two roundings
    _mm256_add_pd(_mm256_mul_pd(a, b), _mm256_set1_pd(c))
}

/// `atan2(y, x)` of four f64 lanes ([`crate::vmath::atan2`]).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn atan2_pd(y: __m256d, x: __m256d) -> __m256d {
    let sign = _mm256_set1_pd(-0.0);
    let zero = _mm256_setzero_pd();
    let ax = _mm256_andnot_pd(sign, x);
    let ay = _mm256_andnot_pd(sign, y);
    let swap = _mm256_cmp_pd::<_CMP_GT_OQ>(ay, ax);
    let num = _mm256_blendv_pd(ay, ax, swap);
    let den = _mm256_blendv_pd(ax, ay, swap);
    let big = _mm256_cmp_pd::<_CMP_GT_OQ>(num, _mm256_mul_pd(_mm256_set1_pd(0.66), den));
    let nn = _mm256_blendv_pd(num, _mm256_sub_pd(num, den), big);
    let dd = _mm256_blendv_pd(den, _mm256_add_pd(num, den), big);
    let u = _mm256_blendv_pd(
        _mm256_div_pd(nn, dd),
        zero,
        _mm256_cmp_pd::<_CMP_EQ_OQ>(dd, zero),
    );
    let z = _mm256_mul_pd(u, u);
    let mut p = poly_add(_mm256_set1_pd(AT_P[0]), z, AT_P[1]);
    p = poly_add(p, z, AT_P[2]);
    p = poly_add(p, z, AT_P[3]);
    p = poly_add(p, z, AT_P[4]);
    let mut q = poly_add(_mm256_add_pd(z, _mm256_set1_pd(AT_Q[0])), z, AT_Q[1]);
    q = poly_add(q, z, AT_Q[2]);
    q = poly_add(q, z, AT_Q[3]);
    q = poly_add(q, z, AT_Q[4]);
    let mut a = _mm256_add_pd(_mm256_mul_pd(u, _mm256_div_pd(_mm256_mul_pd(z, p), q)), u);
    let a_big = _mm256_add_pd(
        _mm256_add_pd(a, _mm256_set1_pd(0.5 * MOREBITS)),
        _mm256_set1_pd(PIO4),
    );
    a = _mm256_blendv_pd(a, a_big, big);
    let a_swap = _mm256_add_pd(
        _mm256_sub_pd(_mm256_set1_pd(PIO2), a),
        _mm256_set1_pd(MOREBITS),
    );
    a = _mm256_blendv_pd(a, a_swap, swap);
    // x negative (sign bit set, -0.0 included): blendv selects on the mask's sign bit
    let a_neg = _mm256_add_pd(
        _mm256_sub_pd(_mm256_set1_pd(PI), a),
        _mm256_set1_pd(2.0 * MOREBITS),
    );
    a = _mm256_blendv_pd(a, a_neg, x);
    a = _mm256_blendv_pd(
        a,
        _mm256_set1_pd(f64::NAN),
        _mm256_cmp_pd::<_CMP_UNORD_Q>(x, y),
    );
    _mm256_or_pd(a, _mm256_and_pd(y, sign))
}

/// `(sin x, cos x)` of four f64 lanes ([`crate::vmath::sincos`]).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn sincos_pd(x: __m256d) -> (__m256d, __m256d) {
    let magic = _mm256_set1_pd(ROUND_MAGIC);
    let kk = _mm256_add_pd(_mm256_mul_pd(x, _mm256_set1_pd(TWO_OVER_PI)), magic);
    let q = _mm256_castpd_si256(kk);
    let k = _mm256_sub_pd(kk, magic);
    let r = _mm256_sub_pd(
        _mm256_sub_pd(
            _mm256_sub_pd(x, _mm256_mul_pd(k, _mm256_set1_pd(PIO2_1))),
            _mm256_mul_pd(k, _mm256_set1_pd(PIO2_2)),
        ),
        _mm256_mul_pd(k, _mm256_set1_pd(PIO2_3)),
    );
    let z = _mm256_mul_pd(r, r);
    let v = _mm256_mul_pd(z, r);
    // ps = S2 + z (S3 + z (S4 + z (S5 + z S6)))
    let mut ps = poly_add(z, _mm256_set1_pd(S6), S5);
    ps = poly_add(z, ps, S4);
    ps = poly_add(z, ps, S3);
    ps = poly_add(z, ps, S2);
    let s = _mm256_add_pd(r, _mm256_mul_pd(v, poly_add(z, ps, S1)));
    // pc = z (C1 + z (C2 + z (C3 + z (C4 + z (C5 + z C6)))))
    let mut pc = poly_add(z, _mm256_set1_pd(C6), C5);
    pc = poly_add(z, pc, C4);
    pc = poly_add(z, pc, C3);
    pc = poly_add(z, pc, C2);
    pc = poly_add(z, pc, C1);
    pc = _mm256_mul_pd(z, pc);
    let one = _mm256_set1_pd(1.0);
    let hz = _mm256_mul_pd(_mm256_set1_pd(0.5), z);
    let w = _mm256_sub_pd(one, hz);
    let c = _mm256_add_pd(
        w,
        _mm256_add_pd(
            _mm256_sub_pd(_mm256_sub_pd(one, w), hz),
            _mm256_mul_pd(z, pc),
        ),
    );
    // quadrant bits: bit 0 swaps sin/cos, bit 1 (of q, of q + 1) flips the sign
    let swap = _mm256_castsi256_pd(_mm256_slli_epi64::<63>(q));
    let s0 = _mm256_blendv_pd(s, c, swap);
    let c0 = _mm256_blendv_pd(c, s, swap);
    let two = _mm256_set1_epi64x(2);
    let sflip = _mm256_slli_epi64::<62>(_mm256_and_si256(q, two));
    let cflip = _mm256_slli_epi64::<62>(_mm256_and_si256(
        _mm256_add_epi64(q, _mm256_set1_epi64x(1)),
        two,
    ));
    (
        _mm256_xor_pd(s0, _mm256_castsi256_pd(sflip)),
        _mm256_xor_pd(c0, _mm256_castsi256_pd(cflip)),
    )
}

/// Complex modulus of four f64 lanes ([`crate::vmath::cabs64`]).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn cabs_pd(re: __m256d, im: __m256d) -> __m256d {
    let sign = _mm256_set1_pd(-0.0);
    let zero = _mm256_setzero_pd();
    let a = _mm256_andnot_pd(sign, re);
    let b = _mm256_andnot_pd(sign, im);
    let gt = _mm256_cmp_pd::<_CMP_GT_OQ>(a, b);
    let l = _mm256_blendv_pd(b, a, gt);
    let s = _mm256_blendv_pd(a, b, gt);
    let r = _mm256_blendv_pd(
        _mm256_div_pd(s, l),
        zero,
        _mm256_cmp_pd::<_CMP_EQ_OQ>(l, zero),
    );
    let v = _mm256_mul_pd(
        _mm256_sqrt_pd(_mm256_add_pd(_mm256_mul_pd(r, r), _mm256_set1_pd(1.0))),
        l,
    );
    _mm256_blendv_pd(
        v,
        _mm256_set1_pd(f64::NAN),
        _mm256_cmp_pd::<_CMP_UNORD_Q>(re, im),
    )
}

/// Complex64 modulus of eight f32 lanes ([`crate::vmath::cabs32`], with a true fused
/// multiply-add).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn cabs_ps(re: __m256, im: __m256) -> __m256 {
    let sign = _mm256_set1_ps(-0.0);
    let zero = _mm256_setzero_ps();
    let a = _mm256_andnot_ps(sign, re);
    let b = _mm256_andnot_ps(sign, im);
    let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(a, b);
    let l = _mm256_blendv_ps(b, a, gt);
    let s = _mm256_blendv_ps(a, b, gt);
    let r = _mm256_blendv_ps(
        _mm256_div_ps(s, l),
        zero,
        _mm256_cmp_ps::<_CMP_EQ_OQ>(l, zero),
    );
    // 1 + r^2 with the fused multiply-add NumPy uses (the scalar routine emulates it in
    // f64: the same value except for a double rounding, probability ~2^-29)
    let h = _mm256_sqrt_ps(_mm256_fmadd_ps(r, r, _mm256_set1_ps(1.0)));
    let v = _mm256_mul_ps(h, l);
    _mm256_blendv_ps(
        v,
        _mm256_set1_ps(f32::NAN),
        _mm256_cmp_ps::<_CMP_UNORD_Q>(re, im),
    )
}

/// `atan2(y, x)` of eight f32 lanes evaluated in f32 (fused multiply-adds; one division):
/// reduction to |u| <= tan(pi/8), then Cephes' `atanf` polynomial.  Within 3 ulp of the
/// correctly rounded value (tested against [`crate::vmath::atan2`]); C99 signed zeros.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn atan2_ps(y: __m256, x: __m256) -> __m256 {
    let sign = _mm256_set1_ps(-0.0);
    let zero = _mm256_setzero_ps();
    let ax = _mm256_andnot_ps(sign, x);
    let ay = _mm256_andnot_ps(sign, y);
    let swap = _mm256_cmp_ps::<_CMP_GT_OQ>(ay, ax);
    let num = _mm256_blendv_ps(ay, ax, swap);
    let den = _mm256_blendv_ps(ax, ay, swap);
    // num/den in [0, 1]; above tan(pi/8) use pi/4 + atan((num - den)/(num + den))
    let big = _mm256_cmp_ps::<_CMP_GT_OQ>(num, _mm256_mul_ps(_mm256_set1_ps(0.414_213_57), den));
    let nn = _mm256_blendv_ps(num, _mm256_sub_ps(num, den), big);
    let dd = _mm256_blendv_ps(den, _mm256_add_ps(num, den), big);
    let u = _mm256_blendv_ps(
        _mm256_div_ps(nn, dd),
        zero,
        _mm256_cmp_ps::<_CMP_EQ_OQ>(dd, zero),
    );
    let z = _mm256_mul_ps(u, u);
    let mut p = _mm256_fmadd_ps(
        _mm256_set1_ps(8.053_744_5e-2),
        z,
        _mm256_set1_ps(-1.387_768_6e-1),
    );
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(1.997_771_1e-1));
    p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(-3.333_295e-1));
    let mut a = _mm256_fmadd_ps(_mm256_mul_ps(p, z), u, u);
    a = _mm256_blendv_ps(
        a,
        _mm256_add_ps(a, _mm256_set1_ps(std::f32::consts::FRAC_PI_4)),
        big,
    );
    a = _mm256_blendv_ps(
        a,
        _mm256_sub_ps(_mm256_set1_ps(std::f32::consts::FRAC_PI_2), a),
        swap,
    );
    a = _mm256_blendv_ps(a, _mm256_sub_ps(_mm256_set1_ps(std::f32::consts::PI), a), x);
    a = _mm256_blendv_ps(
        a,
        _mm256_set1_ps(f32::NAN),
        _mm256_cmp_ps::<_CMP_UNORD_Q>(x, y),
    );
    _mm256_or_ps(a, _mm256_and_ps(y, sign))
}

/// `(sin x, cos x)` of eight f32 lanes evaluated in f32 (fused multiply-adds): three-part
/// reduction by pi/2 (exact for |x| < 2^16 pi/2), then Cephes' `sinf`/`cosf` polynomials.
/// Absolute error <= 1.2e-7 (tested against [`crate::vmath::sincos`]) for |x| < 1e4.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn sincos_ps(x: __m256) -> (__m256, __m256) {
    let magic = _mm256_set1_ps(12_582_912.0); // 1.5 * 2^23
    let kk = _mm256_add_ps(
        _mm256_mul_ps(x, _mm256_set1_ps(std::f32::consts::FRAC_2_PI)),
        magic,
    );
    let q = _mm256_castps_si256(kk);
    let k = _mm256_sub_ps(kk, magic);
    let mut r = _mm256_fnmadd_ps(k, _mm256_set1_ps(1.570_312_5), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(4.837_513e-4), r);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(7.549_79e-8), r);
    let z = _mm256_mul_ps(r, r);
    let mut ps = _mm256_fmadd_ps(
        _mm256_set1_ps(-1.951_529_6e-4),
        z,
        _mm256_set1_ps(8.332_161e-3),
    );
    ps = _mm256_fmadd_ps(ps, z, _mm256_set1_ps(-1.666_665_5e-1));
    let s = _mm256_fmadd_ps(_mm256_mul_ps(ps, z), r, r);
    let mut pc = _mm256_fmadd_ps(
        _mm256_set1_ps(2.443_315_7e-5),
        z,
        _mm256_set1_ps(-1.388_731_6e-3),
    );
    pc = _mm256_fmadd_ps(pc, z, _mm256_set1_ps(4.166_664_6e-2));
    let c = _mm256_fmadd_ps(
        _mm256_mul_ps(pc, z),
        z,
        _mm256_fnmadd_ps(_mm256_set1_ps(0.5), z, _mm256_set1_ps(1.0)),
    );
    let swap = _mm256_castsi256_ps(_mm256_slli_epi32::<31>(q));
    let s0 = _mm256_blendv_ps(s, c, swap);
    let c0 = _mm256_blendv_ps(c, s, swap);
    let two = _mm256_set1_epi32(2);
    let sflip = _mm256_slli_epi32::<30>(_mm256_and_si256(q, two));
    let cflip = _mm256_slli_epi32::<30>(_mm256_and_si256(
        _mm256_add_epi32(q, _mm256_set1_epi32(1)),
        two,
    ));
    (
        _mm256_xor_ps(s0, _mm256_castsi256_ps(sflip)),
        _mm256_xor_ps(c0, _mm256_castsi256_ps(cflip)),
    )
}

/// Lane-wise `atan2(y, x)` of f32 values evaluated in f32 ([`atan2_ps`]).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn atan2_f32x(y: &F32x, x: &F32x) -> F32x {
    let mut o = [0f32; 8];
    _mm256_storeu_ps(
        o.as_mut_ptr(),
        atan2_ps(_mm256_loadu_ps(y.as_ptr()), _mm256_loadu_ps(x.as_ptr())),
    );
    o
}

/// Lane-wise `exp(-i x)` of f32 values evaluated in f32 ([`sincos_ps`]): (cos, -sin).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn cis_neg_f32x(x: &F32x) -> (F32x, F32x) {
    let (s, c) = sincos_ps(_mm256_loadu_ps(x.as_ptr()));
    let (mut co, mut so) = ([0f32; 8], [0f32; 8]);
    _mm256_storeu_ps(co.as_mut_ptr(), c);
    _mm256_storeu_ps(so.as_mut_ptr(), _mm256_xor_ps(s, _mm256_set1_ps(-0.0)));
    (co, so)
}

#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn halves(x: &F32x) -> (__m256d, __m256d) {
    let v = _mm256_loadu_ps(x.as_ptr());
    (
        _mm256_cvtps_pd(_mm256_castps256_ps128(v)),
        _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(v)),
    )
}

#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn store_halves(lo: __m256d, hi: __m256d, out: &mut F32x) {
    _mm256_storeu_ps(
        out.as_mut_ptr(),
        _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo)),
    );
}

/// Lane-wise `exp(-i x)` of f32 arguments as f32 (cos, -sin), in f64, rounded once
/// ([`crate::lanes::cis_neg32x_f64`]).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn cis_neg32x(x: &F32x) -> (F32x, F32x) {
    let (lo, hi) = halves(x);
    let (slo, clo) = sincos_pd(lo);
    let (shi, chi) = sincos_pd(hi);
    let (mut c, mut s) = ([0f32; 8], [0f32; 8]);
    store_halves(clo, chi, &mut c);
    store_halves(slo, shi, &mut s);
    let sv = _mm256_xor_ps(_mm256_loadu_ps(s.as_ptr()), _mm256_set1_ps(-0.0));
    _mm256_storeu_ps(s.as_mut_ptr(), sv);
    (c, s)
}

/// Lane-wise complex64 modulus ([`crate::lanes::cabs32x`]).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn cabs32x(re: &F32x, im: &F32x) -> F32x {
    let mut o = [0f32; 8];
    _mm256_storeu_ps(
        o.as_mut_ptr(),
        cabs_ps(_mm256_loadu_ps(re.as_ptr()), _mm256_loadu_ps(im.as_ptr())),
    );
    o
}

/// Apply a 4-lane f64 function to the two halves of 8 lanes.
macro_rules! by_halves {
    ($f:ident, $($a:expr),+) => {{
        let mut o = [0f64; 8];
        let lo = $f($(_mm256_loadu_pd($a.as_ptr())),+);
        let hi = $f($(_mm256_loadu_pd($a.as_ptr().add(4))),+);
        _mm256_storeu_pd(o.as_mut_ptr(), lo);
        _mm256_storeu_pd(o.as_mut_ptr().add(4), hi);
        o
    }};
}

/// Lane-wise f64 modulus ([`crate::lanes::cabs64x`]).
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn cabs64x(re: &F64x, im: &F64x) -> F64x {
    by_halves!(cabs_pd, re, im)
}

/// Lane-wise f64 `atan2(y, x)`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn atan2_64x(y: &F64x, x: &F64x) -> F64x {
    by_halves!(atan2_pd, y, x)
}

/// Lane-wise f64 `(sin x, cos x)`.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn sincos_64x(x: &F64x) -> (F64x, F64x) {
    let (mut s, mut c) = ([0f64; 8], [0f64; 8]);
    for h in 0..2 {
        let (sv, cv) = sincos_pd(_mm256_loadu_pd(x.as_ptr().add(4 * h)));
        _mm256_storeu_pd(s.as_mut_ptr().add(4 * h), sv);
        _mm256_storeu_pd(c.as_mut_ptr().add(4 * h), cv);
    }
    (s, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vmath;

    fn have() -> bool {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }

    fn args(n: usize) -> Vec<f64> {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut v: Vec<f64> = (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                match i % 4 {
                    0 => (u - 0.5) * 20.0,
                    1 => (u - 0.5) * 2e4,
                    2 => (u - 0.5) * 1e-3,
                    _ => (u - 0.5) * 2.0,
                }
            })
            .collect();
        v.extend([0.0, -0.0, 1.0, -1.0, f64::NAN, 0.66, 1.5e-300, 3.0, -3.0]);
        while v.len() % 8 != 0 {
            v.push(0.5);
        }
        v
    }

    /// Distance in f32 ulps (of the larger magnitude, at least of 2^-126).
    fn ulps(a: f32, b: f64) -> f64 {
        let scale = (b.abs() as f32).max(f32::MIN_POSITIVE);
        let ulp = f32::from_bits(scale.to_bits() + 1) - scale;
        (a as f64 - b).abs() / ulp as f64
    }

    #[test]
    fn f32_routines_are_within_their_bounds() {
        if !have() {
            return;
        }
        let xs = args(1 << 18);
        let ys: Vec<f64> = xs.iter().rev().copied().collect();
        let mut worst = (0f64, 0f64);
        for (cx, cy) in xs.chunks_exact(8).zip(ys.chunks_exact(8)) {
            let xf: F32x = std::array::from_fn(|l| (cx[l] as f32).clamp(-1e4, 1e4));
            let yf: F32x = std::array::from_fn(|l| cy[l] as f32);
            // SAFETY: AVX2 and FMA checked above
            let (a, (c, s)) = unsafe { (atan2_f32x(&yf, &xf), cis_neg_f32x(&xf)) };
            for l in 0..8 {
                let ra = vmath::atan2(yf[l] as f64, xf[l] as f64);
                let (sn, cs) = vmath::sincos(xf[l] as f64);
                if ra.is_nan() {
                    assert!(a[l].is_nan());
                    continue;
                }
                assert_eq!(
                    a[l].is_sign_negative(),
                    ra.is_sign_negative(),
                    "atan2 sign ({}, {})",
                    yf[l],
                    xf[l]
                );
                worst.0 = worst.0.max(ulps(a[l], ra));
                // sin/cos: absolute error (values in [-1, 1])
                worst.1 = worst
                    .1
                    .max((-s[l] as f64 - sn).abs())
                    .max((c[l] as f64 - cs).abs());
            }
        }
        eprintln!(
            "f32 atan2: worst {} ulp; sin/cos: worst absolute error {:e}",
            worst.0, worst.1
        );
        assert!(worst.0 <= 3.0, "atan2 worst {} ulp", worst.0);
        assert!(
            worst.1 <= 1.2e-7,
            "sin/cos worst absolute error {}",
            worst.1
        );
    }

    #[test]
    fn avx2_routines_equal_the_scalar_ones_bit_for_bit() {
        if !have() {
            return;
        }
        let xs = args(1 << 18);
        let ys: Vec<f64> = xs.iter().rev().copied().collect();
        for (cx, cy) in xs.chunks_exact(8).zip(ys.chunks_exact(8)) {
            let x: F64x = cx.try_into().unwrap();
            let y: F64x = cy.try_into().unwrap();
            let xf: F32x = std::array::from_fn(|l| x[l] as f32);
            let yf: F32x = std::array::from_fn(|l| y[l] as f32);
            // SAFETY: AVX2 and FMA checked above
            let (a, s, m, m32, cis) = unsafe {
                (
                    atan2_64x(&y, &x),
                    sincos_64x(&x),
                    cabs64x(&x, &y),
                    cabs32x(&xf, &yf),
                    cis_neg32x(&xf),
                )
            };
            for l in 0..8 {
                assert_eq!(
                    a[l].to_bits(),
                    vmath::atan2(y[l], x[l]).to_bits(),
                    "atan2({}, {})",
                    y[l],
                    x[l]
                );
                let (sn, cs) = vmath::sincos(x[l]);
                assert_eq!(
                    (s.0[l].to_bits(), s.1[l].to_bits()),
                    (sn.to_bits(), cs.to_bits()),
                    "sincos({})",
                    x[l]
                );
                assert_eq!(m[l].to_bits(), vmath::cabs64(x[l], y[l]).to_bits());
                assert_eq!(m32[l].to_bits(), vmath::cabs32(xf[l], yf[l]).to_bits());
                let (sn, cs) = vmath::sincos(xf[l] as f64);
                assert_eq!(
                    (cis.0[l].to_bits(), cis.1[l].to_bits()),
                    ((cs as f32).to_bits(), (-(sn as f32)).to_bits())
                );
            }
        }
    }
}
