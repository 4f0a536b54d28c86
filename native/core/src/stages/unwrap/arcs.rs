//! `uw_interp`: nearest-node labelling of the grid and the arc (edge) network (spec C.6.4,
//! J.15), as `pystamps_batch/stages/unwrap/arcs.py`.
//!
//! Every grid cell is labelled with its nearest node (Euclidean distance in grid-index
//! units; ties go to the smallest node index, as Octave's `dsearchn`). Grid arcs between
//! differently-labelled neighbours define the edges between nodes.
//!
//! The labelling is exact integer arithmetic (no KD-tree): for every column the nearest node
//! of each row *within that column* is found first (ties to the upper one, which has the
//! smaller column-major index), then each cell scans columns outwards from its own, stopping
//! once the column offset alone exceeds the best squared distance found.

use crate::stages::arrays::{Artifact, MatArray, MatData};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// The arc network (content of `uw_interp.mat`), 0-based where noted.
#[derive(Debug, Clone, PartialEq)]
pub struct UwInterp {
    /// (n_i, n_j) 0-based nearest node of each cell (nodes numbered in column-major order)
    pub z: Array2<usize>,
    /// 0-based (lo, hi) node pairs, lo < hi, in lexicographic order
    pub edges: Vec<[usize; 2]>,
    /// (n_i-1, n_j) signed 1-based edge index of each vertical arc (r, c)->(r+1, c)
    /// (0 = both cells on one node, negative = from the higher to the lower node)
    pub rowix: Array2<i64>,
    /// (n_i, n_j-1) likewise for the horizontal arcs (r, c)->(r, c+1)
    pub colix: Array2<i64>,
}

/// Column-major float64 data of an integer-valued 2-D array as a MATLAB double.
fn mat_f64<T: Copy>(a: &Array2<T>, f: impl Fn(T) -> f64) -> MatArray {
    MatArray::new(a.nrows(), a.ncols(), MatData::F64(a.t().iter().map(|&v| f(v)).collect()))
}

impl UwInterp {
    /// Number of edges (rows of `edgs`).
    pub fn n_edge(&self) -> usize {
        self.edges.len()
    }

    /// Variables of `uw_interp.mat` (float64, 1-based as StaMPS): `edgs` (n_edge x 3:
    /// index, lo, hi), `n_edge` (1 x 1), `rowix`, `colix`, `Z`.
    pub fn to_mat(&self) -> Artifact {
        let n_e = self.n_edge();
        let mut edgs = Vec::with_capacity(3 * n_e);
        edgs.extend((1..=n_e).map(|k| k as f64));
        edgs.extend(self.edges.iter().map(|e| (e[0] + 1) as f64));
        edgs.extend(self.edges.iter().map(|e| (e[1] + 1) as f64));
        vec![
            ("edgs".to_string(), MatArray::new(n_e, 3, MatData::F64(edgs))),
            ("n_edge".to_string(), MatArray::scalar(n_e as f64)),
            ("rowix".to_string(), mat_f64(&self.rowix, |v| v as f64)),
            ("colix".to_string(), mat_f64(&self.colix, |v| v as f64)),
            ("Z".to_string(), mat_f64(&self.z, |v| (v + 1) as f64)),
        ]
    }
}

/// For every cell, the nearest node in the cell's own column: `(node index, |row offset|)`,
/// ties to the upper node (smaller row, hence smaller column-major index); `None` for a
/// column without nodes. `node_id`: (n_i, n_j) column-major node number or `usize::MAX`.
/// Returns column-major `Vec` of length n_i * n_j (index `c * n_i + r`).
fn column_nearest(node_id: &Array2<usize>) -> Vec<Option<(usize, usize)>> {
    let (n_i, n_j) = node_id.dim();
    let mut out = vec![None; n_i * n_j];
    out.par_chunks_mut(n_i.max(1)).enumerate().take(n_j).for_each(|(c, col)| {
        // below[r]: first node row >= r (backward pass)
        let mut below = vec![usize::MAX; n_i];
        let mut next = usize::MAX;
        for r in (0..n_i).rev() {
            if node_id[[r, c]] != usize::MAX {
                next = r;
            }
            below[r] = next;
        }
        let mut above = usize::MAX; // last node row <= r
        for r in 0..n_i {
            if node_id[[r, c]] != usize::MAX {
                above = r;
            }
            let up = (above != usize::MAX).then(|| r - above);
            let down = (below[r] != usize::MAX).then(|| below[r] - r);
            col[r] = match (up, down) {
                (Some(u), Some(d)) if u <= d => Some((node_id[[above, c]], u)),
                (_, Some(d)) => Some((node_id[[below[r], c]], d)),
                (Some(u), None) => Some((node_id[[above, c]], u)),
                (None, None) => None,
            };
        }
    });
    out
}

/// 0-based index of the nearest node for every cell of the (n_i, n_j) mask `nzix`.
///
/// Nodes are the true cells in column-major order. Distances are squared index distances,
/// exact in integers; ties resolve to the smallest node index. Errors when there is no node.
pub fn nearest_node(nzix: ArrayView2<bool>) -> Result<Array2<usize>, String> {
    let (n_i, n_j) = nzix.dim();
    let mut node_id = Array2::from_elem((n_i, n_j), usize::MAX);
    let mut n_nodes = 0usize;
    for c in 0..n_j {
        for r in 0..n_i {
            if nzix[[r, c]] {
                node_id[[r, c]] = n_nodes;
                n_nodes += 1;
            }
        }
    }
    if n_nodes == 0 {
        return Err("no grid nodes".to_string());
    }
    let colnear = column_nearest(&node_id);
    let mut z = Array2::<usize>::zeros((n_i, n_j));
    z.axis_iter_mut(ndarray::Axis(0)).into_par_iter().enumerate().for_each(|(r, mut row)| {
        for c in 0..n_j {
            // best = (d2, node): lexicographic minimum over the columns' candidates
            let mut best: Option<(u64, usize)> = None;
            for dc in 0..n_j {
                if let Some((d2, _)) = best {
                    if (dc as u64) * (dc as u64) > d2 {
                        break;
                    }
                }
                let left = (dc <= c).then(|| c - dc);
                let right = (dc > 0 && c + dc < n_j).then(|| c + dc);
                if left.is_none() && right.is_none() {
                    break;
                }
                for cc in left.into_iter().chain(right) {
                    if let Some((node, dr)) = colnear[cc * n_i + r] {
                        let d2 = (dc * dc + dr * dr) as u64;
                        if best.is_none_or(|b| (d2, node) < b) {
                            best = Some((d2, node));
                        }
                    }
                }
            }
            row[c] = best.expect("a node exists").1;
        }
    });
    Ok(z)
}

/// Edges and signed arc indices from the nearest-node labelling `z` (0-based, (n_i, n_j)).
///
/// Same-node arcs map to the pair (0, 0), which sorts first among the unique pairs and is
/// dropped as StaMPS does (the code assumes such an arc exists; if none does, the
/// lexicographically first real edge is dropped too, as in the original).
pub fn arc_network(z: &Array2<usize>) -> UwInterp {
    let (n_i, n_j) = z.dim();
    let zz = |r: usize, c: usize| z[[r, c]] as u64 + 1; // 1-based nodes, 0 = same-node
    let base = z.iter().copied().max().map_or(1, |m| m as u64 + 2);
    // arcs: horizontal (row-major over (n_i, n_j-1)) then vertical (row-major over (n_i-1, n_j))
    let mut ab: Vec<(u64, u64)> = Vec::with_capacity(n_i * n_j.saturating_sub(1) + n_i.saturating_sub(1) * n_j);
    for r in 0..n_i {
        for c in 0..n_j.saturating_sub(1) {
            ab.push((zz(r, c), zz(r, c + 1)));
        }
    }
    for r in 0..n_i.saturating_sub(1) {
        for c in 0..n_j {
            ab.push((zz(r, c), zz(r + 1, c)));
        }
    }
    let keys: Vec<u64> = ab
        .iter()
        .map(|&(a, b)| if a == b { 0 } else { a.min(b) * base + a.max(b) })
        .collect();
    let mut uniq = keys.clone();
    uniq.sort_unstable();
    uniq.dedup();
    let signed: Vec<i64> = keys
        .iter()
        .zip(&ab)
        .map(|(k, &(a, b))| {
            let inv = uniq.binary_search(k).expect("key present") as i64;
            if a <= b {
                inv
            } else {
                -inv
            }
        })
        .collect();
    let edges = uniq
        .iter()
        .skip(1)
        .map(|&k| [(k / base - 1) as usize, (k % base - 1) as usize])
        .collect();
    let n_c = n_i * n_j.saturating_sub(1);
    let colix = Array2::from_shape_vec((n_i, n_j.saturating_sub(1)), signed[..n_c].to_vec()).expect("colix shape");
    let rowix = Array2::from_shape_vec((n_i.saturating_sub(1), n_j), signed[n_c..].to_vec()).expect("rowix shape");
    UwInterp { z: z.clone(), edges, rowix, colix }
}

/// Nearest-node labelling and arc network of the node mask `nzix` (spec C.6.4).
pub fn uw_interp(nzix: ArrayView2<bool>) -> Result<UwInterp, String> {
    Ok(arc_network(&nearest_node(nzix)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: argmin over all nodes of the squared distance, first node on ties.
    fn brute(nzix: &Array2<bool>) -> Array2<usize> {
        let (n_i, n_j) = nzix.dim();
        let mut nodes = Vec::new();
        for c in 0..n_j {
            for r in 0..n_i {
                if nzix[[r, c]] {
                    nodes.push((r as i64, c as i64));
                }
            }
        }
        Array2::from_shape_fn((n_i, n_j), |(r, c)| {
            let mut best = (i64::MAX, 0);
            for (k, &(nr, nc)) in nodes.iter().enumerate() {
                let d2 = (nr - r as i64).pow(2) + (nc - c as i64).pow(2);
                if d2 < best.0 {
                    best = (d2, k);
                }
            }
            best.1
        })
    }

    /// Small deterministic generator (xorshift64*).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545F4914F6CDD1D)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    #[test]
    fn nearest_node_equals_brute_force_including_ties() {
        let mut rng = Rng(0x9E3779B97F4A7C15);
        for trial in 0..400 {
            let n_i = 1 + rng.below(24) as usize;
            let n_j = 1 + rng.below(24) as usize;
            // densities from one node to nearly full; sparse masks produce many ties
            let per_mille = [2, 10, 30, 100, 300, 700, 950][trial % 7];
            let mut m = Array2::from_shape_fn((n_i, n_j), |_| rng.below(1000) < per_mille);
            if !m.iter().any(|&b| b) {
                m[[rng.below(n_i as u64) as usize, rng.below(n_j as u64) as usize]] = true;
            }
            assert_eq!(nearest_node(m.view()).unwrap(), brute(&m), "trial {trial} {n_i}x{n_j}");
        }
    }

    #[test]
    fn symmetric_patterns_tie_to_smallest_node() {
        // nodes on a lattice of spacing 4 and 5 (every midpoint is a multi-way tie)
        for sp in [2usize, 3, 4, 5] {
            let m = Array2::from_shape_fn((21, 17), |(r, c)| r % sp == 0 && c % sp == 0);
            assert_eq!(nearest_node(m.view()).unwrap(), brute(&m));
            let m = Array2::from_shape_fn((13, 29), |(r, c)| (r + 2 * c) % (sp + 3) == 0);
            assert_eq!(nearest_node(m.view()).unwrap(), brute(&m));
        }
        // four corners of a square: the centre is equidistant from all
        let mut m = Array2::from_elem((9, 9), false);
        for (r, c) in [(0, 0), (0, 8), (8, 0), (8, 8)] {
            m[[r, c]] = true;
        }
        assert_eq!(nearest_node(m.view()).unwrap()[[4, 4]], 0);
        assert_eq!(nearest_node(m.view()).unwrap(), brute(&m));
    }

    #[test]
    fn no_node_is_an_error() {
        let m = Array2::from_elem((3, 4), false);
        assert_eq!(nearest_node(m.view()).unwrap_err(), "no grid nodes");
    }

    #[test]
    fn arc_network_small_example() {
        // Z (1-based): [[1,1,2],[3,3,2]]
        let z = Array2::from_shape_vec((2, 3), vec![0, 0, 1, 2, 2, 1]).unwrap();
        let n = arc_network(&z);
        // unique pairs: (0,0), (1,2), (1,3), (2,3) -> edges (0,1), (0,2), (1,2)
        assert_eq!(n.edges, vec![[0, 1], [0, 2], [1, 2]]);
        assert_eq!(n.colix, Array2::from_shape_vec((2, 2), vec![0, 1, 0, -3]).unwrap());
        assert_eq!(n.rowix, Array2::from_shape_vec((1, 3), vec![2, 2, 0]).unwrap());
        let mat = n.to_mat();
        assert_eq!(mat[0].0, "edgs");
        assert_eq!(mat[0].1.data, MatData::F64(vec![1., 2., 3., 1., 1., 2., 2., 3., 3.]));
    }
}
