//! Sparse Cholesky factorisation of the free-pixel graph Laplacian of step 8's arc
//! integration, with a geometric nested-dissection ordering (the pixels' x, y split at
//! the median of the wider axis, the left pixels with an arc to the right side as the
//! separator, ordered last).  Planar Delaunay graphs then fill in O(n log n).

/// `L = G G^T` of an SPD matrix in the nested-dissection order.
pub struct Chol {
    /// position -> local node
    order: Vec<usize>,
    /// G's diagonal
    diag: Vec<f64>,
    /// rows (positions > k, sorted) and values of G's column k below the diagonal
    rows: Vec<Vec<usize>>,
    vals: Vec<Vec<f64>>,
}

fn nd(mut nodes: Vec<usize>, x: &[f64], y: &[f64], adj: &[Vec<usize>], tag: &mut [u32], next: &mut u32, out: &mut Vec<usize>) {
    if nodes.len() <= 32 {
        out.extend(nodes);
        return;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &v in &nodes {
        x0 = x0.min(x[v]);
        x1 = x1.max(x[v]);
        y0 = y0.min(y[v]);
        y1 = y1.max(y[v]);
    }
    let c: &[f64] = if x1 - x0 >= y1 - y0 { x } else { y };
    let mid = nodes.len() / 2;
    nodes.select_nth_unstable_by(mid, |&a, &b| c[a].total_cmp(&c[b]).then(a.cmp(&b)));
    let right = nodes[mid..].to_vec();
    nodes.truncate(mid);
    *next += 1;
    let rt = *next;
    for &v in &right {
        tag[v] = rt;
    }
    let (sep, left): (Vec<usize>, Vec<usize>) = nodes.into_iter().partition(|&v| adj[v].iter().any(|&u| tag[u] == rt));
    nd(left, x, y, adj, tag, next, out);
    nd(right, x, y, adj, tag, next, out);
    out.extend(sep);
}

impl Chol {
    /// Factorises the matrix with diagonal `diag` and off-diagonal entries -1 for every
    /// pair in `adj` (symmetric lists of local nodes), ordered by the coordinates x, y.
    pub fn laplacian(diag: &[f64], adj: &[Vec<usize>], x: &[f64], y: &[f64]) -> Result<Chol, String> {
        let n = diag.len();
        let mut order = Vec::with_capacity(n);
        let mut tag = vec![0u32; n];
        let mut next = 0u32;
        nd((0..n).collect(), x, y, adj, &mut tag, &mut next, &mut order);
        let mut pos = vec![0usize; n];
        for (k, &v) in order.iter().enumerate() {
            pos[v] = k;
        }
        // symbolic: struct(G_k) = A's rows below k, plus the children's structures minus k
        let mut rows: Vec<Vec<usize>> = Vec::with_capacity(n);
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
        for k in 0..n {
            let mut s: Vec<usize> = adj[order[k]].iter().map(|&u| pos[u]).filter(|&p| p > k).collect();
            for &c in &children[k] {
                s.extend(rows[c].iter().copied().filter(|&p| p > k));
            }
            s.sort_unstable();
            s.dedup();
            if let Some(&p) = s.first() {
                children[p].push(k);
            }
            rows.push(s);
        }
        drop(children);
        let mut vals: Vec<Vec<f64>> = rows.iter().map(|r| vec![0.0; r.len()]).collect();
        for k in 0..n {
            for &u in &adj[order[k]] {
                let p = pos[u];
                if p > k {
                    let i = rows[k].binary_search(&p).map_err(|_| "sparse Cholesky: structure error")?;
                    vals[k][i] = -1.0;
                }
            }
        }
        let mut d: Vec<f64> = order.iter().map(|&v| diag[v]).collect();
        for k in 0..n {
            if !(d[k] > 0.0) {
                return Err(format!("arc integration: the normal matrix is not positive definite (pivot {})", d[k]));
            }
            let s = d[k].sqrt();
            d[k] = s;
            let mut col = std::mem::take(&mut vals[k]);
            col.iter_mut().for_each(|v| *v /= s);
            let rk = std::mem::take(&mut rows[k]);
            for (a, &i) in rk.iter().enumerate() {
                let li = col[a];
                d[i] -= li * li;
                if li == 0.0 {
                    continue;
                }
                let (ri, vi) = (&rows[i], &mut vals[i]);
                let mut q = 0usize;
                for (b, &j) in rk.iter().enumerate().skip(a + 1) {
                    // rows are sorted: advance a cursor instead of searching
                    while q < ri.len() && ri[q] < j {
                        q += 1;
                    }
                    if q == ri.len() || ri[q] != j {
                        return Err("sparse Cholesky: structure error".into());
                    }
                    vi[q] -= li * col[b];
                }
            }
            rows[k] = rk;
            vals[k] = col;
        }
        Ok(Chol { order, diag: d, rows, vals })
    }

    /// Solves `L x = b` (b by local node) in place.
    pub fn solve(&self, b: &mut [f64]) {
        let n = self.order.len();
        let mut y: Vec<f64> = self.order.iter().map(|&v| b[v]).collect();
        for k in 0..n {
            y[k] /= self.diag[k];
            let yk = y[k];
            for (&i, &l) in self.rows[k].iter().zip(&self.vals[k]) {
                y[i] -= l * yk;
            }
        }
        for k in (0..n).rev() {
            let mut s = y[k];
            for (&i, &l) in self.rows[k].iter().zip(&self.vals[k]) {
                s -= l * y[i];
            }
            y[k] = s / self.diag[k];
        }
        for (k, &v) in self.order.iter().enumerate() {
            b[v] = y[k];
        }
    }
}
