//! The fused inner kernels: for a tile of rows, the nearest centre of each
//! row and the squared distance to it, without materialising the tile × k
//! distance matrix.
//!
//! Two modes. Inside Lloyd iterations, where only the labels and the sums
//! matter, centres are ranked by `g_j(x) = ‖c_j - μ‖² - 2(x - μ)·(c_j - μ)`,
//! which equals `‖x - c_j‖² - ‖x - μ‖²`: one multiply-add per feature and
//! centre. Centring on the centres' mean `μ` (rounded to an integer) keeps
//! this expansion from cancelling on data far from the origin. Where labels
//! and distances are reported (the final assignment of a fit, `predict`,
//! `score`, `vq`), the exact mode computes `Σ (x - c)²` feature by feature
//! without fused operations — the same bits as scipy's `vq` — so the label
//! is the true nearest centre, with exact ties to the lowest index.
//!
//! Two kernels, both with rows in SIMD lanes (each lane keeps its own running
//! minimum, so there is no horizontal reduction and no branch): one
//! specialised at compile time for 1 to 8 features, one register-blocked over
//! 8 centres at a time for more features. Centres are visited in index order
//! with a strict comparison: ties go to the lowest index, as in scikit-learn.
//! Both are compiled for AVX-512, AVX2+FMA and a portable baseline, chosen at
//! run time.

use crate::data::CsrView;
use crate::float::Float;
use std::ops::Range;

mod few;
pub(crate) mod screen;

/// Rows handled together by the large-`d` kernel (its SIMD lanes).
const BR: usize = 16;
/// Centres per register block of the large-`d` kernel.
const BC: usize = 8;
/// Rows handled together by the small-`d` kernel: two or more vectors, so
/// that the running minima form independent dependency chains.
const LANES: usize = 32;

/// Kernel modes. `RANK`: labels by the centred expansion (Lloyd
/// iterations), distances within its rounding. `EXACT`: labels and
/// distances of the exact `Σ (x - c)²`. `BOUNDS`: labels as `RANK`, and per
/// row the best and second-best expansion values and `‖x - μ‖²`, from
/// which the bound-based algorithms derive guaranteed distance bounds.
/// `LABELS`: the labels of `RANK` alone, without `‖x - μ‖²` (Lloyd
/// iterations whose inertia nobody reads); each row's "distance" is then its
/// best ranking value, clamped at 0, or `+inf` where that is not finite, so
/// that callers still see NaN and infinity (squares that overflow only in
/// `‖x - μ‖²` are left to the exact pass that ends every fit).
pub(crate) const RANK: u8 = 0;
pub(crate) const EXACT: u8 = 1;
pub(crate) const BOUNDS: u8 = 2;
pub(crate) const LABELS: u8 = 3;

/// Where a kernel writes, one entry per row. `second` and `xn` are only
/// written in the `BOUNDS` mode (and may be empty otherwise); in that mode
/// `dists` receives the best expansion value itself.
pub(crate) struct Out<'a, F> {
    pub labels: &'a mut [i32],
    pub dists: &'a mut [F],
    pub second: &'a mut [F],
    pub xn: &'a mut [F],
}

/// `k` centres of `d` features, row-major, with what the kernels need
/// precomputed once per pass: squared norms (sparse kernel); the mean `μ`;
/// `-2(c - μ)` row-major (small `d`) and packed in blocks of [`BC`] centres
/// feature by feature (large `d`); `‖c - μ‖²`, padded with `+inf` for the
/// missing centres of the last block.
#[derive(Debug, Clone)]
pub struct Centers<F> {
    pub(crate) data: Vec<F>,
    pub(crate) sq_norms: Vec<F>,
    pub(crate) k: usize,
    pub(crate) d: usize,
    mu: Vec<F>,
    neg2: Vec<F>,
    packed: Vec<F>,
    /// For `BC < k ≤ FEW`: `-2(c - μ)` of all [`FEW`] (padded) centres
    /// feature by feature, one SIMD vector per feature for [`nearest_rows`].
    packed_few: Vec<F>,
    packed_raw: Vec<F>,
    norms_mu: Vec<F>,
    /// `(d + 4)·u` and `(d + 3)·u` (u the unit roundoff, with 1% to spare):
    /// the relative error bounds of the expansion and of the exact sum.
    err_expansion: f64,
    err_exact: f64,
    /// `2 · max_j ‖c_j - μ‖²`.
    twice_max_norm_mu: f64,
    /// The 8-bit screen of the large-`d` kernel, where it applies.
    screen: Option<Box<screen::ScreenCentres>>,
}

impl<F: Float> Centers<F> {
    /// Wraps a row-major `k × d` buffer.
    pub fn new(data: Vec<F>, k: usize, d: usize) -> Self {
        debug_assert_eq!(data.len(), k * d);
        let mut mu = vec![0f64; d];
        for c in data.chunks_exact(d) {
            for (m, v) in mu.iter_mut().zip(c) {
                *m += v.as_f64();
            }
        }
        // μ is rounded to an integer: on integer-valued data (pixels, counts)
        // `x - μ`, `c - μ` and the products stay exact, so equidistant
        // centres tie exactly and the lowest index wins, as with `Σ (x - c)²`.
        let mu: Vec<F> = mu
            .iter()
            .map(|m| F::from_f64((m / k.max(1) as f64).round()))
            .collect();
        Self::with_mu(data, k, d, mu, true)
    }

    /// With `screened`, also the 8-bit screen where it applies.
    fn with_mu(data: Vec<F>, k: usize, d: usize, mu: Vec<F>, screened: bool) -> Self {
        let sq_norms = row_sq_norms(&data, d);
        let centred: Vec<F> = data
            .chunks_exact(d)
            .flat_map(|c| c.iter().zip(&mu).map(|(v, m)| *v - *m))
            .collect();
        let mut norms_mu = row_sq_norms(&centred, d);
        let neg2: Vec<F> = centred.iter().map(|v| -(*v + *v)).collect();
        let blocks = k.div_ceil(BC);
        let mut packed = vec![F::zero(); blocks * d * BC];
        // Padding centres of the exact kernel sit at infinity: never nearest.
        let mut packed_raw = vec![F::infinity(); blocks * d * BC];
        for j in 0..k {
            let (b, cc) = (j / BC, j % BC);
            for f in 0..d {
                packed[b * d * BC + f * BC + cc] = neg2[j * d + f];
                packed_raw[b * d * BC + f * BC + cc] = data[j * d + f];
            }
        }
        let mut packed_few = Vec::new();
        if blocks == 2 {
            packed_few = vec![F::zero(); d * FEW];
            for (j, cj) in neg2.chunks_exact(d).enumerate() {
                for (f, v) in cj.iter().enumerate() {
                    packed_few[f * FEW + j] = *v;
                }
            }
        }
        let max_norm_mu = norms_mu.iter().fold(0f64, |m, v| m.max(v.as_f64()));
        let unit = F::epsilon().as_f64() / 2.0 * 1.01;
        let (err_expansion, err_exact) = ((d + 4) as f64 * unit, (d + 3) as f64 * unit);
        let screen = screened
            .then(|| screen::ScreenCentres::build(&centred, k, d, err_expansion, err_exact))
            .flatten()
            .map(Box::new);
        norms_mu.resize(blocks * BC, F::infinity());
        Centers {
            screen,
            err_expansion,
            err_exact,
            twice_max_norm_mu: 2.0 * max_norm_mu,
            data,
            sq_norms,
            k,
            d,
            mu,
            neg2,
            packed,
            packed_few,
            packed_raw,
            norms_mu,
        }
    }

    /// The centres regrouped for the bound-based algorithms: the `groups`
    /// one after another, each padded to whole blocks of [`BC`] with centres
    /// that are never nearest (`‖c - μ‖² = +inf`), and centred on this
    /// set's `μ`, so that every ranking value equals the one computed
    /// against the whole set (it depends only on the row, the centre and
    /// `μ`). Returns them with each group's range of blocks and the original
    /// index at every position (`usize::MAX` for padding).
    pub(crate) fn grouped(&self, groups: &[Vec<usize>]) -> (Self, Vec<Range<usize>>, Vec<usize>) {
        let d = self.d;
        let (mut data, mut ranges, mut orig) = (Vec::new(), Vec::new(), Vec::new());
        for g in groups {
            let first = orig.len() / BC;
            for &j in g {
                data.extend_from_slice(self.row(j));
                orig.push(j);
            }
            while orig.len() % BC != 0 {
                data.extend(std::iter::repeat_n(F::zero(), d));
                orig.push(usize::MAX);
            }
            ranges.push(first..orig.len() / BC);
        }
        // Without the screen: the bound-based algorithms rank with the
        // blocked kernel's values alone (and the screen would also need the
        // padding's norms).
        let mut c = Self::with_mu(data, orig.len(), d, self.mu.clone(), false);
        for (p, &j) in orig.iter().enumerate() {
            if j == usize::MAX {
                c.norms_mu[p] = F::infinity();
            }
        }
        (c, ranges, orig)
    }

    /// `x - μ` into `out`, as the kernels centre a row.
    pub(crate) fn centre_row(&self, x: &[F], out: &mut [F]) {
        centre_row(x, &self.mu, out, false);
    }

    /// Centre `j`.
    pub fn row(&self, j: usize) -> &[F] {
        &self.data[j * self.d..(j + 1) * self.d]
    }

    /// An upper bound on `‖x - μ‖²` of a row, for bounds: [`sq_dist`] in
    /// `F`, enlarged by the worst relative error of such a sum.
    pub(crate) fn row_norm_mu(&self, x: &[F]) -> f64 {
        sq_dist(x, &self.mu).as_f64() * (1.0 + self.err_exact)
    }

    /// `‖c_j - μ‖²`.
    pub(crate) fn norm_mu(&self, j: usize) -> f64 {
        self.norms_mu[j].as_f64()
    }

    /// The expansion's error coefficient `(d + 4)u` and `2 max ‖c - μ‖²`:
    /// every expansion value is within `(d + 4)u (2 max ‖c - μ‖² + ‖x - μ‖²)`
    /// of `‖x - c‖² - ‖x - μ‖²` (see [`Centers::tie_slack`]).
    pub(crate) fn expansion_error(&self) -> (f64, f64) {
        (self.err_expansion, self.twice_max_norm_mu)
    }

    /// How far apart the best and second-best expansion values `g` of a
    /// row (with `‖x - μ‖² = xn`) must be for the best to be the exact
    /// nearest centre. Each `g_j` is within `E = (d+4)u(2 max‖c - μ‖² + xn)`
    /// of `‖x - c_j‖² - ‖x - μ‖²` (`2|a·b| ≤ ‖a‖² + ‖b‖²`), and the exact sum
    /// within `(d+3)u·T` of the true squared distance `T`; so a gap above
    /// `2E + 2.2(d+3)u·T_best` separates the exact sums too. Twice that, for
    /// the rounding of this very test.
    #[inline(always)]
    fn tie_slack(&self, best: F, xn: F) -> F {
        let xn = xn.as_f64();
        let e = self.err_expansion * (self.twice_max_norm_mu + xn);
        let t_best = (best.as_f64() + xn).max(0.0) + e;
        F::from_f64(2.0 * (2.0 * e + 2.2 * self.err_exact * t_best))
    }
}

/// Squared Euclidean distance with eight independent accumulators, so that
/// the compiler can vectorise the loop; the combining order is fixed.
#[inline(always)]
pub fn sq_dist<F: Float>(a: &[F], b: &[F]) -> F {
    let n = a.len().min(b.len());
    let (ca, ra) = a[..n].as_chunks::<8>();
    let (cb, rb) = b[..n].as_chunks::<8>();
    let mut acc = [F::zero(); 8];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..8 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    // Opaque to the optimiser: otherwise LLVM lays the accumulators out for
    // the pairwise combine below and pays shuffles on every step of the loop
    // instead of once.
    let acc = std::hint::black_box(acc);
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        let t = *x - *y;
        s += t * t;
    }
    s
}

/// Asks the CPU to bring `s[from..to]` (clamped to `s`) into its caches:
/// the next group of rows while the kernels rank this one. A group's rows
/// lie far apart, more streams than the hardware prefetchers follow; on
/// 100,000 × 256 rows, k = 100, this made a screened pass a quarter faster.
#[inline(always)]
fn prefetch<F>(s: &[F], from: usize, to: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let next = &s[from.min(s.len())..to.min(s.len())];
        for line in next.chunks((64 / std::mem::size_of::<F>()).max(1)) {
            // SAFETY: a prefetch of an address inside `s` (SSE, part of
            // every x86_64 CPU); it has no effect on memory.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (s, from, to);
    }
}

fn as_fixed<F, const D: usize>(s: &[F]) -> &[[F; D]] {
    let (chunks, rest) = s.as_chunks::<D>();
    debug_assert!(rest.is_empty());
    chunks
}

/// Scalar reference for any `d` (tests).
#[cfg(test)]
fn nearest_generic<F: Float>(
    tile: &[F],
    d: usize,
    centers: &[F],
    labels: &mut [i32],
    dists: &mut [F],
) {
    for ((x, lab), dist) in tile
        .chunks_exact(d)
        .zip(labels.iter_mut())
        .zip(dists.iter_mut())
    {
        let mut best = F::infinity();
        let mut best_j = 0usize;
        for (j, c) in centers.chunks_exact(d).enumerate() {
            let dd = sq_dist(x, c);
            if dd < best {
                best = dd;
                best_j = j;
            }
        }
        *lab = best_j as i32;
        *dist = best;
    }
}

#[inline(always)]
fn madd<F: Float, const FMA: bool>(a: F, b: F, acc: F) -> F {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// The distance reported for a row from its best ranking value `g`: in the
/// exact kernels `g` is the distance itself; otherwise `g + ‖x - μ‖²`,
/// clamped at 0. `+inf` when the ranking was not finite (NaN or infinity in
/// the row, or overflowing squares).
#[inline(always)]
fn report<F: Float, const MODE: u8>(g: F, x_norm_mu: F) -> F {
    if MODE == BOUNDS {
        return g;
    }
    let v = if MODE == EXACT { g } else { g + x_norm_mu };
    let v = if v < F::zero() { F::zero() } else { v };
    // Written as a comparison so that it vectorises (false for NaN).
    if g.abs() < F::infinity() {
        v
    } else {
        F::infinity()
    }
}

/// The small-`d` lane kernel for `D` features.
#[inline(always)]
fn nearest_lanes<F: Float, const D: usize, const FMA: bool, const MODE: u8>(
    tile: &[F],
    c: &Centers<F>,
    out: &mut Out<'_, F>,
) {
    let xs: &[[F; D]] = as_fixed(tile);
    for (g, xb) in xs.chunks(LANES).enumerate() {
        let r = g * LANES..g * LANES + xb.len();
        let bounds = MODE == BOUNDS;
        let mut group = Out {
            labels: &mut out.labels[r.clone()],
            dists: &mut out.dists[r.clone()],
            second: if bounds {
                &mut out.second[r.clone()]
            } else {
                &mut []
            },
            xn: if bounds { &mut out.xn[r] } else { &mut [] },
        };
        lanes_group::<F, D, FMA, MODE>(xb, c, &mut group);
    }
}

/// Lanes of the small-`d` kernel that form one dependency chain; a group is
/// two of them. Each half is a separate array whose loops unroll fully, so
/// that the running minima stay in registers.
const HALF: usize = LANES / 2;

/// Updates the running minimum (and with `SECOND` the runner-up) of one
/// half-group with centre value `g`.
#[inline(always)]
fn keep_min<F: Float, const SECOND: bool>(
    g: &[F; HALF],
    best: &mut [F; HALF],
    second: &mut [F; HALF],
    idx: &mut [F; HALF],
    jf: F,
) {
    for l in 0..HALF {
        let lt = g[l] < best[l];
        if SECOND {
            // max(g, best) without NaN handling: a NaN `g` is ignored.
            let hi = if lt { best[l] } else { g[l] };
            second[l] = if hi < second[l] { hi } else { second[l] };
        }
        best[l] = if lt { g[l] } else { best[l] };
        idx[l] = if lt { jf } else { idx[l] };
    }
}

/// One group of up to `2 · HALF` rows of the small-`d` kernel; missing rows
/// of a last, short group are zeros whose results are dropped, so every row
/// is ranked by the same operations wherever it sits.
#[inline(always)]
fn lanes_group<F: Float, const D: usize, const FMA: bool, const MODE: u8>(
    xb: &[[F; D]],
    c: &Centers<F>,
    out: &mut Out<'_, F>,
) {
    let exact = MODE == EXACT;
    let bounds = MODE == BOUNDS;
    let m: &[[F; D]] = as_fixed(&c.neg2);
    let cs: &[[F; D]] = as_fixed(&c.data);
    let mu: &[F; D] = c.mu.as_slice().try_into().expect("D features");
    // A short last group is padded with zero rows.
    let mut padded = [[F::zero(); D]; LANES];
    let rows: &[[F; D]; LANES] = match xb.try_into() {
        Ok(full) => full,
        Err(_) => {
            padded[..xb.len()].copy_from_slice(xb);
            &padded
        }
    };
    // Exact: the raw rows; ranking: the rows centred on μ. Feature f of
    // row h·HALF + l at x[h][f][l]; fixed trip counts, so the transposition
    // vectorises.
    let mut x = [[[F::zero(); HALF]; D]; 2];
    for h in 0..2 {
        for f in 0..D {
            for l in 0..HALF {
                let v = rows[h * HALF + l][f];
                x[h][f][l] = if exact { v } else { v - mu[f] };
            }
        }
    }
    let mut xn = [[F::zero(); HALF]; 2];
    if MODE != LABELS {
        for h in 0..2 {
            for f in 0..D {
                for l in 0..HALF {
                    xn[h][l] += x[h][f][l] * x[h][f][l];
                }
            }
        }
    }
    let [x0, x1] = &x;
    let mut best0 = [F::infinity(); HALF];
    let mut best1 = [F::infinity(); HALF];
    let mut second0 = [F::infinity(); HALF];
    let mut second1 = [F::infinity(); HALF];
    // The index is kept as a float of the lane width so that the select
    // vectorises with the comparison mask (exact for k < 2^24).
    let mut idx0 = [F::zero(); HALF];
    let mut idx1 = [F::zero(); HALF];
    let mut jf = F::zero();
    for ((mj, nj), cj) in m.iter().zip(&c.norms_mu).zip(cs) {
        let (g0, g1) = if exact {
            // Σ (x - c)² in feature order, unfused: the same bits as the
            // scalar reference (and scipy's vq). The first square is taken
            // as the sum: 0 + t² is t² (a square is never -0), one
            // addition fewer.
            let t0: [F; HALF] = std::array::from_fn(|l| x0[0][l] - cj[0]);
            let t1: [F; HALF] = std::array::from_fn(|l| x1[0][l] - cj[0]);
            let mut g0: [F; HALF] = std::array::from_fn(|l| t0[l] * t0[l]);
            let mut g1: [F; HALF] = std::array::from_fn(|l| t1[l] * t1[l]);
            for f in 1..D {
                for l in 0..HALF {
                    let (t0, t1) = (x0[f][l] - cj[f], x1[f][l] - cj[f]);
                    g0[l] += t0 * t0;
                    g1[l] += t1 * t1;
                }
            }
            (g0, g1)
        } else {
            let mut g0 = [*nj; HALF];
            let mut g1 = g0;
            for f in 0..D {
                for l in 0..HALF {
                    g0[l] = madd::<F, FMA>(x0[f][l], mj[f], g0[l]);
                    g1[l] = madd::<F, FMA>(x1[f][l], mj[f], g1[l]);
                }
            }
            (g0, g1)
        };
        if bounds {
            keep_min::<F, true>(&g0, &mut best0, &mut second0, &mut idx0, jf);
            keep_min::<F, true>(&g1, &mut best1, &mut second1, &mut idx1, jf);
        } else {
            keep_min::<F, false>(&g0, &mut best0, &mut second0, &mut idx0, jf);
            keep_min::<F, false>(&g1, &mut best1, &mut second1, &mut idx1, jf);
        }
        jf += F::one();
    }
    let (best, idx) = ([best0, best1], [idx0, idx1]);
    let mut lab = [0i32; LANES];
    let mut dist = [F::zero(); LANES];
    for h in 0..2 {
        for l in 0..HALF {
            lab[h * HALF + l] = idx[h][l].to_i32();
            dist[h * HALF + l] = report::<F, MODE>(best[h][l], xn[h][l]);
        }
    }
    put(out.labels, &lab);
    put(out.dists, &dist);
    if bounds {
        let (mut s, mut x) = ([F::zero(); LANES], [F::zero(); LANES]);
        for l in 0..HALF {
            (s[l], s[HALF + l]) = (second0[l], second1[l]);
            (x[l], x[HALF + l]) = (xn[0][l], xn[1][l]);
        }
        put(out.second, &s);
        put(out.xn, &x);
    }
}

/// The first `out.len()` values of `v` into `out`: a fixed-size copy when
/// `out` takes all of them (a call of `memmove` otherwise, too dear for one
/// group of rows).
#[inline(always)]
fn put<T: Copy, const N: usize>(out: &mut [T], v: &[T; N]) {
    match <&mut [T; N]>::try_from(&mut *out) {
        Ok(all) => *all = *v,
        Err(_) => out.copy_from_slice(&v[..out.len()]),
    }
}

/// `acc[l] += x[l] · c` for every lane.
#[inline(always)]
fn fma_lanes<F: Float, const FMA: bool>(acc: &mut [F; BR], x: &[F; BR], c: F) {
    for l in 0..BR {
        acc[l] = madd::<F, FMA>(x[l], c, acc[l]);
    }
}

/// `Σ (x - c)²` in feature order, unfused: the exact distance whose bits
/// every reported distance has (the same as scipy's `vq`); the kernels
/// compute it four rows at a time ([`seq_dist4`]), the tests one by one.
#[cfg(test)]
#[inline(always)]
pub(crate) fn seq_dist<F: Float>(x: &[F], c: &[F]) -> F {
    let mut s = F::zero();
    for (a, b) in x.iter().zip(c) {
        let t = *a - *b;
        s += t * t;
    }
    s
}

/// The exact nearest centre of one row (`Σ (x - c)²` in feature order, ties
/// to the lowest index), [`BC`] centres at a time from the packed raw
/// centres: the fallback for rows whose two nearest centres are too close
/// for the expansion to rank them with certainty.
#[inline(always)]
fn nearest_exact_row<F: Float>(x: &[F], c: &Centers<F>) -> (usize, F) {
    let d = c.d;
    let mut best = F::infinity();
    let mut best_j = 0;
    for (b, block) in c.packed_raw.chunks_exact(d * BC).enumerate() {
        let cs: &[[F; BC]] = as_fixed(block);
        let mut acc = [F::zero(); BC];
        for (xv, cv) in x.iter().zip(cs) {
            for cc in 0..BC {
                let t = *xv - cv[cc];
                acc[cc] += t * t;
            }
        }
        for (cc, a) in acc.iter().enumerate() {
            if *a < best {
                best = *a;
                best_j = b * BC + cc;
            }
        }
    }
    (best_j, best)
}

/// The large-`d` kernel: a block of [`BR`] rows (transposed, centred) against
/// [`BC`] centres at a time, `BR × BC` running dot products in registers —
/// the micro-kernel of a matrix product, fused with the argmin. It ranks
/// centres by the centred expansion. In the exact mode it also keeps, per
/// row, the second-best value: when the gap between the two exceeds the
/// worst-case rounding of both the expansion and the exact sum (a bound from
/// the norms, see [`Centers::tie_slack`]), the best centre is also the exact
/// nearest one and only its exact distance is computed; otherwise the row is
/// ranked again exactly. So exact labels and distances are those of
/// `Σ (x - c)²`, at nearly the speed of the expansion.
#[inline(always)]
fn nearest_blocked<F: Float, const FMA: bool, const MODE: u8>(
    tile: &[F],
    c: &Centers<F>,
    out: &mut Out<'_, F>,
) {
    let (exact, bounds) = (MODE == EXACT, MODE == BOUNDS);
    let d = c.d;
    let n = out.labels.len();
    let blocks = c.packed.len() / (d * BC);
    // One group of rows, transposed and centred: feature f of lane l at f·BR + l.
    let mut xg = vec![F::zero(); d * BR];
    for g in 0..n.div_ceil(BR) {
        let rows = (g * BR)..((g + 1) * BR).min(n);
        if rows.len() < BR {
            xg.fill(F::zero());
        }
        for (l, r) in rows.clone().enumerate() {
            for (f, v) in tile[r * d..(r + 1) * d].iter().enumerate() {
                xg[f * BR + l] = *v - c.mu[f];
            }
        }
        prefetch(tile, rows.end * d, (rows.end + BR) * d);
        let xs: &[[F; BR]] = as_fixed(&xg);
        let mut xn = [F::zero(); BR];
        if MODE != LABELS {
            for xv in xs {
                for l in 0..BR {
                    xn[l] += xv[l] * xv[l];
                }
            }
        }
        let mut best = [F::infinity(); BR];
        let mut second = [F::infinity(); BR];
        let mut idx = [F::zero(); BR];
        for b in 0..blocks {
            let mut acc = [[F::zero(); BR]; BC];
            for (cc, a) in acc.iter_mut().enumerate() {
                *a = [c.norms_mu[b * BC + cc]; BR];
            }
            let cs: &[[F; BC]] = as_fixed(&c.packed[b * d * BC..(b + 1) * d * BC]);
            for (xv, cv) in xs.iter().zip(cs) {
                for (a, &cb) in acc.iter_mut().zip(cv) {
                    fma_lanes::<F, FMA>(a, xv, cb);
                }
            }
            let mut jf = F::from_f64((b * BC) as f64);
            for a in &acc {
                for l in 0..BR {
                    let lt = a[l] < best[l];
                    if exact || bounds {
                        // max(a, best) without NaN handling: a NaN `a` is ignored.
                        let hi = if lt { best[l] } else { a[l] };
                        second[l] = if hi < second[l] { hi } else { second[l] };
                    }
                    best[l] = if lt { a[l] } else { best[l] };
                    idx[l] = if lt { jf } else { idx[l] };
                }
                jf += F::one();
            }
        }
        let found: [Found<F>; BR] = std::array::from_fn(|l| Found {
            best: best[l],
            second: second[l],
            j: idx[l].index(),
            xn: xn[l],
        });
        finish_rows::<F, MODE>(tile, c, &found[..rows.len()], rows.start, out);
    }
}

/// What a kernel found for one row: the best and second-best ranking
/// values (the second only in the `EXACT` and `BOUNDS` modes), the best
/// centre and `‖x - μ‖²`.
#[derive(Clone, Copy)]
struct Found<F> {
    best: F,
    second: F,
    j: usize,
    xn: F,
}

/// Writes row `r`'s results in the mode's terms. In the `EXACT` mode the
/// expansion's winner is kept when its margin over the runner-up exceeds
/// the proven rounding bound ([`Centers::tie_slack`]), and its exact
/// distance computed; otherwise the row is ranked again exactly.
#[inline(always)]
fn finish_row<F: Float, const MODE: u8>(
    x: &[F],
    c: &Centers<F>,
    f: Found<F>,
    exact_to_j: F,
    out: &mut Out<'_, F>,
    r: usize,
) {
    if MODE != EXACT {
        out.labels[r] = f.j as i32;
        out.dists[r] = report::<F, MODE>(f.best, f.xn);
        if MODE == BOUNDS {
            out.second[r] = f.second;
            out.xn[r] = f.xn;
        }
        return;
    }
    let (j, dist) = if !(f.best.is_finite() && f.xn.is_finite()) {
        (f.j, F::infinity())
    } else if f.second - f.best > c.tie_slack(f.best, f.xn) {
        (f.j, exact_to_j)
    } else {
        nearest_exact_row(x, c)
    };
    out.labels[r] = j as i32;
    out.dists[r] = if dist.is_finite() {
        dist
    } else {
        F::infinity()
    };
}

/// [`finish_row`] for the rows `first..first + found.len()` of the tile; in
/// the `EXACT` mode the exact distances to the winners are computed four
/// rows at a time (four independent chains of additions).
#[inline(always)]
fn finish_rows<F: Float, const MODE: u8>(
    tile: &[F],
    c: &Centers<F>,
    found: &[Found<F>],
    first: usize,
    out: &mut Out<'_, F>,
) {
    let d = c.d;
    let row = |r: usize| &tile[r * d..(r + 1) * d];
    for (q, chunk) in found.chunks(4).enumerate() {
        let base = first + 4 * q;
        let exact = if MODE == EXACT {
            // A short last chunk repeats its last row (result unused).
            let last = chunk.len() - 1;
            seq_dist4(
                std::array::from_fn(|i| row(base + i.min(last))),
                std::array::from_fn(|i| c.row(chunk[i.min(last)].j)),
            )
        } else {
            [F::zero(); 4]
        };
        for (i, f) in chunk.iter().enumerate() {
            finish_row::<F, MODE>(row(base + i), c, *f, exact[i], out, base + i);
        }
    }
}

/// `Σ (x - c)²` of four pairs at once, each in feature order, unfused.
/// Four features of the four pairs are loaded as four short vectors and
/// transposed, so that each addition works on the four sums at once: the
/// compiler would otherwise gather the four rows' values feature by
/// feature (slower than four scalar chains).
#[inline(always)]
fn seq_dist4<F: Float>(xs: [&[F]; 4], cs: [&[F]; 4]) -> [F; 4] {
    let mut s = [F::zero(); 4];
    let d = xs[0].len();
    let q = d / 4 * 4;
    let xq = xs.map(|x| x[..q].as_chunks::<4>().0);
    let cq = cs.map(|c| c[..q].as_chunks::<4>().0);
    for b in 0..q / 4 {
        // t[i][j]: feature 4b + j of pair i.
        let t: [[F; 4]; 4] = std::array::from_fn(|i| {
            let (x, c) = (xq[i][b], cq[i][b]);
            std::array::from_fn(|j| x[j] - c[j])
        });
        for j in 0..4 {
            let tj: [F; 4] = std::array::from_fn(|i| t[i][j]);
            for i in 0..4 {
                s[i] += tj[i] * tj[i];
            }
        }
    }
    for f in q..d {
        for i in 0..4 {
            let t = xs[i][f] - cs[i][f];
            s[i] += t * t;
        }
    }
    s
}

/// The kernel for many features and few centres (at most [`FEW`]): the
/// centres sit in the SIMD lanes (a vector of [`BC`] or [`FEW`] per
/// feature) and `R` rows at a time stream past, so rows need no
/// transposition, which would cost as much as the arithmetic here. `R`
/// independent chains of multiply-adds: 8 where there are registers for
/// them (AVX-512), else 4. Each ranking value is computed by the same
/// operations in the same order as in [`nearest_blocked`], so both kernels
/// give the same labels; `‖x - μ‖²` is summed in another order (see
/// [`centre_row`]; only distances and bounds use it, within rounding).
#[inline(always)]
fn nearest_rows<F: Float, const FMA: bool, const MODE: u8, const R: usize>(
    tile: &[F],
    c: &Centers<F>,
    out: &mut Out<'_, F>,
) {
    if c.packed.len() == c.d * BC {
        rows_kernel::<F, FMA, MODE, R, BC>(tile, c, &c.packed, out)
    } else {
        debug_assert_eq!(c.packed_few.len(), c.d * FEW);
        rows_kernel::<F, FMA, MODE, R, FEW>(tile, c, &c.packed_few, out)
    }
}

/// [`nearest_rows`] with `W` centre lanes (`pw`: `d` vectors of `W`).
#[inline(always)]
fn rows_kernel<F: Float, const FMA: bool, const MODE: u8, const R: usize, const W: usize>(
    tile: &[F],
    c: &Centers<F>,
    pw: &[F],
    out: &mut Out<'_, F>,
) {
    let d = c.d;
    let n = out.labels.len();
    let pw: &[[F; W]] = as_fixed(pw);
    let norms: &[F; W] = c.norms_mu[..W].try_into().expect("W norms");
    let mut xq = vec![F::zero(); R * d];
    for r0 in (0..n).step_by(R) {
        let m = R.min(n - r0);
        let mut xn = [F::zero(); R];
        for (rr, o) in xq.chunks_exact_mut(d).enumerate() {
            if rr < m {
                let x = &tile[(r0 + rr) * d..(r0 + rr + 1) * d];
                xn[rr] = centre_row(x, &c.mu, o, MODE != LABELS);
            } else {
                o.fill(F::zero());
            }
        }
        let xr: [&[F]; R] = std::array::from_fn(|rr| &xq[rr * d..(rr + 1) * d]);
        let g = rows_lanes::<F, FMA, R, W>(pw, norms, xr);
        let found: [Found<F>; R] = std::array::from_fn(|rr| {
            let (best, j, second) = argmin_lanes::<F, W>(&g[rr], MODE == EXACT || MODE == BOUNDS);
            Found {
                best,
                second,
                j,
                xn: xn[rr],
            }
        });
        finish_rows::<F, MODE>(tile, c, &found[..m], r0, out);
    }
}

/// Writes `x - μ` to `out` and returns `‖x - μ‖²` (0 without `norm`),
/// summed in 16 lanes combined in a fixed order (a vector or two of
/// additions, where a sum in feature order would be a chain of `d`
/// dependent ones).
#[inline(always)]
fn centre_row<F: Float>(x: &[F], mu: &[F], out: &mut [F], norm: bool) -> F {
    const L: usize = 16;
    for ((o, v), m) in out.iter_mut().zip(x).zip(mu) {
        *o = *v - *m;
    }
    if !norm {
        return F::zero();
    }
    let mut acc = [F::zero(); L];
    let (oc, or) = out.as_chunks::<L>();
    for ov in oc {
        for l in 0..L {
            acc[l] += ov[l] * ov[l];
        }
    }
    for (a, v) in acc.iter_mut().zip(or) {
        *a += *v * *v;
    }
    // Halves added pairwise, each step a new array (in place, the steps
    // go through memory and stall on store forwarding).
    let a8: [F; 8] = std::array::from_fn(|l| acc[l] + acc[l + 8]);
    let a4: [F; 4] = std::array::from_fn(|l| a8[l] + a8[l + 4]);
    (a4[0] + a4[2]) + (a4[1] + a4[3])
}

/// `norms + Σ_f x_r[f] · c[f]` for `R` rows against the `W` centres packed
/// in `pw`: `R` independent accumulators, each summed in feature order with
/// the same operations as [`nearest_blocked`].
#[inline(always)]
fn rows_lanes<F: Float, const FMA: bool, const R: usize, const W: usize>(
    pw: &[[F; W]],
    norms: &[F; W],
    xr: [&[F]; R],
) -> [[F; W]; R] {
    let mut acc = [*norms; R];
    // Every row sliced to exactly `pw.len()` features: no bounds checks below.
    let xr = xr.map(|x| &x[..pw.len()]);
    for (f, cv) in pw.iter().enumerate() {
        for r in 0..R {
            let v = xr[r][f];
            for l in 0..W {
                acc[r][l] = madd::<F, FMA>(v, cv[l], acc[r][l]);
            }
        }
    }
    acc
}

/// The smallest of `v` (which holds no NaN), by a tree of comparisons that
/// vectorises.
#[inline(always)]
fn lanes_min<F: Float, const W: usize>(mut v: [F; W]) -> F {
    let mut s = W / 2;
    while s > 0 {
        for l in 0..s {
            v[l] = if v[l + s] < v[l] { v[l + s] } else { v[l] };
        }
        s /= 2;
    }
    v[0]
}

/// The first lane of `v` equal to `m` (`m` is one of them).
#[inline(always)]
fn first_equal<F: Float, const W: usize>(v: &[F; W], m: F) -> usize {
    let mut mask = 0u32;
    for (l, x) in v.iter().enumerate() {
        mask |= u32::from(*x == m) << l;
    }
    mask.trailing_zeros() as usize
}

/// Without branches, what a scan of `g` in lane order with a strict `<`
/// finds: the best value and its lane (the lowest on ties; lane 0 and
/// `+inf` when no value is below `+inf`), and with `want_second` the best of the
/// other lanes (`+inf` otherwise). NaN is never best.
#[inline(always)]
fn argmin_lanes<F: Float, const W: usize>(g: &[F; W], want_second: bool) -> (F, usize, F) {
    let inf = F::infinity();
    // NaN as +inf (written as a comparison so that it vectorises).
    let v: [F; W] = std::array::from_fn(|l| if g[l] < inf { g[l] } else { inf });
    let j = first_equal(&v, lanes_min(v));
    if !want_second {
        return (v[j], j, inf);
    }
    let others: [F; W] = std::array::from_fn(|l| if l == j { inf } else { v[l] });
    // The value of the first lane that reaches the minimum, as the scan
    // keeps it (the sign of a zero included).
    let second = others[first_equal(&others, lanes_min(others))];
    (v[j], j, second)
}

/// `norms + Σ_f x_rr[f] · c[f]` for [`RR`] rows against one block of
/// [`BC`] packed centres: `RR` independent accumulators, each summed in
/// feature order with the same operations as [`nearest_blocked`].
#[inline(always)]
fn rows_block<F: Float, const FMA: bool>(
    c: &Centers<F>,
    b: usize,
    xr: [&[F]; RR],
) -> [[F; BC]; RR] {
    let d = c.d;
    let pb: &[[F; BC]] = as_fixed(&c.packed[b * d * BC..(b + 1) * d * BC]);
    let norms: [F; BC] = c.norms_mu[b * BC..(b + 1) * BC]
        .try_into()
        .expect("BC norms");
    let (mut a0, mut a1, mut a2, mut a3) = (norms, norms, norms, norms);
    let [x0, x1, x2, x3] = xr;
    for ((((cv, &v0), &v1), &v2), &v3) in pb.iter().zip(x0).zip(x1).zip(x2).zip(x3) {
        fma_bc::<F, FMA>(&mut a0, v0, cv);
        fma_bc::<F, FMA>(&mut a1, v1, cv);
        fma_bc::<F, FMA>(&mut a2, v2, cv);
        fma_bc::<F, FMA>(&mut a3, v3, cv);
    }
    [a0, a1, a2, a3]
}

/// The most centres [`nearest_rows`] handles.
const FEW: usize = 2 * BC;

/// Rows interleaved by [`distances_rows`], so that their sums form
/// independent dependency chains.
const RR: usize = 4;

/// Squared distances (by the centred expansion, clamped at 0) from every
/// row of the tile to every centre, written row-major to `out` (rows × k):
/// the candidate evaluation of k-means++, where k is a handful. Here the
/// centres sit in the SIMD lanes ([`BC`] at a time, packed feature by
/// feature) and rows stream past, so no transposition is needed.
#[inline(always)]
fn distances_rows<F: Float, const FMA: bool>(tile: &[F], c: &Centers<F>, out: &mut [F]) {
    let (d, k) = (c.d, c.k);
    let n = tile.len() / d;
    let blocks = c.packed.len() / (d * BC);
    // RR rows at a time, centred; missing rows of the last group are zero.
    let mut xq = vec![F::zero(); RR * d];
    for r0 in 0..n.div_ceil(RR) {
        for rr in 0..RR {
            let r = r0 * RR + rr;
            let o = &mut xq[rr * d..(rr + 1) * d];
            if r < n {
                for ((o, v), m) in o.iter_mut().zip(&tile[r * d..(r + 1) * d]).zip(&c.mu) {
                    *o = *v - *m;
                }
            } else {
                o.fill(F::zero());
            }
        }
        let xr: [&[F]; RR] = std::array::from_fn(|rr| &xq[rr * d..(rr + 1) * d]);
        let mut xn = [F::zero(); RR];
        for (rr, x) in xr.iter().enumerate() {
            for v in x.iter() {
                xn[rr] = madd::<F, FMA>(*v, *v, xn[rr]);
            }
        }
        for b in 0..blocks {
            let acc = rows_block::<F, FMA>(c, b, xr);
            for rr in 0..RR {
                let r = r0 * RR + rr;
                if r >= n {
                    break;
                }
                for cc in 0..BC.min(k - b * BC) {
                    let v = acc[rr][cc] + xn[rr];
                    out[r * k + b * BC + cc] = if v < F::zero() { F::zero() } else { v };
                }
            }
        }
    }
}

/// `acc[cc] += x · c[cc]` for every centre lane.
#[inline(always)]
fn fma_bc<F: Float, const FMA: bool>(acc: &mut [F; BC], x: F, c: &[F; BC]) {
    for cc in 0..BC {
        acc[cc] = madd::<F, FMA>(x, c[cc], acc[cc]);
    }
}

/// `Σ (x - c)²` from every row of the tile to the one centre `c`.
#[inline(always)]
fn distances_one<F: Float>(tile: &[F], c: &[F], out: &mut [F]) {
    for (o, r) in out.iter_mut().zip(tile.chunks_exact(c.len())) {
        *o = sq_dist(r, c);
    }
}

/// Which instruction set the kernels use: detected at run time, capped by
/// the `FERROKMEANS_SIMD` environment variable (`portable`, `avx2`,
/// `avx512`) so that the portable path can be forced and tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SimdLevel {
    Portable,
    Avx2,
    Avx512,
}

impl SimdLevel {
    /// The name used by `FERROKMEANS_SIMD` and `show_versions`.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Portable => "portable",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }
}

/// The SIMD level in use (detected once per process).
pub fn simd_level() -> SimdLevel {
    static LEVEL: std::sync::OnceLock<SimdLevel> = std::sync::OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[allow(unused_mut)]
        let mut detected = SimdLevel::Portable;
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                detected = SimdLevel::Avx2;
            }
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512dq")
            {
                detected = SimdLevel::Avx512;
            }
        }
        let cap = match std::env::var("FERROKMEANS_SIMD").as_deref() {
            Ok("portable") => SimdLevel::Portable,
            Ok("avx2") => SimdLevel::Avx2,
            _ => SimdLevel::Avx512,
        };
        detected.min(cap)
    })
}

/// Defines `$name<F, …, MODE>` running `$kernel` compiled for the best
/// instruction set available, with fused multiply-adds only where the CPU
/// has them.
macro_rules! dispatch {
    ($name:ident [$($cg:ident),*] => $kernel:ident) => {
        fn $name<F: Float, $(const $cg: usize,)* const MODE: u8>(
            tile: &[F],
            c: &Centers<F>,
            out: &mut Out<'_, F>,
        ) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                fn avx512<F: Float, $(const $cg: usize,)* const MODE: u8>(
                    tile: &[F],
                    c: &Centers<F>,
                    out: &mut Out<'_, F>,
                ) {
                    $kernel::<F, $($cg,)* true, MODE>(tile, c, out)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<F: Float, $(const $cg: usize,)* const MODE: u8>(
                    tile: &[F],
                    c: &Centers<F>,
                    out: &mut Out<'_, F>,
                ) {
                    $kernel::<F, $($cg,)* true, MODE>(tile, c, out)
                }
                match simd_level() {
                    // SAFETY: simd_level() only reports features this CPU has.
                    SimdLevel::Avx512 => {
                        return unsafe { avx512::<F, $($cg,)* MODE>(tile, c, out) }
                    }
                    // SAFETY: as above.
                    SimdLevel::Avx2 => {
                        return unsafe { avx2::<F, $($cg,)* MODE>(tile, c, out) }
                    }
                    SimdLevel::Portable => {}
                }
            }
            $kernel::<F, $($cg,)* false, MODE>(tile, c, out)
        }
    };
}

/// Defines `$vis fn $name<F: Float>(args)` running `$inner::<F, FMA>(args)`
/// compiled for the best instruction set available, with fused
/// multiply-adds only where the CPU has them (the attributes before `fn`,
/// such as its documentation, go to the defined function).
macro_rules! dispatch_fn {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) => $inner:ident) => {
        $(#[$m])*
        $vis fn $name<F: Float>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                fn avx512<F: Float>($($arg: $ty),*) {
                    $inner::<F, true>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<F: Float>($($arg: $ty),*) {
                    $inner::<F, true>($($arg),*)
                }
                match simd_level() {
                    // SAFETY: simd_level() only reports features this CPU has.
                    SimdLevel::Avx512 => return unsafe { avx512::<F>($($arg),*) },
                    // SAFETY: as above.
                    SimdLevel::Avx2 => return unsafe { avx2::<F>($($arg),*) },
                    SimdLevel::Portable => {}
                }
            }
            $inner::<F, false>($($arg),*)
        }
    };
}

dispatch!(nearest_small [D] => nearest_lanes);
dispatch!(nearest_large [] => nearest_blocked);

/// The kernel for few centres, for the best instruction set available:
/// with AVX-512 the rows in the lanes ([`few`]), else [`nearest_rows`]
/// with 4 rows at a time (the same results).
fn nearest_few<F: Float, const MODE: u8>(tile: &[F], c: &Centers<F>, out: &mut Out<'_, F>) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2,fma")]
        fn avx2<F: Float, const MODE: u8>(tile: &[F], c: &Centers<F>, out: &mut Out<'_, F>) {
            nearest_rows::<F, true, MODE, 4>(tile, c, out)
        }
        match simd_level() {
            // SAFETY: simd_level() only reports features this CPU has.
            SimdLevel::Avx512 => return unsafe { few::nearest_few_lanes::<F, MODE>(tile, c, out) },
            // SAFETY: as above.
            SimdLevel::Avx2 => return unsafe { avx2::<F, MODE>(tile, c, out) },
            SimdLevel::Portable => {}
        }
    }
    nearest_rows::<F, false, MODE, 4>(tile, c, out)
}

dispatch_fn!(
    /// Copies a tile's new labels over its old ones, adding how many changed
    /// to `changed`, and clears `finite` if any of `dists` is NaN or
    /// infinite: the bookkeeping of a pass after the kernel, compiled for the
    /// best instruction set available.
    pub(crate) fn take_labels(
        old: &mut [i32],
        new: &[i32],
        dists: &[F],
        changed: &mut usize,
        finite: &mut bool,
    ) => take_labels_any
);

#[inline(always)]
fn take_labels_any<F: Float, const FMA: bool>(
    old: &mut [i32],
    new: &[i32],
    dists: &[F],
    changed: &mut usize,
    finite: &mut bool,
) {
    *changed += old.iter().zip(new).filter(|(a, b)| a != b).count();
    old.copy_from_slice(new);
    *finite &= all_finite(dists);
}

/// Whether every one of `dists` is finite: a fold rather than `all`, with
/// no early exit, so that it vectorises.
#[inline(always)]
fn all_finite<F: Float>(dists: &[F]) -> bool {
    dists.iter().fold(true, |ok, v| ok & v.is_finite())
}

dispatch_fn!(
    /// Copies a tile's labels to `labels` and the square roots of its
    /// squared distances to `roots`, and clears `finite` if any distance is
    /// NaN or infinite: what `vq` keeps of a pass, compiled for the best
    /// instruction set available.
    pub(crate) fn take_roots(
        labels: &mut [i32],
        roots: &mut [F],
        new: &[i32],
        dists: &[F],
        finite: &mut bool,
    ) => take_roots_any
);

#[inline(always)]
fn take_roots_any<F: Float, const FMA: bool>(
    labels: &mut [i32],
    roots: &mut [F],
    new: &[i32],
    dists: &[F],
    finite: &mut bool,
) {
    labels.copy_from_slice(new);
    for (o, v) in roots.iter_mut().zip(dists) {
        *o = v.sqrt();
    }
    *finite &= all_finite(dists);
}

dispatch_fn!(
    /// Squared distances from every row of the tile to every centre of `c`
    /// (row-major, rows × k): exact `Σ (x - c)²` for a single centre, else by
    /// [`distances_rows`]; compiled for the best instruction set available.
    pub fn distances_to(tile: &[F], c: &Centers<F>, out: &mut [F]) => distances_run
);

#[inline(always)]
fn distances_run<F: Float, const FMA: bool>(tile: &[F], c: &Centers<F>, out: &mut [F]) {
    if c.k == 1 {
        distances_one(tile, &c.data, out)
    } else {
        distances_rows::<F, FMA>(tile, c, out)
    }
}

dispatch_fn!(
    /// Every ranking value `g_j` of every row of the tile (more than 8
    /// features), computed by exactly the operations of [`nearest_blocked`] and
    /// [`nearest_rows`], so that a caller can take minima over any set of
    /// centres and get the kernels' own labels. Layout: per group of [`BR`]
    /// rows `q`, the value of row `q·BR + l` and centre `p` (padding centres
    /// included, `+inf`) at `q·w·BR + p·BR + l`, with `w` = [`padded_k`]; `out`
    /// holds `⌈n / BR⌉·w·BR` values.
    pub(crate) fn expansion_values(tile: &[F], c: &Centers<F>, out: &mut [F]) => values_blocked
);

/// The number of centres [`expansion_values`] writes per row: `k` rounded
/// up to whole blocks.
pub(crate) fn padded_k<F>(c: &Centers<F>) -> usize {
    c.k.div_ceil(BC) * BC
}

/// [`nearest_blocked`]'s products without the argmin: each block's
/// `BR × BC` accumulators are stored as they are.
#[inline(always)]
fn values_blocked<F: Float, const FMA: bool>(tile: &[F], c: &Centers<F>, out: &mut [F]) {
    debug_assert!(c.d > 8);
    let d = c.d;
    let n = tile.len() / d;
    let blocks = c.packed.len() / (d * BC);
    let w = blocks * BC;
    debug_assert!(out.len() >= n.div_ceil(BR) * w * BR);
    let mut xg = vec![F::zero(); d * BR];
    for g in 0..n.div_ceil(BR) {
        let rows = (g * BR)..((g + 1) * BR).min(n);
        if rows.len() < BR {
            xg.fill(F::zero());
        }
        for (l, r) in rows.clone().enumerate() {
            for (f, v) in tile[r * d..(r + 1) * d].iter().enumerate() {
                xg[f * BR + l] = *v - c.mu[f];
            }
        }
        prefetch(tile, rows.end * d, (rows.end + BR) * d);
        let xs: &[[F; BR]] = as_fixed(&xg);
        let dst = &mut out[g * w * BR..(g + 1) * w * BR];
        for b in 0..blocks {
            let mut acc = [[F::zero(); BR]; BC];
            for (cc, a) in acc.iter_mut().enumerate() {
                *a = [c.norms_mu[b * BC + cc]; BR];
            }
            let cs: &[[F; BC]] = as_fixed(&c.packed[b * d * BC..(b + 1) * d * BC]);
            for (xv, cv) in xs.iter().zip(cs) {
                for (a, &cb) in acc.iter_mut().zip(cv) {
                    fma_lanes::<F, FMA>(a, xv, cb);
                }
            }
            for (cc, a) in acc.iter().enumerate() {
                let p = b * BC + cc;
                dst[p * BR..(p + 1) * BR].copy_from_slice(a);
            }
        }
    }
}

dispatch_fn!(
    /// The ranking values of one centred row `xc` (see [`Centers::centre_row`])
    /// against the blocks `blocks` of `c`: [`BC`] values per block, written to
    /// `out` block after block, by exactly the operations of
    /// [`nearest_blocked`] (more than 8 features).
    pub(crate) fn row_block_values(xc: &[F], c: &Centers<F>, blocks: &[usize], out: &mut [F]) => row_blocks
);

/// [`row_block_values`]: four blocks at a time, as independent chains.
#[inline(always)]
fn row_blocks<F: Float, const FMA: bool>(
    xc: &[F],
    c: &Centers<F>,
    blocks: &[usize],
    out: &mut [F],
) {
    debug_assert!(c.d > 8);
    let d = c.d;
    let pb = |b: usize| -> &[[F; BC]] { as_fixed(&c.packed[b * d * BC..(b + 1) * d * BC]) };
    let norms = |b: usize| -> [F; BC] {
        c.norms_mu[b * BC..(b + 1) * BC]
            .try_into()
            .expect("BC norms")
    };
    let mut i = 0;
    while i + 4 <= blocks.len() {
        let q = &blocks[i..i + 4];
        let (p0, p1, p2, p3) = (pb(q[0]), pb(q[1]), pb(q[2]), pb(q[3]));
        let (mut a0, mut a1, mut a2, mut a3) = (norms(q[0]), norms(q[1]), norms(q[2]), norms(q[3]));
        for (f, &x) in xc.iter().enumerate() {
            fma_bc::<F, FMA>(&mut a0, x, &p0[f]);
            fma_bc::<F, FMA>(&mut a1, x, &p1[f]);
            fma_bc::<F, FMA>(&mut a2, x, &p2[f]);
            fma_bc::<F, FMA>(&mut a3, x, &p3[f]);
        }
        for (o, a) in out[i * BC..(i + 4) * BC]
            .chunks_exact_mut(BC)
            .zip([a0, a1, a2, a3])
        {
            o.copy_from_slice(&a);
        }
        i += 4;
    }
    while i < blocks.len() {
        let p0 = pb(blocks[i]);
        let mut a0 = norms(blocks[i]);
        for (f, &x) in xc.iter().enumerate() {
            fma_bc::<F, FMA>(&mut a0, x, &p0[f]);
        }
        out[i * BC..(i + 1) * BC].copy_from_slice(&a0);
        i += 1;
    }
}

/// Centres per block of [`row_block_values`].
pub(crate) const BLOCK: usize = BC;

/// Rows per group in the layout of [`expansion_values`].
pub(crate) const VALUE_ROWS: usize = BR;

fn nearest_any<F: Float, const MODE: u8>(tile: &[F], c: &Centers<F>, out: &mut Out<'_, F>) {
    match c.d {
        1 => nearest_small::<F, 1, MODE>(tile, c, out),
        2 => nearest_small::<F, 2, MODE>(tile, c, out),
        3 => nearest_small::<F, 3, MODE>(tile, c, out),
        4 => nearest_small::<F, 4, MODE>(tile, c, out),
        5 => nearest_small::<F, 5, MODE>(tile, c, out),
        6 => nearest_small::<F, 6, MODE>(tile, c, out),
        7 => nearest_small::<F, 7, MODE>(tile, c, out),
        8 => nearest_small::<F, 8, MODE>(tile, c, out),
        _ if c.k <= FEW => nearest_few::<F, MODE>(tile, c, out),
        _ if MODE != BOUNDS && c.screen.is_some() => {
            screen::nearest_screened::<F, MODE>(tile, c, out)
        }
        _ => nearest_large::<F, MODE>(tile, c, out),
    }
}

/// For each row of the row-major `tile` (`labels.len()` rows × `d`), the
/// index of the nearest centre and the squared distance to it — exact
/// (`Σ (x - c)²`) when `exact`, else within rounding of the expansion.
/// A row whose ranking is NaN or infinite gets distance `+inf` (callers
/// treat a non-finite distance as invalid input).
pub fn nearest_dense<F: Float>(
    tile: &[F],
    c: &Centers<F>,
    labels: &mut [i32],
    dists: &mut [F],
    exact: bool,
) {
    let mut out = Out {
        labels,
        dists,
        second: &mut [],
        xn: &mut [],
    };
    if exact {
        nearest_any::<F, EXACT>(tile, c, &mut out)
    } else {
        nearest_any::<F, RANK>(tile, c, &mut out)
    }
}

/// The labels of [`nearest_dense`] (not exact), without the distances:
/// `dists` gets the `LABELS` mode's stand-ins, finite exactly where the
/// ranking was.
pub(crate) fn nearest_dense_labels<F: Float>(
    tile: &[F],
    c: &Centers<F>,
    labels: &mut [i32],
    dists: &mut [F],
) {
    let mut out = Out {
        labels,
        dists,
        second: &mut [],
        xn: &mut [],
    };
    nearest_any::<F, LABELS>(tile, c, &mut out)
}

/// The `BOUNDS` mode of the kernels: the labels of the `RANK` mode, and per
/// row the best and second-best expansion values and `‖x - μ‖²`.
pub(crate) fn nearest_dense_bounds<F: Float>(tile: &[F], c: &Centers<F>, out: &mut Out<'_, F>) {
    nearest_any::<F, BOUNDS>(tile, c, out)
}

/// Whether passes over `k` centres of `d` features (Lloyd's, and the exact
/// ones: `vq`, `predict`, a fit's last pass) use the 8-bit screen of the
/// large-`d` kernel on this CPU (the same results, fewer operations; see
/// `kernel/screen.rs`).
pub fn screened_shape(d: usize, k: usize) -> bool {
    screen::applies(d, k)
}

/// Squared norm of each row of the row-major `m` (`d` columns).
pub fn row_sq_norms<F: Float>(m: &[F], d: usize) -> Vec<F> {
    m.chunks_exact(d)
        .map(|r| r.iter().fold(F::zero(), |s, &v| s + v * v))
        .collect()
}

/// Squared distance from a sparse row to a dense centre, by the expansion
/// `‖x‖² - 2x·c + ‖c‖²` (as scikit-learn does for sparse data), clipped at 0.
#[inline]
pub fn sq_dist_sparse<F: Float>(vals: &[F], idx: &[i64], x_sq: F, center: &[F], c_sq: F) -> F {
    let mut dot = F::zero();
    for (v, &j) in vals.iter().zip(idx) {
        dot += *v * center[j as usize];
    }
    let d = x_sq - (dot + dot) + c_sq;
    if d < F::zero() {
        F::zero()
    } else {
        d
    }
}

/// Sparse counterpart of [`nearest_dense`] for rows `start..start + labels.len()`.
pub fn nearest_csr<F: Float>(
    x: &CsrView<'_, F>,
    start: usize,
    centers: &[F],
    c_sq: &[F],
    labels: &mut [i32],
    dists: &mut [F],
) {
    let d = x.n_features();
    for (r, (lab, dist)) in labels.iter_mut().zip(dists.iter_mut()).enumerate() {
        let (vals, idx) = x.row(start + r);
        let x_sq = vals.iter().fold(F::zero(), |s, &v| s + v * v);
        let mut best = F::infinity();
        let mut best_j = 0usize;
        for (j, c) in centers.chunks_exact(d).enumerate() {
            let dd = sq_dist_sparse(vals, idx, x_sq, c, c_sq[j]);
            if dd < best {
                best = dd;
                best_j = j;
            }
        }
        // NaN or inf in the row makes every distance non-finite.
        if !x_sq.is_finite() {
            best = F::infinity();
        }
        *lab = best_j as i32;
        *dist = best;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, d: usize, seed: usize, scale: f64, offset: f64) -> Vec<f64> {
        (0..n * d)
            .map(|i| offset + (((i + seed) * 7919) % 1013) as f64 / 1013.0 * scale)
            .collect()
    }

    #[test]
    fn every_kernel_finds_the_exact_nearest_centre() {
        for d in [1, 2, 3, 5, 8, 9, 16, 33, 64] {
            for k in [1, 5, 8, 17] {
                for offset in [0.0, 1e4] {
                    let n = 77;
                    let tile = data(n, d, 1, 10.0, offset);
                    let centers = data(k, d, 5, 10.0, offset);
                    let c = Centers::new(centers.clone(), k, d);
                    let (mut lr, mut dr) = (vec![0; n], vec![0.0; n]);
                    nearest_generic(&tile, d, &centers, &mut lr, &mut dr);
                    for exact in [true, false] {
                        let (mut l, mut dd) = (vec![0; n], vec![0.0; n]);
                        nearest_dense(&tile, &c, &mut l, &mut dd, exact);
                        for i in 0..n {
                            let got = sq_dist(&tile[i * d..(i + 1) * d], c.row(l[i] as usize));
                            // The chosen centre is the nearest up to rounding.
                            assert!(got <= dr[i] + 1e-9 * (1.0 + offset * offset), "d={d} k={k}");
                            if exact {
                                assert!((dd[i] - got).abs() <= 1e-12 * got);
                            } else {
                                assert!((dd[i] - got).abs() <= 1e-6 * (1.0 + got));
                            }
                        }
                    }
                }
            }
        }
    }

    /// The `LABELS` mode gives the `RANK` mode's labels bit for bit in every
    /// kernel (small `d`, few centres, blocked; f32 and f64), and a row with
    /// NaN or infinity gets a non-finite stand-in distance. (Squares that
    /// overflow only in `‖x - μ‖²` go unseen here; the exact pass that ends
    /// every fit reports them.)
    #[test]
    fn labels_mode_is_the_rank_mode_without_distances() {
        fn check<F: Float>(d: usize, k: usize, offset: f64) {
            let n = 83;
            let mut tile: Vec<F> = data(n, d, 3, 10.0, offset)
                .iter()
                .map(|v| F::from_f64(*v))
                .collect();
            tile[5 * d] = F::nan();
            tile[9 * d + d - 1] = F::infinity();
            let cs: Vec<F> = data(k, d, 4, 10.0, offset)
                .iter()
                .map(|v| F::from_f64(*v))
                .collect();
            let c = Centers::new(cs, k, d);
            let (mut lr, mut dr) = (vec![0; n], vec![F::zero(); n]);
            nearest_dense(&tile, &c, &mut lr, &mut dr, false);
            let (mut ll, mut dl) = (vec![0; n], vec![F::zero(); n]);
            nearest_dense_labels(&tile, &c, &mut ll, &mut dl);
            for i in 0..n {
                let finite = dr[i].is_finite();
                assert_eq!(finite, dl[i].is_finite(), "row {i}, d={d} k={k}");
                if finite {
                    assert_eq!(ll[i], lr[i], "row {i}, d={d} k={k}");
                }
            }
            assert!(!dl[5].is_finite() && !dl[9].is_finite());
        }
        for d in [1, 3, 8, 9, 40] {
            for k in [1, 7, 16, 17, 40] {
                for offset in [0.0, 1e3] {
                    check::<f32>(d, k, offset);
                    check::<f64>(d, k, offset);
                }
            }
        }
    }

    /// The exact modes give the labels and distance bits of the sequential
    /// `Σ (x - c)²` with ties to the lowest index, also on exact ties
    /// (duplicate centres, rows midway between two centres) and near-ties.
    #[test]
    fn exact_mode_is_the_sequential_sum_bit_for_bit() {
        fn check<F: Float>(n: usize, d: usize, k: usize, offset: f64, tie_eps: f64) {
            let mut centers: Vec<F> = data(k, d, 5, 10.0, offset)
                .iter()
                .map(|v| F::from_f64(v.round()))
                .collect();
            // Centre k-1 duplicates centre 1.
            for f in 0..d {
                centers[(k - 1) * d + f] = centers[d + f];
            }
            let mut tile: Vec<F> = data(n, d, 1, 10.0, offset)
                .iter()
                .map(|v| F::from_f64(*v))
                .collect();
            // Rows midway between centres 0 and 2 (exact on even sums), and
            // rows nudged off the midpoint by `tie_eps`.
            for i in 0..n / 3 {
                for f in 0..d {
                    let m = (centers[f].as_f64() + centers[2 * d + f].as_f64()) / 2.0;
                    let nudge = tie_eps * ((i * 31 + f * 17) % 7) as f64 - 3.0 * tie_eps;
                    tile[i * d + f] = F::from_f64(if i % 2 == 0 { m.round() } else { m + nudge });
                }
            }
            let c = Centers::new(centers.clone(), k, d);
            let (mut l, mut dd) = (vec![0; n], vec![F::zero(); n]);
            nearest_dense(&tile, &c, &mut l, &mut dd, true);
            for i in 0..n {
                let x = &tile[i * d..(i + 1) * d];
                let (mut bj, mut bd) = (0, F::infinity());
                for j in 0..k {
                    let v = seq_dist(x, c.row(j));
                    if v < bd {
                        (bj, bd) = (j, v);
                    }
                }
                assert_eq!(l[i] as usize, bj, "row {i} d={d} k={k} offset={offset}");
                assert_eq!(dd[i], bd, "row {i} d={d} k={k}");
            }
        }
        for d in [2, 3, 9, 16, 33, 64] {
            for k in [3, 5, 8, 17, 40] {
                for offset in [0.0, 1e3] {
                    check::<f64>(61, d, k, offset, 1e-9);
                    check::<f32>(61, d, k, offset, 1e-3);
                }
            }
        }
    }

    /// The few-centres kernel computes the same ranking values as the
    /// blocked one: the same labels in every mode, the same best and
    /// second-best values, the same exact distances. `‖x - μ‖²` (and with it
    /// the distances of the ranking mode) is summed in another order, so it
    /// agrees within rounding. Exact ties (a duplicated centre, integer
    /// data) and a row with NaN included.
    #[test]
    fn few_centre_kernel_agrees_with_the_blocked_kernel() {
        type Res<F> = (Vec<i32>, Vec<F>, Vec<F>, Vec<F>);
        fn run<F: Float, const FMA: bool, const MODE: u8>(
            tile: &[F],
            c: &Centers<F>,
            kernel: u8,
        ) -> Res<F> {
            let n = tile.len() / c.d;
            let (mut l, mut b, mut s2, mut xn) = (
                vec![0; n],
                vec![F::zero(); n],
                vec![F::zero(); n],
                vec![F::zero(); n],
            );
            let mut out = Out {
                labels: &mut l,
                dists: &mut b,
                second: if MODE == BOUNDS { &mut s2 } else { &mut [] },
                xn: if MODE == BOUNDS { &mut xn } else { &mut [] },
            };
            match kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: only called where simd_level() reports AVX-512.
                16 => unsafe { few::nearest_few_lanes::<F, MODE>(tile, c, &mut out) },
                4 => nearest_rows::<F, FMA, MODE, 4>(tile, c, &mut out),
                8 => nearest_rows::<F, FMA, MODE, 8>(tile, c, &mut out),
                _ => nearest_blocked::<F, FMA, MODE>(tile, c, &mut out),
            }
            (l, b, s2, xn)
        }
        fn both<F: Float, const FMA: bool, const MODE: u8>(tile: &[F], c: &Centers<F>) {
            let want = run::<F, FMA, MODE>(tile, c, 0);
            let scale = run::<F, FMA, BOUNDS>(tile, c, 0).3;
            for r in [4, 8] {
                let got = run::<F, FMA, MODE>(tile, c, r);
                let what = format!("mode {MODE} rows {r} d={} k={}", c.d, c.k);
                assert_eq!(got.0, want.0, "labels, {what}");
                // Within the rounding of sums of `d` terms of size up to
                // ‖x - μ‖² (so the distances: they are g + ‖x - μ‖²).
                let close = |a: &[F], b: &[F], part: &str| {
                    for ((x, y), s) in a.iter().zip(b).zip(&scale) {
                        let (x, y) = (x.as_f64(), y.as_f64());
                        let tol = 4.0 * (c.d as f64) * F::epsilon().as_f64() * (1.0 + s.as_f64());
                        let ok = x == y || (x.is_nan() && y.is_nan()) || (x - y).abs() <= tol;
                        assert!(ok, "{part}: {x} vs {y}, {what}");
                    }
                };
                match MODE {
                    RANK => close(&got.1, &want.1, "distances"),
                    EXACT => assert_eq!(got.1, want.1, "distances, {what}"),
                    _ => {
                        assert_eq!(got.1, want.1, "best, {what}");
                        assert_eq!(got.2, want.2, "second, {what}");
                        close(&got.3, &want.3, "xn");
                    }
                }
            }
            // With AVX-512, rows in the lanes: every output the bits of
            // the centres-in-lanes kernel's.
            if FMA && simd_level() == SimdLevel::Avx512 {
                let bits = |v: &[F]| v.iter().map(|x| x.as_f64().to_bits()).collect::<Vec<_>>();
                let (got, want) = (
                    run::<F, FMA, MODE>(tile, c, 16),
                    run::<F, FMA, MODE>(tile, c, 8),
                );
                let what = format!(
                    "rows in lanes, mode {MODE} n={} d={} k={}",
                    got.0.len(),
                    c.d,
                    c.k
                );
                assert_eq!(got.0, want.0, "labels, {what}");
                assert_eq!(bits(&got.1), bits(&want.1), "distances, {what}");
                assert_eq!(bits(&got.2), bits(&want.2), "second, {what}");
                assert_eq!(bits(&got.3), bits(&want.3), "xn, {what}");
            }
        }
        fn check<F: Float>(n: usize, d: usize, k: usize) {
            let mut tile: Vec<F> = data(n, d, 2, 10.0, 3.0)
                .iter()
                .enumerate()
                .map(|(i, v)| F::from_f64(if i % 3 == 0 { v.round() } else { *v }))
                .collect();
            tile[5 * d + 1] = F::nan();
            let mut cs: Vec<F> = data(k, d, 9, 10.0, 3.0)
                .iter()
                .map(|v| F::from_f64(v.round()))
                .collect();
            if k > 2 {
                // Centre k - 1 duplicates centre 1: exact ties.
                for f in 0..d {
                    cs[(k - 1) * d + f] = cs[d + f];
                }
            }
            if n > 40 {
                // An infinite value, and squares that overflow in `F`.
                tile[17 * d + 2] = F::infinity();
                for v in &mut tile[33 * d..34 * d] {
                    *v = F::max_value() / F::from_f64(4.0);
                }
            }
            let c = Centers::new(cs, k, d);
            both::<F, true, RANK>(&tile, &c);
            both::<F, false, RANK>(&tile, &c);
            both::<F, true, BOUNDS>(&tile, &c);
            both::<F, false, BOUNDS>(&tile, &c);
            both::<F, true, EXACT>(&tile, &c);
            both::<F, true, LABELS>(&tile, &c);
        }
        for d in [9, 16, 17, 64, 100] {
            for k in 1..=16 {
                for n in [45, 6, 16, 17] {
                    check::<f32>(n, d, k);
                    check::<f64>(n, d, k);
                }
            }
        }
    }

    /// The branch-free argmin is the sequential scan with a strict `<`:
    /// ties to the lowest lane, NaN never best, signs of zeros kept.
    #[test]
    fn argmin_lanes_is_the_sequential_scan() {
        let pool = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            2.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        let mut s = 7u64;
        for _ in 0..20_000 {
            let g: [f32; 16] = std::array::from_fn(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                pool[(s >> 33) as usize % pool.len()]
            });
            let (mut best, mut second, mut j) = (f32::INFINITY, f32::INFINITY, 0);
            for (jj, &v) in g.iter().enumerate() {
                if v < best {
                    second = best;
                    best = v;
                    j = jj;
                } else if v < second {
                    second = v;
                }
            }
            let (b, jj, s2) = argmin_lanes::<f32, 16>(&g, true);
            assert_eq!(
                (b.to_bits(), jj, s2.to_bits()),
                (best.to_bits(), j, second.to_bits()),
                "{g:?}"
            );
            let g8: [f32; 8] = g[..8].try_into().unwrap();
            let (mut best, mut j) = (f32::INFINITY, 0);
            for (jj, &v) in g8.iter().enumerate() {
                if v < best {
                    best = v;
                    j = jj;
                }
            }
            let (b, jj, _) = argmin_lanes::<f32, 8>(&g8, false);
            assert_eq!((b.to_bits(), jj), (best.to_bits(), j), "{g8:?}");
        }
    }

    #[test]
    fn ties_go_to_lowest_index_and_nan_is_infinite() {
        for d in [1, 12] {
            let k = 3;
            let centers = vec![1.0f64; k * d];
            let mut tile = vec![0.0f64; 40 * d];
            tile[d] = f64::NAN;
            let c = Centers::new(centers, k, d);
            let (mut l, mut dd) = (vec![9; 40], vec![0.0; 40]);
            nearest_dense(&tile, &c, &mut l, &mut dd, true);
            assert!(l.iter().all(|&j| j == 0));
            assert_eq!(dd[0], d as f64);
            assert!(dd[1].is_infinite());
        }
    }
}
