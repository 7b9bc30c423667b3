//! Hamerly's algorithm: Lloyd iterations that skip the distance
//! computations a triangle-inequality bound proves unnecessary, with
//! exactly Lloyd's results.
//!
//! Each row keeps an upper bound `u` on its distance to its centre and a
//! lower bound `l` on its distance to every other centre. When the centres
//! move by `p_j`, `u` grows by `p_a` and `l` shrinks by the largest move of
//! the other centres. A row whose bounds prove that no other centre can be
//! nearer keeps its label without touching its features; otherwise `u` is
//! recomputed, and if that does not settle it, the row is ranked against
//! all centres by the same SIMD kernel as Lloyd (in its `BOUNDS` mode).
//!
//! Identity with [`crate::lloyd::lloyd`]: Lloyd labels a row by the argmin of
//! the rounded expansion values `g_j`. Each `g_j` is within `E` (see
//! [`Centers::tie_slack`]) of `‖x - c_j‖² - ‖x - μ‖²`, so a row is skipped
//! only when its bounds show `min_{j≠a} ‖x - c_j‖² - ‖x - c_a‖² > 2E`:
//! then `g_a` is the strict minimum and Lloyd would pick `a` too. Rows that
//! are ranked go through the very same per-row arithmetic as in Lloyd. The
//! bounds are computed in f64 with outward slack and stored in the data's
//! type rounded outwards, so rounding never makes them claim more than is
//! true. Sums per cluster are accumulated by the same
//! code over the same blocks in the same order as Lloyd, so the centres,
//! the convergence test and the iteration count are identical bit for bit.

use crate::par::Pool;
use ndarray::ArrayView2;

use crate::assign::{weighted_sum, BlockSums, Centers, Partial, TILE};
use crate::data::{dense_tile, Data};
use crate::error::Result;
use crate::float::Float;
use crate::kernel::{nearest_dense_bounds, sq_dist, Out};
use crate::lloyd::{finish, iteration_done, new_centers, relocate_empty, Run};
use crate::monitor::Monitor;
use crate::par::{block_rows_for_sums, map_blocks_of};

/// Relative slack added to (subtracted from) every upper (lower) bound that
/// is computed in f64: far above f64's rounding of a sum of squares or a
/// square root, far below anything that matters for pruning.
pub(crate) const OUTWARD: f64 = 1e-12;

/// What the bounds need of the current centres.
pub(crate) struct Geometry {
    /// `‖c_j - μ‖` per centre.
    r: Vec<f64>,
    /// The expansion's error coefficient and `2 max ‖c - μ‖²`.
    err: f64,
    twice_max: f64,
}

impl Geometry {
    pub(crate) fn of<F: Float>(c: &Centers<F>) -> Self {
        let (err, twice_max) = c.expansion_error();
        Geometry {
            r: (0..c.k).map(|j| c.norm_mu(j).sqrt()).collect(),
            err,
            twice_max,
        }
    }

    /// Twice the worst error of an expansion value for a row with
    /// `‖x - μ‖² = xn` (also covering the rounding of `xn` itself).
    #[inline]
    pub(crate) fn slack(&self, xn: f64) -> f64 {
        2.0 * self.err * (self.twice_max + xn)
    }

    /// True when the bounds settle the row: every other centre is farther
    /// than centre `a` by more than twice the expansion's error. `‖x - μ‖`
    /// is bounded by `u + ‖c_a - μ‖`, so the row's features are not needed.
    #[inline]
    pub(crate) fn settled(&self, a: usize, u: f64, l: f64) -> bool {
        if l <= u {
            return false;
        }
        let xn = (u + self.r[a]).powi(2);
        (l * l - u * u) * (1.0 - OUTWARD) > 2.0 * self.slack(xn)
    }

    /// A lower bound `l` above this value settles the row as
    /// [`Geometry::settled`] does (solved for `l`, with outward slack for
    /// the rounding of this very computation), so that many bounds can be
    /// tested against one number.
    #[inline]
    pub(crate) fn settle_limit(&self, a: usize, u: f64) -> f64 {
        let xn = (u + self.r[a]).powi(2);
        (u * u + 2.0 * self.slack(xn) / (1.0 - OUTWARD)).sqrt() * (1.0 + OUTWARD)
    }
}

/// Per-row state: the bounds `[u, l]`, stored in the data's type (8 bytes
/// per row for float32) and rounded outwards when stored; all arithmetic on
/// them is in f64.
type Bounds<F> = [F; 2];

/// `[u, l]` rounded outwards to `F`: the stored `u` is at least `u`, the
/// stored `l` at most `l` (a rounding to nearest errs by at most half an
/// ulp; two ulps of margin cover it and the multiplication).
#[inline]
fn store<F: Float>(u: f64, l: f64) -> Bounds<F> {
    [round_up(u), round_down(l)]
}

/// An upper bound `u` stored in `F`, rounded so that it is at least `u`.
#[inline]
pub(crate) fn round_up<F: Float>(u: f64) -> F {
    F::from_f64(u) * F::from_f64(1.0 + 2.0 * F::epsilon().as_f64())
}

/// A non-negative lower bound `l` stored in `F`, rounded so that it is at
/// most `l`; beyond `F`'s range it is stored as its largest value, never as
/// infinity.
#[inline]
pub(crate) fn round_down<F: Float>(l: f64) -> F {
    let eps = F::epsilon().as_f64();
    let down = F::from_f64(l.min(F::max_value().as_f64())) * F::from_f64(1.0 - 2.0 * eps);
    if down > F::zero() {
        down
    } else {
        F::zero()
    }
}

/// Runs Hamerly's algorithm from `init` on dense data, with the stopping
/// rules of [`crate::lloyd::lloyd`] and its results.
pub fn hamerly<F: Float>(
    pool: &Pool,
    x: &ArrayView2<'_, F>,
    weights: Option<&[F]>,
    init: Centers<F>,
    max_iter: usize,
    tol: f64,
    monitor: &mut dyn Monitor,
) -> Result<Run<F>> {
    let data = Data::Dense(x.view());
    let (n, k, d) = (x.nrows(), init.k, init.d);
    let mut labels = vec![-1i32; n];
    let mut bounds: Vec<Bounds<F>> = vec![[F::infinity(), F::zero()]; n];
    // How far each centre moved in the last step (0 before the first).
    let mut moved = vec![0f64; k];
    let mut centers = init;
    let mut converged = false;
    let mut n_iter = 0;
    let br = block_rows_for_sums(n, k);
    let inertia = monitor.wants_inertia();
    for iter in 0..max_iter {
        n_iter = iter + 1;
        let geo = Geometry::of(&centers);
        // The largest and second-largest move, and whose the largest is.
        let (mut p1, mut p2, mut arg1) = (0f64, 0f64, usize::MAX);
        for (j, &p) in moved.iter().enumerate() {
            if p > p1 {
                (p2, p1, arg1) = (p1, p, j);
            } else if p > p2 {
                p2 = p;
            }
        }
        let mut total = Partial::zero(k, d, true);
        map_blocks_of(
            pool,
            n,
            br,
            (&mut labels, 1),
            (&mut bounds, 1),
            |_, rows, lab, bnd| {
                let mut p = Partial::zero(k, d, true);
                let mut rescan = Vec::new();
                let mut row = vec![F::zero(); d];
                for (r, (la, b)) in lab.iter_mut().zip(bnd.iter_mut()).enumerate() {
                    if *la < 0 {
                        rescan.push(r);
                        continue;
                    }
                    let a = *la as usize;
                    let other = if a == arg1 { p2 } else { p1 };
                    let u = (b[0].as_f64() + moved[a]) * (1.0 + OUTWARD);
                    let l = ((b[1].as_f64() - other) * (1.0 - OUTWARD)).max(0.0);
                    *b = store(u, l);
                    let (u, l) = (b[0].as_f64(), b[1].as_f64());
                    if geo.settled(a, u, l) {
                        continue;
                    }
                    // Tighten u with the distance itself, in f64.
                    for (o, v) in row.iter_mut().zip(x.row(rows.start + r).iter()) {
                        *o = *v;
                    }
                    let u = dist_up(&row, centers.row(a)).sqrt() * (1.0 + OUTWARD);
                    *b = store(u, l);
                    let u = b[0].as_f64();
                    if !geo.settled(a, u, l) {
                        rescan.push(r);
                    }
                }
                p.changed += rank_rows(x, &centers, &geo, rows.start, &rescan, lab, bnd);
                accumulate_block(x, weights, &centers, rows, lab, inertia, &mut p);
                p
            },
            |p| total.add(&p),
        );
        if end_iteration(
            pool,
            x,
            weights,
            &mut centers,
            &labels,
            total,
            &mut moved,
            monitor,
            (iter, tol),
        )? {
            converged = true;
            break;
        }
    }
    finish(pool, &data, weights, centers, labels, n_iter, converged)
}

/// The end of one iteration of a bound-based algorithm, as in Lloyd's:
/// refuses non-finite sums or inertia, relocates empty clusters, moves the
/// centres (recording in `moved` how far each one went, rounded up) and
/// applies the stopping rules of iteration `iter` with tolerance `tol`.
/// Returns whether the iterations stop.
#[allow(clippy::too_many_arguments)]
pub(crate) fn end_iteration<F: Float>(
    pool: &Pool,
    x: &ArrayView2<'_, F>,
    weights: Option<&[F]>,
    centers: &mut Centers<F>,
    labels: &[i32],
    mut total: Partial,
    moved: &mut [f64],
    monitor: &mut dyn Monitor,
    (iter, tol): (usize, f64),
) -> Result<bool> {
    if !total.inertia.is_finite() || total.sums.iter().any(|v| !v.is_finite()) {
        return Err(crate::assign::not_finite::<F>());
    }
    relocate_empty(
        pool,
        &Data::Dense(x.view()),
        weights,
        centers,
        labels,
        &mut total,
    );
    let (next, shift) = new_centers(centers, &total)?;
    for (j, m) in moved.iter_mut().enumerate() {
        *m = seq_dist_f64(next.row(j), centers.row(j)).sqrt() * (1.0 + OUTWARD);
    }
    *centers = next;
    iteration_done(monitor, iter, total.inertia, total.changed, shift, tol)
}

/// `Σ (a - b)²` in f64, in feature order.
#[inline]
pub(crate) fn seq_dist_f64<F: Float>(a: &[F], b: &[F]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(u, v)| (u.as_f64() - v.as_f64()).powi(2))
        .sum()
}

/// An upper bound on `Σ (a - b)²` for `d`-long rows: [`sq_dist`] in `F`
/// (vectorised), enlarged by the worst relative error `(d + 3)u` of such a
/// sum (with 1% to spare, as [`Centers::expansion_error`]).
#[inline]
pub(crate) fn dist_up<F: Float>(a: &[F], b: &[F]) -> f64 {
    let unit = F::epsilon().as_f64() / 2.0 * 1.01;
    sq_dist(a, b).as_f64() * (1.0 + (a.len() + 3) as f64 * unit)
}

/// Ranks the rows `first + rescan[..]` against all centres with the kernel's
/// `BOUNDS` mode (the arithmetic of Lloyd's ranking), sets their labels and
/// fresh bounds, and returns how many labels changed.
fn rank_rows<F: Float>(
    x: &ArrayView2<'_, F>,
    centers: &Centers<F>,
    geo: &Geometry,
    first: usize,
    rescan: &[usize],
    lab: &mut [i32],
    bnd: &mut [Bounds<F>],
) -> usize {
    let d = centers.d;
    let mut changed = 0;
    let mut tile = vec![F::zero(); TILE * d];
    let (mut l, mut best, mut second, mut xn) = (
        vec![0i32; TILE],
        vec![F::zero(); TILE],
        vec![F::zero(); TILE],
        vec![F::zero(); TILE],
    );
    for chunk in rescan.chunks(TILE) {
        let m = chunk.len();
        for (o, &r) in tile.chunks_exact_mut(d).zip(chunk) {
            for (t, v) in o.iter_mut().zip(x.row(first + r).iter()) {
                *t = *v;
            }
        }
        let mut out = Out {
            labels: &mut l[..m],
            dists: &mut best[..m],
            second: &mut second[..m],
            xn: &mut xn[..m],
        };
        nearest_dense_bounds(&tile[..m * d], centers, &mut out);
        for (q, &r) in chunk.iter().enumerate() {
            if lab[r] != l[q] {
                changed += 1;
            }
            lab[r] = l[q];
            let xq = xn[q].as_f64();
            let e = geo.slack(xq);
            let hi = (best[q].as_f64() + xq + e).max(0.0);
            let lo = (second[q].as_f64() + xq - e).max(0.0);
            bnd[r] = store(hi.sqrt() * (1.0 + OUTWARD), lo.sqrt() * (1.0 - OUTWARD));
        }
    }
    changed
}

/// Adds the block's rows to the sums of their clusters exactly as Lloyd's
/// pass does (same code, same tiles, same order), and with `inertia` its
/// inertia under the current centres (only reported to the monitor, so
/// summed in the vectorised order of [`sq_dist`] rather than feature by
/// feature).
pub(crate) fn accumulate_block<F: Float>(
    x: &ArrayView2<'_, F>,
    weights: Option<&[F]>,
    centers: &Centers<F>,
    rows: std::ops::Range<usize>,
    lab: &[i32],
    inertia: bool,
    p: &mut Partial,
) {
    let d = centers.d;
    let mut acc = BlockSums::new(centers.k, d);
    let mut buf = Vec::new();
    let mut dists = [F::zero(); TILE];
    let mut t = rows.start;
    while t < rows.end {
        let te = (t + TILE).min(rows.end);
        let tile = dense_tile(x, t, te, &mut buf);
        let tl = &lab[t - rows.start..te - rows.start];
        let tw = weights.map(|w| &w[t..te]);
        if inertia {
            for ((o, r), &j) in dists.iter_mut().zip(tile.chunks_exact(d)).zip(tl) {
                *o = sq_dist(r, centers.row(j as usize));
            }
            p.inertia += weighted_sum(&dists[..te - t], tw);
        }
        acc.add_dense(tile, tl, tw);
        t = te;
    }
    acc.into_partial(p);
}
