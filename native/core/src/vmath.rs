//! Branch-free `sin`/`cos`/`atan2`/`|z|` that the compiler can vectorise.
//!
//! The kernels evaluate millions of phasors; calling libm per element costs 15-40 ns, so
//! these routines are written without branches, calls or integer conversions (quadrants come
//! from the low mantissa bits of a rounding trick) and the loops that call them vectorise.
//!
//! Accuracy: double-precision evaluation throughout (fdlibm's kernels and a three-part
//! Cody-Waite reduction for sin/cos, Cephes' rational approximation for atan), about 1 ulp
//! in f64 for |x| < 1e5; the f32 entry points round the f64 result once, so they are the
//! correctly rounded value in nearly all cases (glibc's `sinf`/`cosf`/`atan2f`, which the
//! python backend uses through NumPy, differ from it by one ulp in about 1 % of cases).

/// The routines' constants (shared with [`crate::vmath_avx2`]).
pub(crate) mod consts {
    pub const TWO_OVER_PI: f64 = 0.636_619_772_367_581_382_43;
    pub const PIO2_1: f64 = 1.570_796_326_734_125_614_17e+00;
    pub const PIO2_2: f64 = 6.077_100_506_303_965_976_60e-11;
    pub const PIO2_3: f64 = 2.022_266_248_711_166_455_80e-21;
    /// 1.5 * 2^52: adding it rounds to an integer, which lands in the low mantissa bits.
    pub const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
    pub const S1: f64 = -1.666_666_666_666_663_243_48e-01;
    pub const S2: f64 = 8.333_333_333_322_489_461_24e-03;
    pub const S3: f64 = -1.984_126_982_985_794_931_34e-04;
    pub const S4: f64 = 2.755_731_370_707_006_767_89e-06;
    pub const S5: f64 = -2.505_076_025_340_686_341_95e-08;
    pub const S6: f64 = 1.589_690_995_211_550_102_21e-10;
    pub const C1: f64 = 4.166_666_666_666_660_190_37e-02;
    pub const C2: f64 = -1.388_888_888_887_410_957_49e-03;
    pub const C3: f64 = 2.480_158_728_947_672_941_78e-05;
    pub const C4: f64 = -2.755_731_435_139_066_330_35e-07;
    pub const C5: f64 = 2.087_572_321_298_174_827_90e-09;
    pub const C6: f64 = -1.135_964_755_778_819_482_65e-11;
    pub const SIGN: u64 = 0x8000_0000_0000_0000;
    pub const AT_P: [f64; 5] = [
        -8.750_608_600_031_904_122_785e-01,
        -1.615_753_718_733_365_076_637e+01,
        -7.500_855_792_314_704_667_340e+01,
        -1.228_866_684_490_136_173_410e+02,
        -6.485_021_904_942_025_371_773e+01,
    ];
    pub const AT_Q: [f64; 5] = [
        2.485_846_490_142_306_297_962e+01,
        1.650_270_098_316_988_542_046e+02,
        4.328_810_604_912_902_668_951e+02,
        4.853_903_996_359_136_964_868e+02,
        1.945_506_571_482_613_964_425e+02,
    ];
    pub const MOREBITS: f64 = 6.123_233_995_736_765_886_130e-17;
    pub const PI: f64 = std::f64::consts::PI;
    pub const PIO2: f64 = std::f64::consts::FRAC_PI_2;
    pub const PIO4: f64 = std::f64::consts::FRAC_PI_4;
}
use consts::*;

/// `(sin x, cos x)` in f64 (about 1 ulp for |x| < 1e5; NaN for non-finite x).
#[inline(always)]
pub fn sincos(x: f64) -> (f64, f64) {
    let kk = x * TWO_OVER_PI + ROUND_MAGIC;
    let q = kk.to_bits();
    let k = kk - ROUND_MAGIC;
    let r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
    let z = r * r;
    let v = z * r;
    let ps = S2 + z * (S3 + z * (S4 + z * (S5 + z * S6)));
    let s = r + v * (S1 + z * ps);
    let pc = z * (C1 + z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * C6)))));
    let hz = 0.5 * z;
    let w = 1.0 - hz;
    let c = w + (((1.0 - w) - hz) + z * pc);
    let swap = q & 1 != 0;
    let (s0, c0) = (if swap { c } else { s }, if swap { s } else { c });
    let sin = f64::from_bits(s0.to_bits() ^ ((q & 2) << 62));
    let cos = f64::from_bits(c0.to_bits() ^ (((q + 1) & 2) << 62));
    (sin, cos)
}

/// `exp(-i x)` as (re, im) = (cos x, -sin x) in f64.
#[inline(always)]
pub fn cis_neg(x: f64) -> (f64, f64) {
    let (s, c) = sincos(x);
    (c, -s)
}

/// `atan2(y, x)` in f64, with C99's signed-zero conventions for finite arguments.
#[inline(always)]
pub fn atan2(y: f64, x: f64) -> f64 {
    let ax = x.abs();
    let ay = y.abs();
    let swap = ay > ax;
    let (num, den) = if swap { (ax, ay) } else { (ay, ax) }; // num / den in [0, 1]
                                                             // Cephes atan on [0, 1]: t = num/den <= 0.66 directly, else pi/4 + atan((t - 1)/(t + 1)),
                                                             // with (t - 1)/(t + 1) formed as (num - den)/(num + den): one division either way
    let big = num > 0.66 * den;
    let (nn, dd) = if big {
        (num - den, num + den)
    } else {
        (num, den)
    };
    let u = if dd == 0.0 { 0.0 } else { nn / dd };
    let z = u * u;
    let p = (((AT_P[0] * z + AT_P[1]) * z + AT_P[2]) * z + AT_P[3]) * z + AT_P[4];
    let qd = ((((z + AT_Q[0]) * z + AT_Q[1]) * z + AT_Q[2]) * z + AT_Q[3]) * z + AT_Q[4];
    let mut a = u * (z * p / qd) + u;
    a = if big { a + 0.5 * MOREBITS + PIO4 } else { a };
    a = if swap { (PIO2 - a) + MOREBITS } else { a };
    let xneg = x.to_bits() & SIGN != 0;
    a = if xneg { (PI - a) + 2.0 * MOREBITS } else { a };
    a = if x.is_nan() || y.is_nan() {
        f64::NAN
    } else {
        a
    };
    f64::from_bits(a.to_bits() | (y.to_bits() & SIGN))
}

/// NumPy's complex modulus `L sqrt(1 + (S/L)^2)` (L, S the larger and smaller of |re|, |im|)
/// in f32, with the f32 fused multiply-add emulated in f64 (NumPy's complex64 `abs`).
#[inline(always)]
pub fn cabs32(re: f32, im: f32) -> f32 {
    let (a, b) = (re.abs(), im.abs());
    let l = if a > b { a } else { b };
    let s = if a > b { b } else { a };
    let r = if l == 0.0 { 0.0 } else { s / l };
    let h = (((r as f64) * (r as f64) + 1.0) as f32).sqrt();
    let v = h * l;
    if re.is_nan() || im.is_nan() {
        f32::NAN
    } else {
        v
    }
}

/// Complex modulus in f64 (`L sqrt(1 + (S/L)^2)`, overflow-safe).
#[inline(always)]
pub fn cabs64(re: f64, im: f64) -> f64 {
    let (a, b) = (re.abs(), im.abs());
    let l = if a > b { a } else { b };
    let s = if a > b { b } else { a };
    let r = if l == 0.0 { 0.0 } else { s / l };
    let v = (r * r + 1.0).sqrt() * l;
    if re.is_nan() || im.is_nan() {
        f64::NAN
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sincos_matches_libm() {
        let mut worst = 0f64;
        for i in -200000..200000 {
            let x = i as f64 * 0.000731 + 0.1234;
            let (s, c) = sincos(x);
            worst = worst.max((s - x.sin()).abs()).max((c - x.cos()).abs());
        }
        assert!(worst < 4e-16, "{worst}");
        let (s, c) = sincos(0.0);
        assert_eq!((s, c), (0.0, 1.0));
    }

    #[test]
    fn atan2_matches_libm() {
        let mut worst = 0f64;
        for i in 0..400 {
            for j in 0..400 {
                let y = (i as f64 - 200.0) * 0.137 + 0.01;
                let x = (j as f64 - 200.0) * 0.093 - 0.003;
                worst = worst.max((atan2(y, x) - y.atan2(x)).abs());
            }
        }
        assert!(worst < 5e-16, "{worst}");
        assert_eq!(atan2(0.0, -1.0), PI);
        assert_eq!(atan2(-0.0, -1.0), -PI);
        assert_eq!(atan2(0.0, 1.0), 0.0);
        assert_eq!(atan2(1.0, 0.0), PIO2);
        assert!(atan2(f64::NAN, 1.0).is_nan());
    }

    #[test]
    fn moduli() {
        assert_eq!(cabs64(3.0, -4.0), 5.0);
        assert_eq!(cabs32(0.0, 0.0), 0.0);
        assert!((cabs32(0.6, 0.8) - 1.0).abs() < 1e-7);
    }
}
