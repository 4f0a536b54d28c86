//! `ps_topofit`: look-angle (DEM) error by periodogram search plus linear refinement
//! (spec C.2.3, appendix K.1), in StaMPS' single precision (J.27).
//!
//! Per pixel with complex values `z_k` and baselines `b_k` (m): entries with
//! `z_k == 0` are dropped; `R = max b - min b`; trial `K_t = t*pi/(4R)` for
//! `t = -ceil(8 ntw) ..= ceil(8 ntw)`; `gamma_t = |sum z exp(-i K_t b)| / sum |z|`;
//! the first maximum `t*` is refined by weighted least squares through the origin
//! on the angle residual (weights `|z|`, solved in f64); `K` is rounded to f32,
//! then `C = angle(sum r)` and `gamma = |sum r| / sum |r|` with `r = z exp(-i K b)`.
//! A row with no non-zero entry gives K = C = NaN and gamma = 0; a zero baseline
//! range gives K = 0.
//!
//! Implementation:
//! * the trial basis `exp(-i K_t b_k)` (T x M) is computed once per patch when the
//!   baselines are shared by all pixels ([`Baselines::Shared`], the row-invariant kernels)
//!   and once per pixel otherwise (by recurrence);
//! * rows without zero entries (nearly all) are fitted eight at a time, one pixel per SIMD
//!   lane ([`crate::topofit_lanes`]): the periodogram is T x M complex multiply-adds per
//!   pixel on whole registers, and the refinement's angles and phasors use the explicit AVX2
//!   routines of [`crate::vmath_avx2`]; rows with zeros use the row-wise fit below
//!   ([`fit_kept_f32`], [`trial_search_f32`]) with the branch-free [`crate::vmath`] routines;
//! * the f32 arithmetic mirrors the python backend (NumPy's complex64 product and abs,
//!   its pairwise sums), so the outputs agree with it to a few f32 ulps; the periodogram
//!   sums differ in order from BLAS and the trial argmax can differ only where two trials
//!   tie to f32 precision.

use crate::lanes::F32x;
use crate::lanes::L;
use crate::num::{cmul32, pairwise_sum_f32, pairwise_sum_f64};
use crate::topofit_lanes::{
    coh_block_f64, fit_block_f32, periodogram_shared_f32, Block32, Block64, LaneBasis, SharedBasis,
};
use crate::vmath::{atan2, cabs32, cabs64, sincos};
use ndarray::{Array2, ArrayView1, ArrayView2};
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

/// Result of fitting one pixel: K (rad/m), C (rad), coherence.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    pub k: f64,
    pub c: f64,
    pub coh: f64,
}

/// Baselines: one row shared by all pixels, or one row per pixel.
#[derive(Clone, Copy)]
pub enum Baselines<'a> {
    Shared(ArrayView1<'a, f32>),
    PerPixel(ArrayView2<'a, f32>),
}

/// ceil(8 ntw): the half-width of the trial grid.
#[inline]
pub fn half_width(ntw: f64) -> i64 {
    (8.0 * ntw).ceil() as i64
}

/// NumPy's pairwise sum of a complex64 row given as separate real/imaginary parts.
pub fn pairwise_sum_c32(re: &[f32], im: &[f32]) -> (f32, f32) {
    let c = re.len();
    let n = 2 * c;
    if n < 8 {
        let (mut rr, mut ri) = (-0.0f32, -0.0f32);
        for k in 0..c {
            rr += re[k];
            ri += im[k];
        }
        (rr, ri)
    } else if n <= 128 {
        let mut r = [re[0], im[0], re[1], im[1], re[2], im[2], re[3], im[3]];
        let mut i = 4;
        while i < c - (c % 4) {
            for q in 0..4 {
                r[2 * q] += re[i + q];
                r[2 * q + 1] += im[i + q];
            }
            i += 4;
        }
        let mut rr = (r[0] + r[2]) + (r[4] + r[6]);
        let mut ri = (r[1] + r[3]) + (r[5] + r[7]);
        while i < c {
            rr += re[i];
            ri += im[i];
            i += 1;
        }
        (rr, ri)
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let c2 = n2 / 2;
        let a = pairwise_sum_c32(&re[..c2], &im[..c2]);
        let b = pairwise_sum_c32(&re[c2..], &im[c2..]);
        (a.0 + b.0, a.1 + b.1)
    }
}

/// Trial grid `K_t = f32(kstep t)` (f32 semantics of the python backend); kstep 0 for a
/// zero or non-finite range.
pub fn trial_grid_f32(bmin: f32, bmax: f32, ntw: f64) -> Vec<f32> {
    let range = bmax - bmin;
    let mut kstep = std::f32::consts::FRAC_PI_4 / range;
    if !kstep.is_finite() {
        kstep = 0.0;
    }
    let h = half_width(ntw);
    (-h..=h).map(|t| kstep * t as f32).collect()
}

/// Trial basis `exp(-i f32(b_k K_t))` as (re, im), T x M row-major (t major).
#[inline(always)]
pub fn basis_f32(b: &[f32], kt: &[f32], re: &mut Vec<f32>, im: &mut Vec<f32>) {
    let m = b.len();
    re.resize(kt.len() * m, 0.0);
    im.resize(kt.len() * m, 0.0);
    for ((rr, ii), &k) in re
        .chunks_exact_mut(m.max(1))
        .zip(im.chunks_exact_mut(m.max(1)))
        .zip(kt)
    {
        for ((r, i), &bj) in rr.iter_mut().zip(ii.iter_mut()).zip(b) {
            let (sn, cs) = sincos((bj * k) as f64);
            *r = cs as f32;
            *i = -(sn as f32);
        }
    }
}

/// Trial basis of one pixel by recurrence: `exp(-i t theta_k)`, `theta_k = kstep b_k`, for
/// `t = -h..=h` (rows t + h), powers of `exp(-i theta_k)` accumulated in f64 and rounded to
/// f32 (the negative trials are the conjugates).  One sincos per interferogram instead of
/// one per trial; the values differ from the directly evaluated `exp(-i f32(b f32(kstep t)))`
/// by the f32 rounding of that argument (an ulp or two), which only matters for the trial
/// search: the refinement re-evaluates its phasors directly.
#[inline(always)]
pub fn basis_f32_recurrence(
    b: &[f32],
    kstep: f32,
    h: usize,
    re: &mut Vec<f32>,
    im: &mut Vec<f32>,
    pr: &mut Vec<f64>,
    pi: &mut Vec<f64>,
) {
    let m = b.len();
    let nt = 2 * h + 1;
    re.resize(nt * m, 0.0);
    im.resize(nt * m, 0.0);
    pr.resize(2 * m, 0.0);
    pi.resize(2 * m, 0.0);
    let (er, rest) = pr.split_at_mut(m);
    let (ei, qi) = pi.split_at_mut(m);
    let qr = rest;
    for (((a, c), (x, y)), &bk) in er
        .iter_mut()
        .zip(ei.iter_mut())
        .zip(qr.iter_mut().zip(qi.iter_mut()))
        .zip(b)
    {
        let (sn, cs) = sincos(kstep as f64 * bk as f64);
        *a = cs;
        *c = -sn;
        *x = 1.0;
        *y = 0.0;
    }
    re[h * m..(h + 1) * m].iter_mut().for_each(|v| *v = 1.0);
    im[h * m..(h + 1) * m].iter_mut().for_each(|v| *v = 0.0);
    for t in 1..=h {
        let (up, down) = (h + t, h - t);
        let (re_lo, re_hi) = re.split_at_mut(up * m);
        let (im_lo, im_hi) = im.split_at_mut(up * m);
        let (ru, iu) = (&mut re_hi[..m], &mut im_hi[..m]);
        let (rd, id) = (
            &mut re_lo[down * m..(down + 1) * m],
            &mut im_lo[down * m..(down + 1) * m],
        );
        for k in 0..m {
            let (x, y) = (qr[k], qi[k]);
            let (nx, ny) = (x * er[k] - y * ei[k], x * ei[k] + y * er[k]);
            qr[k] = nx;
            qi[k] = ny;
            ru[k] = nx as f32;
            iu[k] = ny as f32;
            rd[k] = nx as f32;
            id[k] = -(ny as f32);
        }
    }
}

/// Complex multiply-add of 8 lanes: `acc += z * b` (separate re/im arrays).
#[inline(always)]
fn cmac8(
    ar: &mut [f32; 8],
    ai: &mut [f32; 8],
    zr: &[f32; 8],
    zi: &[f32; 8],
    br: &[f32; 8],
    bi: &[f32; 8],
) {
    for l in 0..8 {
        ar[l] += zr[l] * br[l] - zi[l] * bi[l];
        ai[l] += zr[l] * bi[l] + zi[l] * br[l];
    }
}

#[inline(always)]
fn a8(x: &[f32]) -> &[f32; 8] {
    x.try_into().unwrap()
}

/// Periodogram: for every trial t, `S_t = sum_k z_k B_tk` (eight interleaved f32 partial
/// sums per component, four trials at a time so that each z load feeds 16 multiply-adds).
/// Writes (re, im) of S into `s_re`, `s_im` (T values).
#[inline(always)]
pub fn trial_search_f32(
    zr: &[f32],
    zi: &[f32],
    bre: &[f32],
    bim: &[f32],
    s_re: &mut [f32],
    s_im: &mut [f32],
) {
    let m = zr.len();
    let nt = s_re.len();
    let m8 = m - m % 8;
    let row = |t: usize| (&bre[t * m..(t + 1) * m], &bim[t * m..(t + 1) * m]);
    let mut t = 0;
    while t < nt {
        let nb = (nt - t).min(4);
        let mut acc_r = [[0f32; 8]; 4];
        let mut acc_i = [[0f32; 8]; 4];
        for c in (0..m8).step_by(8) {
            let (z8r, z8i) = (a8(&zr[c..c + 8]), a8(&zi[c..c + 8]));
            for j in 0..nb {
                let (br, bi) = row(t + j);
                cmac8(
                    &mut acc_r[j],
                    &mut acc_i[j],
                    z8r,
                    z8i,
                    a8(&br[c..c + 8]),
                    a8(&bi[c..c + 8]),
                );
            }
        }
        for j in 0..nb {
            let (br, bi) = row(t + j);
            for k in m8..m {
                acc_r[j][0] += zr[k] * br[k] - zi[k] * bi[k];
                acc_i[j][0] += zr[k] * bi[k] + zi[k] * br[k];
            }
            s_re[t + j] = hsum8(&acc_r[j]);
            s_im[t + j] = hsum8(&acc_i[j]);
        }
        t += nb;
    }
}

#[inline(always)]
fn hsum8(a: &[f32; 8]) -> f32 {
    ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))
}

/// Per-thread scratch of the f32 fit.
#[derive(Default)]
pub struct Scratch32 {
    zr: Vec<f32>,
    zi: Vec<f32>,
    b: Vec<f32>,
    idx: Vec<usize>,
    bre: Vec<f32>,
    bim: Vec<f32>,
    s_re: Vec<f32>,
    s_im: Vec<f32>,
    absz: Vec<f32>,
    v0: Vec<f32>,
    v1: Vec<f32>,
    w0: Vec<f64>,
    w1: Vec<f64>,
    pr: Vec<f64>,
    pi: Vec<f64>,
}

/// Fit one pixel from its kept (non-zero) entries in `s.zr/zi/b`, with the trial grid `kt`
/// and basis (`bre`, `bim`, T x Mk).  Residual angles of the kept entries go to `res`.
#[inline(always)]
fn fit_kept_f32(
    s: &mut Scratch32,
    kt: &[f32],
    bre: &[f32],
    bim: &[f32],
    exact: bool,
    res: &mut [f32],
) -> Fit {
    let m = s.zr.len();
    let nt = kt.len();
    s.s_re.resize(nt, 0.0);
    s.s_im.resize(nt, 0.0);
    s.absz.resize(m, 0.0);
    s.v0.resize(m, 0.0);
    s.v1.resize(m, 0.0);
    s.w0.resize(m, 0.0);
    s.w1.resize(m, 0.0);
    let (zr, zi, bb) = (&s.zr[..m], &s.zi[..m], &s.b[..m]);
    let res = &mut res[..m];
    trial_search_f32(zr, zi, bre, bim, &mut s.s_re, &mut s.s_im);
    for ((a, &x), &y) in s.absz.iter_mut().zip(zr).zip(zi) {
        *a = cabs32(x, y);
    }
    let sabs = pairwise_sum_f32(&s.absz);
    let (mut best, mut ib) = (f32::NEG_INFINITY, 0usize);
    for t in 0..nt {
        let g = cabs32(s.s_re[t], s.s_im[t]) / sabs;
        if g > best {
            best = g;
            ib = t;
        }
    }
    let k0 = kt[ib];
    // q = z B_t*  (the basis row of the best trial is exp(-i f32(k0 b)))
    if exact {
        let (br, bi) = (&bre[ib * m..(ib + 1) * m], &bim[ib * m..(ib + 1) * m]);
        for (((q0, q1), (&x, &y)), (&c, &d)) in
            s.v0.iter_mut()
                .zip(s.v1.iter_mut())
                .zip(zr.iter().zip(zi))
                .zip(br.iter().zip(bi))
        {
            let q = cmul32(Complex32::new(x, y), Complex32::new(c, d));
            *q0 = q.re;
            *q1 = q.im;
        }
    } else {
        for (((q0, q1), (&x, &y)), &bk) in
            s.v0.iter_mut()
                .zip(s.v1.iter_mut())
                .zip(zr.iter().zip(zi))
                .zip(bb)
        {
            let (sn, cs) = sincos((k0 * bk) as f64);
            let q = cmul32(
                Complex32::new(x, y),
                Complex32::new(cs as f32, -(sn as f32)),
            );
            *q0 = q.re;
            *q1 = q.im;
        }
    }
    let (qr, qi) = pairwise_sum_c32(&s.v0, &s.v1);
    let qc = Complex32::new(qr, -qi);
    for ((((w0, w1), (&a, &b)), &az), &bk) in
        s.w0.iter_mut()
            .zip(s.w1.iter_mut())
            .zip(s.v0.iter().zip(&s.v1))
            .zip(&s.absz)
            .zip(bb)
    {
        let d = cmul32(Complex32::new(a, b), qc);
        let e = atan2(d.im as f64, d.re as f64) as f32;
        let wb = (az * bk) as f64;
        let we = (az * e) as f64;
        *w0 = wb * wb;
        *w1 = wb * we;
    }
    let den = pairwise_sum_f64(&s.w0);
    let num = pairwise_sum_f64(&s.w1);
    let dk = if den > 0.0 { num / den } else { 0.0 };
    let kf = (k0 as f64 + dk) as f32;
    for ((((r0, r1), a), rs), ((&x, &y), &bk)) in
        s.v0.iter_mut()
            .zip(s.v1.iter_mut())
            .zip(s.absz.iter_mut())
            .zip(res.iter_mut())
            .zip(zr.iter().zip(zi).zip(bb))
    {
        let (sn, cs) = sincos((kf * bk) as f64);
        let r = cmul32(
            Complex32::new(x, y),
            Complex32::new(cs as f32, -(sn as f32)),
        );
        *r0 = r.re;
        *r1 = r.im;
        *a = cabs32(r.re, r.im);
        *rs = atan2(r.im as f64, r.re as f64) as f32;
    }
    let (rr, ri) = pairwise_sum_c32(&s.v0, &s.v1);
    let rabs = pairwise_sum_f32(&s.absz);
    let c = atan2(ri as f64, rr as f64) as f32;
    let coh = cabs32(rr, ri) / rabs;
    Fit {
        k: kf as f64,
        c: c as f64,
        coh: coh as f64,
    }
}

/// Fit one row (any zeros dropped); writes residual angles (0 where z == 0) to `out`.
#[inline(always)]
fn fit_row_f32_body(
    s: &mut Scratch32,
    z: ArrayView1<Complex32>,
    b: ArrayView1<f32>,
    shared: Option<(&[f32], &[f32], &[f32])>,
    ntw: f64,
    out: &mut [f32],
    res_tmp: &mut Vec<f32>,
) -> Fit {
    let mfull = z.len();
    s.zr.clear();
    s.zi.clear();
    s.b.clear();
    s.idx.clear();
    let full = z.iter().all(|v| v.re != 0.0 || v.im != 0.0);
    if full {
        // common case: no zero entry, a straight de-interleave
        s.zr.extend(z.iter().map(|v| v.re));
        s.zi.extend(z.iter().map(|v| v.im));
        s.b.extend(b.iter().copied());
        s.idx.extend(0..mfull);
    } else {
        for k in 0..mfull {
            let v = z[k];
            if v.re != 0.0 || v.im != 0.0 {
                s.zr.push(v.re);
                s.zi.push(v.im);
                s.b.push(b[k]);
                s.idx.push(k);
            }
        }
    }
    out.iter_mut().for_each(|x| *x = 0.0);
    if s.idx.is_empty() {
        return Fit {
            k: f64::NAN,
            c: f64::NAN,
            coh: 0.0,
        };
    }
    res_tmp.resize(s.idx.len(), 0.0);
    let fit = match shared {
        Some((kt, bre, bim)) if s.idx.len() == mfull => {
            fit_kept_f32(s, kt, bre, bim, true, res_tmp)
        }
        _ => {
            let (mut bmin, mut bmax) = (f32::INFINITY, f32::NEG_INFINITY);
            for &x in &s.b {
                bmin = bmin.min(x);
                bmax = bmax.max(x);
            }
            let kt = trial_grid_f32(bmin, bmax, ntw);
            let h = kt.len() / 2;
            let kstep = if h > 0 { kt[h + 1] } else { 0.0 };
            let (mut bre, mut bim) = (std::mem::take(&mut s.bre), std::mem::take(&mut s.bim));
            let (mut pr, mut pi) = (std::mem::take(&mut s.pr), std::mem::take(&mut s.pi));
            basis_f32_recurrence(&s.b, kstep, h, &mut bre, &mut bim, &mut pr, &mut pi);
            let f = fit_kept_f32(s, &kt, &bre, &bim, false, res_tmp);
            s.bre = bre;
            s.bim = bim;
            s.pr = pr;
            s.pi = pi;
            f
        }
    };
    if full {
        out.copy_from_slice(&res_tmp[..mfull]);
    } else {
        for (j, &k) in s.idx.iter().enumerate() {
            out[k] = res_tmp[j];
        }
    }
    fit
}

/// Per-thread scratch of [`topofit_f32`]: the row-wise fit's and a pixel block's.
#[derive(Default)]
pub struct ChunkScratch32 {
    row: Scratch32,
    out: Vec<f32>,
    tmp: Vec<f32>,
    blk: Block32,
    lane_basis: LaneBasis,
}

/// Baselines of a chunk of rows: the shared row, or the chunk's rows (row-major, M each).
#[derive(Clone, Copy)]
enum ChunkBaselines<'a> {
    Shared(&'a SharedTable),
    PerPixel(&'a [f32]),
}

impl ChunkBaselines<'_> {
    /// The shared trial grid and table `(kt, re, im)`, if the baselines are shared.
    fn table(&self) -> Option<(&[f32], &[f32], &[f32])> {
        match self {
            ChunkBaselines::Shared(t) => Some((&t.kt, &t.re, &t.im)),
            ChunkBaselines::PerPixel(_) => None,
        }
    }
}

/// One baseline row shared by every pixel, with its trial grid and basis table (T x M).
struct SharedTable {
    row: Vec<f32>,
    kt: Vec<f32>,
    re: Vec<f32>,
    im: Vec<f32>,
}

impl SharedTable {
    fn new(row: ArrayView1<f32>, ntw: f64) -> Self {
        let row: Vec<f32> = row.to_vec();
        let (mut bmin, mut bmax) = (f32::INFINITY, f32::NEG_INFINITY);
        for &x in &row {
            bmin = bmin.min(x);
            bmax = bmax.max(x);
        }
        let kt = trial_grid_f32(bmin, bmax, ntw);
        let (mut re, mut im) = (Vec::new(), Vec::new());
        basis_f32(&row, &kt, &mut re, &mut im);
        SharedTable { row, kt, re, im }
    }
}

/// Fit the rows of a chunk (`z`: rows x M row-major, results into `res`/`kb`/`cb`/`gb`):
/// rows without zeros `L` at a time ([`crate::topofit_lanes`]), rows with zeros one by one.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fit_chunk_f32_body<const FMA: bool>(
    s: &mut ChunkScratch32,
    z: &[Complex32],
    b: ChunkBaselines,
    ntw: f64,
    res: &mut [f32],
    kb: &mut [f64],
    cb: &mut [f64],
    gb: &mut [f64],
) {
    let m = z.len() / kb.len().max(1);
    let shared = b.table();
    s.out.resize(m, 0.0);
    if let ChunkBaselines::Shared(t) = b {
        // the same baselines in every lane, for every block of the chunk
        s.blk.b.clear();
        s.blk.b.extend(t.row.iter().map(|&x| [x; L]));
    }
    let mut lanes = [0usize; L];
    let mut nl = 0;
    for r in 0..kb.len() {
        let row = &z[r * m..(r + 1) * m];
        if row.iter().all(|v| v.re != 0.0 || v.im != 0.0) {
            lanes[nl] = r;
            nl += 1;
            if nl == L {
                fit_lanes::<FMA>(s, z, m, b, ntw, &lanes, L, res, kb, cb, gb);
                nl = 0;
            }
            continue;
        }
        let brow = match b {
            ChunkBaselines::Shared(t) => &t.row,
            ChunkBaselines::PerPixel(bm) => &bm[r * m..(r + 1) * m],
        };
        let f = fit_row_f32_body(
            &mut s.row,
            ArrayView1::from(row),
            ArrayView1::from(brow),
            shared,
            ntw,
            &mut s.out,
            &mut s.tmp,
        );
        res[r * m..(r + 1) * m].copy_from_slice(&s.out);
        kb[r] = f.k;
        cb[r] = f.c;
        gb[r] = f.coh;
    }
    if nl > 0 {
        // a short last block: the free lanes repeat its first pixel (results dropped)
        for l in nl..L {
            lanes[l] = lanes[0];
        }
        fit_lanes::<FMA>(s, z, m, b, ntw, &lanes, nl, res, kb, cb, gb);
    }
}

fma_dispatch!(fn fit_chunk_f32(
    s: &mut ChunkScratch32,
    z: &[Complex32],
    b: ChunkBaselines,
    ntw: f64,
    res: &mut [f32],
    kb: &mut [f64],
    cb: &mut [f64],
    gb: &mut [f64],
) -> () => fit_chunk_f32_body);

/// Fit the chunk rows `lanes` (all entries non-zero) as one block; the first `nreal` are
/// written out.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fit_lanes<const FMA: bool>(
    s: &mut ChunkScratch32,
    z: &[Complex32],
    m: usize,
    b: ChunkBaselines,
    ntw: f64,
    lanes: &[usize; L],
    nreal: usize,
    res: &mut [f32],
    kb: &mut [f64],
    cb: &mut [f64],
    gb: &mut [f64],
) {
    let blk = &mut s.blk;
    // transpose: lane vector k gathers value k of the L rows (whole-vector stores)
    let rows: [&[Complex32]; L] = std::array::from_fn(|l| &z[lanes[l] * m..(lanes[l] + 1) * m]);
    blk.zr.resize(m, [0.0; L]);
    blk.zi.resize(m, [0.0; L]);
    for (k, (zr, zi)) in blk.zr.iter_mut().zip(blk.zi.iter_mut()).enumerate() {
        *zr = std::array::from_fn(|l| rows[l][k].re);
        *zi = std::array::from_fn(|l| rows[l][k].im);
    }
    match b {
        ChunkBaselines::Shared(t) => {
            fit_block_f32::<FMA, _>(blk, &SharedBasis { m, kt: &t.kt, re: &t.re, im: &t.im })
        }
        ChunkBaselines::PerPixel(bm) => {
            let brows: [&[f32]; L] = std::array::from_fn(|l| &bm[lanes[l] * m..(lanes[l] + 1) * m]);
            blk.b.clear();
            blk.b.extend((0..m).map(|k| std::array::from_fn(|l| brows[l][k])));
            s.lane_basis.build::<FMA>(&blk.b, ntw);
            fit_block_f32::<FMA, _>(blk, &s.lane_basis)
        }
    }
    for (l, &r) in lanes.iter().enumerate().take(nreal) {
        kb[r] = blk.k[l] as f64;
        cb[r] = blk.c[l] as f64;
        gb[r] = blk.coh[l] as f64;
        for (d, v) in res[r * m..(r + 1) * m].iter_mut().zip(&blk.res) {
            *d = v[l];
        }
    }
}

/// Fit every row of `z` (n x M). Returns (K, C, coh, residual angles n x M).
pub fn topofit_f32(
    z: ArrayView2<Complex32>,
    b: Baselines,
    ntw: f64,
    threads: usize,
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Array2<f32>) {
    let (n, m) = z.dim();
    let mut res = Array2::<f32>::zeros((n, m));
    let mut k = vec![0f64; n];
    let mut c = vec![0f64; n];
    let mut g = vec![0f64; n];
    if n == 0 || m == 0 {
        return (k, c, g, res);
    }
    // row-major views (a copy only for inputs that are not C-contiguous) and, for shared
    // baselines, the trial table (used by every row without zeros)
    let zc = z.as_standard_layout();
    let zs = zc.as_slice().expect("standard layout");
    let table = match &b {
        Baselines::Shared(row) => Some(SharedTable::new(row.view(), ntw)),
        Baselines::PerPixel(_) => None,
    };
    let bmat = match &b {
        Baselines::PerPixel(bm) => Some(bm.as_standard_layout()),
        Baselines::Shared(_) => None,
    };
    let bsl = bmat.as_ref().map(|a| a.as_slice().expect("standard layout"));
    const CHUNK: usize = 256;
    let rs = res.as_slice_mut().expect("new array");
    crate::pool::install(threads, || {
        rs.par_chunks_mut(CHUNK * m)
            .zip(k.par_chunks_mut(CHUNK))
            .zip(c.par_chunks_mut(CHUNK))
            .zip(g.par_chunks_mut(CHUNK))
            .enumerate()
            .for_each_init(
                ChunkScratch32::default,
                |s, (ci, (((rblk, kb), cb), gb))| {
                    let rows = ci * CHUNK * m..(ci * CHUNK + kb.len()) * m;
                    let cbase = match (&table, bsl) {
                        (Some(t), _) => ChunkBaselines::Shared(t),
                        (None, Some(bm)) => ChunkBaselines::PerPixel(&bm[rows.clone()]),
                        (None, None) => unreachable!("per-pixel baselines have their matrix"),
                    };
                    fit_chunk_f32(s, &zs[rows], cbase, ntw, rblk, kb, cb, gb)
                },
            )
    });
    (k, c, g, res)
}

/// Per-thread scratch of the f64 coherence fit.
#[derive(Default)]
struct Scratch64 {
    zr: Vec<f64>,
    zi: Vec<f64>,
    b: Vec<f64>,
    v0: Vec<f64>,
    v1: Vec<f64>,
    absz: Vec<f64>,
    w0: Vec<f64>,
    w1: Vec<f64>,
    cs: Vec<f64>,
    sn: Vec<f64>,
    blk: Block64,
}

/// Shared f64 trial grid and basis for the coherence fit: (kt, re, im), T x M.
pub struct Basis64 {
    pub kt: Vec<f64>,
    pub re: Vec<f64>,
    pub im: Vec<f64>,
}

impl Basis64 {
    pub fn new(b: &[f64], ntw: f64) -> Self {
        let (mut bmin, mut bmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for &x in b {
            bmin = bmin.min(x);
            bmax = bmax.max(x);
        }
        let mut kstep = std::f64::consts::PI / 4.0 / (bmax - bmin);
        if !kstep.is_finite() {
            kstep = 0.0;
        }
        let h = half_width(ntw);
        let kt: Vec<f64> = (-h..=h).map(|t| kstep * t as f64).collect();
        let m = b.len();
        let mut re = vec![0f64; kt.len() * m];
        let mut im = vec![0f64; kt.len() * m];
        for (t, &k) in kt.iter().enumerate() {
            for j in 0..m {
                let (s, c) = sincos(b[j] * k);
                re[t * m + j] = c;
                im[t * m + j] = -s;
            }
        }
        Basis64 { kt, re, im }
    }
}

/// Periodogram in f64 (four interleaved partial sums): `|S_t|^2` per trial.
#[inline(always)]
fn trial_search_f64(zr: &[f64], zi: &[f64], bre: &[f64], bim: &[f64], s_abs2: &mut [f64]) {
    let m = zr.len();
    let m4 = m - m % 4;
    for (t, out) in s_abs2.iter_mut().enumerate() {
        let (br, bi) = (&bre[t * m..(t + 1) * m], &bim[t * m..(t + 1) * m]);
        let (mut ar, mut ai) = ([0f64; 4], [0f64; 4]);
        for (((x4, y4), b4), c4) in zr[..m4]
            .chunks_exact(4)
            .zip(zi[..m4].chunks_exact(4))
            .zip(br[..m4].chunks_exact(4))
            .zip(bi[..m4].chunks_exact(4))
        {
            for l in 0..4 {
                ar[l] += x4[l] * b4[l] - y4[l] * c4[l];
                ai[l] += x4[l] * c4[l] + y4[l] * b4[l];
            }
        }
        for k in m4..m {
            ar[0] += zr[k] * br[k] - zi[k] * bi[k];
            ai[0] += zr[k] * bi[k] + zi[k] * br[k];
        }
        let sr = (ar[0] + ar[2]) + (ar[1] + ar[3]);
        let si = (ai[0] + ai[2]) + (ai[1] + ai[3]);
        // |S|^2: the argmax of |S| / sum|z| without a square root or division per trial
        *out = sr * sr + si * si;
    }
}

/// Coherence of one pixel (all entries kept, f64) with the shared basis.  Element-wise
/// steps are separate map loops (they vectorise); the sums are NumPy-style pairwise.
#[inline(always)]
fn coh_kept_f64(s: &mut Scratch64, basis: &Basis64, st: &mut Vec<f64>) -> f64 {
    let m = s.zr.len();
    let nt = basis.kt.len();
    st.resize(nt, 0.0);
    for v in [&mut s.v0, &mut s.v1, &mut s.absz, &mut s.w0, &mut s.w1] {
        v.resize(m, 0.0);
    }
    let (zr, zi, bb) = (&s.zr[..m], &s.zi[..m], &s.b[..m]);
    trial_search_f64(zr, zi, &basis.re, &basis.im, st);
    for ((a, &x), &y) in s.absz.iter_mut().zip(zr).zip(zi) {
        *a = cabs64(x, y);
    }
    let (mut best, mut ib) = (f64::NEG_INFINITY, 0usize);
    for (t, &a) in st.iter().enumerate() {
        if a > best {
            best = a;
            ib = t;
        }
    }
    let k0 = basis.kt[ib];
    let (br, bi) = (
        &basis.re[ib * m..(ib + 1) * m],
        &basis.im[ib * m..(ib + 1) * m],
    );
    for (((q0, q1), (&x, &y)), (&c, &d)) in
        s.v0.iter_mut()
            .zip(s.v1.iter_mut())
            .zip(zr.iter().zip(zi))
            .zip(br.iter().zip(bi))
    {
        *q0 = x * c - y * d;
        *q1 = x * d + y * c;
    }
    let qr = pairwise_sum_f64(&s.v0);
    let qi = pairwise_sum_f64(&s.v1);
    for ((((w0, w1), (&a, &b)), &w), &bk) in
        s.w0.iter_mut()
            .zip(s.w1.iter_mut())
            .zip(s.v0.iter().zip(&s.v1))
            .zip(&s.absz)
            .zip(bb)
    {
        // angle(q conj(qs))
        let e = atan2(b * qr - a * qi, a * qr + b * qi);
        let wb = w * bk;
        *w0 = wb * wb;
        *w1 = wb * (w * e);
    }
    let den = pairwise_sum_f64(&s.w0);
    let num = pairwise_sum_f64(&s.w1);
    let kf = k0 + if den > 0.0 { num / den } else { 0.0 };
    for ((((r0, r1), a), (&x, &y)), &bk) in
        s.v0.iter_mut()
            .zip(s.v1.iter_mut())
            .zip(s.absz.iter_mut())
            .zip(zr.iter().zip(zi))
            .zip(bb)
    {
        let (sn, cs) = sincos(kf * bk);
        let (p, q) = (x * cs + y * sn, y * cs - x * sn);
        *r0 = p;
        *r1 = q;
        *a = cabs64(p, q);
    }
    let rr = pairwise_sum_f64(&s.v0);
    let ri = pairwise_sum_f64(&s.v1);
    let rabs = pairwise_sum_f64(&s.absz);
    cabs64(rr, ri) / rabs
}

/// Coherence of one row in f64 (zeros dropped; a row with zeros gets its own basis).
#[inline(always)]
fn coh_row_f64_body(
    s: &mut Scratch64,
    row: ArrayView1<Complex64>,
    b: &[f64],
    shared: &Basis64,
    ntw: f64,
    st: &mut Vec<f64>,
) -> f64 {
    s.zr.clear();
    s.zi.clear();
    s.b.clear();
    for k in 0..row.len() {
        let v = row[k];
        if v.re != 0.0 || v.im != 0.0 {
            s.zr.push(v.re);
            s.zi.push(v.im);
            s.b.push(b[k]);
        }
    }
    if s.zr.is_empty() {
        return 0.0;
    }
    if s.zr.len() == row.len() {
        return coh_kept_f64(s, shared, st);
    }
    let own = Basis64::new(&s.b, ntw);
    coh_kept_f64(s, &own, st)
}

/// Random-phase rows `p0..p0 + out.len()` (column-major draws of `n_rand` rows).
#[inline(always)]
fn random_rows_body<const FMA: bool>(
    s: &mut Scratch64,
    draws: &[f64],
    n_rand: usize,
    basis: &Basis64,
    p0: usize,
    out: &mut [f64],
) {
    let m = s.b.len();
    let nr = out.len();
    let two_pi = 2.0 * std::f64::consts::PI;
    // phasors of the whole block, image by image (contiguous draws: vectorises)
    s.cs.resize(m * nr, 0.0);
    s.sn.resize(m * nr, 0.0);
    for j in 0..m {
        let d = &draws[j * n_rand + p0..][..nr];
        for ((c, sv), &u) in s.cs[j * nr..(j + 1) * nr]
            .iter_mut()
            .zip(s.sn[j * nr..(j + 1) * nr].iter_mut())
            .zip(d)
        {
            let (a, b) = sincos(two_pi * u);
            *c = b;
            *sv = a;
        }
    }
    if m == 0 {
        out.iter_mut().for_each(|v| *v = 0.0);
        return;
    }
    let blk = &mut s.blk;
    blk.zr.resize(m, [0.0; L]);
    blk.zi.resize(m, [0.0; L]);
    blk.b.clear();
    blk.b.extend_from_slice(&s.b);
    for r0 in (0..nr).step_by(L) {
        // a short last block repeats its last row in the free lanes (results dropped)
        for j in 0..m {
            for l in 0..L {
                let r = (r0 + l).min(nr - 1);
                blk.zr[j][l] = s.cs[j * nr + r];
                blk.zi[j][l] = s.sn[j * nr + r];
            }
        }
        let g = coh_block_f64::<FMA>(blk, basis);
        for (v, &x) in out[r0..].iter_mut().zip(g.iter()) {
            *v = x;
        }
    }
}

fma_dispatch!(fn random_rows(
    s: &mut Scratch64,
    draws: &[f64],
    n_rand: usize,
    basis: &Basis64,
    p0: usize,
    out: &mut [f64],
) -> () => random_rows_body);

/// Coherence of the chunk rows `lanes` (all entries non-zero) as one block; the first
/// `nreal` go to `out`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn coh_lanes_f64<const FMA: bool>(
    s: &mut Scratch64,
    z: ArrayView2<Complex64>,
    b: &[f64],
    basis: &Basis64,
    p0: usize,
    lanes: &[usize; L],
    nreal: usize,
    out: &mut [f64],
) {
    let m = b.len();
    let blk = &mut s.blk;
    blk.zr.resize(m, [0.0; L]);
    blk.zi.resize(m, [0.0; L]);
    blk.b.clear();
    blk.b.extend_from_slice(b);
    for (l, &r) in lanes.iter().enumerate() {
        for (k, v) in z.row(p0 + r).iter().enumerate() {
            blk.zr[k][l] = v.re;
            blk.zi[k][l] = v.im;
        }
    }
    let g = coh_block_f64::<FMA>(blk, basis);
    for (l, &r) in lanes.iter().enumerate().take(nreal) {
        out[r] = g[l];
    }
}

/// Coherence of rows `p0 .. p0 + out.len()` of `z`: rows without zeros `L` at a time
/// ([`coh_block_f64`]), rows with zeros one by one.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn coh_chunk_f64_body<const FMA: bool>(
    s: &mut Scratch64,
    st: &mut Vec<f64>,
    z: ArrayView2<Complex64>,
    b: &[f64],
    basis: &Basis64,
    ntw: f64,
    p0: usize,
    out: &mut [f64],
) {
    let m = b.len();
    let mut lanes = [0usize; L];
    let mut nl = 0;
    for r in 0..out.len() {
        let row = z.row(p0 + r);
        if m > 0 && row.iter().all(|v| v.re != 0.0 || v.im != 0.0) {
            lanes[nl] = r;
            nl += 1;
            if nl == L {
                coh_lanes_f64::<FMA>(s, z, b, basis, p0, &lanes, L, out);
                nl = 0;
            }
        } else {
            out[r] = coh_row_f64_body(s, row, b, basis, ntw, st);
        }
    }
    if nl > 0 {
        for l in nl..L {
            lanes[l] = lanes[0];
        }
        coh_lanes_f64::<FMA>(s, z, b, basis, p0, &lanes, nl, out);
    }
}

fma_dispatch!(fn coh_chunk_f64(
    s: &mut Scratch64,
    st: &mut Vec<f64>,
    z: ArrayView2<Complex64>,
    b: &[f64],
    basis: &Basis64,
    ntw: f64,
    p0: usize,
    out: &mut [f64],
) -> () => coh_chunk_f64_body);

/// Coherence-only fit in f64 with one shared baseline row (random-phase reference).
pub fn topofit_coh_f64(
    z: ArrayView2<Complex64>,
    b: ArrayView1<f64>,
    ntw: f64,
    threads: usize,
) -> Vec<f64> {
    let (n, _) = z.dim();
    let b: Vec<f64> = b.to_vec();
    let basis = Basis64::new(&b, ntw);
    let mut out = vec![0f64; n];
    const CHUNK: usize = 256;
    crate::pool::install(threads, || {
        out.par_chunks_mut(CHUNK).enumerate().for_each_init(
            || (Scratch64::default(), Vec::new()),
            |(s, st), (ci, o)| coh_chunk_f64(s, st, z, &b, &basis, ntw, ci * CHUNK, o),
        )
    });
    out
}

/// Coherence of simulated random-phase pixels (spec C.2.1): `n_rand` rows of
/// `exp(2 pi i u)`, `u` = `rand('state', seed)` draws filled column-major (the python
/// `random_draws`), fitted with the shared baselines `b` in f64.
pub fn random_phase_coh(b: &[f64], ntw: f64, n_rand: usize, seed: u32, threads: usize) -> Vec<f64> {
    let m = b.len();
    let mut draws = vec![0f64; n_rand * m];
    let mut mt = crate::mt19937::Mt19937::new_by_array(&[seed]);
    for v in draws.iter_mut() {
        *v = mt.random_sample();
    }
    let basis = Basis64::new(b, ntw);
    let mut out = vec![0f64; n_rand];
    const CHUNK: usize = 256;
    crate::pool::install(threads, || {
        out.par_chunks_mut(CHUNK).enumerate().for_each_init(
            || {
                let mut s = Scratch64::default();
                s.b.extend_from_slice(b);
                s
            },
            |s, (ci, o)| random_rows(s, &draws, n_rand, &basis, ci * CHUNK, o),
        )
    });
    out
}

/// `reps` periodograms of the block (`zr`, `zi`) against `basis` (the timed inner loop).
#[inline(always)]
fn periodogram_reps_body<const FMA: bool>(
    zr: &[F32x],
    zi: &[F32x],
    basis: &SharedBasis,
    reps: usize,
    sre: &mut [F32x],
    sim: &mut [F32x],
) {
    for _ in 0..reps {
        periodogram_shared_f32::<FMA>(
            std::hint::black_box(zr),
            std::hint::black_box(zi),
            basis,
            sre,
            sim,
        );
        std::hint::black_box(&*sre);
    }
}

fma_dispatch!(fn periodogram_reps(
    zr: &[F32x],
    zi: &[F32x],
    basis: &SharedBasis,
    reps: usize,
    sre: &mut [F32x],
    sim: &mut [F32x],
) -> () => periodogram_reps_body);

/// Peak complex multiply-add rate of the periodogram inner loop (the lane-blocked loop of
/// [`crate::topofit_lanes`]: `L` pixels per pass) with one block's data in L1 cache, `m`
/// interferograms and `nt` trials, run concurrently on every thread of a `threads` pool
/// (0 = CPU budget); CMAC/s summed over the threads.
pub fn peak_cmac_rate(m: usize, nt: usize, threads: usize) -> f64 {
    let b: Vec<f32> = (0..m)
        .map(|k| ((k * 37 % 23) as f32 - 11.0) * 13.0)
        .collect();
    let kt: Vec<f32> = (0..nt).map(|t| 1e-4 * t as f32).collect();
    let (mut bre, mut bim) = (Vec::new(), Vec::new());
    basis_f32(&b, &kt, &mut bre, &mut bim);
    let basis = SharedBasis {
        m,
        kt: &kt,
        re: &bre,
        im: &bim,
    };
    let zr: Vec<F32x> = (0..m)
        .map(|k| std::array::from_fn(|l| ((k + l) as f32 * 0.3).cos()))
        .collect();
    let zi: Vec<F32x> = (0..m)
        .map(|k| std::array::from_fn(|l| ((k + l) as f32 * 0.3).sin()))
        .collect();
    let reps = (4_000_000 / (m * nt * L).max(1)).max(200);
    let pool = crate::pool::pool(threads);
    let nthr = pool.current_num_threads();
    let rates: Vec<f64> = pool.install(|| {
        (0..nthr)
            .into_par_iter()
            .map(|_| {
                let (mut sr, mut si) = (vec![[0f32; L]; nt], vec![[0f32; L]; nt]);
                let mut best = f64::INFINITY;
                for _ in 0..3 {
                    let t = std::time::Instant::now();
                    periodogram_reps(&zr, &zi, &basis, reps, &mut sr, &mut si);
                    best = best.min(t.elapsed().as_secs_f64());
                }
                (reps * m * nt * L) as f64 / best
            })
            .collect()
    });
    rates.iter().sum()
}

/// Transpose `L` rows of `z` into lane vectors and take their periodogram.
#[inline(always)]
fn search_rows_body<const FMA: bool>(
    z: &[Complex32],
    m: usize,
    basis: &SharedBasis,
    zr: &mut Vec<F32x>,
    zi: &mut Vec<F32x>,
    sre: &mut [F32x],
    sim: &mut [F32x],
) -> f32 {
    let mut acc = 0f32;
    for blk in z.chunks_exact(L * m) {
        zr.resize(m, [0.0; L]);
        zi.resize(m, [0.0; L]);
        for (k, (r, i)) in zr.iter_mut().zip(zi.iter_mut()).enumerate() {
            *r = std::array::from_fn(|l| blk[l * m + k].re);
            *i = std::array::from_fn(|l| blk[l * m + k].im);
        }
        periodogram_shared_f32::<FMA>(zr, zi, basis, sre, sim);
        acc += sre[0][0];
    }
    acc
}

fma_dispatch!(fn search_rows(
    z: &[Complex32],
    m: usize,
    basis: &SharedBasis,
    zr: &mut Vec<F32x>,
    zi: &mut Vec<F32x>,
    sre: &mut [F32x],
    sim: &mut [F32x],
) -> f32 => search_rows_body);

/// Rate (CMAC/s) of the periodogram alone over all rows of `z` (whole blocks of `L`) with
/// the shared basis of `b`, in the kernel's data layout (rows transposed into lane vectors,
/// then searched), `threads` workers.
pub fn trial_search_rate(
    z: ArrayView2<Complex32>,
    b: ArrayView1<f32>,
    ntw: f64,
    threads: usize,
) -> f64 {
    let (n, m) = z.dim();
    let row: Vec<f32> = b.to_vec();
    let (mut bmin, mut bmax) = (f32::INFINITY, f32::NEG_INFINITY);
    for &x in &row {
        bmin = bmin.min(x);
        bmax = bmax.max(x);
    }
    let kt = trial_grid_f32(bmin, bmax, ntw);
    let nt = kt.len();
    let (mut bre, mut bim) = (Vec::new(), Vec::new());
    basis_f32(&row, &kt, &mut bre, &mut bim);
    let basis = SharedBasis {
        m,
        kt: &kt,
        re: &bre,
        im: &bim,
    };
    let zc = z.as_standard_layout();
    let zs = zc.as_slice().expect("standard layout");
    let nb = n / L;
    if nb == 0 || m == 0 {
        return 0.0;
    }
    let t = std::time::Instant::now();
    let total: f32 = crate::pool::install(threads, || {
        zs[..nb * L * m]
            .par_chunks(64 * L * m)
            .map_init(
                || {
                    (
                        Vec::new(),
                        Vec::new(),
                        vec![[0f32; L]; nt],
                        vec![[0f32; L]; nt],
                    )
                },
                |(zr, zi, sr, si), rows| search_rows(rows, m, &basis, zr, zi, sr, si),
            )
            .sum()
    });
    std::hint::black_box(total);
    (nb * L * m * nt) as f64 / t.elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{arr1, Array2};

    #[test]
    fn recovers_a_noiseless_look_angle_error() {
        let b = arr1(&[-120f32, -40.0, 10.0, 35.0, 90.0, 150.0]);
        let k_true = 0.0031f32;
        let c_true = 0.4f32;
        let z: Array2<Complex32> = Array2::from_shape_fn((1, 6), |(_, k)| {
            let ph = k_true * b[k] + c_true;
            Complex32::new(ph.cos(), ph.sin())
        });
        let (k, c, g, _) = topofit_f32(z.view(), Baselines::Shared(b.view()), 0.5, 1);
        // one linear refinement step (as StaMPS) leaves a small bias when the
        // baselines are not centred; the trial grid step here is 2.9e-3 rad/m
        assert!((k[0] - k_true as f64).abs() < 2e-5, "K {}", k[0]);
        assert!((c[0] - c_true as f64).abs() < 5e-3, "C {}", c[0]);
        assert!(g[0] > 0.999, "coh {}", g[0]);
    }

    #[test]
    fn all_zero_row_gives_nan_and_zero_coherence() {
        let z = Array2::<Complex32>::zeros((1, 3));
        let b = arr1(&[1f32, 2.0, 3.0]);
        let (k, _, g, r) = topofit_f32(z.view(), Baselines::Shared(b.view()), 0.5, 1);
        assert!(k[0].is_nan());
        assert_eq!(g[0], 0.0);
        assert!(r.iter().all(|&x| x == 0.0));
    }

    #[test]
    fn shared_and_per_pixel_baselines_agree() {
        let b = arr1(&[-120f32, -40.0, 10.0, 35.0, 90.0, 150.0, 3.0, -77.0, 12.0]);
        let z: Array2<Complex32> = Array2::from_shape_fn((5, 9), |(p, k)| {
            let ph = 0.002 * p as f32 * b[k] + 0.3 * ((p * 7 + k * 3) % 5) as f32;
            Complex32::new(ph.cos(), ph.sin())
        });
        let bm = Array2::from_shape_fn((5, 9), |(_, k)| b[k]);
        let a = topofit_f32(z.view(), Baselines::Shared(b.view()), 1.3, 1);
        let p = topofit_f32(z.view(), Baselines::PerPixel(bm.view()), 1.3, 2);
        assert_eq!(a.0, p.0);
        assert_eq!(a.2, p.2);
        assert_eq!(a.3, p.3);
    }

    #[test]
    fn coherence_of_a_perfect_pixel_is_one() {
        let b = arr1(&[-100.0, -20.0, 30.0, 80.0, 10.0]); // centred: one refinement step is exact
        let z = Array2::from_shape_fn((2, 5), |(_, k)| {
            let ph: f64 = 0.004 * b[k];
            Complex64::new(ph.cos(), ph.sin())
        });
        let g = topofit_coh_f64(z.view(), b.view(), 1.0, 1);
        assert!((g[0] - 1.0).abs() < 1e-12, "{g:?}");
    }

    #[test]
    fn lane_blocks_agree_with_the_row_wise_fit() {
        // 45 rows (5 blocks + a short one), a few with zeros (those stay row-wise)
        let (n, m) = (45usize, 23usize);
        let b = arr1(
            &(0..m)
                .map(|k| ((k * 37 % 23) as f32 - 11.0) * 19.0)
                .collect::<Vec<_>>(),
        );
        let bm = Array2::from_shape_fn((n, m), |(p, k)| b[k] + (p % 3) as f32);
        let z = Array2::from_shape_fn((n, m), |(p, k)| {
            if p % 11 == 3 && k % 5 == 0 {
                return Complex32::new(0.0, 0.0);
            }
            let ph = ((p % 17) as f32 - 8.0) * 4e-4 * b[k] + ((p * 31 + k * 17) % 13) as f32 * 0.05;
            Complex32::new(ph.cos(), ph.sin()) * (1.0 + (k % 3) as f32 * 0.5)
        });
        for (name, base) in [
            ("shared", Baselines::Shared(b.view())),
            ("per-pixel", Baselines::PerPixel(bm.view())),
        ] {
            let (k, c, g, res) = topofit_f32(z.view(), base, 1.3, 2);
            let table = match base {
                Baselines::Shared(row) => Some(SharedTable::new(row, 1.3)),
                Baselines::PerPixel(_) => None,
            };
            let (mut s, mut out, mut tmp) = (Scratch32::default(), vec![0f32; m], Vec::new());
            for p in 0..n {
                let brow = match base {
                    Baselines::Shared(_) => b.view(),
                    Baselines::PerPixel(_) => bm.row(p),
                };
                let sh = table.as_ref().map(|t| (t.kt.as_slice(), t.re.as_slice(), t.im.as_slice()));
                let f = fit_row_f32_body(&mut s, z.row(p), brow, sh, 1.3, &mut out, &mut tmp);
                assert!(
                    (f.k - k[p]).abs() <= 1e-5 * f.k.abs().max(1e-3),
                    "{name} row {p}: K {} vs {}",
                    k[p],
                    f.k
                );
                assert!(
                    (f.coh - g[p]).abs() <= 1e-5,
                    "{name} row {p}: coherence {} vs {}",
                    g[p],
                    f.coh
                );
                let dc = (f.c - c[p]).rem_euclid(std::f64::consts::TAU);
                assert!(
                    dc.min(std::f64::consts::TAU - dc) <= 1e-5,
                    "{name} row {p}: C {} vs {}",
                    c[p],
                    f.c
                );
                for (kk, (&x, &y)) in out.iter().zip(res.row(p).iter()).enumerate() {
                    let d = ((x - y) as f64).rem_euclid(std::f64::consts::TAU);
                    assert!(
                        d.min(std::f64::consts::TAU - d) <= 1e-5,
                        "{name} row {p} ifg {kk}: residual {y} vs {x}"
                    );
                }
            }
        }
    }
}
