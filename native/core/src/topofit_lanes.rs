//! `ps_topofit` for [`L`] pixels at once, one pixel per SIMD lane.
//!
//! Same algorithm and per-pixel arithmetic as the row-wise fit in [`crate::topofit`]
//! (that module's docs give the maths); only the data layout differs: a block holds the
//! `M` values of `L` pixels as `M` lane vectors, so the periodogram, the refinement's
//! phasors and angles, and NumPy's pairwise sums are all vertical operations.  Used for
//! rows without zero entries (nearly all of them); rows with zeros keep the row-wise path.
//!
//! Per lane the results agree with the row-wise fit's to a few f32 ulps: (a) the
//! periodogram is summed sequentially with fused multiply-adds (the row-wise code uses
//! eight partial sums; the python backend's BLAS another order again) and its maximum is
//! taken on `|S_t|^2` rather than `|S_t| / sum|z|`, which can only change the chosen trial
//! where two trials tie to f32 precision; (b) with FMA hardware the complex64 products use
//! the true fused multiply-add (as NumPy does there) instead of its f64 emulation, and the
//! angles and residual phasors are evaluated in f32 ([`crate::vmath_avx2`], within 3 ulp;
//! the row-wise code rounds f64 evaluations).  `tests::lane_blocks_agree_with_the_row_wise_fit`
//! in [`crate::topofit`] checks K, C, coherence and residuals to 1e-5.

use crate::lanes::{
    atan2_32x, cabs32x, cabs64x, cis_neg32x, cis_neg32x_f64, cmul32x, madd32, madd64,
    pairwise_c32x, pairwise_f32x, pairwise_f64x, F32x, F64x, L,
};
use crate::lanes::{atan2_64x, sincos_64x};
use crate::topofit::{half_width, Basis64};

/// Trials per pass of the f32 periodogram (8 accumulator registers).
const G32: usize = 4;
/// Trials per pass of the f64 periodogram.
const G64: usize = 2;

/// The trial phasors `exp(-i K_t b_k)` of a block.
pub trait BlockBasis {
    /// Number of trials T.
    fn n_trials(&self) -> usize;
    /// Trial `t`'s phasor at interferogram `k`, per lane (re, im).
    fn trial(&self, t: usize, k: usize) -> (F32x, F32x);
    /// `K_t` of trial `ib[l]` per lane.
    fn k_at(&self, ib: &[usize; L]) -> F32x;
    /// `exp(-i f32(k0 b))` at interferogram `k` for the chosen trials `ib` (`k0` = their K).
    fn best<const FMA: bool>(&self, ib: &[usize; L], k0: &F32x, b: &F32x, k: usize)
        -> (F32x, F32x);
}

/// One baseline row for every pixel: a T x M table computed once per patch.
pub struct SharedBasis<'a> {
    pub m: usize,
    pub kt: &'a [f32],
    pub re: &'a [f32],
    pub im: &'a [f32],
}

impl BlockBasis for SharedBasis<'_> {
    #[inline(always)]
    fn n_trials(&self) -> usize {
        self.kt.len()
    }
    #[inline(always)]
    fn trial(&self, t: usize, k: usize) -> (F32x, F32x) {
        let i = t * self.m + k;
        ([self.re[i]; L], [self.im[i]; L])
    }
    #[inline(always)]
    fn k_at(&self, ib: &[usize; L]) -> F32x {
        std::array::from_fn(|l| self.kt[ib[l]])
    }
    #[inline(always)]
    fn best<const FMA: bool>(
        &self,
        ib: &[usize; L],
        _k0: &F32x,
        _b: &F32x,
        k: usize,
    ) -> (F32x, F32x) {
        // the table row of the winning trial is exactly exp(-i f32(k0 b))
        (
            std::array::from_fn(|l| self.re[ib[l] * self.m + k]),
            std::array::from_fn(|l| self.im[ib[l] * self.m + k]),
        )
    }
}

/// Per-pixel baselines: each lane's own trial grid and basis (by recurrence, as
/// [`crate::topofit::basis_f32_recurrence`] computes it for one pixel).
#[derive(Default)]
pub struct LaneBasis {
    m: usize,
    kt: Vec<F32x>,
    re: Vec<F32x>,
    im: Vec<F32x>,
    er: Vec<F64x>,
    ei: Vec<F64x>,
    pr: Vec<F64x>,
    pi: Vec<F64x>,
}

impl LaneBasis {
    /// Build the trial grids (`K_t = f32(kstep t)`, kstep = f32(pi/4) / range, 0 for a zero
    /// or non-finite range) and the bases of the lanes' baselines `b` (M lane vectors).
    #[inline(always)]
    pub fn build<const FMA: bool>(&mut self, b: &[F32x], ntw: f64) {
        let m = b.len();
        let h = half_width(ntw).max(0) as usize;
        let nt = 2 * h + 1;
        self.m = m;
        let (mut bmin, mut bmax) = ([f32::INFINITY; L], [f32::NEG_INFINITY; L]);
        for v in b {
            for l in 0..L {
                bmin[l] = bmin[l].min(v[l]);
                bmax[l] = bmax[l].max(v[l]);
            }
        }
        let kstep: F32x = std::array::from_fn(|l| {
            let s = std::f32::consts::FRAC_PI_4 / (bmax[l] - bmin[l]);
            if s.is_finite() {
                s
            } else {
                0.0
            }
        });
        self.kt.clear();
        self.kt.extend((0..nt).map(|t| {
            let tf = t as f32 - h as f32;
            std::array::from_fn(|l| kstep[l] * tf)
        }));
        self.re.resize(nt * m, [0.0; L]);
        self.im.resize(nt * m, [0.0; L]);
        self.er.resize(m, [0.0; L]);
        self.ei.resize(m, [0.0; L]);
        self.pr.resize(m, [0.0; L]);
        self.pi.resize(m, [0.0; L]);
        for k in 0..m {
            let arg: F64x = std::array::from_fn(|l| kstep[l] as f64 * b[k][l] as f64);
            let (sn, cs) = sincos_64x::<FMA>(&arg);
            self.er[k] = cs;
            self.ei[k] = std::array::from_fn(|l| -sn[l]);
            self.pr[k] = [1.0; L];
            self.pi[k] = [0.0; L];
            self.re[h * m + k] = [1.0; L];
            self.im[h * m + k] = [0.0; L];
        }
        // powers of exp(-i theta_k), whole lane vectors per step (split borrows: LLVM then
        // knows that the buffers do not overlap and keeps everything in registers)
        let (pr, pi, er, ei) = (
            &mut self.pr[..],
            &mut self.pi[..],
            &self.er[..],
            &self.ei[..],
        );
        for t in 1..=h {
            let (lo_re, hi_re) = self.re.split_at_mut((h + t) * m);
            let (lo_im, hi_im) = self.im.split_at_mut((h + t) * m);
            let (down_re, down_im) = (
                &mut lo_re[(h - t) * m..(h - t + 1) * m],
                &mut lo_im[(h - t) * m..(h - t + 1) * m],
            );
            let (up_re, up_im) = (&mut hi_re[..m], &mut hi_im[..m]);
            for k in 0..m {
                let (x, y, c, d) = (pr[k], pi[k], er[k], ei[k]);
                let nx: F64x = std::array::from_fn(|l| x[l] * c[l] - y[l] * d[l]);
                let ny: F64x = std::array::from_fn(|l| x[l] * d[l] + y[l] * c[l]);
                pr[k] = nx;
                pi[k] = ny;
                let (fx, fy): (F32x, F32x) = (
                    std::array::from_fn(|l| nx[l] as f32),
                    std::array::from_fn(|l| ny[l] as f32),
                );
                up_re[k] = fx;
                up_im[k] = fy;
                down_re[k] = fx;
                down_im[k] = std::array::from_fn(|l| -fy[l]);
            }
        }
    }
}

impl BlockBasis for LaneBasis {
    #[inline(always)]
    fn n_trials(&self) -> usize {
        self.kt.len()
    }
    #[inline(always)]
    fn trial(&self, t: usize, k: usize) -> (F32x, F32x) {
        let i = t * self.m + k;
        (self.re[i], self.im[i])
    }
    #[inline(always)]
    fn k_at(&self, ib: &[usize; L]) -> F32x {
        std::array::from_fn(|l| self.kt[ib[l]][l])
    }
    #[inline(always)]
    fn best<const FMA: bool>(
        &self,
        _ib: &[usize; L],
        k0: &F32x,
        b: &F32x,
        _k: usize,
    ) -> (F32x, F32x) {
        // evaluated as the shared trial table is, so that a row of repeated baselines
        // fits exactly as with the row-invariant kernel
        let arg: F32x = std::array::from_fn(|l| k0[l] * b[l]);
        cis_neg32x_f64::<FMA>(&arg)
    }
}

/// A block of `L` pixels (input) and its scratch; outputs of [`fit_block_f32`].
#[derive(Default)]
pub struct Block32 {
    /// interferogram values, M lane vectors (real, imaginary parts)
    pub zr: Vec<F32x>,
    pub zi: Vec<F32x>,
    /// baselines per lane (M lane vectors)
    pub b: Vec<F32x>,
    /// residual angles `angle(z exp(-i K b))`, M lane vectors (output)
    pub res: Vec<F32x>,
    /// K (rad/m, f32 value), C (rad), coherence per lane (output)
    pub k: F32x,
    pub c: F32x,
    pub coh: F32x,
    sre: Vec<F32x>,
    sim: Vec<F32x>,
    absz: Vec<F32x>,
    vr: Vec<F32x>,
    vi: Vec<F32x>,
    w0: Vec<F64x>,
    w1: Vec<F64x>,
}

/// The periodogram of one block against a shared trial table, for the rate benchmarks of
/// [`crate::topofit`]: (re, im) of `S_t` per lane into `sre`, `sim` (T lane vectors).
#[inline(always)]
pub fn periodogram_shared_f32<const FMA: bool>(
    zr: &[F32x],
    zi: &[F32x],
    basis: &SharedBasis,
    sre: &mut [F32x],
    sim: &mut [F32x],
) {
    periodogram_f32::<FMA, SharedBasis>(zr, zi, basis, sre, sim)
}

/// Periodogram of a block: `S_t = sum_k z_k B_tk` per lane, `G32` trials per pass over
/// the block (each z load feeds 4 G32 fused multiply-adds).
#[inline(always)]
fn periodogram_f32<const FMA: bool, B: BlockBasis>(
    zr: &[F32x],
    zi: &[F32x],
    basis: &B,
    sre: &mut [F32x],
    sim: &mut [F32x],
) {
    let nt = basis.n_trials();
    let mut t = 0;
    while t < nt {
        let mut ar = [[0f32; L]; G32];
        let mut ai = [[0f32; L]; G32];
        // a short last group repeats the last trial (its sums are discarded)
        let tj: [usize; G32] = std::array::from_fn(|j| (t + j).min(nt - 1));
        for k in 0..zr.len() {
            let (x, y) = (&zr[k], &zi[k]);
            for j in 0..G32 {
                let (br, bi) = basis.trial(tj[j], k);
                for l in 0..L {
                    ar[j][l] = madd32::<FMA>(x[l], br[l], ar[j][l]);
                    ar[j][l] = madd32::<FMA>(-y[l], bi[l], ar[j][l]);
                    ai[j][l] = madd32::<FMA>(x[l], bi[l], ai[j][l]);
                    ai[j][l] = madd32::<FMA>(y[l], br[l], ai[j][l]);
                }
            }
        }
        for j in 0..G32.min(nt - t) {
            sre[t + j] = ar[j];
            sim[t + j] = ai[j];
        }
        t += G32;
    }
}

/// Fit the `L` pixels of `blk` (all entries non-zero) against `basis`: fills `blk.k`,
/// `blk.c`, `blk.coh` and `blk.res`.
#[inline(always)]
pub fn fit_block_f32<const FMA: bool, B: BlockBasis>(blk: &mut Block32, basis: &B) {
    let m = blk.zr.len();
    let nt = basis.n_trials();
    blk.sre.resize(nt, [0.0; L]);
    blk.sim.resize(nt, [0.0; L]);
    for v in [&mut blk.absz, &mut blk.vr, &mut blk.vi, &mut blk.res] {
        v.resize(m, [0.0; L]);
    }
    blk.w0.resize(m, [0.0; L]);
    blk.w1.resize(m, [0.0; L]);
    periodogram_f32::<FMA, B>(&blk.zr, &blk.zi, basis, &mut blk.sre, &mut blk.sim);
    for k in 0..m {
        blk.absz[k] = cabs32x::<FMA>(&blk.zr[k], &blk.zi[k]);
    }
    // first maximum of |S_t| / sum |z|, found on |S_t|^2 (sum |z| is the same for every
    // trial; no square root or division per trial)
    let (mut best, mut ibt) = ([f32::NEG_INFINITY; L], [0u32; L]);
    for t in 0..nt {
        let (sr, si) = (blk.sre[t], blk.sim[t]);
        let g: F32x = std::array::from_fn(|l| madd32::<FMA>(sr[l], sr[l], si[l] * si[l]));
        for l in 0..L {
            let better = g[l] > best[l];
            best[l] = if better { g[l] } else { best[l] };
            ibt[l] = if better { t as u32 } else { ibt[l] };
        }
    }
    let ib: [usize; L] = std::array::from_fn(|l| ibt[l] as usize);
    let k0 = basis.k_at(&ib);
    // q = z exp(-i k0 b)
    for k in 0..m {
        let (br, bi) = basis.best::<FMA>(&ib, &k0, &blk.b[k], k);
        let (qr, qi) = cmul32x::<FMA>(&blk.zr[k], &blk.zi[k], &br, &bi);
        blk.vr[k] = qr;
        blk.vi[k] = qi;
    }
    let (sr, si) = pairwise_c32x(&blk.vr, &blk.vi);
    // weighted least squares of e = angle(q conj(sum q)) on b, weights |z|
    let nsi: F32x = std::array::from_fn(|l| -si[l]);
    for k in 0..m {
        let (dr, di) = cmul32x::<FMA>(&blk.vr[k], &blk.vi[k], &sr, &nsi);
        let e = atan2_32x::<FMA>(&di, &dr);
        let (az, bk) = (blk.absz[k], blk.b[k]);
        let wb: F64x = std::array::from_fn(|l| (az[l] * bk[l]) as f64);
        let we: F64x = std::array::from_fn(|l| (az[l] * e[l]) as f64);
        blk.w0[k] = std::array::from_fn(|l| wb[l] * wb[l]);
        blk.w1[k] = std::array::from_fn(|l| wb[l] * we[l]);
    }
    let den = pairwise_f64x(&blk.w0);
    let num = pairwise_f64x(&blk.w1);
    let kf: F32x = std::array::from_fn(|l| {
        (k0[l] as f64 + if den[l] > 0.0 { num[l] / den[l] } else { 0.0 }) as f32
    });
    // residuals r = z exp(-i K b), their moduli and angles
    for k in 0..m {
        let arg: F32x = std::array::from_fn(|l| kf[l] * blk.b[k][l]);
        let (cr, ci) = cis_neg32x::<FMA>(&arg);
        let (rr, ri) = cmul32x::<FMA>(&blk.zr[k], &blk.zi[k], &cr, &ci);
        blk.vr[k] = rr;
        blk.vi[k] = ri;
        blk.absz[k] = cabs32x::<FMA>(&rr, &ri);
        blk.res[k] = atan2_32x::<FMA>(&ri, &rr);
    }
    let (rr, ri) = pairwise_c32x(&blk.vr, &blk.vi);
    let rabs = pairwise_f32x(&blk.absz);
    blk.k = kf;
    blk.c = atan2_32x::<FMA>(&ri, &rr);
    let g = cabs32x::<FMA>(&rr, &ri);
    blk.coh = std::array::from_fn(|l| g[l] / rabs[l]);
}

/// A block of `L` pixels for the f64 coherence-only fit, with its scratch.
#[derive(Default)]
pub struct Block64 {
    pub zr: Vec<F64x>,
    pub zi: Vec<F64x>,
    /// the shared baselines (M values)
    pub b: Vec<f64>,
    st: Vec<F64x>,
    absz: Vec<F64x>,
    vr: Vec<F64x>,
    vi: Vec<F64x>,
    w0: Vec<F64x>,
    w1: Vec<F64x>,
}

/// Coherence of the `L` pixels of `blk` (all entries non-zero) in f64, per lane the same
/// operations as the row-wise coherence fit except the periodogram's summation order
/// (sequential, fused multiply-adds with FMA hardware) and `sum |r|` taken as `sum |z|`.
#[inline(always)]
pub fn coh_block_f64<const FMA: bool>(blk: &mut Block64, basis: &Basis64) -> F64x {
    let m = blk.zr.len();
    let nt = basis.kt.len();
    blk.st.resize(nt, [0.0; L]);
    for v in [
        &mut blk.absz,
        &mut blk.vr,
        &mut blk.vi,
        &mut blk.w0,
        &mut blk.w1,
    ] {
        v.resize(m, [0.0; L]);
    }
    // periodogram |S_t|^2, G64 trials per pass
    let mut t = 0;
    while t < nt {
        let mut ar = [[0f64; L]; G64];
        let mut ai = [[0f64; L]; G64];
        let tj: [usize; G64] = std::array::from_fn(|j| (t + j).min(nt - 1));
        for k in 0..m {
            let (x, y) = (&blk.zr[k], &blk.zi[k]);
            for j in 0..G64 {
                let i = tj[j] * m + k;
                let (br, bi) = (basis.re[i], basis.im[i]);
                for l in 0..L {
                    ar[j][l] = madd64::<FMA>(x[l], br, ar[j][l]);
                    ar[j][l] = madd64::<FMA>(-y[l], bi, ar[j][l]);
                    ai[j][l] = madd64::<FMA>(x[l], bi, ai[j][l]);
                    ai[j][l] = madd64::<FMA>(y[l], br, ai[j][l]);
                }
            }
        }
        for j in 0..G64.min(nt - t) {
            blk.st[t + j] = std::array::from_fn(|l| ar[j][l] * ar[j][l] + ai[j][l] * ai[j][l]);
        }
        t += G64;
    }
    for k in 0..m {
        blk.absz[k] = cabs64x::<FMA>(&blk.zr[k], &blk.zi[k]);
    }
    let (mut best, mut ibt) = ([f64::NEG_INFINITY; L], [0u64; L]);
    for t in 0..nt {
        for l in 0..L {
            let better = blk.st[t][l] > best[l];
            best[l] = if better { blk.st[t][l] } else { best[l] };
            ibt[l] = if better { t as u64 } else { ibt[l] };
        }
    }
    let ib: [usize; L] = std::array::from_fn(|l| ibt[l] as usize);
    let k0: F64x = std::array::from_fn(|l| basis.kt[ib[l]]);
    for k in 0..m {
        let c: F64x = std::array::from_fn(|l| basis.re[ib[l] * m + k]);
        let d: F64x = std::array::from_fn(|l| basis.im[ib[l] * m + k]);
        let (x, y) = (blk.zr[k], blk.zi[k]);
        blk.vr[k] = std::array::from_fn(|l| x[l] * c[l] - y[l] * d[l]);
        blk.vi[k] = std::array::from_fn(|l| x[l] * d[l] + y[l] * c[l]);
    }
    let qr = pairwise_f64x(&blk.vr);
    let qi = pairwise_f64x(&blk.vi);
    for k in 0..m {
        let bk = blk.b[k];
        let (a, b) = (blk.vr[k], blk.vi[k]);
        // angle(q conj(sum q))
        let ey: F64x = std::array::from_fn(|l| b[l] * qr[l] - a[l] * qi[l]);
        let ex: F64x = std::array::from_fn(|l| a[l] * qr[l] + b[l] * qi[l]);
        let e = atan2_64x::<FMA>(&ey, &ex);
        let w = blk.absz[k];
        let wb: F64x = std::array::from_fn(|l| w[l] * bk);
        blk.w0[k] = std::array::from_fn(|l| wb[l] * wb[l]);
        blk.w1[k] = std::array::from_fn(|l| wb[l] * (w[l] * e[l]));
    }
    let den = pairwise_f64x(&blk.w0);
    let num = pairwise_f64x(&blk.w1);
    let kf: F64x =
        std::array::from_fn(|l| k0[l] + if den[l] > 0.0 { num[l] / den[l] } else { 0.0 });
    for k in 0..m {
        let bk = blk.b[k];
        let arg: F64x = std::array::from_fn(|l| kf[l] * bk);
        let (sn, cs) = sincos_64x::<FMA>(&arg);
        let (x, y) = (blk.zr[k], blk.zi[k]);
        let rr: F64x = std::array::from_fn(|l| x[l] * cs[l] + y[l] * sn[l]);
        let ri: F64x = std::array::from_fn(|l| y[l] * cs[l] - x[l] * sn[l]);
        blk.vr[k] = rr;
        blk.vi[k] = ri;
    }
    let rr = pairwise_f64x(&blk.vr);
    let ri = pairwise_f64x(&blk.vi);
    // sum |r| = sum |z| |exp(-i K b)| = sum |z| (the python backend sums the moduli of r,
    // which differ from |z| by rounding only: ~1e-16 relative)
    let rabs = pairwise_f64x(&blk.absz);
    let g = cabs64x::<FMA>(&rr, &ri);
    std::array::from_fn(|l| g[l] / rabs[l])
}
