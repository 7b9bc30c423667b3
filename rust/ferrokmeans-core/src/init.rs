//! Initial centres: greedy k-means++ (scikit-learn's variant) and `random`
//! (k distinct rows). Both honour sample weights: a row of weight zero is
//! never chosen.

use rayon::ThreadPool;

use crate::assign::{not_finite, Centers, TILE};
use crate::data::{dense_tile, CsrView, Data};
use crate::error::{KMeansError, Result};
use crate::float::Float;
use crate::kernel::{distances_to, sq_dist_sparse};
use crate::monitor::{Event, Monitor};
use crate::par::{block_rows, map_blocks};
use crate::rng::Rng;

fn weight_of<F: Float>(w: Option<&[F]>, i: usize) -> f64 {
    w.map_or(1.0, |w| w[i].as_f64())
}

/// Copies rows `idx` of `x` into a centre set.
pub(crate) fn gather_rows<F: Float>(x: &Data<'_, F>, idx: &[usize]) -> Centers<F> {
    let d = x.n_features();
    let mut data = vec![F::zero(); idx.len() * d];
    for (o, &i) in data.chunks_exact_mut(d).zip(idx) {
        x.row_into(i, o);
    }
    Centers::new(data, idx.len(), d)
}

/// Index of the first row whose running sum of `mass` exceeds `target`
/// (rows of zero mass are never returned); the last row of positive mass if
/// rounding leaves `target` beyond the total. `None` if all mass is zero.
fn pick_by_mass(
    mass: impl Fn(usize) -> f64,
    n: usize,
    block_sums: &[f64],
    target: f64,
) -> Option<usize> {
    let br = block_rows(n);
    let mut acc = 0.0;
    let mut last_positive = None;
    for (b, &s) in block_sums.iter().enumerate() {
        if s > 0.0 {
            last_positive = Some(b);
        }
        if acc + s > target && s > 0.0 {
            for i in b * br..((b + 1) * br).min(n) {
                let m = mass(i);
                acc += m;
                if m > 0.0 && acc > target {
                    return Some(i);
                }
            }
            // Rounding within the block: fall back to its last positive row.
            return (b * br..((b + 1) * br).min(n))
                .rev()
                .find(|&i| mass(i) > 0.0);
        }
        acc += s;
    }
    let b = last_positive?;
    (b * br..((b + 1) * br).min(n))
        .rev()
        .find(|&i| mass(i) > 0.0)
}

fn block_mass_sums(pool: &ThreadPool, n: usize, mass: &(impl Fn(usize) -> f64 + Sync)) -> Vec<f64> {
    let mut sums = Vec::new();
    map_blocks(
        pool,
        n,
        (&mut [] as &mut [u8], 0),
        (&mut [] as &mut [u8], 0),
        |_, rows, _, _| rows.map(mass).sum::<f64>(),
        |s| sums.push(s),
    );
    sums
}

/// Greedy k-means++ (Arthur & Vassilvitskii, with scikit-learn's greedy
/// refinement): each new centre is the best of `n_local_trials` candidates
/// (default `2 + ⌊ln k⌋`) drawn with probability ∝ weight × squared distance
/// to the nearest chosen centre; the candidate that most lowers the weighted
/// potential wins. Returns the centres and the indices of the chosen rows.
pub fn kmeans_plusplus<F: Float>(
    pool: &ThreadPool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    k: usize,
    n_local_trials: Option<usize>,
    rng: &mut Rng,
    monitor: &mut dyn Monitor,
) -> Result<(Centers<F>, Vec<usize>)> {
    let n = x.n_rows();
    let trials = n_local_trials
        .unwrap_or(2 + (k as f64).ln().floor() as usize)
        .max(1);
    let w = |i: usize| weight_of(weights, i);
    let wsums = block_mass_sums(pool, n, &w);
    let total_w: f64 = wsums.iter().sum();
    let first =
        pick_by_mass(w, n, &wsums, rng.next_f64() * total_w).ok_or(KMeansError::ZeroWeight)?;
    let mut chosen = vec![first];
    // Per row: squared distance to the nearest chosen centre, in the data's
    // type (half the memory for float32).
    let mut closest = vec![F::infinity(); n];
    if !nearer(pool, x, &gather_rows(x, &[first]), &mut closest) {
        return Err(not_finite::<F>());
    }
    for c in 1..k {
        monitor.event(&Event::InitProgress { chosen: c })?;
        let mass = |i: usize| w(i) * closest[i].as_f64();
        let msums = block_mass_sums(pool, n, &mass);
        let pot: f64 = msums.iter().sum();
        let mut cand_idx = Vec::with_capacity(trials);
        for _ in 0..trials {
            let u = rng.next_f64();
            // When every row with weight sits on a centre already, fall back
            // to drawing by weight alone (duplicates, fewer distinct points than k).
            let i = if pot > 0.0 {
                pick_by_mass(mass, n, &msums, u * pot)
            } else {
                pick_by_mass(w, n, &wsums, u * total_w)
            };
            cand_idx.push(i.ok_or(KMeansError::ZeroWeight)?);
        }
        let cand = gather_rows(x, &cand_idx);
        let mut pots = vec![0f64; trials];
        map_blocks(
            pool,
            n,
            (&mut [] as &mut [u8], 0),
            (&mut [] as &mut [u8], 0),
            |_, rows, _, _| {
                let mut p = vec![0f64; trials];
                block_distances(x, rows, &cand, |i, ds| {
                    let (cl, wi) = (closest[i], w(i));
                    for (pt, dt) in p.iter_mut().zip(ds) {
                        *pt += wi * cl.min(*dt).as_f64();
                    }
                });
                p
            },
            |p| pots.iter_mut().zip(&p).for_each(|(a, b)| *a += *b),
        );
        let best = (0..trials).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
        let winner = gather_rows(x, &[cand_idx[best]]);
        nearer(pool, x, &winner, &mut closest);
        chosen.push(cand_idx[best]);
    }
    monitor.event(&Event::InitProgress { chosen: k })?;
    Ok((gather_rows(x, &chosen), chosen))
}

/// `‖x_i - c_j‖²` for a sparse row; `+inf` if the row holds NaN or infinity.
#[inline]
fn csr_sq_dist<F: Float>(m: &CsrView<'_, F>, i: usize, c: &Centers<F>, j: usize) -> F {
    let (vals, idx) = m.row(i);
    let x_sq = vals.iter().fold(F::zero(), |s, &v| s + v * v);
    if x_sq.is_finite() {
        sq_dist_sparse(vals, idx, x_sq, c.row(j), c.sq_norms[j])
    } else {
        F::infinity()
    }
}

/// Calls `f(row, dists)` for each row of `rows` with its squared distances
/// to each of the (few) centres of `cand`: by the SIMD kernel for dense
/// rows, exactly for sparse ones.
fn block_distances<F: Float>(
    x: &Data<'_, F>,
    rows: std::ops::Range<usize>,
    cand: &Centers<F>,
    mut f: impl FnMut(usize, &[F]),
) {
    let k = cand.k;
    match x {
        Data::Dense(v) => {
            let mut buf = Vec::new();
            let mut out = vec![F::zero(); TILE * k];
            let mut t = rows.start;
            while t < rows.end {
                let te = (t + TILE).min(rows.end);
                let tile = dense_tile(v, t, te, &mut buf);
                let out = &mut out[..(te - t) * k];
                distances_to(tile, cand, out);
                for (r, ds) in out.chunks_exact(k).enumerate() {
                    f(t + r, ds);
                }
                t = te;
            }
        }
        Data::Csr(m) => {
            let mut ds = vec![F::zero(); k];
            for i in rows {
                for (j, o) in ds.iter_mut().enumerate() {
                    *o = csr_sq_dist(m, i, cand, j);
                }
                f(i, &ds);
            }
        }
    }
}

/// `closest[i] = min(closest[i], ‖x_i - c‖²)` for the one centre `c`;
/// false if a distance is not finite.
fn nearer<F: Float>(pool: &ThreadPool, x: &Data<'_, F>, c: &Centers<F>, closest: &mut [F]) -> bool {
    let mut ok = true;
    map_blocks(
        pool,
        x.n_rows(),
        (closest, 1),
        (&mut [] as &mut [u8], 0),
        |_, rows, cl, _| {
            let start = rows.start;
            let mut ok = true;
            block_distances(x, rows, c, |i, ds| {
                ok &= ds[0].is_finite();
                let o = &mut cl[i - start];
                *o = o.min(ds[0]);
            });
            ok
        },
        |b| ok &= b,
    );
    ok
}

/// `k` distinct rows drawn without replacement with probability ∝ weight
/// (Efraimidis–Spirakis keys), in the order drawn.
pub fn random_rows<F: Float>(
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    k: usize,
    rng: &mut Rng,
) -> Result<(Centers<F>, Vec<usize>)> {
    let n = x.n_rows();
    // Keys ln(u)/w are ≤ 0; larger is better. A heap would save little here.
    let mut keyed: Vec<(f64, usize)> = Vec::with_capacity(n);
    for i in 0..n {
        let u = rng.next_f64_open0();
        let wi = weight_of(weights, i);
        if wi > 0.0 {
            keyed.push((u.ln() / wi, i));
        }
    }
    if keyed.len() < k {
        return Err(KMeansError::TooFewWeighted {
            positive: keyed.len(),
            n_clusters: k,
        });
    }
    keyed.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    keyed.truncate(k);
    keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let idx: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
    Ok((gather_rows(x, &idx), idx))
}
