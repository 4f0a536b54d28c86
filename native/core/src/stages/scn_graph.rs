//! Step 8's graph numerics: least-squares integration of arc differences to pixels, and
//! the spatial Gaussian low-pass (`stages/scn.py::integrate_arcs`, `spatial_lowpass`).

use super::chol::Chol;
use ndarray::{Array2, Axis};
use rayon::prelude::*;

fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Least-squares pixel values `x` (n x K f64) from arc differences `hp[e] ~ x[b] - x[a]`,
/// pixel 0 and the lowest pixel of every other connected component fixed at 0.
///
/// The normal equations `L x = A' hp` (L the Laplacian of the free pixels, symmetric
/// positive definite) are solved with one sparse Cholesky factorisation (f64, nested
/// dissection on the pixel coordinates `px`, `py`) for all columns.  The Python stage
/// uses a sparse LU with another ordering: both are backward stable, the results agree
/// to rounding (measured: equal after the f32 rounding of `ph_hpt` for all but a few
/// elements, which differ by 1 ulp).
pub fn integrate_arcs(
    edges: &[[usize; 2]],
    hp: &Array2<f32>,
    n: usize,
    px: &[f64],
    py: &[f64],
    threads: usize,
) -> Result<Array2<f64>, String> {
    let k = hp.ncols();
    if hp.nrows() != edges.len() {
        return Err(format!("hp has {} rows for {} arcs", hp.nrows(), edges.len()));
    }
    if px.len() != n || py.len() != n {
        return Err(format!("{} / {} coordinates for {n} pixels", px.len(), py.len()));
    }
    let mut uf: Vec<usize> = (0..n).collect();
    for &[a, b] in edges {
        if a >= n || b >= n {
            return Err(format!("arc ({a}, {b}) outside 0..{n}"));
        }
        let (ra, rb) = (root(&mut uf, a), root(&mut uf, b));
        if ra != rb {
            uf[ra.max(rb)] = ra.min(rb); // the root is the lowest index of its component
        }
    }
    let mut fixed = vec![false; n];
    for i in 0..n {
        if root(&mut uf, i) == i {
            fixed[i] = true;
        }
    }
    if n > 0 {
        fixed[0] = true;
    }
    // local numbering of the free pixels, their degrees and free-free adjacency
    let free: Vec<usize> = (0..n).filter(|&i| !fixed[i]).collect();
    let mut local = vec![usize::MAX; n];
    for (l, &i) in free.iter().enumerate() {
        local[i] = l;
    }
    let nf = free.len();
    let mut deg = vec![0f64; nf];
    let mut adj: Vec<Vec<usize>> = vec![Vec::new(); nf];
    for &[a, b] in edges {
        let (la, lb) = (local[a], local[b]);
        if la != usize::MAX {
            deg[la] += 1.0;
        }
        if lb != usize::MAX {
            deg[lb] += 1.0;
        }
        if la != usize::MAX && lb != usize::MAX {
            adj[la].push(lb);
            adj[lb].push(la);
        }
    }
    let fx: Vec<f64> = free.iter().map(|&i| px[i]).collect();
    let fy: Vec<f64> = free.iter().map(|&i| py[i]).collect();
    let chol = Chol::laplacian(&deg, &adj, &fx, &fy)?;
    let mut out = Array2::<f64>::zeros((n, k));
    let cols: Vec<Vec<f64>> = crate::pool::install(threads, || {
        (0..k)
            .into_par_iter()
            .map(|c| {
                let mut rhs = vec![0f64; nf];
                for (e, &[a, b]) in edges.iter().enumerate() {
                    let h = hp[[e, c]] as f64;
                    if local[b] != usize::MAX {
                        rhs[local[b]] += h;
                    }
                    if local[a] != usize::MAX {
                        rhs[local[a]] -= h;
                    }
                }
                chol.solve(&mut rhs);
                rhs
            })
            .collect()
    });
    for (c, x) in cols.into_iter().enumerate() {
        for (l, &i) in free.iter().enumerate() {
            out[[i, c]] = x[l];
        }
    }
    Ok(out)
}

/// Gaussian-weighted mean over neighbours with `d^2 < (4 wavelength)^2` (pixel included),
/// distances and weights in f32 as StaMPS, weights normalised and applied in f64.
/// `x`, `y` the f32 coordinates (m); `ph` (n x K) f32; returns (n x K) f32.
///
/// Neighbours are found with a uniform grid of cell size `4 wavelength`; the f64 sum runs
/// in a different order than scipy's sparse product (last-bit differences before the f32
/// rounding).
pub fn spatial_lowpass(x: &[f32], y: &[f32], ph: &Array2<f32>, wavelength: f64, threads: usize) -> Array2<f32> {
    let n = x.len();
    let k = ph.ncols();
    let r = 4.0 * wavelength;
    let r2 = (r * r) as f32;
    let two_s2 = (2.0 * wavelength * wavelength) as f32;
    let cell = if r > 0.0 && r.is_finite() { r } else { 1.0 };
    let (mut x0, mut y0) = (f64::INFINITY, f64::INFINITY);
    for i in 0..n {
        x0 = x0.min(x[i] as f64);
        y0 = y0.min(y[i] as f64);
    }
    let key = |i: usize| -> (i64, i64) { (((x[i] as f64 - x0) / cell).floor() as i64, ((y[i] as f64 - y0) / cell).floor() as i64) };
    let mut grid: std::collections::HashMap<(i64, i64), Vec<usize>> = std::collections::HashMap::new();
    for i in 0..n {
        grid.entry(key(i)).or_default().push(i);
    }
    let mut out = Array2::<f32>::zeros((n, k));
    crate::pool::install(threads, || {
        out.axis_iter_mut(Axis(0)).into_par_iter().enumerate().for_each(|(i, mut row)| {
            let (ci, cj) = key(i);
            let mut nb: Vec<(usize, f32)> = Vec::new();
            for di in -1..=1 {
                for dj in -1..=1 {
                    if let Some(v) = grid.get(&(ci + di, cj + dj)) {
                        for &j in v {
                            let dx = x[i] - x[j];
                            let dy = y[i] - y[j];
                            let d2 = dx * dx + dy * dy;
                            if d2 < r2 {
                                nb.push((j, (-d2 / two_s2).exp()));
                            }
                        }
                    }
                }
            }
            nb.sort_unstable_by_key(|t| t.0);
            let wsum: f64 = nb.iter().map(|t| t.1 as f64).sum();
            let mut acc = vec![0f64; k];
            for &(j, w) in &nb {
                let wn = w as f64 / wsum;
                for c in 0..k {
                    acc[c] += wn * ph[[j, c]] as f64;
                }
            }
            row.iter_mut().zip(acc).for_each(|(o, v)| *o = v as f32);
        })
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrates_exact_differences_and_fixes_components() {
        // a triangle 0-1-2 with consistent differences, plus an isolated pair 3-4
        let truth = [0.0, 1.5, -0.5, 0.0, 2.0];
        let edges = [[0, 1], [0, 2], [1, 2], [3, 4]];
        let hp = Array2::from_shape_fn((4, 1), |(e, _)| (truth[edges[e][1]] - truth[edges[e][0]]) as f32);
        let c: Vec<f64> = (0..6).map(|i| i as f64).collect();
        let x = integrate_arcs(&edges, &hp, 6, &c, &c, 1).unwrap();
        for i in 0..5 {
            assert!((x[[i, 0]] - truth[i]).abs() < 1e-9, "{i}: {}", x[[i, 0]]);
        }
        assert_eq!(x[[5, 0]], 0.0); // isolated pixel
        assert!(integrate_arcs(&[[0, 9]], &hp.slice(ndarray::s![..1, ..]).to_owned(), 3, &c[..3], &c[..3], 1).is_err());
    }

    #[test]
    fn lowpass_of_a_constant_is_the_constant() {
        let x: Vec<f32> = (0..50).map(|i| (i % 7) as f32 * 30.0).collect();
        let y: Vec<f32> = (0..50).map(|i| (i / 7) as f32 * 25.0).collect();
        let ph = Array2::from_elem((50, 2), 0.75f32);
        let out = spatial_lowpass(&x, &y, &ph, 50.0, 1);
        assert!(out.iter().all(|&v| (v - 0.75).abs() < 1e-6));
    }
}
