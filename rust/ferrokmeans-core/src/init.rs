//! Initial centres: greedy k-means++ (scikit-learn's variant) and `random`
//! (k distinct rows). Both honour sample weights: a row of weight zero is
//! never chosen.

use crate::par::Pool;

use crate::assign::{not_finite, Centers, TILE};
use crate::data::{dense_tile, CsrView, Data};
use crate::error::{KMeansError, Result};
use crate::float::Float;
use crate::kernel::{sq_dist, sq_dist_sparse};
use crate::kpp_kernel::{block_norms, evaluate_tile, flags_rows, Candidates, Near, Out, Screen};
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

fn block_mass_sums(pool: &Pool, n: usize, mass: &(impl Fn(usize) -> f64 + Sync)) -> Vec<f64> {
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
///
/// Two passes per step, where the textbook algorithm makes three. The first
/// reads every row once: its distances to all candidates (the kernels of
/// [`crate::kpp_kernel`] for dense rows), each candidate's potential, and
/// the rows each candidate may bring nearer than their nearest centre — with
/// a margin for rounding, so that every other row is provably no nearer.
/// The second pass applies the winner to those rows only, by the exact
/// `Σ (x - c)²` (kept from the first pass for long rows, computed again for
/// short ones), and sums the next step's sampling masses as it goes. Draws,
/// candidates and `closest` are bit for bit those of the three-pass
/// algorithm; so are the potentials up to 8 features, and beyond, where the
/// kernel sums exact squared differences instead of the expansion, they
/// differ by rounding only (the winner can change on a near-tie alone).
///
/// No bound prunes rows: on 64-dimensional blobs the triangle inequality
/// (`‖c - c_a‖ ≥ 2‖x - c_a‖`) would spare fewer than 1% of them.
pub fn kmeans_plusplus<F: Float>(
    pool: &Pool,
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
    // type (half the memory for float32), always by the exact `Σ (x - c)²`:
    // a row equal to a centre has exactly 0 and is never drawn again.
    let mut closest = vec![F::infinity(); n];
    let first_centre = gather_rows(x, &[first]);
    let (mut msums, ok) = update(pool, x, weights, &first_centre, &mut closest, Pending::All);
    if !ok {
        return Err(not_finite::<F>());
    }
    // Short dense rows: one bit per row and candidate, "may be nearer"
    // (long rows and sparse ones list such pairs instead).
    let short = matches!(x, Data::Dense(_)) && flags_rows(x.n_features());
    let fb = trials.div_ceil(8);
    let mut flags = vec![0u8; if short { n * fb } else { 0 }];
    // Screening pays where few pairs need float64 (see `Copies`): decided
    // from the previous step's pairs that may come nearer, which every
    // kernel lists alike (so the choice never changes a result). The copies
    // are made when it first pays: on small data or few centres, never.
    let mut copies: Option<Copies> = None;
    let mut screen = false;
    for c in 1..k {
        monitor.event(&Event::InitProgress { chosen: c })?;
        let mass = |i: usize| w(i) * closest[i].as_f64();
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
        if screen && copies.is_none() {
            copies = screen_copies(pool, x);
        }
        let use_copies = copies.as_ref().filter(|_| screen);
        let (pots, near) = evaluate(pool, x, weights, &cand, &closest, &mut flags, use_copies);
        let listed: usize = near.iter().map(Vec::len).sum();
        screen = listed * 200 < n * trials;
        let best = (0..trials).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
        let winner = gather_rows(x, &[cand_idx[best]]);
        let pending = if flags.is_empty() {
            Pending::Near(&near, best)
        } else {
            Pending::Flags(&flags, best)
        };
        msums = update(pool, x, weights, &winner, &mut closest, pending).0;
        chosen.push(cand_idx[best]);
    }
    monitor.event(&Event::InitProgress { chosen: k })?;
    Ok((gather_rows(x, &chosen), chosen))
}

/// Float32 copies of float64 dense rows of more than 8 features, row-major,
/// and `‖x‖` of each row: with them the candidates' distances are screened
/// in float32 (see `evaluate_screened`), which reads half the bytes at
/// every step — the cost of k-means++ on such rows, which do not stay in
/// cache — as long as few pairs (under 0.5 %) may come nearer: each of those
/// is computed again in float64. Costs half of `x`'s size from the first
/// step where screening pays to the end of k-means++.
struct Copies {
    rows: Vec<f32>,
    norms: Vec<f64>,
}

/// [`Copies`] of `x` where they apply (`None` otherwise).
fn screen_copies<F: Float>(pool: &Pool, x: &Data<'_, F>) -> Option<Copies> {
    let Data::Dense(v) = x else { return None };
    let (n, d) = v.dim();
    if std::mem::size_of::<F>() != 8 || flags_rows(d) || n == 0 {
        return None;
    }
    let mut rows = vec![0f32; n * d];
    let mut norms = vec![0f64; n];
    map_blocks(
        pool,
        n,
        (&mut rows, d),
        (&mut norms, 1),
        |_, range, out, nrm| {
            for ((i, o), nv) in range.zip(out.chunks_exact_mut(d)).zip(nrm.iter_mut()) {
                let mut s = 0f64;
                for (o, x) in o.iter_mut().zip(v.row(i).iter()) {
                    let x = x.as_f64();
                    *o = x as f32;
                    s += x * x;
                }
                *nv = s.sqrt();
            }
        },
        |()| {},
    );
    Some(Copies { rows, norms })
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

/// The candidates' potentials `Σ w·min(closest, d_t)`, summed row by row
/// within each block and block by block; and the rows that each candidate
/// may bring nearer (every other row is certainly no nearer to it): in
/// `flags` (`⌈t/8⌉` bytes per row) when it is not empty, else listed per
/// block with their exact distances.
fn evaluate<F: Float>(
    pool: &Pool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    cand: &Centers<F>,
    closest: &[F],
    flags: &mut [u8],
    copies: Option<&Copies>,
) -> (Vec<f64>, Vec<Vec<Near<F>>>) {
    let (n, trials) = (x.n_rows(), cand.k);
    let fb = if flags.is_empty() {
        0
    } else {
        trials.div_ceil(8)
    };
    let mut pots = vec![0f64; trials];
    let mut near = Vec::new();
    let mut combine = |(p, v): (Vec<f64>, Vec<Near<F>>)| {
        for (s, b) in pots.iter_mut().zip(&p) {
            *s += *b;
        }
        near.push(v);
    };
    let none = (&mut [] as &mut [u8], 0);
    match x {
        Data::Dense(v) => {
            let prepared = Candidates::new(&cand.data, trials, cand.d);
            let d = cand.d;
            // The candidates in float32, only where rows are screened.
            let screened = copies.map(|copies| {
                let c32: Vec<f32> = cand.data.iter().map(|v| v.as_f64() as f32).collect();
                (
                    copies,
                    Candidates::new(&c32, trials, d),
                    block_norms(&cand.data, d),
                )
            });
            map_blocks(
                pool,
                n,
                (flags, fb),
                none,
                |_, rows, fl, _| {
                    let mut p = vec![0f64; trials.div_ceil(8) * 8];
                    let (mut buf, mut scratch, mut list) = (Vec::new(), Vec::new(), Vec::new());
                    let mut t = rows.start;
                    while t < rows.end {
                        let te = (t + TILE).min(rows.end);
                        let tile = dense_tile(v, t, te, &mut buf);
                        let (a, b) = (t - rows.start, te - rows.start);
                        let mut out = Out {
                            pots: &mut p,
                            flags: &mut fl[a * fb..b * fb],
                            near: &mut list,
                            first: t - rows.start,
                            scratch: &mut scratch,
                        };
                        let screen = screened.as_ref().map(|(copies, c32, norms)| Screen {
                            rows: &copies.rows[t * d..te * d],
                            norms: &copies.norms[t..te],
                            cand: c32,
                            block_norms: norms,
                        });
                        evaluate_tile(
                            tile,
                            &closest[t..te],
                            weights.map(|w| &w[t..te]),
                            &prepared,
                            &mut out,
                            screen.as_ref(),
                        );
                        t = te;
                    }
                    (p, list)
                },
                &mut combine,
            );
        }
        Data::Csr(m) => map_blocks(
            pool,
            n,
            none,
            (&mut [] as &mut [u8], 0),
            |_, rows, _, _| {
                let (mut p, mut list) = (vec![0f64; trials], Vec::new());
                let start = rows.start;
                for i in rows {
                    let (cl, wi) = (closest[i], weight_of(weights, i));
                    for (t, pt) in p.iter_mut().enumerate() {
                        let dt = csr_sq_dist(m, i, cand, t);
                        *pt += wi * cl.min(dt).as_f64();
                        // The update would compute this very value again.
                        if dt < cl {
                            list.push(Near {
                                row: (i - start) as u32,
                                t: t as u32,
                                dist: dt,
                            });
                        }
                    }
                }
                (p, list)
            },
            &mut combine,
        ),
    }
    (pots, near)
}

/// The rows whose `closest` a new centre may lower.
#[derive(Clone, Copy)]
enum Pending<'a, F> {
    /// Every row (the first centre).
    All,
    /// The rows flagged for candidate `t` by [`evaluate`].
    Flags(&'a [u8], usize),
    /// The rows listed for candidate `t` by [`evaluate`], with the distance.
    Near(&'a [Vec<Near<F>>], usize),
}

/// `closest[i] = min(closest[i], ‖x_i - c‖²)` for the one centre `c` (for
/// [`Pending::Flags`] and [`Pending::Near`], candidate `t` of [`evaluate`])
/// on the `pending` rows; the other rows are certainly no nearer. Returns
/// the block sums of `weight × closest` (the next step's sampling masses)
/// and whether every distance computed was finite.
fn update<F: Float>(
    pool: &Pool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    c: &Centers<F>,
    closest: &mut [F],
    pending: Pending<'_, F>,
) -> (Vec<f64>, bool) {
    let (mut sums, mut ok) = (Vec::new(), true);
    let n = x.n_rows();
    map_blocks(
        pool,
        n,
        (closest, 1),
        (&mut [] as &mut [u8], 0),
        |b, rows, cl, _| {
            let start = rows.start;
            let mut ok = true;
            match pending {
                Pending::All => ok = lower(x, rows.clone(), c, cl, |_| true),
                Pending::Flags(flags, t) => {
                    let fb = flags.len() / n;
                    let (byte, bit) = (t / 8, 1u8 << (t % 8));
                    lower(x, rows.clone(), c, cl, |i| flags[i * fb + byte] & bit != 0);
                }
                Pending::Near(lists, t) => {
                    for p in lists[b].iter().filter(|p| p.t as usize == t) {
                        let o = &mut cl[p.row as usize];
                        *o = o.min(p.dist);
                    }
                }
            }
            let s = rows
                .map(|i| weight_of(weights, i) * cl[i - start].as_f64())
                .sum::<f64>();
            (s, ok)
        },
        |(s, b)| {
            sums.push(s);
            ok &= b;
        },
    );
    (sums, ok)
}

/// `cl[i - rows.start] = min(cl[i - rows.start], ‖x_i - c‖²)` for the rows
/// `i` of `rows` where `keep(i)`; false if a distance is not finite.
fn lower<F: Float>(
    x: &Data<'_, F>,
    rows: std::ops::Range<usize>,
    c: &Centers<F>,
    cl: &mut [F],
    keep: impl Fn(usize) -> bool,
) -> bool {
    let (start, centre, mut ok) = (rows.start, c.row(0), true);
    match x {
        Data::Dense(v) => {
            let (d, mut buf) = (centre.len(), Vec::new());
            let mut t = rows.start;
            while t < rows.end {
                let te = (t + TILE).min(rows.end);
                let tile = dense_tile(v, t, te, &mut buf);
                for (r, x) in tile.chunks_exact(d).enumerate() {
                    if keep(t + r) {
                        let dist = sq_dist(x, centre);
                        ok &= dist.is_finite();
                        let o = &mut cl[t + r - start];
                        *o = o.min(dist);
                    }
                }
                t = te;
            }
        }
        Data::Csr(m) => {
            for i in rows.filter(|&i| keep(i)) {
                let dist = csr_sq_dist(m, i, c, 0);
                ok &= dist.is_finite();
                let o = &mut cl[i - start];
                *o = o.min(dist);
            }
        }
    }
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
