//! Passes over the data: assign every row to its nearest centre and, fused
//! in the same pass, accumulate what the next step needs (weighted sums per
//! cluster, weights per cluster, inertia). Each block of rows yields a
//! partial; partials are added in block order (see [`crate::par`]).

use crate::par::Pool;

use crate::data::{dense_tile, Data};
use crate::error::{KMeansError, Result};
use crate::float::Float;
pub use crate::kernel::Centers;
use crate::kernel::{
    nearest_csr, nearest_dense, nearest_dense_labels, sq_dist, sq_dist_sparse, take_labels,
    take_roots,
};
use crate::par::{block_rows, block_rows_for_sums, map_blocks, map_blocks_of};

/// Rows handled by one call of the distance kernel: small enough for the
/// tile, its labels and distances to stay in L1/L2 cache.
pub(crate) const TILE: usize = 256;

/// What one Lloyd pass yields: sums of the weighted rows of each cluster
/// (`k × d`, f64), the weight of each cluster, the inertia of the current
/// centres under the new labels, and how many labels changed.
#[derive(Debug, Clone)]
pub struct Partial {
    pub sums: Vec<f64>,
    pub weights: Vec<f64>,
    pub inertia: f64,
    pub changed: usize,
}

impl Partial {
    pub(crate) fn zero(k: usize, d: usize, with_sums: bool) -> Self {
        Partial {
            sums: if with_sums {
                vec![0.0; k * d]
            } else {
                Vec::new()
            },
            weights: if with_sums { vec![0.0; k] } else { Vec::new() },
            inertia: 0.0,
            changed: 0,
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

/// What a pass computes per row besides the label: the exact distance, the
/// distance within the expansion's rounding, or (dense input) only a value
/// that is finite where the distance is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dist {
    Exact,
    Rounded,
    Unused,
}

/// Nearest centre of each row of one block and the squared distance to it,
/// tile by tile: after each tile `visit(first_row, labels, dists,
/// dense_rows)` sees the tile's results (`dense_rows` is `None` for sparse
/// input).
fn scan_block<F: Float>(
    x: &Data<'_, F>,
    centers: &Centers<F>,
    rows: std::ops::Range<usize>,
    dist: Dist,
    mut visit: impl FnMut(usize, &[i32], &[F], Option<&[F]>),
) {
    let mut buf = Vec::new();
    let (mut labels, mut dists) = ([0i32; TILE], [F::zero(); TILE]);
    let mut t = rows.start;
    while t < rows.end {
        let te = (t + TILE).min(rows.end);
        let (lab, dis) = (&mut labels[..te - t], &mut dists[..te - t]);
        match x {
            Data::Dense(v) => {
                let tile = dense_tile(v, t, te, &mut buf);
                if dist == Dist::Unused {
                    nearest_dense_labels(tile, centers, lab, dis);
                } else {
                    nearest_dense(tile, centers, lab, dis, dist == Dist::Exact);
                }
                visit(t, lab, dis, Some(tile));
            }
            Data::Csr(c) => {
                nearest_csr(c, t, &centers.data, &centers.sq_norms, lab, dis);
                visit(t, lab, dis, None);
            }
        }
        t = te;
    }
}

/// `Σ w_i · dist_i` over a tile in f64, with four accumulators (a fixed
/// order) so the additions do not wait on one another.
#[inline]
pub(crate) fn weighted_sum<F: Float>(dists: &[F], w: Option<&[F]>) -> f64 {
    let mut acc = [0f64; 4];
    match w {
        None => {
            let c = dists.chunks_exact(4);
            let r = c.remainder();
            for q in c {
                for l in 0..4 {
                    acc[l] += q[l].as_f64();
                }
            }
            for (l, v) in r.iter().enumerate() {
                acc[l] += v.as_f64();
            }
        }
        Some(w) => {
            for (i, (v, wi)) in dists.iter().zip(w).enumerate() {
                acc[i % 4] += wi.as_f64() * v.as_f64();
            }
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3])
}

/// Copies of the sums kept by [`BlockSums`] for rows of at most
/// [`LANE_MAX_D`] features.
const LANES: usize = 4;
const LANE_MAX_D: usize = 4;

/// Width of one cluster's cell of accumulators for `d ≤ LANE_MAX_D`
/// features: its `d` sums, its weight, zeros up to a power of two (so that
/// a row is added to its cell by one vector addition).
const fn cell_width(d: usize) -> usize {
    (d + 1).next_power_of_two()
}

/// The weighted sums and weights per cluster of one block of rows, added
/// tile by tile in row order. With at most [`LANE_MAX_D`] features, row `r`
/// of the block goes to copy `r % LANES` of the accumulators, and the copies
/// are added in a fixed order at the end: neighbouring rows often share
/// their cluster (the pixels of an image), and with one copy each row's few
/// additions would wait for the previous row's stores to the same sums.
/// Wider rows have enough independent additions of their own: one copy.
pub(crate) struct BlockSums {
    k: usize,
    d: usize,
    lanes: usize,
    seen: usize,
    /// `d ≤ LANE_MAX_D`: the cells, copy-major (copy `c` of cluster `j`'s
    /// cell at `(c·k + j)·cell_width(d)`); otherwise the sums, `k × d`.
    sums: Vec<f64>,
    /// Otherwise the weights (empty for `d ≤ LANE_MAX_D`).
    weights: Vec<f64>,
}

impl BlockSums {
    pub(crate) fn new(k: usize, d: usize) -> Self {
        let small = d <= LANE_MAX_D;
        BlockSums {
            k,
            d,
            lanes: if small { LANES } else { 1 },
            seen: 0,
            sums: vec![
                0.0;
                if small {
                    LANES * k * cell_width(d)
                } else {
                    k * d
                }
            ],
            weights: vec![0.0; if small { 0 } else { k }],
        }
    }

    /// Adds the (weighted) rows of a dense tile, the block's next rows.
    pub(crate) fn add_dense<F: Float>(&mut self, tile: &[F], labels: &[i32], w: Option<&[F]>) {
        accumulate_dense(
            tile,
            self.d,
            labels,
            w,
            self.seen % self.lanes,
            &mut self.sums,
            &mut self.weights,
        );
        self.seen += labels.len();
    }

    /// Puts the block's sums and weights into `p`: copy 0 + copy 1 added to
    /// copy 2 + copy 3, element by element.
    pub(crate) fn into_partial(self, p: &mut Partial) {
        if self.lanes == 1 {
            (p.sums, p.weights) = (self.sums, self.weights);
            return;
        }
        let (k, d, cw) = (self.k, self.d, cell_width(self.d));
        let copy = |c: usize| &self.sums[c * k * cw..(c + 1) * k * cw];
        let (a, b, c, e) = (copy(0), copy(1), copy(2), copy(3));
        let at = |i: usize| (a[i] + b[i]) + (c[i] + e[i]);
        p.sums.clear();
        p.sums.extend((0..k * d).map(|i| at(i / d * cw + i % d)));
        p.weights.clear();
        p.weights.extend((0..k).map(|j| at(j * cw + d)));
    }
}

/// [`accumulate_any`] for `D` features into the cells of [`BlockSums`]
/// (`W = cell_width(D)`); the tile's first row goes to copy `lane`.
#[inline(always)]
fn accumulate_fixed<F: Float, const D: usize, const W: usize>(
    tile: &[F],
    labels: &[i32],
    w: Option<&[F]>,
    lane: usize,
    cells: &mut [f64],
) {
    let k = cells.len() / (LANES * W);
    let rows: &[[F; D]] = tile.as_chunks::<D>().0;
    let cells: &mut [[f64; W]] = cells.as_chunks_mut::<W>().0;
    // The row in f64 (times its weight), then its weight: the additions
    // of one scalar loop, done as one vector addition.
    let add = |cells: &mut [[f64; W]], at: usize, row: &[F; D], i: usize| {
        let mut v = [0f64; W];
        match w {
            None => {
                for f in 0..D {
                    v[f] = row[f].as_f64();
                }
                v[D] = 1.0;
            }
            Some(w) => {
                let wi = w[i].as_f64();
                for f in 0..D {
                    v[f] = wi * row[f].as_f64();
                }
                v[D] = wi;
            }
        }
        let cell = &mut cells[at];
        for f in 0..W {
            cell[f] += v[f];
        }
    };
    // Rows up to the next multiple of LANES one by one, then LANES rows at
    // a time, row `q` of each group to copy `q` (the same copies).
    let head = ((LANES - lane) % LANES).min(rows.len());
    for i in 0..head {
        add(cells, (lane + i) * k + labels[i] as usize, &rows[i], i);
    }
    let (groups, rest) = rows[head..].as_chunks::<LANES>();
    let (lgroups, lrest) = labels[head..rows.len()].as_chunks::<LANES>();
    for (g, (group, lab)) in groups.iter().zip(lgroups).enumerate() {
        for q in 0..LANES {
            let at = q * k + lab[q] as usize;
            add(cells, at, &group[q], head + g * LANES + q);
        }
    }
    let base = head + groups.len() * LANES;
    for (q, (row, &j)) in rest.iter().zip(lrest).enumerate() {
        add(cells, q * k + j as usize, row, base + q);
    }
}

/// Adds each (weighted) dense row of the tile to its cluster's sums, in row
/// order (the same additions whatever the instruction set: compiled for the
/// widest one available, where the conversions to f64 and the additions of
/// a long row take a few vector instructions instead of many scalar ones).
/// `sums` and `weights` are those of [`BlockSums`]; `lane` is the copy of
/// the tile's first row.
fn accumulate_dense<F: Float>(
    tile: &[F],
    d: usize,
    labels: &[i32],
    w: Option<&[F]>,
    lane: usize,
    sums: &mut [f64],
    weights: &mut [f64],
) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::kernel::{simd_level, SimdLevel};
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
        fn avx512<F: Float>(
            tile: &[F],
            d: usize,
            labels: &[i32],
            w: Option<&[F]>,
            lane: usize,
            sums: &mut [f64],
            weights: &mut [f64],
        ) {
            accumulate_any(tile, d, labels, w, lane, sums, weights)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<F: Float>(
            tile: &[F],
            d: usize,
            labels: &[i32],
            w: Option<&[F]>,
            lane: usize,
            sums: &mut [f64],
            weights: &mut [f64],
        ) {
            accumulate_any(tile, d, labels, w, lane, sums, weights)
        }
        match simd_level() {
            // SAFETY: simd_level() only reports features this CPU has.
            SimdLevel::Avx512 => return unsafe { avx512(tile, d, labels, w, lane, sums, weights) },
            // SAFETY: as above.
            SimdLevel::Avx2 => return unsafe { avx2(tile, d, labels, w, lane, sums, weights) },
            SimdLevel::Portable => {}
        }
    }
    accumulate_any(tile, d, labels, w, lane, sums, weights)
}

/// [`accumulate_dense`] for the instruction set of its caller. Rust never
/// fuses `a + w·v` into one multiply-add, so every level gives the same bits;
/// without weights the product by 1 (exact) is left out.
#[inline(always)]
fn accumulate_any<F: Float>(
    tile: &[F],
    d: usize,
    labels: &[i32],
    w: Option<&[F]>,
    lane: usize,
    sums: &mut [f64],
    weights: &mut [f64],
) {
    match d {
        1 => accumulate_fixed::<F, 1, { cell_width(1) }>(tile, labels, w, lane, sums),
        2 => accumulate_fixed::<F, 2, { cell_width(2) }>(tile, labels, w, lane, sums),
        3 => accumulate_fixed::<F, 3, { cell_width(3) }>(tile, labels, w, lane, sums),
        4 => accumulate_fixed::<F, 4, { cell_width(4) }>(tile, labels, w, lane, sums),
        _ => match w {
            None => {
                for (row, &j) in tile.chunks_exact(d).zip(labels) {
                    let j = j as usize;
                    weights[j] += 1.0;
                    for (a, v) in sums[j * d..(j + 1) * d].iter_mut().zip(row) {
                        *a += v.as_f64();
                    }
                }
            }
            Some(w) => {
                for ((row, &j), wi) in tile.chunks_exact(d).zip(labels).zip(w) {
                    let (j, wi) = (j as usize, wi.as_f64());
                    weights[j] += wi;
                    for (a, v) in sums[j * d..(j + 1) * d].iter_mut().zip(row) {
                        *a += wi * v.as_f64();
                    }
                }
            }
        },
    }
}

/// One fused assignment pass. Writes the nearest centre of every row into
/// `labels` (counting changes against the labels already there) and, when
/// `with_sums`, accumulates the weighted sums and weights per cluster. The
/// inertia is exact without `with_sums`; with it (inside Lloyd iterations,
/// where it is only reported) it is within rounding of the expansion, and
/// with `with_sums` but not `inertia` it is not computed at all (left 0; on
/// dense input the kernel then skips `‖x - μ‖²`, a third of its work when
/// there are few centres). Returns [`KMeansError::NotFinite`] if any row's
/// distance is NaN or infinite (NaN/inf in the data, or squares that
/// overflow) — with or without the inertia.
pub fn assign_pass<F: Float>(
    pool: &Pool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    centers: &Centers<F>,
    labels: &mut [i32],
    with_sums: bool,
    inertia: bool,
) -> Result<Partial> {
    let dist = match (with_sums, inertia) {
        (false, _) => Dist::Exact,
        (true, true) => Dist::Rounded,
        (true, false) => Dist::Unused,
    };
    let (k, d) = (centers.k, centers.d);
    let n = x.n_rows();
    let mut total = Partial::zero(k, d, with_sums);
    let br = if with_sums {
        block_rows_for_sums(n, k)
    } else {
        block_rows(n)
    };
    map_blocks_of(
        pool,
        n,
        br,
        (labels, 1),
        (&mut [] as &mut [u8], 0),
        |_, rows, lab, _| {
            // Dense sums go through the block's accumulators, sparse ones
            // straight into the partial.
            let csr = matches!(x, Data::Csr(_));
            let mut p = Partial::zero(k, d, with_sums && csr);
            let mut acc = (with_sums && !csr).then(|| BlockSums::new(k, d));
            let first = rows.start;
            scan_block(x, centers, rows, dist, |t, tl: &[i32], td: &[F], tile| {
                let old = &mut lab[t - first..t - first + tl.len()];
                // A non-finite distance makes the inertia non-finite
                // (0 · inf is NaN): checked once, after the pass.
                let unused = dist == Dist::Unused;
                let mut finite = true;
                let td_check = if unused { td } else { &[] };
                take_labels(old, tl, td_check, &mut p.changed, &mut finite);
                let tw = weights.map(|w| &w[t..t + tl.len()]);
                if unused {
                    if !finite {
                        p.inertia = f64::INFINITY;
                    }
                } else {
                    p.inertia += weighted_sum(td, tw);
                }
                if !with_sums {
                    return;
                }
                match (tile, x, &mut acc) {
                    (Some(tile), _, Some(acc)) => acc.add_dense(tile, tl, tw),
                    (None, Data::Csr(c), _) => {
                        for (r, &j) in tl.iter().enumerate() {
                            let j = j as usize;
                            let wi = weight_of(weights, t + r);
                            p.weights[j] += wi;
                            let (vals, idx) = c.row(t + r);
                            for (v, &col) in vals.iter().zip(idx) {
                                p.sums[j * d + col as usize] += wi * v.as_f64();
                            }
                        }
                    }
                    _ => unreachable!("dense tiles come with their rows and accumulators"),
                }
            });
            if let Some(acc) = acc {
                acc.into_partial(&mut p);
            }
            p
        },
        |p| total.add(&p),
    );
    if !total.inertia.is_finite() || total.sums.iter().any(|v| !v.is_finite()) {
        return Err(not_finite::<F>());
    }
    Ok(total)
}

/// Nearest centre and the (non-squared) distance to it for every row: the
/// work of `scipy.cluster.vq.vq`.
pub fn nearest_with_dist<F: Float>(
    pool: &Pool,
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
            let mut finite = true;
            let first = rows.start;
            scan_block(x, centers, rows, Dist::Exact, |t, tl, td, _| {
                let r = t - first..t - first + tl.len();
                take_roots(&mut lab[r.clone()], &mut dis[r], tl, td, &mut finite);
            });
            !finite
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
    pool: &Pool,
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
    pool: &Pool,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The order [`BlockSums`] documents, written out plainly: row `r` of
    /// the block into copy `r % 4` (one copy for more than four features),
    /// copies added as (0 + 1) + (2 + 3).
    fn reference(
        rows: &[f32],
        d: usize,
        labels: &[i32],
        w: Option<&[f32]>,
        k: usize,
    ) -> (Vec<f64>, Vec<f64>) {
        let lanes = if d <= LANE_MAX_D { LANES } else { 1 };
        let (mut s, mut c) = (vec![vec![0f64; k * d]; lanes], vec![vec![0f64; k]; lanes]);
        for (r, (row, &j)) in rows.chunks_exact(d).zip(labels).enumerate() {
            let (l, j) = (r % lanes, j as usize);
            let wi = w.map_or(1.0, |w| w[r] as f64);
            c[l][j] += wi;
            for f in 0..d {
                let v = row[f] as f64;
                s[l][j * d + f] += if w.is_some() { wi * v } else { v };
            }
        }
        let fold = |v: &[Vec<f64>]| -> Vec<f64> {
            if v.len() == 1 {
                return v[0].clone();
            }
            (0..v[0].len())
                .map(|i| (v[0][i] + v[1][i]) + (v[2][i] + v[3][i]))
                .collect()
        };
        (fold(&s), fold(&c))
    }

    #[test]
    fn block_sums_add_rows_in_the_documented_order() {
        let (n, k) = (1000, 7);
        for d in [1, 2, 3, 4, 5, 9] {
            // Long runs of one label (as in images) and values whose sums
            // round, so that another order would give other bits.
            let rows: Vec<f32> = (0..n * d)
                .map(|i| 1.0 + ((i * 7919) % 1013) as f32 / 3.0e3)
                .collect();
            let labels: Vec<i32> = (0..n).map(|r| ((r / 13 + r % 3) % k) as i32).collect();
            let w: Vec<f32> = (0..n).map(|r| 0.1 + (r % 17) as f32 / 7.0).collect();
            for weights in [None, Some(&w[..])] {
                // Tiles of uneven sizes, so that tiles start on every copy.
                for tile in [n, 256, 97, 5, 1] {
                    let mut acc = BlockSums::new(k, d);
                    let mut t = 0;
                    while t < n {
                        let te = (t + tile).min(n);
                        acc.add_dense(
                            &rows[t * d..te * d],
                            &labels[t..te],
                            weights.map(|w| &w[t..te]),
                        );
                        t = te;
                    }
                    let mut p = Partial::zero(k, d, true);
                    acc.into_partial(&mut p);
                    let (s, c) = reference(&rows, d, &labels, weights, k);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&p.sums),
                        bits(&s),
                        "d={d} tile={tile} w={}",
                        weights.is_some()
                    );
                    assert_eq!(bits(&p.weights), bits(&c), "d={d} tile={tile}");
                }
            }
        }
    }
}
