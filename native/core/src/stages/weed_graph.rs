//! Pixel graphs of `ps_weed` (spec C.4 steps 1, 3, 4): adjacent-pixel groups, duplicate-xy
//! groups, the best pixel per group, and the Delaunay arcs between the survivors, as
//! `pystamps_batch/stages/weed.py` defines them.

use spade::{DelaunayTriangulation, HasPosition, Point2, Triangulation};
use std::collections::HashMap;

/// Union-find root with path halving.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Group labels (n,) of the adjacent-pixel weeding (C.4 step 1): pixel p links to its
/// parent, the lowest-index other pixel whose (az, rg) lies within +-1 line and +-1 pixel
/// (pixels on the same (az, rg) are not neighbours); groups are the connected components
/// of these links.  Labels are the lowest pixel index of each group.
pub fn neighbour_groups(az: &[i64], rg: &[i64]) -> Vec<usize> {
    let n = az.len();
    let mut first: HashMap<(i64, i64), usize> = HashMap::with_capacity(n);
    for p in 0..n {
        first.entry((az[p], rg[p])).or_insert(p);
    }
    let mut uf: Vec<usize> = (0..n).collect();
    for p in 0..n {
        let mut parent = usize::MAX;
        for da in -1..=1i64 {
            for dr in -1..=1i64 {
                if da == 0 && dr == 0 {
                    continue;
                }
                if let Some(&q) = first.get(&(az[p] + da, rg[p] + dr)) {
                    parent = parent.min(q);
                }
            }
        }
        if parent != usize::MAX {
            let (a, b) = (root(&mut uf, p), root(&mut uf, parent));
            if a != b {
                uf[a.max(b)] = a.min(b);
            }
        }
    }
    (0..n).map(|p| root(&mut uf, p)).collect()
}

/// True for the highest-`coh` member of each group (NaN lowest, lowest index on ties).
pub fn best_per_group(labels: &[usize], coh: &[f64]) -> Vec<bool> {
    let mut best: HashMap<usize, usize> = HashMap::new();
    for (p, &g) in labels.iter().enumerate() {
        let c = if coh[p].is_nan() { f64::NEG_INFINITY } else { coh[p] };
        best.entry(g)
            .and_modify(|b| {
                let cb = if coh[*b].is_nan() { f64::NEG_INFINITY } else { coh[*b] };
                if c > cb {
                    *b = p;
                }
            })
            .or_insert(p);
    }
    let mut keep = vec![false; labels.len()];
    for &b in best.values() {
        keep[b] = true;
    }
    keep
}

/// Group labels of identical (x, y) rows (NumPy `unique(axis=0)` equality: -0 == 0).
pub fn duplicate_groups(x: &[f64], y: &[f64]) -> Vec<usize> {
    let key = |v: f64| {
        if v == 0.0 {
            0u64
        } else if v.is_nan() {
            f64::NAN.to_bits()
        } else {
            v.to_bits()
        }
    };
    let mut first: HashMap<(u64, u64), usize> = HashMap::with_capacity(x.len());
    (0..x.len()).map(|p| *first.entry((key(x[p]), key(y[p]))).or_insert(p)).collect()
}

struct Vertex {
    pos: Point2<f64>,
    index: usize,
}

impl HasPosition for Vertex {
    type Scalar = f64;
    fn position(&self) -> Point2<f64> {
        self.pos
    }
}

/// Unique undirected Delaunay edges (a < b, sorted as NumPy `unique(axis=0)`) of the
/// points (x, y), plus a note for the degenerate inputs (as `weed.delaunay_edges`):
/// fewer than 3 points have no edges; collinear points are joined consecutively along
/// the line (the principal axis), as the Python stage does when Qhull refuses them.
///
/// The triangulation uses exact predicates, so for points in general position it is the
/// unique Delaunay triangulation that Qhull (scipy) also finds.  With 4 or more
/// cocircular points the triangulation is not unique and the diagonal chosen may differ.
/// The points must be distinct (ps_weed removes duplicate xy first).
pub fn delaunay_edges(x: &[f64], y: &[f64]) -> Result<(Vec<[usize; 2]>, String), String> {
    let n = x.len();
    if n < 3 {
        return Ok((Vec::new(), format!("{n} pixel(s) left, fewer than 3: no triangulation")));
    }
    let verts: Vec<Vertex> = (0..n).map(|i| Vertex { pos: Point2::new(x[i], y[i]), index: i }).collect();
    let t = DelaunayTriangulation::<Vertex>::bulk_load(verts)
        .map_err(|e| format!("Delaunay triangulation failed: {e:?}"))?;
    if t.num_vertices() != n {
        return Err(format!("Delaunay triangulation: {} of {n} points are duplicates", n - t.num_vertices()));
    }
    if t.num_inner_faces() == 0 {
        return Ok((collinear_edges(x, y), "collinear pixels: edges between consecutive points on the line".into()));
    }
    let mut e: Vec<[usize; 2]> = t
        .undirected_edges()
        .map(|h| {
            let [a, b] = h.vertices();
            let (a, b) = (a.data().index, b.data().index);
            [a.min(b), a.max(b)]
        })
        .collect();
    e.sort_unstable();
    e.dedup();
    Ok((e, String::new()))
}

/// Consecutive points along the principal axis of collinear points (stable order).
fn collinear_edges(x: &[f64], y: &[f64]) -> Vec<[usize; 2]> {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        let (u, v) = (a - mx, b - my);
        sxx += u * u;
        sxy += u * v;
        syy += v * v;
    }
    // leading eigenvector of [[sxx, sxy], [sxy, syy]]
    let l = 0.5 * (sxx + syy) + (0.25 * (sxx - syy) * (sxx - syy) + sxy * sxy).sqrt();
    let (dx, dy) = if sxy != 0.0 {
        (l - syy, sxy)
    } else if sxx >= syy {
        (1.0, 0.0)
    } else {
        (0.0, 1.0)
    };
    let proj: Vec<f64> = x.iter().zip(y).map(|(&a, &b)| (a - mx) * dx + (b - my) * dy).collect();
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| proj[a].total_cmp(&proj[b]));
    let mut e: Vec<[usize; 2]> = order.windows(2).map(|w| [w[0].min(w[1]), w[0].max(w[1])]).collect();
    e.sort_unstable();
    e.dedup();
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbour_groups_chain_and_isolated() {
        // (0,0)-(1,1) diagonal neighbours, (5,5) alone, (0,0) duplicate position not linked
        let g = neighbour_groups(&[0, 1, 5, 2], &[0, 1, 5, 2]);
        assert_eq!(g, vec![0, 0, 2, 0]);
    }

    #[test]
    fn best_and_duplicates() {
        assert_eq!(best_per_group(&[0, 0, 2, 0], &[0.5, 0.9, 0.1, 0.9]), vec![false, true, true, false]);
        assert_eq!(best_per_group(&[0, 0], &[f64::NAN, 0.1]), vec![false, true]);
        assert_eq!(duplicate_groups(&[1.0, 0.0, 1.0, -0.0], &[2.0, 3.0, 2.0, 3.0]), vec![0, 1, 0, 1]);
    }

    #[test]
    fn triangulation_and_degenerate_inputs() {
        let (e, note) = delaunay_edges(&[0.0, 1.0, 0.0, 1.1], &[0.0, 0.0, 1.0, 1.2]).unwrap();
        assert!(note.is_empty());
        assert_eq!(e, vec![[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]);
        let (e, note) = delaunay_edges(&[0.0, 2.0, 1.0], &[0.0, 2.0, 1.0]).unwrap();
        assert!(note.starts_with("collinear"));
        assert_eq!(e, vec![[0, 2], [1, 2]]);
        let (e, note) = delaunay_edges(&[0.0, 1.0], &[0.0, 1.0]).unwrap();
        assert!(e.is_empty() && note.contains("fewer than 3"));
    }
}
