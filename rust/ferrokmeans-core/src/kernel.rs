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

/// Rows handled together by the large-`d` kernel (its SIMD lanes).
const BR: usize = 16;
/// Centres per register block of the large-`d` kernel.
const BC: usize = 8;
/// Rows handled together by the small-`d` kernel: two or more vectors, so
/// that the running minima form independent dependency chains.
const LANES: usize = 32;

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
    packed_raw: Vec<F>,
    norms_mu: Vec<F>,
}

impl<F: Float> Centers<F> {
    /// Wraps a row-major `k × d` buffer.
    pub fn new(data: Vec<F>, k: usize, d: usize) -> Self {
        debug_assert_eq!(data.len(), k * d);
        let sq_norms = row_sq_norms(&data, d);
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
        norms_mu.resize(blocks * BC, F::infinity());
        Centers {
            data,
            sq_norms,
            k,
            d,
            mu,
            neg2,
            packed,
            packed_raw,
            norms_mu,
        }
    }

    /// Centre `j`.
    pub fn row(&self, j: usize) -> &[F] {
        &self.data[j * self.d..(j + 1) * self.d]
    }
}

/// Squared Euclidean distance with eight independent accumulators, so that
/// the compiler can vectorise the loop; the combining order is fixed.
#[inline(always)]
pub fn sq_dist<F: Float>(a: &[F], b: &[F]) -> F {
    let mut acc = [F::zero(); 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let t = x[l] - y[l];
            acc[l] += t * t;
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        let t = *x - *y;
        s += t * t;
    }
    s
}

#[inline(always)]
fn sq_dist_fixed<F: Float, const D: usize>(x: &[F; D], c: &[F; D]) -> F {
    let mut s = F::zero();
    for l in 0..D {
        let t = x[l] - c[l];
        s += t * t;
    }
    s
}

/// The scalar reference: exact distances to every centre, one row at a time.
/// Used for the few rows left over by the lane kernels and by the tests.
#[inline(always)]
fn nearest_fixed<F: Float, const D: usize>(
    tile: &[F],
    centers: &[F],
    labels: &mut [i32],
    dists: &mut [F],
) {
    let cs: &[[F; D]] = as_fixed(centers);
    let xs: &[[F; D]] = as_fixed(tile);
    for ((x, lab), dist) in xs.iter().zip(labels.iter_mut()).zip(dists.iter_mut()) {
        let mut best = F::infinity();
        let mut best_j = 0usize;
        for (j, c) in cs.iter().enumerate() {
            let d = sq_dist_fixed(x, c);
            if d < best {
                best = d;
                best_j = j;
            }
        }
        *lab = best_j as i32;
        *dist = best;
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
fn report<F: Float, const EXACT: bool>(g: F, x_norm_mu: F) -> F {
    if !g.is_finite() {
        F::infinity()
    } else if EXACT {
        g
    } else {
        let v = g + x_norm_mu;
        if v < F::zero() {
            F::zero()
        } else {
            v
        }
    }
}

/// The small-`d` lane kernel for `D` features.
#[inline(always)]
fn nearest_lanes<F: Float, const D: usize, const FMA: bool, const EXACT: bool>(
    tile: &[F],
    c: &Centers<F>,
    labels: &mut [i32],
    dists: &mut [F],
) {
    let m: &[[F; D]] = as_fixed(&c.neg2);
    let cs: &[[F; D]] = as_fixed(&c.data);
    let mu: &[F; D] = c.mu.as_slice().try_into().expect("D features");
    let xs: &[[F; D]] = as_fixed(tile);
    let full = xs.len() / LANES * LANES;
    for ((xb, lb), db) in xs[..full]
        .chunks_exact(LANES)
        .zip(labels.chunks_exact_mut(LANES))
        .zip(dists.chunks_exact_mut(LANES))
    {
        // Exact: the raw rows; ranking: the rows centred on μ.
        let mut x = [[F::zero(); LANES]; D];
        let mut xn = [F::zero(); LANES];
        for l in 0..LANES {
            for f in 0..D {
                x[f][l] = if EXACT { xb[l][f] } else { xb[l][f] - mu[f] };
                xn[l] += x[f][l] * x[f][l];
            }
        }
        let mut best = [F::infinity(); LANES];
        // The index is kept as a float of the lane width so that the select
        // vectorises with the comparison mask (exact for k < 2^24).
        let mut idx = [F::zero(); LANES];
        let mut jf = F::zero();
        for ((mj, nj), cj) in m.iter().zip(&c.norms_mu).zip(cs) {
            let mut g = [if EXACT { F::zero() } else { *nj }; LANES];
            for f in 0..D {
                for l in 0..LANES {
                    g[l] = if EXACT {
                        // Σ (x - c)² in feature order, unfused: the same bits
                        // as the scalar reference (and scipy's vq).
                        let t = x[f][l] - cj[f];
                        g[l] + t * t
                    } else {
                        madd::<F, FMA>(x[f][l], mj[f], g[l])
                    };
                }
            }
            for l in 0..LANES {
                let lt = g[l] < best[l];
                best[l] = if lt { g[l] } else { best[l] };
                idx[l] = if lt { jf } else { idx[l] };
            }
            jf += F::one();
        }
        for l in 0..LANES {
            let j = idx[l].index();
            lb[l] = j as i32;
            db[l] = report::<F, EXACT>(best[l], xn[l]);
        }
    }
    let rows = labels.len();
    nearest_fixed::<F, D>(
        &tile[full * D..],
        &c.data,
        &mut labels[full..rows],
        &mut dists[full..rows],
    );
}

/// `acc[l] += (x[l] - c)²` for every lane, unfused.
#[inline(always)]
fn sqdiff_lanes<F: Float>(acc: &mut [F; BR], x: &[F; BR], c: F) {
    for l in 0..BR {
        let t = x[l] - c;
        acc[l] += t * t;
    }
}

/// `acc[l] += x[l] · c` for every lane.
#[inline(always)]
fn fma_lanes<F: Float, const FMA: bool>(acc: &mut [F; BR], x: &[F; BR], c: F) {
    for l in 0..BR {
        acc[l] = madd::<F, FMA>(x[l], c, acc[l]);
    }
}

/// The large-`d` kernel: a block of [`BR`] rows (transposed, centred) against
/// [`BC`] centres at a time, `BR × BC` running dot products in registers —
/// the micro-kernel of a matrix product, fused with the argmin.
#[inline(always)]
fn nearest_blocked<F: Float, const FMA: bool, const EXACT: bool>(
    tile: &[F],
    c: &Centers<F>,
    labels: &mut [i32],
    dists: &mut [F],
) {
    let d = c.d;
    let n = labels.len();
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
                xg[f * BR + l] = if EXACT { *v } else { *v - c.mu[f] };
            }
        }
        let xs: &[[F; BR]] = as_fixed(&xg);
        let mut xn = [F::zero(); BR];
        if !EXACT {
            for xv in xs {
                for l in 0..BR {
                    xn[l] += xv[l] * xv[l];
                }
            }
        }
        let mut best = [F::infinity(); BR];
        let mut idx = [F::zero(); BR];
        for b in 0..blocks {
            let mut acc = [[F::zero(); BR]; BC];
            if EXACT {
                // Σ (x - c)² in feature order, unfused, as the scalar reference.
                let cs: &[[F; BC]] = as_fixed(&c.packed_raw[b * d * BC..(b + 1) * d * BC]);
                for (xv, cv) in xs.iter().zip(cs) {
                    for (a, &cb) in acc.iter_mut().zip(cv) {
                        sqdiff_lanes(a, xv, cb);
                    }
                }
            } else {
                for (cc, a) in acc.iter_mut().enumerate() {
                    *a = [c.norms_mu[b * BC + cc]; BR];
                }
                let cs: &[[F; BC]] = as_fixed(&c.packed[b * d * BC..(b + 1) * d * BC]);
                for (xv, cv) in xs.iter().zip(cs) {
                    for (a, &cb) in acc.iter_mut().zip(cv) {
                        fma_lanes::<F, FMA>(a, xv, cb);
                    }
                }
            }
            let mut jf = F::from_f64((b * BC) as f64);
            for a in &acc {
                for l in 0..BR {
                    let lt = a[l] < best[l];
                    best[l] = if lt { a[l] } else { best[l] };
                    idx[l] = if lt { jf } else { idx[l] };
                }
                jf += F::one();
            }
        }
        for (l, r) in rows.enumerate() {
            let j = idx[l].index();
            labels[r] = j as i32;
            dists[r] = report::<F, EXACT>(best[l], xn[l]);
        }
    }
}

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
            let pb: &[[F; BC]] = as_fixed(&c.packed[b * d * BC..(b + 1) * d * BC]);
            let nb: &[F; BC] = c.norms_mu[b * BC..(b + 1) * BC]
                .try_into()
                .expect("BC norms");
            let mut acc = [*nb; RR];
            for (f, cv) in pb.iter().enumerate() {
                for rr in 0..RR {
                    fma_bc::<F, FMA>(&mut acc[rr], xr[rr][f], cv);
                }
            }
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

/// Defines `$name<F, …, EXACT>` running `$kernel` compiled for the best
/// instruction set available, with fused multiply-adds only where the CPU
/// has them.
macro_rules! dispatch {
    ($name:ident [$($cg:ident),*] => $kernel:ident) => {
        fn $name<F: Float, $(const $cg: usize,)* const EXACT: bool>(
            tile: &[F],
            c: &Centers<F>,
            labels: &mut [i32],
            dists: &mut [F],
        ) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
                fn avx512<F: Float, $(const $cg: usize,)* const EXACT: bool>(
                    tile: &[F],
                    c: &Centers<F>,
                    labels: &mut [i32],
                    dists: &mut [F],
                ) {
                    $kernel::<F, $($cg,)* true, EXACT>(tile, c, labels, dists)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<F: Float, $(const $cg: usize,)* const EXACT: bool>(
                    tile: &[F],
                    c: &Centers<F>,
                    labels: &mut [i32],
                    dists: &mut [F],
                ) {
                    $kernel::<F, $($cg,)* true, EXACT>(tile, c, labels, dists)
                }
                match simd_level() {
                    // SAFETY: simd_level() only reports features this CPU has.
                    SimdLevel::Avx512 => {
                        return unsafe { avx512::<F, $($cg,)* EXACT>(tile, c, labels, dists) }
                    }
                    // SAFETY: as above.
                    SimdLevel::Avx2 => {
                        return unsafe { avx2::<F, $($cg,)* EXACT>(tile, c, labels, dists) }
                    }
                    SimdLevel::Portable => {}
                }
            }
            $kernel::<F, $($cg,)* false, EXACT>(tile, c, labels, dists)
        }
    };
}

dispatch!(nearest_small [D] => nearest_lanes);
dispatch!(nearest_large [] => nearest_blocked);

/// Squared distances from every row of the tile to every centre of `c`
/// (row-major, rows × k): exact `Σ (x - c)²` for a single centre, else by
/// [`distances_rows`]; compiled for the best instruction set available.
pub fn distances_to<F: Float>(tile: &[F], c: &Centers<F>, out: &mut [F]) {
    #[inline(always)]
    fn run<F: Float, const FMA: bool>(tile: &[F], c: &Centers<F>, out: &mut [F]) {
        if c.k == 1 {
            distances_one(tile, &c.data, out)
        } else {
            distances_rows::<F, FMA>(tile, c, out)
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
        fn avx512<F: Float>(tile: &[F], c: &Centers<F>, out: &mut [F]) {
            run::<F, true>(tile, c, out)
        }
        #[target_feature(enable = "avx2,fma")]
        fn avx2<F: Float>(tile: &[F], c: &Centers<F>, out: &mut [F]) {
            run::<F, true>(tile, c, out)
        }
        match simd_level() {
            // SAFETY: simd_level() only reports features this CPU has.
            SimdLevel::Avx512 => return unsafe { avx512(tile, c, out) },
            // SAFETY: as above.
            SimdLevel::Avx2 => return unsafe { avx2(tile, c, out) },
            SimdLevel::Portable => {}
        }
    }
    run::<F, false>(tile, c, out)
}

fn nearest_any<F: Float, const EXACT: bool>(
    tile: &[F],
    c: &Centers<F>,
    labels: &mut [i32],
    dists: &mut [F],
) {
    match c.d {
        1 => nearest_small::<F, 1, EXACT>(tile, c, labels, dists),
        2 => nearest_small::<F, 2, EXACT>(tile, c, labels, dists),
        3 => nearest_small::<F, 3, EXACT>(tile, c, labels, dists),
        4 => nearest_small::<F, 4, EXACT>(tile, c, labels, dists),
        5 => nearest_small::<F, 5, EXACT>(tile, c, labels, dists),
        6 => nearest_small::<F, 6, EXACT>(tile, c, labels, dists),
        7 => nearest_small::<F, 7, EXACT>(tile, c, labels, dists),
        8 => nearest_small::<F, 8, EXACT>(tile, c, labels, dists),
        _ => nearest_large::<F, EXACT>(tile, c, labels, dists),
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
    if exact {
        nearest_any::<F, true>(tile, c, labels, dists)
    } else {
        nearest_any::<F, false>(tile, c, labels, dists)
    }
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
