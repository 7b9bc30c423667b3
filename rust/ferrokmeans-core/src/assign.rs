//! Passes over the data: assign every row to its nearest centre and, fused
//! in the same pass, accumulate what the next step needs (weighted sums per
//! cluster, weights per cluster, inertia). Each block of rows yields a
//! partial; partials are added in block order (see [`crate::par`]).

use rayon::ThreadPool;

use crate::data::{dense_tile, Data};
use crate::error::{KMeansError, Result};
use crate::float::Float;
use crate::kernel::{nearest_csr, nearest_dense, row_sq_norms, sq_dist, sq_dist_sparse};
use crate::par::map_blocks;

/// Rows handled by one call of the distance kernel: small enough for the
/// tile, its labels and distances to stay in L1/L2 cache.
const TILE: usize = 256;

/// `k` centres of `d` features, row-major, with their squared norms (used by
/// the sparse kernel).
#[derive(Debug, Clone)]
pub struct Centers<F> {
    pub(crate) data: Vec<F>,
    pub(crate) sq_norms: Vec<F>,
    pub(crate) k: usize,
    pub(crate) d: usize,
}

impl<F: Float> Centers<F> {
    /// Wraps a row-major `k × d` buffer.
    pub fn new(data: Vec<F>, k: usize, d: usize) -> Self {
        debug_assert_eq!(data.len(), k * d);
        let sq_norms = row_sq_norms(&data, d);
        Centers {
            data,
            sq_norms,
            k,
            d,
        }
    }

    /// Centre `j`.
    pub fn row(&self, j: usize) -> &[F] {
        &self.data[j * self.d..(j + 1) * self.d]
    }
}

/// What one Lloyd pass yields: sums of the weighted rows of each cluster
/// (`k × d`, f64), the weight of each cluster, the inertia of the current
/// centres under the new labels, and how many labels changed.
#[derive(Debug, Clone)]
pub struct Partial {
    pub sums: Vec<f64>,
    pub weights: Vec<f64>,
    pub inertia: f64,
    pub changed: usize,
    pub bad: bool,
}

impl Partial {
    fn zero(k: usize, d: usize, with_sums: bool) -> Self {
        Partial {
            sums: if with_sums {
                vec![0.0; k * d]
            } else {
                Vec::new()
            },
            weights: if with_sums { vec![0.0; k] } else { Vec::new() },
            inertia: 0.0,
            changed: 0,
            bad: false,
        }
    }

    /// Adds `other` into `self`; the caller decides the (fixed) order.
    pub fn add(&mut self, other: &Partial) {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += *b;
        }
        for (a, b) in self.weights.iter_mut().zip(&other.weights) {
            *a += *b;
        }
        self.inertia += other.inertia;
        self.changed += other.changed;
        self.bad |= other.bad;
    }
}

#[inline]
fn weight_of<F: Float>(w: Option<&[F]>, i: usize) -> f64 {
    w.map_or(1.0, |w| w[i].as_f64())
}

fn dtype_name<F: Float>() -> &'static str {
    if std::mem::size_of::<F>() == 4 {
        "float32"
    } else {
        "float64"
    }
}

pub(crate) fn not_finite<F: Float>() -> KMeansError {
    KMeansError::NotFinite {
        dtype: dtype_name::<F>(),
    }
}

/// Nearest centre of each row of one block, written to `labels` and `dists`
/// (squared distances), with the rows handed to `visit(row, label, sq_dist,
/// dense_row)` in order; `dense_row` is `None` for sparse input.
fn scan_block<F: Float>(
    x: &Data<'_, F>,
    centers: &Centers<F>,
    rows: std::ops::Range<usize>,
    labels: &mut [i32],
    dists: &mut [F],
    mut visit: impl FnMut(usize, usize, F, Option<&[F]>),
) {
    let d = centers.d;
    let mut buf = Vec::new();
    let mut t = rows.start;
    while t < rows.end {
        let te = (t + TILE).min(rows.end);
        let (lo, hi) = (t - rows.start, te - rows.start);
        let (lab, dis) = (&mut labels[lo..hi], &mut dists[lo..hi]);
        match x {
            Data::Dense(v) => {
                let tile = dense_tile(v, t, te, &mut buf);
                nearest_dense(tile, d, &centers.data, lab, dis);
                for (r, row) in tile.chunks_exact(d).enumerate() {
                    visit(t + r, lab[r] as usize, dis[r], Some(row));
                }
            }
            Data::Csr(c) => {
                nearest_csr(c, t, &centers.data, &centers.sq_norms, lab, dis);
                for r in 0..te - t {
                    visit(t + r, lab[r] as usize, dis[r], None);
                }
            }
        }
        t = te;
    }
}

/// One fused assignment pass. Writes the nearest centre of every row into
/// `labels` (counting changes against the labels already there) and, when
/// `with_sums`, accumulates the weighted sums and weights per cluster.
/// Returns [`KMeansError::NotFinite`] if any row's distance is NaN or
/// infinite (NaN/inf in the data, or squares that overflow).
pub fn assign_pass<F: Float>(
    pool: &ThreadPool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    centers: &Centers<F>,
    labels: &mut [i32],
    with_sums: bool,
) -> Result<Partial> {
    let (k, d) = (centers.k, centers.d);
    let n = x.n_rows();
    let mut total = Partial::zero(k, d, with_sums);
    map_blocks(
        pool,
        n,
        (labels, 1),
        (&mut [] as &mut [u8], 0),
        |_, rows, lab, _| {
            let mut p = Partial::zero(k, d, with_sums);
            let mut new_lab = vec![0i32; rows.len()];
            let mut dists = vec![F::zero(); rows.len()];
            scan_block(
                x,
                centers,
                rows,
                &mut new_lab,
                &mut dists,
                |i, j, dist, row| {
                    if !dist.is_finite() {
                        p.bad = true;
                    }
                    let w = weight_of(weights, i);
                    p.inertia += w * dist.as_f64();
                    if with_sums {
                        p.weights[j] += w;
                        let s = &mut p.sums[j * d..(j + 1) * d];
                        match (row, x) {
                            (Some(row), _) => {
                                for (a, v) in s.iter_mut().zip(row) {
                                    *a += w * v.as_f64();
                                }
                            }
                            (None, Data::Csr(c)) => {
                                let (vals, idx) = c.row(i);
                                for (v, &col) in vals.iter().zip(idx) {
                                    s[col as usize] += w * v.as_f64();
                                }
                            }
                            (None, Data::Dense(_)) => {
                                unreachable!("dense rows always come with their values")
                            }
                        }
                    }
                },
            );
            p.changed = lab.iter().zip(&new_lab).filter(|(a, b)| a != b).count();
            lab.copy_from_slice(&new_lab);
            p
        },
        |p| total.add(&p),
    );
    if total.bad {
        return Err(not_finite::<F>());
    }
    Ok(total)
}

/// Nearest centre and the (non-squared) distance to it for every row: the
/// work of `scipy.cluster.vq.vq`.
pub fn nearest_with_dist<F: Float>(
    pool: &ThreadPool,
    x: &Data<'_, F>,
    centers: &Centers<F>,
    labels: &mut [i32],
    dists: &mut [F],
) -> Result<()> {
    let mut bad = false;
    map_blocks(
        pool,
        x.n_rows(),
        (labels, 1),
        (dists, 1),
        |_, rows, lab, dis| {
            let mut bad = false;
            scan_block(x, centers, rows, lab, dis, |_, _, dist, _| {
                bad |= !dist.is_finite();
            });
            for v in dis.iter_mut() {
                *v = v.sqrt();
            }
            bad
        },
        |b| bad |= b,
    );
    if bad {
        return Err(not_finite::<F>());
    }
    Ok(())
}

/// The Euclidean distance of every row to every centre (`n × k`, row-major):
/// scikit-learn's `transform`.
pub fn all_distances<F: Float>(
    pool: &ThreadPool,
    x: &Data<'_, F>,
    centers: &Centers<F>,
    out: &mut [F],
) -> Result<()> {
    let (k, d) = (centers.k, centers.d);
    let mut bad = false;
    map_blocks(
        pool,
        x.n_rows(),
        (out, k),
        (&mut [] as &mut [u8], 0),
        |_, rows, o, _| {
            let mut buf = Vec::new();
            let mut bad = false;
            match x {
                Data::Dense(v) => {
                    let tile = dense_tile(v, rows.start, rows.end, &mut buf);
                    for (row, orow) in tile.chunks_exact(d).zip(o.chunks_exact_mut(k)) {
                        for (j, slot) in orow.iter_mut().enumerate() {
                            *slot = sq_dist(row, centers.row(j)).sqrt();
                            bad |= !slot.is_finite();
                        }
                    }
                }
                Data::Csr(c) => {
                    for (i, orow) in rows.zip(o.chunks_exact_mut(k)) {
                        let (vals, idx) = c.row(i);
                        let x_sq = vals.iter().fold(F::zero(), |s, &v| s + v * v);
                        bad |= !x_sq.is_finite();
                        for (j, slot) in orow.iter_mut().enumerate() {
                            *slot = sq_dist_sparse(
                                vals,
                                idx,
                                x_sq,
                                centers.row(j),
                                centers.sq_norms[j],
                            )
                            .sqrt();
                            bad |= !slot.is_finite();
                        }
                    }
                }
            }
            bad
        },
        |b| bad |= b,
    );
    if bad {
        return Err(not_finite::<F>());
    }
    Ok(())
}

/// The `m` rows with a positive weight that lie farthest from the centre
/// they are labelled with, farthest first (ties: lowest row index). Used to
/// relocate empty clusters as scikit-learn does.
pub fn farthest_rows<F: Float>(
    pool: &ThreadPool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    centers: &Centers<F>,
    labels: &[i32],
    m: usize,
) -> Vec<usize> {
    let d = centers.d;
    let n = x.n_rows();
    let keep = |v: &mut Vec<(f64, usize)>| {
        v.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        v.truncate(m);
    };
    let mut best: Vec<(f64, usize)> = Vec::new();
    map_blocks(
        pool,
        n,
        (&mut [] as &mut [u8], 0),
        (&mut [] as &mut [u8], 0),
        |_, rows, _, _| {
            let mut row = vec![F::zero(); d];
            let mut cand = Vec::new();
            for i in rows {
                if weight_of(weights, i) <= 0.0 {
                    continue;
                }
                let j = labels[i] as usize;
                let dist = match x {
                    Data::Dense(v) => {
                        for (o, val) in row.iter_mut().zip(v.row(i).iter()) {
                            *o = *val;
                        }
                        sq_dist(&row, centers.row(j))
                    }
                    Data::Csr(c) => {
                        let (vals, idx) = c.row(i);
                        let x_sq = vals.iter().fold(F::zero(), |s, &v| s + v * v);
                        sq_dist_sparse(vals, idx, x_sq, centers.row(j), centers.sq_norms[j])
                    }
                };
                cand.push((dist.as_f64(), i));
                if cand.len() >= 4 * m.max(16) {
                    keep(&mut cand);
                }
            }
            keep(&mut cand);
            cand
        },
        |c| {
            best.extend(c);
            keep(&mut best);
        },
    );
    best.into_iter().map(|(_, i)| i).collect()
}
