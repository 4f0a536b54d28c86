//! Local coordinates of StaMPS (spec C.1.3): polyconic projection (`llh2local`), heading
//! rotation, y-then-x pixel order and millimetre rounding in single precision.
//!
//! Mirrors `pystamps_batch.geo` operation by operation (same evaluation order, libm
//! `sin`/`cos`/`tan`/`pow` as NumPy's scalar paths use), so the results are bit-identical.

/// WGS84 semi-major axis (m).
pub const A_WGS84: f64 = 6378137.0;
/// StaMPS' `llh2local` eccentricity (numerically WGS84's second eccentricity; spec J.3).
pub const E_STAMPS: f64 = 0.08209443794970;

/// NumPy `radians`: `x * (pi / 180)`.
#[inline]
pub fn radians(x: f64) -> f64 {
    x * (std::f64::consts::PI / 180.0)
}

/// Meridian arc length (m) at latitude `lat` (rad) on the ellipsoid (a, e).
fn meridian_arc(lat: f64, a: f64, e: f64) -> f64 {
    let (e2, e4, e6) = (e.powf(2.0), e.powf(4.0), e.powf(6.0));
    let c1 = 1.0 - e2 / 4.0 - 3.0 * e4 / 64.0 - 5.0 * e6 / 256.0;
    let c2 = 3.0 * e2 / 8.0 + 3.0 * e4 / 32.0 + 45.0 * e6 / 1024.0;
    let c3 = 15.0 * e4 / 256.0 + 45.0 * e6 / 1024.0;
    let c4 = 35.0 * e6 / 3072.0;
    a * (c1 * lat - c2 * (2.0 * lat).sin() + c3 * (4.0 * lat).sin() - c4 * (6.0 * lat).sin())
}

/// Polyconic projection of (lon, lat) degrees about `origin` (lon0, lat0 degrees).
/// Returns [x east, y north] in metres per point.
pub fn llh2local(lonlat: &[[f64; 2]], origin: [f64; 2]) -> Vec<[f64; 2]> {
    let (a, e) = (A_WGS84, E_STAMPS);
    let lon0 = radians(origin[0]);
    let lat0 = radians(origin[1]);
    let m0 = meridian_arc(lat0, a, e);
    let e2 = e.powf(2.0);
    lonlat
        .iter()
        .map(|p| {
            let lon = radians(p[0]);
            let lat = radians(p[1]);
            let dlon = lon - lon0;
            if lat != 0.0 {
                let s = lat.sin();
                let n = a / (1.0 - e2 * (s * s)).sqrt();
                let big_e = dlon * s;
                let cot = 1.0 / lat.tan();
                let x = n * cot * big_e.sin();
                let y = meridian_arc(lat, a, e) - m0 + n * cot * (1.0 - big_e.cos());
                [x, y]
            } else {
                [a * dlon, -m0]
            }
        })
        .collect()
}

/// `ll0 = (max + min) / 2` per column over the given points.
pub fn bbox_centre(lonlat: &[[f64; 2]]) -> [f64; 2] {
    let mut out = [0.0; 2];
    for (c, o) in out.iter_mut().enumerate() {
        let mx = lonlat.iter().map(|p| p[c]).fold(f64::NEG_INFINITY, f64::max);
        let mn = lonlat.iter().map(|p| p[c]).fold(f64::INFINITY, f64::min);
        *o = (mx + mn) / 2.0;
    }
    out
}

fn extent(xy: &[[f64; 2]], c: usize) -> f64 {
    let mx = xy.iter().map(|p| p[c]).fold(f64::NEG_INFINITY, f64::max);
    let mn = xy.iter().map(|p| p[c]).fold(f64::INFINITY, f64::min);
    mx - mn
}

/// Rotate local xy by the heading (degrees), keeping the rotation only if it strictly
/// shrinks both the x and the y extent (spec C.1.3).
///
/// The product `rot @ xy.T` is evaluated as NumPy's BLAS dgemm does for K = 2 on this
/// project's pinned OpenBLAS: `fma(r1, v1, r0 * v0)`.
pub fn rotate_to_heading(xy: Vec<[f64; 2]>, heading_deg: f64) -> Vec<[f64; 2]> {
    if xy.is_empty() || !heading_deg.is_finite() {
        return xy;
    }
    let pi = std::f64::consts::PI;
    let mut theta = (180.0 - heading_deg) * pi / 180.0;
    if theta > pi {
        theta -= 2.0 * pi;
    }
    let (c, s) = (theta.cos(), theta.sin());
    let rot = [[c, s], [-s, c]];
    let xy2: Vec<[f64; 2]> = xy
        .iter()
        .map(|p| [dot2(rot[0], *p), dot2(rot[1], *p)])
        .collect();
    if extent(&xy2, 0) < extent(&xy, 0) && extent(&xy2, 1) < extent(&xy, 1) {
        xy2
    } else {
        xy
    }
}

/// One element of a K = 2 matrix product as the BLAS kernel computes it.
#[inline]
fn dot2(r: [f64; 2], v: [f64; 2]) -> f64 {
    r[1].mul_add(v[1], r[0] * v[0])
}

/// NumPy's sort order of a float key: NaN after every number (and equal to NaN).
fn key_cmp(a: f32, b: f32) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// StaMPS pixel order and rounding: xy (f64) -> single, stable sort by y then x (NaN last),
/// then rounded to the millimetre in single precision (halves away from zero).
/// Returns (0-based permutation, sorted and rounded [x, y] f32).
pub fn sort_and_round(xy: &[[f64; 2]]) -> (Vec<usize>, Vec<[f32; 2]>) {
    let xs: Vec<[f32; 2]> = xy.iter().map(|p| [p[0] as f32, p[1] as f32]).collect();
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&i, &j| key_cmp(xs[i][1], xs[j][1]).then(key_cmp(xs[i][0], xs[j][0])));
    let round = |v: f32| -> f32 {
        let s = v * 1000.0f32;
        let r = if s.is_nan() { f32::NAN } else { sign(s) * (s.abs() + 0.5f32).floor() };
        r / 1000.0f32
    };
    let out = order.iter().map(|&i| [round(xs[i][0]), round(xs[i][1])]).collect();
    (order, out)
}

#[inline]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Local coordinates of a patch (spec C.1.3), NaN-tolerant as StaMPS' `max`/`min` are.
///
/// `lonlat` in degrees (n points, possibly with NaN rows). The origin is the bounding-box
/// centre of the finite rows (or `origin` if given); NaN rows get NaN xy and sort last.
/// Returns (ll0, 0-based sort permutation, xy n x [id, x, y] f32 in sorted order).
/// Errors when every row has a NaN.
pub fn local_xy(lonlat: &[[f64; 2]], heading_deg: f64, origin: Option<[f64; 2]>) -> Result<LocalXy, String> {
    let fin: Vec<bool> = lonlat.iter().map(|p| p[0].is_finite() && p[1].is_finite()).collect();
    let finite: Vec<[f64; 2]> = lonlat.iter().zip(&fin).filter(|(_, f)| **f).map(|(p, _)| *p).collect();
    if finite.is_empty() && !lonlat.is_empty() {
        return Err("every candidate has NaN coordinates".to_string());
    }
    let ll0 = origin.unwrap_or_else(|| bbox_centre(&finite));
    let proj = rotate_to_heading(llh2local(&finite, ll0), heading_deg);
    let mut xy = vec![[f64::NAN; 2]; lonlat.len()];
    let mut it = proj.into_iter();
    for (i, f) in fin.iter().enumerate() {
        if *f {
            if let Some(p) = it.next() {
                xy[i] = p;
            }
        }
    }
    let (order, r) = sort_and_round(&xy);
    let xy = r.iter().enumerate().map(|(k, p)| [(k + 1) as f32, p[0], p[1]]).collect();
    Ok(LocalXy { ll0, order, xy })
}

/// Result of [`local_xy`].
#[derive(Debug, Clone)]
pub struct LocalXy {
    /// origin (lon0, lat0) degrees
    pub ll0: [f64; 2],
    /// 0-based permutation: sorted row k is input row `order[k]`
    pub order: Vec<usize>,
    /// [id (1-based), x, y] in metres, single, sorted
    pub xy: Vec<[f32; 3]>,
}
