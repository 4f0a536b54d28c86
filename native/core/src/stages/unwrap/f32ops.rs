//! Single-precision complex arithmetic of stage 6, as `pystamps_batch/stages/unwrap/f32.py`.
//!
//! StaMPS' reference run (Octave on glibc) does step 6 in single precision; bit-level
//! parity with it, and with the Python stage, needs these exact float32 formulas:
//!
//! * [`cabs`]: `hypotf`, i.e. `sqrt(re^2 + im^2)` in f64 rounded once to f32;
//! * [`cmul`]: `(ar br - ai bi, ar bi + ai br)` with separately rounded f32 operations
//!   (no fused multiply-add: Rust never contracts `a * b + c` on its own);
//! * [`expi32`] / [`expi64`]: `exp(i x)` as `(cos x, sin x)` computed in f64 (glibc) and
//!   rounded to f32: correctly rounded for an f32 argument, MATLAB's double-to-single
//!   conversion for an f64 one;
//! * [`angle`]: `atan2f`;
//! * [`rsum`] / [`csum`] / [`std`]: sequential sums (Octave's loop order).

use num_complex::Complex32;

/// `abs(z)` correctly rounded to f32 (C `hypotf`).
#[inline]
pub fn cabs(z: Complex32) -> f32 {
    let (re, im) = (z.re as f64, z.im as f64);
    (re * re + im * im).sqrt() as f32
}

/// `a * b` with separately rounded f32 operations.
#[inline]
pub fn cmul(a: Complex32, b: Complex32) -> Complex32 {
    Complex32::new(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
}

/// `a * conj(b)` (the conjugate is exact, then [`cmul`]).
#[inline]
pub fn cmul_conj(a: Complex32, b: Complex32) -> Complex32 {
    cmul(a, b.conj())
}

/// Complex times real, each part multiplied in f32.
#[inline]
pub fn cmul_real(z: Complex32, r: f32) -> Complex32 {
    Complex32::new(z.re * r, z.im * r)
}

/// Complex divided by real, each part divided in f32 (NaN/Inf as IEEE).
#[inline]
pub fn cdiv_real(z: Complex32, r: f32) -> Complex32 {
    Complex32::new(z.re / r, z.im / r)
}

/// `z ./ abs(z)` in single precision (NaN where z == 0, as MATLAB).
#[inline]
pub fn unit(z: Complex32) -> Complex32 {
    cdiv_real(z, cabs(z))
}

/// `unit(z)` where z != 0, z itself (0) where z == 0 (the `np.where(w != 0, unit(w), w)` idiom).
#[inline]
pub fn unit_or_zero(z: Complex32) -> Complex32 {
    if z.re == 0.0 && z.im == 0.0 {
        z
    } else {
        unit(z)
    }
}

/// `exp(1i*x)` for an f32 argument: correctly rounded single cos/sin.
#[inline]
pub fn expi32(x: f32) -> Complex32 {
    let xd = x as f64;
    Complex32::new(xd.cos() as f32, xd.sin() as f32)
}

/// `exp(1i*x)` for an f64 argument: the double result rounded to single.
#[inline]
pub fn expi64(x: f64) -> Complex32 {
    Complex32::new(x.cos() as f32, x.sin() as f32)
}

/// `angle(z)` as f32 (`atan2f`).
#[inline]
pub fn angle(z: Complex32) -> f32 {
    z.im.atan2(z.re)
}

/// Sequential f32 sum (NaN propagates); 0 for an empty iterator.
#[inline]
pub fn rsum<I: IntoIterator<Item = f32>>(x: I) -> f32 {
    let mut it = x.into_iter();
    match it.next() {
        None => 0.0,
        Some(first) => it.fold(first, |acc, v| acc + v),
    }
}

/// Sequential complex64 sum (real and imaginary parts separately).
#[inline]
pub fn csum<I: IntoIterator<Item = Complex32>>(z: I) -> Complex32 {
    let mut it = z.into_iter();
    match it.next() {
        None => Complex32::new(0.0, 0.0),
        Some(first) => it.fold(first, |acc, v| Complex32::new(acc.re + v.re, acc.im + v.im)),
    }
}

/// Sample standard deviation (n - 1) in f32 as Octave's `std`: `sqrt(sumsq(x - sum/n)/(n-1))`,
/// 0 for fewer than two values.
pub fn std(x: &[f32]) -> f32 {
    let n = x.len();
    if n < 2 {
        return 0.0;
    }
    let mu = rsum(x.iter().copied()) / n as f32;
    let ss = rsum(x.iter().map(|&v| {
        let d = v - mu;
        d * d
    }));
    (ss / (n - 1) as f32).sqrt()
}

/// Octave `mod(x, y)` for a positive non-integer f32 scalar y: `x - floor(x/y)*y`, but 0 where
/// `x/y` is within f32 epsilon of a non-zero integer (as `space_time.mod_octave`).
#[inline]
pub fn mod_octave32(x: f32, y: f32) -> f32 {
    let q = x / y;
    let nq = q.round_ties_even();
    if nq != 0.0 && ((q - nq) / nq).abs() < f32::EPSILON {
        return 0.0;
    }
    x - y * q.floor()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cabs_is_correctly_rounded_hypot() {
        let z = Complex32::new(3.0, 4.0);
        assert_eq!(cabs(z), 5.0);
        assert!(unit(Complex32::new(0.0, 0.0)).re.is_nan());
        assert_eq!(unit_or_zero(Complex32::new(0.0, 0.0)), Complex32::new(0.0, 0.0));
    }

    #[test]
    fn std_matches_two_pass_formula() {
        assert_eq!(std(&[1.0]), 0.0);
        let s = std(&[1.0, 2.0, 3.0, 4.0]);
        assert!((s - 1.2909944).abs() < 1e-6);
    }

    #[test]
    fn octave_mod_guard() {
        assert_eq!(mod_octave32(-0.5, 2.0), 1.5);
        let two_pi = std::f32::consts::TAU;
        assert_eq!(mod_octave32(two_pi * 3.0, two_pi), 0.0);
    }

    #[test]
    fn sequential_sums() {
        assert_eq!(rsum([1e8f32, 1.0, -1e8]), 0.0);
        assert_eq!(csum(Vec::<Complex32>::new()), Complex32::new(0.0, 0.0));
    }
}
