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
//! are ranked, plus the block of eight centres holding the row's own
//! centre. When that would cover much of the centres for the rows of a
//! tile, they are ranked against all centres at once instead.
//!
//! Identity with [`crate::lloyd::lloyd`]: each ranking value `g_j` depends
//! only on the row, the centre and the centres' mean `μ`; the centres are
//! regrouped ([`Centers::grouped`]) with the same `μ` and ranked with the
//! operations of Lloyd's blocked kernel (`row_block_values`,
//! `expansion_values` in `kernel.rs`), so every ranked value is the one
//! Lloyd computes. The winner is the smallest ranked value, ties to the
//! lowest index, as in Lloyd. A group is left out only when its bound shows
//! that every centre in it is farther than the row's centre `a` by more
//! than twice the expansion's worst rounding ([`Geometry::settled`]): then
//! each of its `g_j` exceeds `g_a`, which is always ranked, so Lloyd's
//! argmin is among the ranked values. Sums per cluster are accumulated by
//! the same code over the same blocks in the same order as Lloyd. The
//! blocked kernel's arithmetic is that of more than 8 features (for fewer,
//! the fit runs Hamerly's algorithm instead).
//!
//! Memory: `t + 1` bounds per row in the data's type, against Elkan's
//! `k + 1`; `t` is chosen so that the bounds stay small next to `X` (see
//! [`n_groups`]).

use std::ops::Range;

use crate::par::Pool;
use ndarray::ArrayView2;

use crate::assign::{Centers, Partial};
use crate::data::Data;
use crate::error::Result;
use crate::float::Float;
use crate::hamerly::{
    accumulate_block, dist_up, end_iteration, round_down, round_up, Geometry, OUTWARD,
};
use crate::kernel::{
    expansion_values, padded_k, row_block_values, simd_level, SimdLevel, BLOCK, VALUE_ROWS,
};
use crate::lloyd::{finish, Run};
use crate::monitor::Monitor;
use crate::par::{block_rows_for_sums, map_blocks_of};

/// How many groups for `k` centres of `d` features: about ten centres per
/// group (the choice of Yinyang's authors), but at most `d / 4` groups so
/// that the `t + 1` bounds per row stay within about a quarter of the row
/// itself, and at least one.
pub(crate) fn n_groups(k: usize, d: usize) -> usize {
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

/// Runs Yinyang k-means from `init` on dense data of more than 8
/// features, with the stopping rules of [`crate::lloyd::lloyd`] and its
/// results.
pub fn yinyang<F: Float>(
    pool: &Pool,
    x: &ArrayView2<'_, F>,
    weights: Option<&[F]>,
    init: Centers<F>,
    max_iter: usize,
    tol: f64,
    monitor: &mut dyn Monitor,
) -> Result<Run<F>> {
    let t = n_groups(init.k, init.d);
    yinyang_groups(pool, x, weights, init, max_iter, tol, monitor, t)
}

/// [`yinyang`] with at most `t` groups.
#[allow(clippy::too_many_arguments)]
pub(crate) fn yinyang_groups<F: Float>(
    pool: &Pool,
    x: &ArrayView2<'_, F>,
    weights: Option<&[F]>,
    init: Centers<F>,
    max_iter: usize,
    tol: f64,
    monitor: &mut dyn Monitor,
    t: usize,
) -> Result<Run<F>> {
    assert!(
        init.d > 8,
        "Yinyang ranks with the blocked kernel's arithmetic"
    );
    let data = Data::Dense(x.view());
    let (n, k, d) = (x.nrows(), init.k, init.d);
    let groups = group_centres(&init, t);
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
    let inertia = monitor.wants_inertia();
    for iter in 0..max_iter {
        n_iter = iter + 1;
        let (grouped, ranges, orig) = centers.grouped(&groups);
        let mut pos = vec![0; k];
        for (p, &j) in orig.iter().enumerate() {
            if j != usize::MAX {
                pos[j] = p;
            }
        }
        let step = Step {
            x,
            centers: &centers,
            geo: Geometry::of(&centers),
            grouped,
            ranges,
            orig,
            pos,
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
                    let e = (s + YTILE).min(rows.len());
                    p.changed += step.tile(
                        rows.start + s,
                        &mut lab[s..e],
                        &mut bnd[s * (t + 1)..e * (t + 1)],
                        &mut scratch,
                    );
                    s = e;
                }
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
    /// The position of every centre in `grouped`.
    pos: Vec<usize>,
    group_of: &'a [usize],
    /// The largest move in each group (rounded up to `F`), and each
    /// centre's move.
    drift: Vec<F>,
    moved: &'a [f64],
}

/// Rows assigned together: the pending rows of a tile share one decision
/// between group ranking and ranking everything.
const YTILE: usize = 1024;

/// Above this fraction of all ranking values, the pending rows of a tile
/// are ranked against all centres at once (measured on W5 and W6).
const FULL_FRACTION: f64 = 0.15;

/// Marks a group ranked in full (rather than only one of its blocks).
const FULL: usize = usize::MAX;

/// The smaller of `a` and `b` (when there is a `b`).
#[inline]
fn min_f<F: Float>(a: F, b: Option<F>) -> F {
    match b {
        Some(b) if b < a => b,
        _ => a,
    }
}

/// Per-block buffers, reused from tile to tile.
struct Scratch<F> {
    /// Rows of the tile that need ranking (indices into the tile), and
    /// for each the groups to rank (a range of `groups`): each group with
    /// [`FULL`] or the one block of it to rank.
    pending: Vec<(usize, Range<usize>)>,
    groups: Vec<(usize, usize)>,
    blocks: Vec<usize>,
    /// [`Step::rank_all`]'s copies of the pending rows, grown and never
    /// shrunk. (Its ranking values, up to [`YTILE`] × k, are allocated per
    /// call: kept alive as well, they raised the peak memory of a fit on W6
    /// by a third of X.)
    rows: Vec<F>,
}

impl<F> Default for Scratch<F> {
    fn default() -> Self {
        Scratch {
            pending: Vec::new(),
            groups: Vec::new(),
            blocks: Vec::new(),
            rows: Vec::new(),
        }
    }
}

impl<F: Float> Step<'_, '_, F> {
    /// Assigns the rows `first..first + lab.len()`, updating their labels
    /// and bounds; returns how many labels changed.
    fn tile(&self, first: usize, lab: &mut [i32], bnd: &mut [F], s: &mut Scratch<F>) -> usize {
        // The bookkeeping (bounds, minima over lanes) vectorises far better
        // with the wider instruction sets; the arithmetic is the same.
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
            fn avx512<F: Float>(
                st: &Step<'_, '_, F>,
                first: usize,
                lab: &mut [i32],
                bnd: &mut [F],
                s: &mut Scratch<F>,
            ) -> usize {
                st.tile_impl(first, lab, bnd, s)
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2<F: Float>(
                st: &Step<'_, '_, F>,
                first: usize,
                lab: &mut [i32],
                bnd: &mut [F],
                s: &mut Scratch<F>,
            ) -> usize {
                st.tile_impl(first, lab, bnd, s)
            }
            match simd_level() {
                // SAFETY: simd_level() only reports features this CPU has.
                SimdLevel::Avx512 => return unsafe { avx512(self, first, lab, bnd, s) },
                // SAFETY: as above.
                SimdLevel::Avx2 => return unsafe { avx2(self, first, lab, bnd, s) },
                SimdLevel::Portable => {}
            }
        }
        self.tile_impl(first, lab, bnd, s)
    }

    #[inline(always)]
    fn tile_impl(&self, first: usize, lab: &mut [i32], bnd: &mut [F], s: &mut Scratch<F>) -> usize {
        let t = self.ranges.len();
        s.pending.clear();
        s.groups.clear();
        // The filters: update the bounds by the moves, then keep the row if
        // they settle it, before or after tightening u.
        for (r, (la, b)) in lab.iter().zip(bnd.chunks_exact_mut(t + 1)).enumerate() {
            let from = s.groups.len();
            if *la < 0 {
                s.groups.extend((0..t).map(|g| (g, FULL)));
                s.pending.push((r, from..s.groups.len()));
                continue;
            }
            let a = *la as usize;
            let u: F = round_up((b[0].as_f64() + self.moved[a]) * (1.0 + OUTWARD));
            b[0] = u;
            let lowest = shrink_bounds(&mut b[1..], &self.drift).as_f64();
            // (`settled` rather than comparing with `settle_limit`: no square
            // root for the rows that most often stop here.)
            if self.geo.settled(a, u.as_f64(), lowest) {
                continue;
            }
            let row = row_of(self.x, first + r);
            let u: F =
                round_up(dist_up(row.as_ref(), self.centers.row(a)).sqrt() * (1.0 + OUTWARD));
            b[0] = u;
            if self.geo.settled(a, u.as_f64(), lowest) {
                continue;
            }
            let limit = self.geo.settle_limit(a, u.as_f64());
            // A bound above `limit_f` is above `limit`.
            let limit_f: F = round_up(limit);
            let own = self.group_of[a];
            for (g, &l) in b[1..].iter().enumerate() {
                if l <= limit_f {
                    s.groups.push((g, FULL));
                } else if g == own {
                    // Only the block of the row's centre: its value must be
                    // among the ranked ones.
                    s.groups.push((g, self.pos[a] / BLOCK));
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
        let work: usize = s
            .groups
            .iter()
            .map(|&(g, part)| {
                if part == FULL {
                    self.ranges[g].len()
                } else {
                    1
                }
            })
            .sum();
        if work as f64 > FULL_FRACTION * (m * self.ranges.last().map_or(0, |r| r.end)) as f64 {
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
            for &(g, part) in &s.groups[gr.clone()] {
                if part == FULL {
                    s.blocks.extend(self.ranges[g].clone());
                } else {
                    s.blocks.push(part);
                }
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
            // The winner so far: value, original index, group, the group's
            // second-best value and (if only part of the group was ranked)
            // the group's previous bound.
            let (mut bv, mut bj, mut bg) = (F::infinity(), usize::MAX, 0);
            let (mut b2, mut b_old) = (F::infinity(), None);
            for &(g, part) in &s.groups[gr.clone()] {
                let blocks = if part == FULL {
                    self.ranges[g].clone()
                } else {
                    part..part + 1
                };
                let base = blocks.start * BLOCK;
                let n_vals = blocks.len() * BLOCK;
                let (mut v1, mut v2, mut p1) = (F::infinity(), F::infinity(), base);
                for (i, &v) in vals[at..at + n_vals].iter().enumerate() {
                    if v < v1 {
                        (v2, v1, p1) = (v1, v, base + i);
                    } else if v < v2 {
                        v2 = v;
                    }
                }
                at += n_vals;
                // A partly ranked group keeps its bound for the centres not
                // ranked (all but the row's centre, which is ranked).
                let old = (part != FULL).then_some(b[1 + g]);
                let j = self.orig[p1];
                if v1 < bv || (v1 == bv && j < bj) {
                    (bv, bj, bg, b2, b_old) = (v1, j, g, v2, old);
                }
                // Every ranked centre of the group but its best is at least
                // `v2` away, and its best at least `v1`.
                b[1 + g] = min_f(lower(v1), old);
            }
            // A ranked group always names a centre, so a winner exists.
            debug_assert!(bj != usize::MAX);
            b[1 + bg] = min_f(lower(b2), b_old);
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
    #[inline(always)]
    fn rank_all(&self, first: usize, lab: &mut [i32], bnd: &mut [F], s: &mut Scratch<F>) -> usize {
        const L: usize = VALUE_ROWS;
        let t = self.ranges.len();
        let d = self.centers.d;
        let m = s.pending.len();
        let rows = &mut s.rows;
        rows.clear();
        for (r, _) in &s.pending {
            rows.extend_from_slice(row_of(self.x, first + r).as_ref());
        }
        let w = padded_k(&self.grouped);
        let mut values = vec![F::zero(); m.div_ceil(L) * w * L];
        expansion_values(rows, &self.grouped, &mut values);
        let mut changed = 0;
        // Per group and row (rows in lanes): best and second-best value and
        // the best position, in position order; every group's are written
        // for each chunk of rows. Positions as F, like the kernels' indices
        // (exact: far below 2^24 positions).
        let mut v1 = vec![[F::infinity(); L]; t];
        let mut v2 = vec![[F::infinity(); L]; t];
        let mut p1 = vec![[F::zero(); L]; t];
        for (q, chunk) in s.pending.chunks(L).enumerate() {
            let vals = &values[q * w * L..(q + 1) * w * L];
            let lane =
                |p: usize| -> &[F; L] { vals[p * L..(p + 1) * L].try_into().expect("L lanes") };
            for (g, range) in self.ranges.iter().enumerate() {
                // Kept in registers across the group's positions (written
                // back once): through memory, every position waited for
                // the previous one's stores.
                let (mut a1, mut a2, mut ap) =
                    ([F::infinity(); L], [F::infinity(); L], [F::zero(); L]);
                for p in range.start * BLOCK..range.end * BLOCK {
                    let v = lane(p);
                    let pf = F::from_f64(p as f64);
                    for l in 0..L {
                        let lt = v[l] < a1[l];
                        let hi = if lt { a1[l] } else { v[l] };
                        a2[l] = if hi < a2[l] { hi } else { a2[l] };
                        a1[l] = if lt { v[l] } else { a1[l] };
                        ap[l] = if lt { pf } else { ap[l] };
                    }
                }
                (v1[g], v2[g], p1[g]) = (a1, a2, ap);
            }
            for (l, (r, _)) in chunk.iter().enumerate() {
                let (r, i) = (*r, q * L + l);
                let (mut bv, mut bj, mut bg) = (F::infinity(), usize::MAX, 0);
                for g in 0..t {
                    let j = self.orig[p1[g][l].index()];
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lloyd::lloyd;
    use crate::par::pool;

    /// Blobs of `d` features around `k / 3` centres (so several centres
    /// share a blob, where group bounds matter), the first `k` rows as
    /// initial centres.
    fn blobs(n: usize, d: usize, k: usize, seed: u64) -> (ndarray::Array2<f64>, Vec<f64>) {
        let mut rng = crate::rng::Rng::new(seed);
        let m = (k / 3).max(1);
        let means: Vec<f64> = (0..m * d).map(|_| rng.next_f64() * 20.0).collect();
        let x = ndarray::Array2::from_shape_fn((n, d), |(i, f)| {
            means[(i % m) * d + f] + (rng.next_f64() - 0.5) * 3.0
        });
        let init = x.rows().into_iter().take(k).flatten().copied().collect();
        (x, init)
    }

    fn check<F: Float>(d: usize, k: usize, t: usize, weighted: bool, threads: usize, tol: f64) {
        let (x, init) = blobs(1500, d, k, (d * 1000 + k) as u64);
        let x = x.mapv(F::from_f64);
        let init: Vec<F> = init.into_iter().map(F::from_f64).collect();
        let w: Option<Vec<F>> = weighted.then(|| {
            (0..x.nrows())
                .map(|i| F::from_f64(0.5 + (i % 7) as f64))
                .collect()
        });
        let c = || Centers::new(init.clone(), k, d);
        let data = Data::Dense(x.view());
        let p1 = pool(1).unwrap();
        let pt = pool(threads).unwrap();
        let a = lloyd(&p1, &data, w.as_deref(), c(), 60, tol, &mut ()).unwrap();
        let b = yinyang_groups(&pt, &x.view(), w.as_deref(), c(), 60, tol, &mut (), t).unwrap();
        let what = format!(
            "{} d={d} k={k} t={t} weighted={weighted} threads={threads} tol={tol}",
            std::any::type_name::<F>()
        );
        assert_eq!(a.labels, b.labels, "{what}: labels");
        assert_eq!(a.n_iter, b.n_iter, "{what}: n_iter");
        assert_eq!(a.centers.data, b.centers.data, "{what}: centres");
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits(), "{what}: inertia");
    }

    #[test]
    fn yinyang_equals_lloyd_for_every_number_of_groups() {
        for (d, k) in [(9, 24), (16, 40), (33, 64)] {
            for t in [1, 2, 5, k / 4, k] {
                check::<f32>(d, k, t, false, 1, 0.0);
                check::<f64>(d, k, t, true, 3, 1e-6);
            }
        }
        check::<f32>(64, 100, 10, true, 2, 1e-4);
        check::<f64>(12, 30, 30, false, 2, 0.0);
    }

    #[test]
    fn yinyang_equals_lloyd_when_clusters_empty_and_rows_tie() {
        // Duplicate initial centres: the copy with the higher index gets no
        // rows (ties go to the lowest index) and is relocated.
        let (x, mut init) = blobs(900, 12, 30, 3);
        let first: Vec<f64> = init[..12].to_vec();
        init[12..24].copy_from_slice(&first);
        // Integer-valued rows: exact ties between equidistant centres.
        let x = x.mapv(f64::round);
        let c = || Centers::new(init.clone(), 30, 12);
        let data = Data::Dense(x.view());
        let p = pool(2).unwrap();
        let a = lloyd(&p, &data, None, c(), 40, 0.0, &mut ()).unwrap();
        for t in [1, 3, 30] {
            let b = yinyang_groups(&p, &x.view(), None, c(), 40, 0.0, &mut (), t).unwrap();
            assert_eq!(a.labels, b.labels, "t={t}");
            assert_eq!(a.n_iter, b.n_iter, "t={t}");
            assert_eq!(a.centers.data, b.centers.data, "t={t}");
        }
    }

    #[test]
    fn groups_partition_the_centres() {
        let (_, init) = blobs(200, 10, 37, 5);
        let c = Centers::new(init, 37, 10);
        for t in [1, 4, 37, 50] {
            let g = group_centres(&c, t);
            assert!(!g.is_empty() && g.len() <= t.min(37));
            let mut all: Vec<usize> = g.iter().flatten().copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..37).collect::<Vec<_>>());
            assert!(g.iter().all(|m| m.windows(2).all(|w| w[0] < w[1])));
        }
    }
}
