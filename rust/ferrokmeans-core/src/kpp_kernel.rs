//! The candidate kernels of greedy k-means++: squared distances from a tile
//! of dense rows to the few candidates of one step, folded at once into what
//! the step needs — each candidate's potential `Σ w·min(closest, d)`, summed
//! row by row in order — and the rows each candidate may bring nearer than
//! their nearest centre, so that the update that follows need not look at
//! the others. "May" is decided with a margin that covers the rounding of
//! both this kernel's distance and the exact `Σ (x - c)²` of
//! [`sq_dist`] that the update applies, so the update is exact.
//!
//! - Up to 8 features ([`evaluate_lanes`]): [`RL`] rows in the SIMD lanes,
//!   the features a compile-time constant, and the arithmetic of
//!   [`crate::kernel::distances_to`] operation by operation (the expansion
//!   centred on the candidates' integral mean `μ`), so potentials are bit for
//!   bit those of the three-pass algorithm. Rows are short, so the rows that
//!   may come nearer are flagged and the update reads them again.
//! - More features ([`evaluate_blocked`]): [`LANES`] candidates in the
//!   lanes and [`ROWS`] rows read in place at a time, `Σ (c - x)²` by one
//!   subtraction and one fused multiply-add per feature (separate pipes on
//!   current x86 cores, so as fast as the expansion and free of its
//!   cancellation). Rows are long, so the few pairs that may come nearer are
//!   listed with their exact distance, and the update reads no row.

use crate::float::Float;
use crate::kernel::{simd_level, sq_dist, SimdLevel};

/// Candidates per SIMD block of the blocked kernel.
const LANES: usize = 8;
/// Rows per register group of the blocked kernel: eight accumulators in flight.
const ROWS: usize = 8;
/// Features per chunk of the blocked kernel's row buffer.
const CHUNK: usize = 8;
/// Rows per group of the small-`d` kernel: several vectors, so that the
/// per-row sums form independent dependency chains.
const RL: usize = 32;

/// The candidates of one step, prepared for the kernels.
#[derive(Debug, Clone)]
pub(crate) struct Candidates<F> {
    d: usize,
    /// Number of candidates.
    t: usize,
    /// The candidates, row-major.
    rows: Vec<F>,
    /// Small-`d` kernel: `μ`, `-2(c - μ)` per candidate (row-major) and
    /// `‖c - μ‖²` per candidate, summed in feature order.
    mu: Vec<F>,
    neg2: Vec<F>,
    norms: Vec<F>,
    /// Blocked kernel: `d` rounded up to whole chunks, and the candidates
    /// in blocks of [`LANES`], feature by feature (`dp` per block; padding
    /// candidates and features are zero).
    dp: usize,
    packed: Vec<[F; LANES]>,
    /// Relative rounding margins: of the expansion against `Σ (x - c)²`
    /// (small `d`), and of `Σ (x - c)²` summed in another order (blocked);
    /// and an absolute one for results in the subnormal range.
    kappa: F,
    kappa_sum: F,
    floor: F,
}

impl<F: Float> Candidates<F> {
    /// `rows`: the `t` candidates, row-major, `d` features each.
    pub(crate) fn new(rows: &[F], t: usize, d: usize) -> Self {
        debug_assert_eq!(rows.len(), t * d);
        let mut mean = vec![0f64; d];
        for c in rows.chunks_exact(d) {
            for (m, v) in mean.iter_mut().zip(c) {
                *m += v.as_f64();
            }
        }
        // An integral μ keeps `x - μ` exact on integer-valued data.
        let mu: Vec<F> = mean
            .iter()
            .map(|m| F::from_f64((m / t.max(1) as f64).round()))
            .collect();
        let dp = d.div_ceil(CHUNK) * CHUNK;
        let blocks = t.div_ceil(LANES);
        let mut neg2 = vec![F::zero(); t * d];
        let mut norms = vec![F::zero(); t];
        let mut packed = vec![[F::zero(); LANES]; blocks * dp];
        for (j, c) in rows.chunks_exact(d).enumerate() {
            let (b, l) = (j / LANES, j % LANES);
            let mut s = F::zero();
            for (f, (v, m)) in c.iter().zip(&mu).enumerate() {
                packed[b * dp + f][l] = *v;
                let v = *v - *m;
                s += v * v;
                neg2[j * d + f] = -(v + v);
            }
            norms[j] = s;
        }
        // |expansion - Σ (x - c)²| stays below about (2d + 9)·ε·(‖x - μ‖² +
        // ‖c - μ‖²) (rounding of the centring, of both sums and of the final
        // additions); two sums of the same d squares in different orders
        // differ by at most about (d + 1)·ε of either. Twice that leaves
        // room for the comparison itself. Gradual underflow adds at most
        // half the smallest subnormal (ε × the smallest normal) per step.
        let eps = F::epsilon();
        let kappa = F::from_f64(4.0 * (d as f64 + 8.0)) * eps;
        let kappa_sum = F::from_f64(4.0 * (d as f64 + 2.0)) * eps;
        let floor = kappa * F::min_positive_value();
        Candidates {
            d,
            t,
            rows: rows.to_vec(),
            mu,
            neg2,
            norms,
            dp,
            packed,
            kappa,
            kappa_sum,
            floor,
        }
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

/// Whether a row at `closest` from its nearest centre may come nearer to a
/// candidate at `e` by the expansion (`norms` = ‖x - μ‖² + ‖c - μ‖²): unless
/// `e` clears `closest` by more than the rounding of either way of
/// computing the distance. An infinite or NaN `e` says nothing (overflow);
/// a row at 0 can come no nearer.
#[inline(always)]
fn maybe<F: Float>(e: F, closest: F, c: &Candidates<F>, norms: F) -> bool {
    // `&`, not `&&`: no branches, so that the lanes vectorise.
    (closest > F::zero()) & !((e >= closest + c.kappa * norms + c.floor) & (e < F::infinity()))
}

/// Asks for the cache line at `p` ahead of its use.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint that never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>())
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A row that candidate `t` may bring nearer than its `closest`, with the
/// exact `Σ (x - c)²` of [`sq_dist`]: bit for bit what an update by that
/// candidate would compute. Every other (row, candidate) pair is certainly
/// no nearer, by either way of computing the distance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Near<F> {
    /// Row index within the block of rows.
    pub(crate) row: u32,
    pub(crate) t: u32,
    pub(crate) dist: F,
}

/// What [`evaluate_tile`] adds to: `pots` (`⌈t/8⌉·8` entries, padding
/// ignored) gets `w·min(closest, d_t)` for every row and candidate `t`, row
/// by row in order. The rows each candidate may bring nearer go to `flags`
/// (up to 8 features, see [`flags_rows`]; `⌈t/8⌉` bytes per row of the
/// tile), else to `near` as [`Near`] pairs, in order of rows.
pub(crate) struct Out<'a, F> {
    pub(crate) pots: &'a mut [f64],
    pub(crate) flags: &'a mut [u8],
    pub(crate) near: &'a mut Vec<Near<F>>,
    /// Block index of the tile's first row.
    pub(crate) first: usize,
    pub(crate) scratch: &'a mut Vec<F>,
}

/// Whether the kernel for `d` features flags rows rather than listing
/// [`Near`] pairs.
pub(crate) fn flags_rows(d: usize) -> bool {
    d <= 8
}

/// Evaluates the candidates on the rows of `tile` (row-major,
/// `closest.len()` rows); see [`Out`].
pub(crate) fn evaluate_tile<F: Float>(
    tile: &[F],
    closest: &[F],
    weights: Option<&[F]>,
    c: &Candidates<F>,
    out: &mut Out<'_, F>,
) {
    match c.d {
        1 => run_lanes::<F, 1>(tile, closest, weights, c, out),
        2 => run_lanes::<F, 2>(tile, closest, weights, c, out),
        3 => run_lanes::<F, 3>(tile, closest, weights, c, out),
        4 => run_lanes::<F, 4>(tile, closest, weights, c, out),
        5 => run_lanes::<F, 5>(tile, closest, weights, c, out),
        6 => run_lanes::<F, 6>(tile, closest, weights, c, out),
        7 => run_lanes::<F, 7>(tile, closest, weights, c, out),
        8 => run_lanes::<F, 8>(tile, closest, weights, c, out),
        _ => run_blocked::<F>(tile, closest, weights, c, out),
    }
}

/// Defines `$name<F, …>` running `$kernel` compiled for the best
/// instruction set available (each kernel in a function of its own, so that
/// registers are allocated for it alone), with fused multiply-adds only
/// where the CPU has them.
macro_rules! dispatch {
    ($name:ident [$($cg:ident),*] => $kernel:ident) => {
        fn $name<F: Float, $(const $cg: usize,)*>(
            tile: &[F],
            closest: &[F],
            weights: Option<&[F]>,
            c: &Candidates<F>,
            out: &mut Out<'_, F>,
        ) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
                fn avx512<F: Float, $(const $cg: usize,)*>(
                    tile: &[F],
                    closest: &[F],
                    weights: Option<&[F]>,
                    c: &Candidates<F>,
                    out: &mut Out<'_, F>,
                ) {
                    $kernel::<F, true, $($cg,)*>(tile, closest, weights, c, out)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<F: Float, $(const $cg: usize,)*>(
                    tile: &[F],
                    closest: &[F],
                    weights: Option<&[F]>,
                    c: &Candidates<F>,
                    out: &mut Out<'_, F>,
                ) {
                    $kernel::<F, true, $($cg,)*>(tile, closest, weights, c, out)
                }
                match simd_level() {
                    // SAFETY: simd_level() only reports features this CPU has.
                    SimdLevel::Avx512 => {
                        return unsafe { avx512::<F, $($cg,)*>(tile, closest, weights, c, out) }
                    }
                    // SAFETY: as above.
                    SimdLevel::Avx2 => {
                        return unsafe { avx2::<F, $($cg,)*>(tile, closest, weights, c, out) }
                    }
                    SimdLevel::Portable => {}
                }
            }
            $kernel::<F, false, $($cg,)*>(tile, closest, weights, c, out)
        }
    };
}

dispatch!(run_lanes [D] => evaluate_lanes);
dispatch!(run_blocked [] => evaluate_blocked);

/// The small-`d` kernel: [`RL`] rows in the lanes, `D` features. Rows are
/// short here, so instead of listing pairs it flags them: bit `t % 8` of
/// `flags[row · ⌈t/8⌉ + t / 8]`, and the update reads the row again.
#[inline(always)]
fn evaluate_lanes<F: Float, const FMA: bool, const D: usize>(
    tile: &[F],
    closest: &[F],
    weights: Option<&[F]>,
    c: &Candidates<F>,
    out: &mut Out<'_, F>,
) {
    let m = closest.len();
    let fb = c.t.div_ceil(8);
    debug_assert_eq!(tile.len(), m * D);
    debug_assert_eq!(out.flags.len(), m * fb);
    let mu: &[F; D] = c.mu.as_slice().try_into().expect("D features");
    let (neg2, _) = c.neg2.as_chunks::<D>();
    let (xs, _) = tile.as_chunks::<D>();
    // `w·min(closest, e)` per candidate (eight at a time) and row; the
    // entries of missing candidates stay zero.
    let mut near = [[0f64; RL]; 8];
    for g in 0..m.div_ceil(RL) {
        let (r0, live) = (g * RL, RL.min(m - g * RL));
        // The group's rows (zero rows pad the last group), centred, and
        // ‖x - μ‖² summed in feature order.
        let mut xb = [[F::zero(); D]; RL];
        let mut cl = [F::zero(); RL];
        let mut w = [0f64; RL];
        xb[..live].copy_from_slice(&xs[r0..r0 + live]);
        cl[..live].copy_from_slice(&closest[r0..r0 + live]);
        if let Some(ws) = weights {
            for (o, v) in w.iter_mut().zip(&ws[r0..r0 + live]) {
                *o = v.as_f64();
            }
        } else {
            w = [1.0; RL];
        }
        let mut x = [[F::zero(); RL]; D];
        let mut xn = [F::zero(); RL];
        for f in 0..D {
            for l in 0..RL {
                x[f][l] = xb[l][f] - mu[f];
                xn[l] = madd::<F, FMA>(x[f][l], x[f][l], xn[l]);
            }
        }
        let flags = &mut out.flags[r0 * fb..(r0 + live) * fb];
        // Eight candidates at a time, so that their potentials are summed
        // row by row as independent chains.
        for t0 in (0..c.t).step_by(8) {
            let tn = (c.t - t0).min(8);
            if tn < 8 && t0 > 0 {
                near[tn..].fill([0.0; RL]);
            }
            let mut bits = [0u8; RL];
            for (k, (cj, &nj)) in neg2[t0..t0 + tn].iter().zip(&c.norms[t0..]).enumerate() {
                let mut acc = [nj; RL];
                for f in 0..D {
                    for l in 0..RL {
                        acc[l] = madd::<F, FMA>(x[f][l], cj[f], acc[l]);
                    }
                }
                for l in 0..RL {
                    let v = acc[l] + xn[l];
                    let e = if v < F::zero() { F::zero() } else { v };
                    // min(closest, e) that keeps `closest` when e is NaN.
                    let m = if e < cl[l] { e } else { cl[l] };
                    near[k][l] = w[l] * m.as_f64();
                    bits[l] |= u8::from(maybe(e, cl[l], c, xn[l] + nj)) << k;
                }
            }
            for (o, b) in flags.iter_mut().skip(t0 / 8).step_by(fb).zip(&bits) {
                *o = *b;
            }
            // Padding rows add exact zeros. One candidate at a time, each
            // an opaque step: otherwise LLVM vectorises across candidates
            // and gathers `near` (half of this kernel's time on 3 features).
            for (p, nk) in out.pots[t0..t0 + tn].iter_mut().zip(&near) {
                let mut acc = *p;
                for v in nk {
                    acc += *v;
                }
                *p = std::hint::black_box(acc);
            }
        }
    }
}

/// `acc[l] += (c[l] - x)²` for every candidate lane.
#[inline(always)]
fn sqdiff_lanes<F: Float, const FMA: bool>(acc: &mut [F; LANES], x: F, c: &[F; LANES]) {
    for l in 0..LANES {
        let t = c[l] - x;
        acc[l] = madd::<F, FMA>(t, t, acc[l]);
    }
}

/// `Σ (c - x)²` for [`ROWS`] rows read in place (whole chunks) and the
/// [`LANES`] candidates of `pb`.
#[inline(always)]
fn distances_in_place<F: Float, const FMA: bool>(
    rows: [&[[F; CHUNK]]; ROWS],
    pb: &[[[F; LANES]; CHUNK]],
) -> [[F; LANES]; ROWS] {
    let mut acc = [[F::zero(); LANES]; ROWS];
    // Every row sliced to exactly `pb.len()` chunks: no bounds checks below.
    let rows = rows.map(|x| &x[..pb.len()]);
    for (ch, cc) in pb.iter().enumerate() {
        for j in 0..CHUNK {
            for r in 0..ROWS {
                sqdiff_lanes::<F, FMA>(&mut acc[r], rows[r][ch][j], &cc[j]);
            }
        }
    }
    acc
}

/// [`distances_in_place`] for rows copied to the chunked buffer.
#[inline(always)]
fn distances_copied<F: Float, const FMA: bool>(
    gm: &[[[F; CHUNK]; ROWS]],
    pb: &[[[F; LANES]; CHUNK]],
) -> [[F; LANES]; ROWS] {
    let mut acc = [[F::zero(); LANES]; ROWS];
    for (xc, cc) in gm.iter().zip(pb) {
        for (a, xr) in acc.iter_mut().zip(xc) {
            for (xv, cv) in xr.iter().zip(cc) {
                sqdiff_lanes::<F, FMA>(a, *xv, cv);
            }
        }
    }
    acc
}

/// The blocked kernel for more than 8 features: [`LANES`] candidates in
/// the lanes, [`ROWS`] rows at a time.
#[inline(always)]
fn evaluate_blocked<F: Float, const FMA: bool>(
    tile: &[F],
    closest: &[F],
    weights: Option<&[F]>,
    c: &Candidates<F>,
    out: &mut Out<'_, F>,
) {
    let (d, dp, m, t_n) = (c.d, c.dp, closest.len(), c.t);
    debug_assert_eq!(tile.len(), m * d);
    let group = &mut *out.scratch;
    group.resize(dp * ROWS, F::zero());
    let (gv, _) = group.as_chunks_mut::<CHUNK>();
    let (gm, _) = gv.as_chunks_mut::<ROWS>();
    // Rows are read once per step, so fetch them ahead of the arithmetic,
    // at least 4 KiB and two groups ahead (some 15% faster on 100,000 × 64
    // float32 rows, which do not stay in cache).
    let group_bytes = ROWS * d * std::mem::size_of::<F>();
    let ahead = (4096 / std::mem::size_of::<F>()).max(2 * ROWS * d);
    let one_plus = F::one() + c.kappa_sum;
    let huge = F::max_value() / F::from_f64(4.0);
    for g in 0..m.div_ceil(ROWS) {
        let live = ROWS.min(m - g * ROWS);
        let base = tile.as_ptr().wrapping_add(g * ROWS * d + ahead);
        for line in (0..group_bytes).step_by(64) {
            prefetch(base.cast::<u8>().wrapping_add(line));
        }
        // Whole groups of rows with whole chunks are read in place; others
        // are first copied, chunk by chunk and padded with zeros, to a
        // buffer where chunk `ch` of row `r` sits at `[ch][r]`. Either way
        // each distance sums the same squares in the same order.
        let in_place = live == ROWS && d == dp;
        if !in_place {
            for r in 0..ROWS {
                if r < live {
                    let x = &tile[(g * ROWS + r) * d..(g * ROWS + r + 1) * d];
                    let (xc, xr) = x.as_chunks::<CHUNK>();
                    for (o, v) in gm.iter_mut().zip(xc) {
                        o[r] = *v;
                    }
                    if let Some(o) = gm.get_mut(xc.len()) {
                        o[r] = [F::zero(); CHUNK];
                        o[r][..xr.len()].copy_from_slice(xr);
                    }
                } else {
                    for o in gm.iter_mut() {
                        o[r] = [F::zero(); CHUNK];
                    }
                }
            }
        }
        let rows: [&[[F; CHUNK]]; ROWS] = std::array::from_fn(|r| {
            let start = (g * ROWS + r) * d;
            let x = tile.get(start..start + d).unwrap_or(&[]);
            x.as_chunks::<CHUNK>().0
        });
        for b in 0..c.packed.len() / dp {
            let (pb, _) = c.packed[b * dp..(b + 1) * dp].as_chunks::<CHUNK>();
            let acc = if in_place {
                distances_in_place::<F, FMA>(rows, pb)
            } else {
                distances_copied::<F, FMA>(gm, pb)
            };
            let real = (t_n - b * LANES).min(LANES);
            // The potentials stay in registers across the group.
            let pots: &mut [f64; LANES] = (&mut out.pots[b * LANES..(b + 1) * LANES])
                .try_into()
                .expect("lanes");
            let mut p = *pots;
            for (r, e) in acc.iter().enumerate().take(live) {
                let i = g * ROWS + r;
                let cl = closest[i];
                let wi = weights.map_or(1.0, |w| w[i].as_f64());
                for l in 0..LANES {
                    let near = if e[l] < cl { e[l] } else { cl };
                    p[l] += wi * near.as_f64();
                }
                // Possibly nearer unless e clears closest by more than the
                // rounding of either order of summing the same squares (e is
                // a sum of squares of finite values: never NaN). Near
                // overflow, an infinite e proves nothing: all are possible.
                // A row at 0 can come no nearer.
                let (all, bound) = if cl > F::zero() {
                    (cl >= huge, cl * one_plus + c.floor)
                } else {
                    (false, F::zero())
                };
                let mut any = false;
                for l in 0..LANES {
                    any |= (e[l] < bound) & (l < real);
                }
                if all || any {
                    let x = &tile[i * d..(i + 1) * d];
                    for l in (0..real).filter(|&l| all || e[l] < bound) {
                        let t = b * LANES + l;
                        out.near.push(Near {
                            row: (out.first + i) as u32,
                            t: t as u32,
                            dist: sq_dist(x, &c.rows[t * d..(t + 1) * d]),
                        });
                    }
                }
            }
            *pots = p;
        }
    }
}
