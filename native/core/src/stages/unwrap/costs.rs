//! `uw_stat_costs` cost arrays: snaphu DEFO-mode statistical costs per grid arc (spec C.6.6,
//! K.8, J.18), as `pystamps_batch/stages/unwrap/costs.py`.
//!
//! Every grid arc carries four int16 values [offset, sigsq, dzmax, laycost]: `rowcost`
//! (n_i-1, 4 n_j) for the vertical arcs (r, c)->(r+1, c) and `colcost` (n_i, 4 (n_j-1)) for
//! the horizontal arcs (r, c)->(r, c+1). Offsets are in 1/`NSHORTCYCLE` cycle and sigsq in
//! (1/NSHORTCYCLE cycle)^2 / `COSTSCALE`; both scalings rely on snaphu's defaults, which the
//! config must not override. All arithmetic is float32 in the Python order.

use super::arcs::UwInterp;
use super::f32ops;
use ndarray::{Array2, ArrayView2, Zip};

pub const COSTSCALE: i64 = 100;
pub const NSHORTCYCLE: i64 = 200;
pub const MAXSHORT: i16 = 32000;

/// MATLAB `int16(x)` of a float32 value (`matlab.sat_int16`): in float64, round half away
/// from zero (`sign(x) * floor(|x| + 0.5)`), NaN -> 0, saturate to [-32768, 32767].
pub fn sat_int16(x: f32) -> i16 {
    let x = x as f64;
    if x.is_nan() {
        return 0;
    }
    let r = (x.abs() + 0.5).floor();
    let r = if x < 0.0 { -r } else { r };
    r.clamp(-32768.0, 32767.0) as i16
}

/// MATLAB unary minus on int16 (saturating: -(-32768) = 32767).
fn neg_int16(a: i16) -> i16 {
    a.saturating_neg()
}

/// The ifg-independent part of the cost arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct CostModel {
    /// (n_i-1, n_j) signed 1-based edge index per vertical arc (0: same node, or no statistics)
    pub rowix: Array2<i64>,
    /// (n_i, n_j-1) likewise per horizontal arc
    pub colix: Array2<i64>,
    /// false for arcs mapped to a no-statistics edge
    pub row_stats: Array2<bool>,
    pub col_stats: Array2<bool>,
    /// int16 sigsq per arc (1 where no real edge or no statistics)
    pub row_sig: Array2<i16>,
    pub col_sig: Array2<i16>,
}

impl CostModel {
    /// Grid shape (n_i, n_j).
    pub fn shape(&self) -> (usize, usize) {
        (self.colix.nrows(), self.rowix.ncols())
    }

    /// Size of the cost file: 8 bytes per arc (invariant I.7).
    pub fn nbytes(&self) -> usize {
        8 * (self.rowix.len() + self.colix.len())
    }
}

/// Number of grid arcs mapped to each edge, (n_edge,) (MATLAB `hist` over 1..n_edge);
/// horizontal arcs then vertical arcs, as `np.bincount` counts them.
pub fn edge_counts(interp: &UwInterp) -> Vec<i64> {
    let max_ix = interp.colix.iter().chain(interp.rowix.iter()).map(|v| v.unsigned_abs() as usize).max().unwrap_or(0);
    let mut counts = vec![0i64; interp.n_edge().max(max_ix)];
    for &v in interp.colix.iter().chain(interp.rowix.iter()) {
        let a = v.unsigned_abs() as usize;
        if a > 0 {
            counts[a - 1] += 1;
        }
    }
    counts
}

/// int16 sigsq per edge: `int16(round(((std(nu)/2/pi)^2 * 200^2)/100 * count))`, >= 1, in
/// float32. `noise`: (n_edge, M_U) float32 (NaN rows = no statistics -> 1); `counts`: (n_edge,).
pub fn edge_sigsq(noise: ArrayView2<f32>, counts: &[i64]) -> Vec<i16> {
    let pi = std::f32::consts::PI;
    let mut row = Vec::with_capacity(noise.ncols());
    noise
        .outer_iter()
        .zip(counts)
        .map(|(nu, &count)| {
            row.clear();
            row.extend(nu.iter().copied());
            let sd = f32ops::std(&row);
            let s = (sd / 2.0) / pi;
            let sigsq_noise = s * s;
            let x = ((sigsq_noise * (NSHORTCYCLE * NSHORTCYCLE) as f32) / COSTSCALE as f32) * count as f32;
            sat_int16(x).max(1)
        })
        .collect()
}

/// Per-arc (ix, stats, sig) of one arc direction (the Python `per_arc`).
fn per_arc(ix: &Array2<i64>, nostats: &[bool], sig: &[i16]) -> (Array2<i64>, Array2<bool>, Array2<i16>) {
    let mut out_ix = Array2::zeros(ix.dim());
    let mut stats = Array2::from_elem(ix.dim(), true);
    let mut s = Array2::from_elem(ix.dim(), 1i16);
    Zip::from(ix).and(&mut out_ix).and(&mut stats).and(&mut s).for_each(|&v, o, st, sg| {
        let a = v.unsigned_abs() as usize;
        if a > 0 {
            *st = !nostats[a - 1];
            if *st {
                *sg = sig[a - 1];
                *o = v;
            }
        }
    });
    (out_ix, stats, s)
}

/// Static cost terms from the arc network and the space-time noise `noise` ((n_edge, M_U)
/// float32) (spec C.6.6 steps 1-3).
pub fn cost_model(interp: &UwInterp, noise: ArrayView2<f32>) -> CostModel {
    let nostats: Vec<bool> = noise.outer_iter().map(|r| r.iter().any(|v| v.is_nan())).collect();
    let sig = edge_sigsq(noise, &edge_counts(interp));
    let (rowix, row_stats, row_sig) = per_arc(&interp.rowix, &nostats, &sig);
    let (colix, col_stats, col_sig) = per_arc(&interp.colix, &nostats, &sig);
    CostModel { rowix, colix, row_stats, col_stats, row_sig, col_sig }
}

/// Offset in cycles per edge for one ifg: `(wrap(D) - (D - nu))/2/pi`, float32 (n_edge,).
pub fn edge_offsets(d: &[f32], noise: &[f32]) -> Vec<f32> {
    let pi = std::f32::consts::PI;
    d.iter()
        .zip(noise)
        .map(|(&dv, &nv)| {
            let smooth = dv - nv;
            let wrapped = f32ops::angle(f32ops::expi32(dv));
            ((wrapped - smooth) / 2.0) / pi
        })
        .collect()
}

/// int16 offset of one arc: `round(off[|ix|] * sign(ix) * 200)`, 0 where ix == 0.
fn arc_offset(ix: i64, off: &[f32]) -> i16 {
    if ix == 0 {
        return 0;
    }
    let sign: f32 = if ix > 0 { 1.0 } else { -1.0 };
    sat_int16((off[ix.unsigned_abs() as usize - 1] * sign) * NSHORTCYCLE as f32)
}

/// Appends the four int16 values of every arc of one direction, row-major, native-endian.
fn assemble(out: &mut Vec<u8>, ix: &Array2<i64>, stats: &Array2<bool>, sig: &Array2<i16>, off: &[f32], negate: bool) {
    for ((&v, &st), &sg) in ix.iter().zip(stats.iter()).zip(sig.iter()) {
        let o = arc_offset(v, off);
        let o = if negate { neg_int16(o) } else { o };
        let lay: i16 = if st { -MAXSHORT } else { 1 };
        for w in [o, sg, MAXSHORT, lay] {
            out.extend_from_slice(&w.to_ne_bytes());
        }
    }
}

/// Content of `snaphu.costinfile` for one ifg (`d`, `noise`: (n_edge,) float32): rowcost
/// ((n_i-1, 4 n_j), offsets negated) then colcost ((n_i, 4 (n_j-1))), row-major native int16.
pub fn cost_file_bytes(model: &CostModel, d: &[f32], noise: &[f32]) -> Vec<u8> {
    let off = edge_offsets(d, noise);
    let mut out = Vec::with_capacity(model.nbytes());
    assemble(&mut out, &model.rowix, &model.row_stats, &model.row_sig, &off, true);
    assemble(&mut out, &model.colix, &model.col_stats, &model.col_sig, &off, false);
    debug_assert_eq!(out.len(), model.nbytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sat_int16_rounds_half_away_and_saturates() {
        assert_eq!(sat_int16(2.5), 3);
        assert_eq!(sat_int16(-2.5), -3);
        assert_eq!(sat_int16(0.49999997), 0);
        assert_eq!(sat_int16(f32::NAN), 0);
        assert_eq!(sat_int16(1e9), 32767);
        assert_eq!(sat_int16(-1e9), -32768);
        assert_eq!(sat_int16(f32::NEG_INFINITY), -32768);
        assert_eq!(neg_int16(-32768), 32767);
    }
}
