//! Yinyang k-means (Ding et al., 2015): Lloyd iterations with one lower
//! bound per *group* of centres, with exactly Lloyd's results.
//!
//! The centres are split once, at the start, into `t` groups of nearby
//! centres (a small k-means over the initial centres). Each row keeps an
//! upper bound `u` on its distance to its centre and, per group, a lower
//! bound on its distance to every centre of the group other than its own.
//! When the centres move, `u` grows by its centre's move and each group's
//! bound shrinks by the largest move in the group. A row none of whose
//! groups can hold a nearer centre keeps its label without touching its
//! features (the global filter, as in Hamerly's algorithm); otherwise `u` is
//! recomputed, and only the groups whose bound no longer settles the row
//! (plus the row's own group) are ranked, by the same SIMD kernel as Lloyd
//! (its `BOUNDS` mode, on [`Centers::subset`] of the group).
//!
//! Identity with [`crate::lloyd::lloyd`]: each expansion value `g_j` a kernel
//! computes depends only on the row, the centre and the centres' mean, so
//! ranking a group gives the very values Lloyd's full ranking computes.
//! The winner is the smallest of the ranked values, ties to the lowest
//! index, as in Lloyd. A group is left out only when its bound shows that
//! every centre in it is farther than the row's centre `a` by more than
//! twice the expansion's worst rounding ([`Geometry::settled`]): then each of
//! its `g_j` exceeds `g_a`, which is among the ranked values, so Lloyd's
//! argmin is among them too. Sums per cluster are accumulated by the same
//! code over the same blocks in the same order as Lloyd.
//!
//! Memory: `t + 1` bounds per row in the data's type, against Elkan's
//! `k + 1`; `t` is chosen so that the bounds stay small next to `X` (see
//! [`n_groups`]).

use std::ops::Range;

use ndarray::ArrayView2;
use rayon::ThreadPool;

use crate::assign::{assign_pass, Centers, Partial};
use crate::data::Data;
use crate::error::Result;
use crate::float::Float;
use crate::hamerly::{
    accumulate_block, dist_up, round_down, round_up, seq_dist_f64, Geometry, OUTWARD,
};
use crate::kernel::{expansion_values, padded_k, row_block_values, BLOCK, VALUE_ROWS};
use crate::lloyd::{iteration_done, new_centers, relocate_empty, Run};
use crate::monitor::Monitor;
use crate::par::{block_rows_for_sums, map_blocks_of};

/// How many groups for `k` centres of `d` features: about ten centres per
/// group (the choice of Yinyang's authors), but at most `d / 4` groups so
/// that the `t + 1` bounds per row stay within about a quarter of the row
/// itself, and at least one.
pub(crate) fn n_groups(k: usize, d: usize) -> usize {
    if let Some(t) = std::env::var("FERROKMEANS_YINYANG_GROUPS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        return t.clamp(1, k.max(1));
    }
    k.div_ceil(10).min(d / 4).clamp(1, k.max(1))
}

/// Splits the centres into at most `t` groups of nearby centres: a few
/// Lloyd iterations over the centres themselves, from `t` of them spread
/// over the index range (k-means++ centres come in random order). Empty
/// groups are dropped; each group lists its centres in increasing index
/// order. Deterministic, in f64.
pub(crate) fn group_centres<F: Float>(c: &Centers<F>, t: usize) -> Vec<Vec<usize>> {
    let (k, d) = (c.k, c.d);
    let t = t.clamp(1, k.max(1));
    let row = |j: usize| c.row(j).iter().map(|v| v.as_f64());
    let mut g: Vec<f64> = (0..t).flat_map(|i| row(i * k / t)).collect();
    let mut of = vec![0usize; k];
    for _ in 0..5 {
        for (j, o) in of.iter_mut().enumerate() {
            let mut best = (f64::INFINITY, 0);
            for (i, gc) in g.chunks_exact(d).enumerate() {
                let s: f64 = row(j).zip(gc).map(|(a, b)| (a - b) * (a - b)).sum();
                if s < best.0 {
                    best = (s, i);
                }
            }
            *o = best.1;
        }
        let mut sums = vec![0f64; t * d];
        let mut counts = vec![0usize; t];
        for (j, &i) in of.iter().enumerate() {
            counts[i] += 1;
            for (s, v) in sums[i * d..(i + 1) * d].iter_mut().zip(row(j)) {
                *s += v;
            }
        }
        for i in 0..t {
            if counts[i] > 0 {
                for f in 0..d {
                    g[i * d + f] = sums[i * d + f] / counts[i] as f64;
                }
            }
        }
    }
    let mut groups = vec![Vec::new(); t];
    for (j, &i) in of.iter().enumerate() {
        groups[i].push(j);
    }
    groups.retain(|g| !g.is_empty());
    groups
}

/// Runs Yinyang k-means from `init` on dense data, with the stopping rules
/// of [`crate::lloyd::lloyd`] and its results.
pub fn yinyang<F: Float>(
    pool: &ThreadPool,
    x: &ArrayView2<'_, F>,
    weights: Option<&[F]>,
    init: Centers<F>,
    max_iter: usize,
    tol: f64,
    monitor: &mut dyn Monitor,
) -> Result<Run<F>> {
    let data = Data::Dense(x.view());
    let (n, k, d) = (x.nrows(), init.k, init.d);
    let groups = group_centres(&init, n_groups(k, d));
    let t = groups.len();
    let mut group_of = vec![0usize; k];
    for (g, members) in groups.iter().enumerate() {
        for &j in members {
            group_of[j] = g;
        }
    }
    let mut labels = vec![-1i32; n];
    // Per row: u, then one lower bound per group.
    let mut bounds: Vec<F> = vec![F::zero(); n * (t + 1)];
    let mut moved = vec![0f64; k];
    let mut centers = init;
    let mut converged = false;
    let mut n_iter = 0;
    let br = block_rows_for_sums(n, k);
    for iter in 0..max_iter {
        n_iter = iter + 1;
        let (grouped, ranges, orig) = centers.grouped(&groups);
        let step = Step {
            x,
            centers: &centers,
            geo: Geometry::of(&centers),
            grouped,
            ranges,
            orig,
            group_of: &group_of,
            drift: groups
                .iter()
                .map(|g| round_up(g.iter().map(|&j| moved[j]).fold(0.0, f64::max)))
                .collect(),
            moved: &moved,
        };
        let mut total = Partial::zero(k, d, true);
        map_blocks_of(
            pool,
            n,
            br,
            (&mut labels, 1),
            (&mut bounds, t + 1),
            |_, rows, lab, bnd| {
                let mut p = Partial::zero(k, d, true);
                let mut scratch = Scratch::default();
                let mut s = 0;
                while s < rows.len() {
                    let e = (s + ytile()).min(rows.len());
                    p.changed += step.tile(
                        rows.start + s,
                        &mut lab[s..e],
                        &mut bnd[s * (t + 1)..e * (t + 1)],
                        &mut scratch,
                    );
                    s = e;
                }
                accumulate_block(x, weights, &centers, rows, lab, &mut p);
                p
            },
            |p| total.add(&p),
        );
        if !total.inertia.is_finite() || total.sums.iter().any(|v| !v.is_finite()) {
            return Err(crate::assign::not_finite::<F>());
        }
        relocate_empty(pool, &data, weights, &centers, &labels, &mut total);
        let (next, shift) = new_centers(&centers, &total)?;
        for (j, m) in moved.iter_mut().enumerate() {
            *m = seq_dist_f64(next.row(j), centers.row(j)).sqrt() * (1.0 + OUTWARD);
        }
        centers = next;
        if std::env::var("YY_DEBUG").is_ok() {
            use std::sync::atomic::Ordering::Relaxed;
            eprintln!(
                "{:.1} ms iter {iter} t={t} rows {} pending {} pairs {} (x{} centres/group)",
                T0.with(|c| {
                    let e = c.get().elapsed().as_secs_f64() * 1e3;
                    c.set(std::time::Instant::now());
                    e
                }),
                DBG_ROWS.swap(0, Relaxed),
                DBG_PENDING.swap(0, Relaxed),
                DBG_PAIRS.swap(0, Relaxed),
                k / t
            );
        }
        if iteration_done(monitor, iter, total.inertia, total.changed, shift, tol)? {
            converged = true;
            break;
        }
    }
    let fin = assign_pass(pool, &data, weights, &centers, &mut labels, false)?;
    Ok(Run {
        centers,
        labels,
        inertia: fin.inertia,
        n_iter,
        converged,
    })
}

/// Lowers each group bound `l` by its group's drift `δ` in `F`'s own
/// arithmetic, rounded down: `fl(l - δ)` errs by at most half an ulp of the
/// result, and so does the product, so multiplying by `1 - 2ε` keeps the
/// stored value at most `l - δ`; results below the smallest normal number
/// (where rounding is not relative) become 0. Branch-free, so it
/// vectorises. Returns the smallest new bound.
#[inline]
fn shrink_bounds<F: Float>(lbs: &mut [F], drift: &[F]) -> F {
    let down = F::one() - F::epsilon() - F::epsilon();
    let tiny = F::min_positive_value();
    let mut lowest = F::infinity();
    for (l, &dr) in lbs.iter_mut().zip(drift) {
        let v = (*l - dr) * down;
        let v = if v >= tiny { v } else { F::zero() };
        *l = v;
        lowest = if v < lowest { v } else { lowest };
    }
    lowest
}

/// Row `i` of `x` as a slice: borrowed when the row is contiguous, else
/// copied.
#[inline]
fn row_of<'a, F: Float>(x: &'a ArrayView2<'_, F>, i: usize) -> std::borrow::Cow<'a, [F]> {
    let row = x.row(i);
    match row.to_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(row.to_vec()),
    }
}

/// What one iteration's assignment needs, shared by all blocks of rows.
struct Step<'a, 'x, F> {
    x: &'a ArrayView2<'x, F>,
    centers: &'a Centers<F>,
    geo: Geometry,
    /// The centres group after group (see [`Centers::grouped`]), each
    /// group's blocks in it, and the original index at every position.
    grouped: Centers<F>,
    ranges: Vec<Range<usize>>,
    orig: Vec<usize>,
    group_of: &'a [usize],
    /// The largest move in each group (rounded up to `F`), and each
    /// centre's move.
    drift: Vec<F>,
    moved: &'a [f64],
}

/// Per-block buffers, reused from tile to tile.
#[derive(Default)]
struct Scratch {
    /// Rows of the tile that need ranking (indices into the tile), and
    /// for each the groups to rank (a range of `groups`).
    pending: Vec<(usize, Range<usize>)>,
    groups: Vec<usize>,
    blocks: Vec<usize>,
}

impl<F: Float> Step<'_, '_, F> {
    /// Assigns the rows `first..first + lab.len()`, updating their labels
    /// and bounds; returns how many labels changed.
    fn tile(&self, first: usize, lab: &mut [i32], bnd: &mut [F], s: &mut Scratch) -> usize {
        let t = self.ranges.len();
        s.pending.clear();
        s.groups.clear();
        // The filters: update the bounds by the moves, then keep the row if
        // they settle it, before or after tightening u.
        for (r, (la, b)) in lab.iter().zip(bnd.chunks_exact_mut(t + 1)).enumerate() {
            let from = s.groups.len();
            if *la < 0 {
                s.groups.extend(0..t);
                s.pending.push((r, from..s.groups.len()));
                continue;
            }
            let a = *la as usize;
            let u: F = round_up((b[0].as_f64() + self.moved[a]) * (1.0 + OUTWARD));
            b[0] = u;
            let lowest = shrink_bounds(&mut b[1..], &self.drift).as_f64();
            if lowest > self.geo.settle_limit(a, u.as_f64()) {
                continue;
            }
            let row = row_of(self.x, first + r);
            let u: F =
                round_up(dist_up(row.as_ref(), self.centers.row(a)).sqrt() * (1.0 + OUTWARD));
            b[0] = u;
            let limit = self.geo.settle_limit(a, u.as_f64());
            if lowest > limit {
                continue;
            }
            // A bound above `limit_f` is above `limit`.
            let limit_f: F = round_up(limit);
            let own = self.group_of[a];
            for (g, &l) in b[1..].iter().enumerate() {
                if g == own || l <= limit_f {
                    s.groups.push(g);
                }
            }
            s.pending.push((r, from..s.groups.len()));
        }
        let m = s.pending.len();
        if m == 0 {
            return 0;
        }
        // Ranking most groups for most rows costs more than ranking all
        // centres at once with Lloyd's blocked kernel (whose rows are
        // transposed once for all centres): then do that instead.
        let work: usize = s.groups.iter().map(|&g| self.ranges[g].len()).sum();
        if work as f64 > full_fraction() * (m * self.ranges.last().map_or(0, |r| r.end)) as f64 {
            return self.rank_all(first, lab, bnd, s);
        }
        let d = self.centers.d;
        let mut xc = vec![F::zero(); d];
        let mut vals = Vec::new();
        let mut changed = 0;
        for (r, gr) in &s.pending {
            let r = *r;
            let row = row_of(self.x, first + r);
            self.grouped.centre_row(row.as_ref(), &mut xc);
            s.blocks.clear();
            for &g in &s.groups[gr.clone()] {
                s.blocks.extend(self.ranges[g].clone());
            }
            vals.resize(s.blocks.len() * BLOCK, F::zero());
            row_block_values(&xc, &self.grouped, &s.blocks, &mut vals);
            // Per ranked group: best and second-best value, and the best
            // position (in increasing original index within the group);
            // then the winner over groups (ties to the lowest original
            // index, as in Lloyd).
            let xq = self.centers.row_norm_mu(row.as_ref());
            let e = self.geo.slack(xq);
            let lower = |v: F| -> F {
                round_down(((v.as_f64() + xq - e).max(0.0)).sqrt() * (1.0 - OUTWARD))
            };
            let b = &mut bnd[r * (t + 1)..(r + 1) * (t + 1)];
            let mut at = 0;
            // The winner so far: value, original index, group, and the
            // group's second-best value.
            let (mut bv, mut bj, mut bg, mut b2) = (F::infinity(), usize::MAX, 0, F::infinity());
            for &g in &s.groups[gr.clone()] {
                let range = &self.ranges[g];
                let base = range.start * BLOCK;
                let n_vals = range.len() * BLOCK;
                let (mut v1, mut v2, mut p1) = (F::infinity(), F::infinity(), base);
                for (i, &v) in vals[at..at + n_vals].iter().enumerate() {
                    if v < v1 {
                        (v2, v1, p1) = (v1, v, base + i);
                    } else if v < v2 {
                        v2 = v;
                    }
                }
                at += n_vals;
                let j = self.orig[p1];
                if v1 < bv || (v1 == bv && j < bj) {
                    (bv, bj, bg, b2) = (v1, j, g, v2);
                }
                // Every centre of the group but its best is at least `v2`
                // away, and its best at least `v1`.
                b[1 + g] = lower(v1);
            }
            // A ranked group always names a centre, so a winner exists.
            debug_assert!(bj != usize::MAX);
            b[1 + bg] = lower(b2);
            let label = bj as i32;
            if lab[r] != label {
                changed += 1;
            }
            lab[r] = label;
            let hi = (bv.as_f64() + xq + e).max(0.0);
            b[0] = round_up(hi.sqrt() * (1.0 + OUTWARD));
        }
        changed
    }

    /// Ranks the pending rows against all centres at once: every ranking
    /// value from [`expansion_values`] (the kernels' own arithmetic) on the
    /// grouped centres, the label as Lloyd's argmin (smallest value, ties to
    /// the lowest original index), and every group's bound from its values.
    fn rank_all(&self, first: usize, lab: &mut [i32], bnd: &mut [F], s: &mut Scratch) -> usize {
        const L: usize = VALUE_ROWS;
        let t = self.ranges.len();
        let d = self.centers.d;
        let m = s.pending.len();
        let mut rows = Vec::with_capacity(m * d);
        for (r, _) in &s.pending {
            rows.extend_from_slice(row_of(self.x, first + r).as_ref());
        }
        let w = padded_k(&self.grouped);
        let mut values = vec![F::zero(); m.div_ceil(L) * w * L];
        expansion_values(&rows, &self.grouped, &mut values);
        let mut changed = 0;
        for (q, chunk) in s.pending.chunks(L).enumerate() {
            let vals = &values[q * w * L..(q + 1) * w * L];
            let lane =
                |p: usize| -> &[F; L] { vals[p * L..(p + 1) * L].try_into().expect("L lanes") };
            // Per group and row (rows in lanes): best and second-best value
            // and the best position, in position order.
            let mut v1 = vec![[F::infinity(); L]; t];
            let mut v2 = vec![[F::infinity(); L]; t];
            let mut p1 = vec![[0usize; L]; t];
            for (g, range) in self.ranges.iter().enumerate() {
                let (a1, a2, ap) = (&mut v1[g], &mut v2[g], &mut p1[g]);
                for p in range.start * BLOCK..range.end * BLOCK {
                    let v = lane(p);
                    for l in 0..L {
                        let lt = v[l] < a1[l];
                        let hi = if lt { a1[l] } else { v[l] };
                        a2[l] = if hi < a2[l] { hi } else { a2[l] };
                        a1[l] = if lt { v[l] } else { a1[l] };
                        ap[l] = if lt { p } else { ap[l] };
                    }
                }
            }
            for (l, (r, _)) in chunk.iter().enumerate() {
                let (r, i) = (*r, q * L + l);
                let (mut bv, mut bj, mut bg) = (F::infinity(), usize::MAX, 0);
                for g in 0..t {
                    let j = self.orig[p1[g][l]];
                    if v1[g][l] < bv || (v1[g][l] == bv && j < bj) {
                        (bv, bj, bg) = (v1[g][l], j, g);
                    }
                }
                let label = bj as i32;
                if lab[r] != label {
                    changed += 1;
                }
                lab[r] = label;
                let xq = self.centers.row_norm_mu(&rows[i * d..(i + 1) * d]);
                let e = self.geo.slack(xq);
                let lower = |v: F| -> F {
                    round_down(((v.as_f64() + xq - e).max(0.0)).sqrt() * (1.0 - OUTWARD))
                };
                let b = &mut bnd[r * (t + 1)..(r + 1) * (t + 1)];
                b[0] = round_up(((bv.as_f64() + xq + e).max(0.0)).sqrt() * (1.0 + OUTWARD));
                for g in 0..t {
                    b[1 + g] = lower(if g == bg { v2[g][l] } else { v1[g][l] });
                }
            }
        }
        changed
    }
}

fn full_fraction() -> f64 {
    std::env::var("YFULL")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.33)
}

static DBG_PENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static DBG_PAIRS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static DBG_ROWS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
thread_local! { static T0: std::cell::Cell<std::time::Instant> = std::cell::Cell::new(std::time::Instant::now()); }
fn ytile() -> usize {
    std::env::var("YTILE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024)
}
