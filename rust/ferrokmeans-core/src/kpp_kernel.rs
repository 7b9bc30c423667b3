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
/// tile), else to `near` as [`Near`] pairs (in an order that depends on
/// the kernel; the update does not depend on it).
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
/// `closest.len()` rows); see [`Out`]. With a [`Screen`] (more than 8
/// features only), by [`evaluate_screened`]: the same results.
pub(crate) fn evaluate_tile<F: Float>(
    tile: &[F],
    closest: &[F],
    weights: Option<&[F]>,
    c: &Candidates<F>,
    out: &mut Out<'_, F>,
    screen: Option<&Screen<'_>>,
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
        _ => match screen {
            Some(screen) => run_screened::<F>(tile, closest, weights, c, out, screen),
            #[cfg(target_arch = "x86_64")]
            None if simd_level() == SimdLevel::Avx512 && rows_in_lanes::<F>(c.d) => {
                // SAFETY: simd_level() only reports features this CPU has.
                unsafe { run_rows16::<F>(tile, closest, weights, c, out) }
            }
            None => run_blocked::<F>(tile, closest, weights, c, out),
        },
    }
}

/// Float64 rows of more features than this go to the blocked kernel rather
/// than to [`evaluate_rows16`]. On rows streamed from memory at every step
/// (k-means++ on 100,000 float64 rows, 100 centres, one thread), rows in
/// the lanes measured 10% faster at 128 features, 3% at 160, even at 192,
/// and 4% slower at 256: there both kernels wait for memory, and the
/// blocked one, which reads eight rows in place, streams them a little
/// better.
const ROWS16_F64_MAX_D: usize = 192;

/// Whether [`evaluate_tile`] (with AVX-512 and no screen) takes the kernel
/// with rows in the lanes for `d` features of `F`.
fn rows_in_lanes<F: Float>(d: usize) -> bool {
    std::mem::size_of::<F>() == 4 || d <= ROWS16_F64_MAX_D
}

/// Defines `$name<F, …>(tile, closest, weights, c, out, extra…)` running
/// `$kernel` compiled for the best instruction set available (each kernel
/// in a function of its own, so that registers are allocated for it
/// alone), with fused multiply-adds only where the CPU has them.
macro_rules! dispatch {
    ($name:ident [$($cg:ident),*] ($($arg:ident: $ty:ty),*) => $kernel:ident) => {
        fn $name<F: Float, $(const $cg: usize,)*>(
            tile: &[F],
            closest: &[F],
            weights: Option<&[F]>,
            c: &Candidates<F>,
            out: &mut Out<'_, F>,
            $($arg: $ty,)*
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
                    $($arg: $ty,)*
                ) {
                    $kernel::<F, true, $($cg,)*>(tile, closest, weights, c, out, $($arg,)*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<F: Float, $(const $cg: usize,)*>(
                    tile: &[F],
                    closest: &[F],
                    weights: Option<&[F]>,
                    c: &Candidates<F>,
                    out: &mut Out<'_, F>,
                    $($arg: $ty,)*
                ) {
                    $kernel::<F, true, $($cg,)*>(tile, closest, weights, c, out, $($arg,)*)
                }
                match simd_level() {
                    // SAFETY: simd_level() only reports features this CPU has.
                    SimdLevel::Avx512 => {
                        return unsafe {
                            avx512::<F, $($cg,)*>(tile, closest, weights, c, out, $($arg,)*)
                        }
                    }
                    // SAFETY: as above.
                    SimdLevel::Avx2 => {
                        return unsafe {
                            avx2::<F, $($cg,)*>(tile, closest, weights, c, out, $($arg,)*)
                        }
                    }
                    SimdLevel::Portable => {}
                }
            }
            $kernel::<F, false, $($cg,)*>(tile, closest, weights, c, out, $($arg,)*)
        }
    };
}

dispatch!(run_lanes [D] () => evaluate_lanes);
dispatch!(run_blocked [] () => evaluate_blocked);
dispatch!(run_screened [] (screen: &Screen<'_>) => evaluate_screened);

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

/// Group `g` (`live` rows) of a row-major tile of `d` features, made ready
/// for [`block_distances`]: the rows after it are fetched ahead, and the
/// group is copied to `gm` (chunk `ch` of row `r` at `gm[ch][r]`, padded
/// with zeros) unless it is read in place. Returns whether it is, and the
/// in-place rows (whole chunks).
#[inline(always)]
fn prepare_group<'t, S: Float>(
    tile: &'t [S],
    (d, dp): (usize, usize),
    g: usize,
    live: usize,
    gm: &mut [[[S; CHUNK]; ROWS]],
) -> (bool, [&'t [[S; CHUNK]]; ROWS]) {
    // Rows are read once per step, so fetch them ahead of the arithmetic,
    // at least 4 KiB and two groups ahead (some 15% faster on 100,000 × 64
    // float32 rows, which do not stay in cache).
    let group_bytes = ROWS * d * std::mem::size_of::<S>();
    let ahead = (4096 / std::mem::size_of::<S>()).max(2 * ROWS * d);
    let base = tile.as_ptr().wrapping_add(g * ROWS * d + ahead);
    for line in (0..group_bytes).step_by(64) {
        prefetch(base.cast::<u8>().wrapping_add(line));
    }
    // Whole groups of rows with whole chunks are read in place; others
    // are first copied. Either way each distance sums the same squares in
    // the same order.
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
                    o[r] = [S::zero(); CHUNK];
                    o[r][..xr.len()].copy_from_slice(xr);
                }
            } else {
                for o in gm.iter_mut() {
                    o[r] = [S::zero(); CHUNK];
                }
            }
        }
    }
    let rows = std::array::from_fn(|r| {
        let start = (g * ROWS + r) * d;
        let x = tile.get(start..start + d).unwrap_or(&[]);
        x.as_chunks::<CHUNK>().0
    });
    (in_place, rows)
}

/// `Σ (c - x)²` for the rows of a group from [`prepare_group`] and the
/// [`LANES`] candidates of block `b` of `c`.
#[inline(always)]
fn block_distances<S: Float, const FMA: bool>(
    (in_place, rows): (bool, [&[[S; CHUNK]]; ROWS]),
    gm: &[[[S; CHUNK]; ROWS]],
    c: &Candidates<S>,
    b: usize,
) -> [[S; LANES]; ROWS] {
    let dp = c.dp;
    let (pb, _) = c.packed[b * dp..(b + 1) * dp].as_chunks::<CHUNK>();
    if in_place {
        distances_in_place::<S, FMA>(rows, pb)
    } else {
        distances_copied::<S, FMA>(gm, pb)
    }
}

/// The scratch buffer of a group as chunks of rows (`dp` features each).
fn group_buffer<S: Float>(scratch: &mut Vec<S>, dp: usize) -> &mut [[[S; CHUNK]; ROWS]] {
    scratch.resize(dp * ROWS, S::zero());
    let (gv, _) = scratch.as_chunks_mut::<CHUNK>();
    gv.as_chunks_mut::<ROWS>().0
}

/// The blocked kernel's threshold for a row at `closest`: whether every
/// candidate may bring it nearer (`closest` near overflow, where a distance
/// proves nothing), and below what distance a candidate may — unless the
/// distance clears `closest` by more than the rounding of either order of
/// summing the same squares. A row at 0 can come no nearer.
#[inline(always)]
fn near_bound<F: Float>(cl: F, c: &Candidates<F>) -> (bool, F) {
    if cl > F::zero() {
        let huge = F::max_value() / F::from_f64(4.0);
        (cl >= huge, cl * (F::one() + c.kappa_sum) + c.floor)
    } else {
        (false, F::zero())
    }
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
    let mut scratch = std::mem::take(out.scratch);
    let gm = group_buffer(&mut scratch, dp);
    for g in 0..m.div_ceil(ROWS) {
        let live = ROWS.min(m - g * ROWS);
        let group = prepare_group(tile, (d, dp), g, live, gm);
        for b in 0..c.packed.len() / dp {
            let acc = block_distances::<F, FMA>(group, gm, c, b);
            let real = (t_n - b * LANES).min(LANES);
            // The potentials stay in registers across the group.
            let lanes = b * LANES..(b + 1) * LANES;
            let mut p: [f64; LANES] = out.pots[lanes.clone()].try_into().expect("lanes");
            for (r, e) in acc.iter().enumerate().take(live) {
                let i = g * ROWS + r;
                let cl = closest[i];
                let wi = weights.map_or(1.0, |w| w[i].as_f64());
                for l in 0..LANES {
                    let near = if e[l] < cl { e[l] } else { cl };
                    p[l] += wi * near.as_f64();
                }
                // e is a sum of squares of finite values: never NaN.
                let (all, bound) = near_bound(cl, c);
                let mut any = false;
                for l in 0..LANES {
                    any |= (e[l] < bound) & (l < real);
                }
                if all || any {
                    let x = &tile[i * d..(i + 1) * d];
                    for l in (0..real).filter(|&l| all || e[l] < bound) {
                        push_near(out, i, b * LANES + l, x, c);
                    }
                }
            }
            out.pots[lanes].copy_from_slice(&p);
        }
    }
    *out.scratch = scratch;
}

/// Rows per group of [`evaluate_rows16`]: the lanes of a float32 vector,
/// or of two float64 vectors.
#[cfg(target_arch = "x86_64")]
const R16: usize = 16;

/// [`evaluate_rows16`] compiled for AVX-512.
///
/// # Safety
/// The CPU has AVX-512 (F, VL, DQ, BW), AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
unsafe fn run_rows16<F: Float>(
    tile: &[F],
    closest: &[F],
    weights: Option<&[F]>,
    c: &Candidates<F>,
    out: &mut Out<'_, F>,
) {
    // SAFETY: the caller's guarantees.
    unsafe { evaluate_rows16(tile, closest, weights, c, out) }
}

/// Whether `F` is `f32` (else `f64`: the trait is sealed to the two).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn is_f32<F: Float>() -> bool {
    std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>()
}

/// `v` as a slice of `T`, which is `F` (checked): the generic driver below
/// hands its buffers to kernels written with one type's intrinsics.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn same<F: 'static, T: 'static>(v: &[F]) -> &[T] {
    assert!(std::any::TypeId::of::<F>() == std::any::TypeId::of::<T>());
    // SAFETY: F and T are the same type.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<T>(), v.len()) }
}

/// [`same`] for a mutable slice.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn same_mut<F: 'static, T: 'static>(v: &mut [F]) -> &mut [T] {
    assert!(std::any::TypeId::of::<F>() == std::any::TypeId::of::<T>());
    // SAFETY: F and T are the same type.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<T>(), v.len()) }
}

/// The blocked kernel's results with AVX-512: [`R16`] rows in the lanes
/// (transposed in registers; in float64, two vectors of eight), each
/// candidate's feature broadcast, `Σ (x - c)²` by one subtraction and one
/// fused multiply-add per feature: per lane the very operations of
/// [`evaluate_blocked`] (`x - c` is `-(c - x)` exactly, so the squares are
/// the same), in the same feature order, so the potentials and the listed
/// pairs are the same bits. A vector holds rows where the blocked kernel's
/// holds eight candidates, none of them padding: in float32 twice the work
/// per instruction, and in either type more where there are fewer than
/// eight candidates (k-means++ tries `2 + ln k`).
///
/// # Safety
/// The CPU has AVX-512F and FMA.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn evaluate_rows16<F: Float>(
    tile: &[F],
    closest: &[F],
    weights: Option<&[F]>,
    c: &Candidates<F>,
    out: &mut Out<'_, F>,
) {
    let (d, m, t_n) = (c.d, closest.len(), c.t);
    assert!(tile.len() == m * d && c.rows.len() == t_n * d);
    // The buffers, from the kernels' scratch (no allocation once it has
    // grown): the group transposed (16·d), zeros (the transpositions' `μ`)
    // and two 16 × 16 blocks for the finish.
    let mut scratch = std::mem::take(out.scratch);
    scratch.resize(R16 * d + d.max(R16) + 2 * R16 * R16, F::zero());
    let (xg, rest) = scratch.split_at_mut(R16 * d);
    let (zeros, rest) = rest.split_at_mut(d.max(R16));
    zeros.fill(F::zero());
    let (nbuf, tbuf) = rest.split_at_mut(R16 * R16);
    // Distances of the group's rows to one block of candidates:
    // `e[l·R16 + r]` (padding candidates stay 0; their potentials are ignored).
    let mut e = [F::zero(); LANES * R16];
    for g in 0..m.div_ceil(R16) {
        let live = R16.min(m - g * R16);
        // The next group's rows (16·d values: d lines in float32, 2d in
        // float64), fetched a line or two per feature while this group's
        // first block is computed (a burst of fetches would overflow the
        // queue of misses, and the transposition, which does nothing but
        // read rows, would wait for them).
        let next = tile.as_ptr().wrapping_add((g + 1) * R16 * d).cast::<u8>();
        // SAFETY: AVX-512F (the caller); `zeros` holds d zeros, `xg` 16·d.
        unsafe { crate::kernel::screen::transpose_centred(tile, g * R16, live, d, zeros, xg) };
        for b in 0..t_n.div_ceil(LANES) {
            let real = (t_n - b * LANES).min(LANES);
            let cand = &c.rows[b * LANES * d..(b * LANES + real) * d];
            let nx = if b == 0 { next } else { std::ptr::null() };
            // SAFETY: AVX-512F and FMA (the caller).
            unsafe { rows16_block(real, xg, cand, d, &mut e, nx) };
            let lanes = b * LANES..(b + 1) * LANES;
            let p: &mut [f64; LANES] = (&mut out.pots[lanes]).try_into().expect("lanes");
            let rows = g * R16..g * R16 + live;
            let cl = &closest[rows.clone()];
            // SAFETY: AVX-512F (the caller); `live` ≤ 16 rows, `e` 8·16
            // values, `nbuf` and `tbuf` 16·16, `zeros` 16 or more.
            let open = unsafe {
                let (ks, floor) = (c.kappa_sum.as_f64(), c.floor.as_f64());
                let open = if is_f32::<F>() {
                    let ks = (ks as f32, floor as f32);
                    rows16_near32(same(&e), real, same(cl), ks, same_mut(nbuf))
                } else {
                    rows16_near64(same(&e), real, same(cl), (ks, floor), same_mut(nbuf))
                };
                let w = weights.map(|w| &w[rows]);
                rows16_sum(nbuf, real, live, w, &zeros[..R16], tbuf, p);
                open
            };
            for (l, &o) in open.iter().enumerate().take(real) {
                let mut o = u32::from(o);
                while o != 0 {
                    let i = g * R16 + o.trailing_zeros() as usize;
                    push_near(out, i, b * LANES + l, &tile[i * d..(i + 1) * d], c);
                    o &= o - 1;
                }
            }
        }
    }
    *out.scratch = scratch;
}

/// `Σ (x - c)²` for the transposed group `xg` (16·d values) and the `real`
/// (1 to [`LANES`]) candidates of `cand` (row-major), to `e[j·16 + r]`: by
/// [`rows16_block32`] or [`rows16_block64`] with `real` accumulators.
///
/// # Safety
/// The CPU has AVX-512F and FMA.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rows16_block<F: Float>(
    real: usize,
    xg: &[F],
    cand: &[F],
    d: usize,
    e: &mut [F; LANES * R16],
    next: *const u8,
) {
    assert!((1..=LANES).contains(&real) && xg.len() >= R16 * d && cand.len() == real * d);
    macro_rules! by_count {
        ($kernel:ident, $t:ty) => {{
            let (x, c) = (same::<F, $t>(xg).as_ptr(), same::<F, $t>(cand).as_ptr());
            let e = same_mut::<F, $t>(e).as_mut_ptr();
            type Kernel = unsafe fn(*const $t, *const $t, usize, *mut $t, *const u8);
            let kernel: Kernel = match real {
                1 => $kernel::<1>,
                2 => $kernel::<2>,
                3 => $kernel::<3>,
                4 => $kernel::<4>,
                5 => $kernel::<5>,
                6 => $kernel::<6>,
                7 => $kernel::<7>,
                _ => $kernel::<8>,
            };
            // Called through an opaque pointer: rustc drops `inline(never)`
            // on `target_feature` functions (1.95), and once inlined into
            // this driver the accumulators went to the stack (float64: 56
            // of 72 multiply-adds stored to the stack).
            let kernel = std::hint::black_box(kernel);
            // SAFETY: the caller's CPU features; the lengths asserted above.
            unsafe { kernel(x, c, d, e, next) }
        }};
    }
    if is_f32::<F>() {
        by_count!(rows16_block32, f32)
    } else {
        by_count!(rows16_block64, f64)
    }
}

/// The first half of what [`evaluate_rows16`] makes of a group's float32
/// distances `e` (candidate `l` of the block, row `r`, at `e[l·16 + r]`;
/// `real` candidates, and `closest.len()` live rows): `near[l·16 + r]` =
/// `if e < closest { e } else { closest }`, and per candidate the rows it
/// may bring nearer (bit `r`), by [`near_bound`]'s threshold (`ks`: the
/// candidates' `kappa_sum` and `floor`).
///
/// # Safety
/// The CPU has AVX-512F; `closest` holds at most 16 rows, `e` and `near`
/// 8·16 values or more.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rows16_near32(
    e: &[f32],
    real: usize,
    closest: &[f32],
    (kappa_sum, floor): (f32, f32),
    near: &mut [f32],
) -> [u16; LANES] {
    use std::arch::x86_64::{
        _mm512_add_ps, _mm512_cmp_ps_mask, _mm512_loadu_ps, _mm512_mask_blend_ps,
        _mm512_maskz_loadu_ps, _mm512_min_ps, _mm512_mul_ps, _mm512_set1_ps, _mm512_setzero_ps,
        _mm512_storeu_ps, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_LT_OQ,
    };
    let live = closest.len();
    assert!(live <= R16 && real <= LANES && e.len() >= LANES * R16 && near.len() >= LANES * R16);
    // SAFETY (whole body): the caller's CPU features; every load and store
    // is inside `e` and `near` (asserted above), or masked to the live rows.
    unsafe {
        let lm: u16 = if live == R16 {
            u16::MAX
        } else {
            (1u16 << live) - 1
        };
        let cl = _mm512_maskz_loadu_ps(lm, closest.as_ptr());
        // near_bound: for closest > 0, every candidate when closest is huge,
        // else those below closest·(1 + κ) + floor; none for closest ≤ 0.
        let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(cl, _mm512_setzero_ps()) & lm;
        let huge = _mm512_set1_ps(f32::MAX / 4.0);
        let all = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(cl, huge) & pos;
        let bound = _mm512_mask_blend_ps(
            pos,
            _mm512_setzero_ps(),
            _mm512_add_ps(
                _mm512_mul_ps(cl, _mm512_set1_ps(1.0 + kappa_sum)),
                _mm512_set1_ps(floor),
            ),
        );
        let mut open = [0u16; LANES];
        for (l, o) in open.iter_mut().enumerate().take(real) {
            let el = _mm512_loadu_ps(e.as_ptr().add(l * R16));
            // min_ps(a, b) is `if a < b { a } else { b }`.
            _mm512_storeu_ps(near.as_mut_ptr().add(l * R16), _mm512_min_ps(el, cl));
            *o = (all | _mm512_cmp_ps_mask::<_CMP_LT_OQ>(el, bound)) & lm;
        }
        open
    }
}

/// [`rows16_near32`] for float64 distances: each candidate's 16 rows as
/// two vectors of eight, the threshold computed in float64.
///
/// # Safety
/// As for [`rows16_near32`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rows16_near64(
    e: &[f64],
    real: usize,
    closest: &[f64],
    (kappa_sum, floor): (f64, f64),
    near: &mut [f64],
) -> [u16; LANES] {
    use std::arch::x86_64::{
        _mm512_add_pd, _mm512_cmp_pd_mask, _mm512_loadu_pd, _mm512_mask_blend_pd,
        _mm512_maskz_loadu_pd, _mm512_min_pd, _mm512_mul_pd, _mm512_set1_pd, _mm512_setzero_pd,
        _mm512_storeu_pd, _CMP_GE_OQ, _CMP_GT_OQ, _CMP_LT_OQ,
    };
    let live = closest.len();
    assert!(live <= R16 && real <= LANES && e.len() >= LANES * R16 && near.len() >= LANES * R16);
    // SAFETY (whole body): as in rows16_near32; the second half's masked
    // load reads nothing past the live rows (its address may be past the
    // slice when no row of that half is live, hence `wrapping_add`).
    unsafe {
        let lm: u16 = if live == R16 {
            u16::MAX
        } else {
            (1u16 << live) - 1
        };
        let mut open = [0u16; LANES];
        for h in 0..2 {
            let hm = (lm >> (8 * h)) as u8;
            let cl = _mm512_maskz_loadu_pd(hm, closest.as_ptr().wrapping_add(8 * h));
            // near_bound, as in rows16_near32.
            let pos = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(cl, _mm512_setzero_pd()) & hm;
            let huge = _mm512_set1_pd(f64::MAX / 4.0);
            let all = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(cl, huge) & pos;
            let bound = _mm512_mask_blend_pd(
                pos,
                _mm512_setzero_pd(),
                _mm512_add_pd(
                    _mm512_mul_pd(cl, _mm512_set1_pd(1.0 + kappa_sum)),
                    _mm512_set1_pd(floor),
                ),
            );
            for (l, o) in open.iter_mut().enumerate().take(real) {
                let at = l * R16 + 8 * h;
                let el = _mm512_loadu_pd(e.as_ptr().add(at));
                _mm512_storeu_pd(near.as_mut_ptr().add(at), _mm512_min_pd(el, cl));
                let m = (all | _mm512_cmp_pd_mask::<_CMP_LT_OQ>(el, bound)) & hm;
                *o |= u16::from(m) << (8 * h);
            }
        }
        open
    }
}

/// The second half of the finish: `w·near` added to `p` row by row in
/// order, as [`evaluate_blocked`] adds them (`near` from [`rows16_near32`]
/// or [`rows16_near64`], `real` candidates and `live` rows; `weights` of
/// the live rows). The 16 × 16 block is first transposed in registers to
/// `t`, so that each row adds a vector of candidates. `zeros`: 16 zeros.
///
/// # Safety
/// The CPU has AVX-512F; `near` and `t` hold 16·16 values, `live` ≤ 16.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rows16_sum<F: Float>(
    near: &[F],
    real: usize,
    live: usize,
    weights: Option<&[F]>,
    zeros: &[F],
    t: &mut [F],
    p: &mut [f64; LANES],
) {
    use std::arch::x86_64::{
        _mm256_loadu_ps, _mm512_add_pd, _mm512_cvtps_pd, _mm512_loadu_pd, _mm512_mul_pd,
        _mm512_set1_pd, _mm512_storeu_pd,
    };
    assert!(live <= R16 && near.len() == R16 * R16 && t.len() == R16 * R16);
    debug_assert!(weights.is_none_or(|w| w.len() == live));
    // SAFETY (whole body): the caller's CPU features; row r's candidates
    // are the 8 values of `t` from r·16 (asserted lengths).
    unsafe {
        // Row r's candidates at t[r·16 ..].
        crate::kernel::screen::transpose_centred(near, 0, real, R16, zeros, t);
        let mut acc = _mm512_loadu_pd(p.as_ptr());
        for r in 0..live {
            let w = weights.map_or(1.0, |w| w[r].as_f64());
            let v = if is_f32::<F>() {
                _mm512_cvtps_pd(_mm256_loadu_ps(same::<F, f32>(t).as_ptr().add(r * R16)))
            } else {
                _mm512_loadu_pd(same::<F, f64>(t).as_ptr().add(r * R16))
            };
            acc = _mm512_add_pd(acc, _mm512_mul_pd(_mm512_set1_pd(w), v));
        }
        _mm512_storeu_pd(p.as_mut_ptr(), acc);
    }
}

/// `Σ_f (x_r[f] - c_j[f])²` for the [`R16`] transposed float32 rows of
/// `xg` (feature `f` of row `r` at `f·16 + r`) and the `N` candidates at
/// `cand` (row-major, `d` features each), in feature order: to
/// `e[j·16 + r]`. Unless `next` is null, also fetches line `f` from `next`
/// at feature `f`.
///
/// A function of its own (called through an opaque pointer by
/// [`rows16_block`], so never inlined), so that its `N` accumulators get
/// registers of their own rather than stack slots.
///
/// # Safety
/// The CPU has AVX-512F and FMA; `xg` holds `16·d` values, `cand` `N·d`,
/// `e` `16·N`.
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,fma")]
unsafe fn rows16_block32<const N: usize>(
    xg: *const f32,
    cand: *const f32,
    d: usize,
    e: *mut f32,
    next: *const u8,
) {
    use std::arch::x86_64::{
        _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
        _mm512_sub_ps,
    };
    // SAFETY (whole body): the caller's guarantees.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); N];
        for f in 0..d {
            if !next.is_null() {
                prefetch(next.wrapping_add(64 * f));
            }
            let x = _mm512_loadu_ps(xg.add(f * R16));
            for (j, a) in acc.iter_mut().enumerate() {
                let t = _mm512_sub_ps(x, _mm512_set1_ps(*cand.add(j * d + f)));
                *a = _mm512_fmadd_ps(t, t, *a);
            }
        }
        for (j, a) in acc.iter().enumerate() {
            _mm512_storeu_ps(e.add(j * R16), *a);
        }
    }
}

/// [`rows16_block32`] for float64 rows: each feature of the group as two
/// vectors of eight rows, so `2N` accumulators (independent chains: enough
/// to keep both FMA pipes busy from `N` = 4, the usual `2 + ln k`); fetches
/// lines `2f` and `2f + 1` from `next` at feature `f`.
///
/// # Safety
/// As for [`rows16_block32`].
#[cfg(target_arch = "x86_64")]
#[inline(never)]
#[target_feature(enable = "avx512f,fma")]
unsafe fn rows16_block64<const N: usize>(
    xg: *const f64,
    cand: *const f64,
    d: usize,
    e: *mut f64,
    next: *const u8,
) {
    use std::arch::x86_64::{
        _mm512_fmadd_pd, _mm512_loadu_pd, _mm512_set1_pd, _mm512_setzero_pd, _mm512_storeu_pd,
        _mm512_sub_pd,
    };
    // SAFETY (whole body): the caller's guarantees.
    unsafe {
        let mut lo = [_mm512_setzero_pd(); N];
        let mut hi = [_mm512_setzero_pd(); N];
        for f in 0..d {
            if !next.is_null() {
                prefetch(next.wrapping_add(128 * f));
                prefetch(next.wrapping_add(128 * f + 64));
            }
            let xl = _mm512_loadu_pd(xg.add(f * R16));
            let xh = _mm512_loadu_pd(xg.add(f * R16 + 8));
            for j in 0..N {
                let c = _mm512_set1_pd(*cand.add(j * d + f));
                let (tl, th) = (_mm512_sub_pd(xl, c), _mm512_sub_pd(xh, c));
                lo[j] = _mm512_fmadd_pd(tl, tl, lo[j]);
                hi[j] = _mm512_fmadd_pd(th, th, hi[j]);
            }
        }
        for j in 0..N {
            _mm512_storeu_pd(e.add(j * R16), lo[j]);
            _mm512_storeu_pd(e.add(j * R16 + 8), hi[j]);
        }
    }
}

/// Lists row `i` of the tile (`x`) as one that candidate `t` may bring
/// nearer, with the exact distance.
#[inline(always)]
fn push_near<F: Float>(out: &mut Out<'_, F>, i: usize, t: usize, x: &[F], c: &Candidates<F>) {
    let d = c.d;
    out.near.push(Near {
        row: (out.first + i) as u32,
        t: t as u32,
        dist: sq_dist(x, &c.rows[t * d..(t + 1) * d]),
    });
}

/// Float32 copies of float64 rows and candidates, with which the blocked
/// kernel screens the pairs it must compute in float64 (see
/// [`evaluate_screened`]).
pub(crate) struct Screen<'a> {
    /// The tile's rows in float32, row-major (`±inf` beyond its range).
    pub(crate) rows: &'a [f32],
    /// `‖x‖` of each of the tile's rows (in f64).
    pub(crate) norms: &'a [f64],
    /// The candidates in float32.
    pub(crate) cand: &'a Candidates<f32>,
    /// The largest `‖c‖` (in f64) of each block of [`LANES`] candidates.
    pub(crate) block_norms: &'a [f64],
}

/// [`Screen::block_norms`] of the candidates `rows` (`d` features each).
pub(crate) fn block_norms<F: Float>(rows: &[F], d: usize) -> Vec<f64> {
    rows.chunks(LANES * d)
        .map(|block| {
            block
                .chunks_exact(d)
                .map(|c| {
                    c.iter()
                        .map(|x| x.as_f64() * x.as_f64())
                        .sum::<f64>()
                        .sqrt()
                })
                .fold(0f64, f64::max)
        })
        .collect()
}

/// The blocked kernel on float64 rows that are long and read from memory at
/// every step: the distances are first computed in float32 from float32
/// copies (half the bytes to read, twice the lanes per instruction), and
/// only the pairs that this cannot settle are computed in float64. A pair
/// is settled when the float32 distance, less every rounding it may carry
/// (of the copies, of the subtractions, of the sum, and in the subnormal
/// range), still puts the candidate beyond the float64 kernel's threshold
/// for that row (widened by the rounding of the float64 sum): the float64
/// kernel would then have added `closest` to the potential and listed
/// nothing, which is what this does. Every other pair gets the float64
/// kernel's very operations, so potentials and lists are bit for bit those
/// of [`evaluate_blocked`].
#[inline(always)]
fn evaluate_screened<F: Float, const FMA: bool>(
    tile: &[F],
    closest: &[F],
    weights: Option<&[F]>,
    c: &Candidates<F>,
    out: &mut Out<'_, F>,
    screen: &Screen<'_>,
) {
    let (d, m, t_n) = (c.d, closest.len(), c.t);
    let sc = screen.cand;
    let dp = sc.dp;
    debug_assert_eq!(tile.len(), m * d);
    debug_assert_eq!(screen.rows.len(), m * d);
    let mut buf = vec![0f32; 0];
    let gm = group_buffer(&mut buf, dp);
    // Rounding margins (twice the unit roundoff, and generous counts of
    // rounding steps): `u` of float32, `g32` of a float32 sum of d squares,
    // `g64` of the float64 one; absolute ones for subnormal results.
    let u = f64::from(f32::EPSILON);
    let g32 = 2.0 * (d as f64 + 4.0) * u;
    let g64 = 2.0 * (d as f64 + 4.0) * f64::EPSILON;
    let abs32 = 2.0 * (d as f64 + 1.0) * f64::from(f32::MIN_POSITIVE);
    let abs_t = 2.0 * (d as f64).sqrt() * f64::from(f32::MIN_POSITIVE);
    let abs64 = 2.0 * (d as f64 + 1.0) * f64::MIN_POSITIVE;
    // 1 / ((1 - g32)(1 - u)²), a little above (its own rounding).
    let inv_shrink = (1.0 + 4.0 * f64::EPSILON) / ((1.0 - g32) * (1.0 - u) * (1.0 - u));
    for g in 0..m.div_ceil(ROWS) {
        let live = ROWS.min(m - g * ROWS);
        let group = prepare_group(screen.rows, (d, dp), g, live, gm);
        for b in 0..sc.packed.len() / dp {
            let acc = block_distances::<f32, FMA>(group, gm, sc, b);
            let real = (t_n - b * LANES).min(LANES);
            // One threshold per row, with the largest ‖c‖ of the block: a
            // little more cautious than one per pair, and one comparison of
            // float32 vectors per row.
            let cn_max = screen.block_norms[b];
            // Screen every pair of the group; list the others.
            let mut pending = [(0u8, 0u8); ROWS * LANES];
            let mut np = 0;
            // Per row: whether it is trivial (at 0 or NaN: nothing to list),
            // whether every pair is open (`closest` huge), the float64
            // threshold and ‖x‖.
            let mut trivial = [true; ROWS];
            let mut open_all = [false; ROWS];
            let (mut bound64, mut xnorm) = ([0f64; ROWS], [0f64; ROWS]);
            for r in 0..live {
                let i = g * ROWS + r;
                let cl = closest[i];
                let (all, bound) = near_bound(cl, c);
                trivial[r] = cl <= F::zero() || cl.is_nan();
                open_all[r] = all;
                bound64[r] = bound.as_f64();
                xnorm[r] = screen.norms[i];
            }
            // A pair is settled when √A·(1 - u) - B, below which the true
            // distance cannot be (A: e32 less its rounding), is at least
            // √need, where need is the float64 threshold widened by the
            // rounding of the float64 sum; squared (all non-negative) and
            // solved for e32, rounded up to float32. Widened by 2^-20 before
            // rounding to float32 (whose rounding is 2^-24 at most,
            // relative; abs32 keeps the value out of the subnormal range):
            // never below. All rows at once, branch-free (it vectorises;
            // the same operations per row).
            let mut thr = [f32::INFINITY; ROWS];
            for (r, o) in thr.iter_mut().enumerate() {
                let need = (bound64[r] * (1.0 + 2.0 * g64) + abs64).sqrt() * (1.0 + g64);
                let rhs = need + 2.0 * u * (xnorm[r] + cn_max) + abs_t;
                let t = ((rhs * rhs * inv_shrink + abs32) * (1.0 + 1.0 / 1_048_576.0)) as f32;
                if !(trivial[r] | open_all[r]) {
                    *o = t;
                }
            }
            for (r, e32) in acc.iter().enumerate().take(live) {
                let thr = thr[r];
                // Bit l: pair l unsettled (a mask of comparisons, which
                // vectorises).
                let mut open = 0u32;
                for l in 0..LANES {
                    open |= u32::from(!((e32[l] >= thr) & (e32[l] < f32::INFINITY))) << l;
                }
                if trivial[r] {
                    open = 0;
                }
                open &= (1u32 << real) - 1;
                if open != 0 {
                    // The row in float64 is read once the group is screened:
                    // fetch it now (it is not in cache; the screen read only
                    // its float32 copy).
                    let x = tile[(g * ROWS + r) * d..].as_ptr().cast::<u8>();
                    for line in (0..d * std::mem::size_of::<F>()).step_by(64) {
                        prefetch(x.wrapping_add(line));
                    }
                }
                while open != 0 {
                    pending[np] = (r as u8, open.trailing_zeros() as u8);
                    np += 1;
                    open &= open - 1;
                }
            }
            // The listed pairs in float64, several at a time.
            let mut exact = [[F::nan(); LANES]; ROWS];
            for batch in pending[..np].chunks(PAIRS) {
                let xs: [&[F]; PAIRS] = std::array::from_fn(|q| {
                    let i = g * ROWS + batch.get(q).map_or(0, |p| p.0 as usize);
                    &tile[i * d..(i + 1) * d]
                });
                let cs: [&[F]; PAIRS] = std::array::from_fn(|q| {
                    let t = b * LANES + batch.get(q).map_or(0, |p| p.1 as usize);
                    &c.rows[t * d..(t + 1) * d]
                });
                let e = exact_pairs::<F, FMA>(xs, cs);
                for (q, &(r, l)) in batch.iter().enumerate() {
                    exact[r as usize][l as usize] = e[q];
                }
            }
            // Potentials row by row, and the listed pairs that are nearer.
            let lanes = b * LANES..(b + 1) * LANES;
            let mut p: [f64; LANES] = out.pots[lanes.clone()].try_into().expect("lanes");
            let mut next = 0;
            for r in 0..live {
                let i = g * ROWS + r;
                let cl = closest[i];
                let wi = weights.map_or(1.0, |w| w[i].as_f64());
                let mut near = [cl; LANES];
                while next < np && pending[next].0 as usize == r {
                    let l = pending[next].1 as usize;
                    let e = exact[r][l];
                    if e < cl {
                        near[l] = e;
                    }
                    let (all, bound) = near_bound(cl, c);
                    if all || e < bound {
                        push_near(out, i, b * LANES + l, &tile[i * d..(i + 1) * d], c);
                    }
                    next += 1;
                }
                for l in 0..LANES {
                    p[l] += wi * near[l].as_f64();
                }
            }
            out.pots[lanes].copy_from_slice(&p);
        }
    }
}

/// Pairs computed at once by [`exact_pairs`]: independent chains of
/// multiply-adds.
const PAIRS: usize = 8;

/// `Σ (c - x)²` for [`PAIRS`] pairs of rows (all `d` features long), each by
/// the operations of one lane of [`distances_in_place`] (padding features
/// add exact zeros), the pairs interleaved so that their chains overlap.
#[inline(always)]
fn exact_pairs<F: Float, const FMA: bool>(xs: [&[F]; PAIRS], cs: [&[F]; PAIRS]) -> [F; PAIRS] {
    let d = xs[0].len();
    let (xs, cs) = (xs.map(|x| &x[..d]), cs.map(|c| &c[..d]));
    let mut acc = [F::zero(); PAIRS];
    for f in 0..d {
        for q in 0..PAIRS {
            let t = cs[q][f] - xs[q][f];
            acc[q] = madd::<F, FMA>(t, t, acc[q]);
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uniform values in [0, 1) from a 64-bit LCG.
    fn uniform(seed: u64) -> impl FnMut() -> f64 {
        let mut state = seed;
        move || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// What one kernel run adds for `t` candidates: the potentials (as
    /// bits) and the listed pairs (distances as float64 bits, exact for
    /// float32), as a sorted set: their order does not matter to the update.
    fn outcome<F: Float>(
        t: usize,
        kernel: impl FnOnce(&mut Out<'_, F>),
    ) -> (Vec<u64>, Vec<(u32, u32, u64)>) {
        let mut pots = vec![0f64; t.div_ceil(LANES) * LANES];
        let (mut near, mut scratch) = (Vec::new(), Vec::new());
        kernel(&mut Out {
            pots: &mut pots,
            flags: &mut [],
            near: &mut near,
            first: 3,
            scratch: &mut scratch,
        });
        let pots = pots[..t].iter().map(|p| p.to_bits()).collect();
        let mut near: Vec<_> = near
            .iter()
            .map(|p| (p.row, p.t, p.dist.as_f64().to_bits()))
            .collect();
        near.sort_unstable();
        (pots, near)
    }

    /// One float64 tile by the blocked kernel or by the screened one.
    fn run(
        tile: &[f64],
        closest: &[f64],
        w: Option<&[f64]>,
        cand: &[f64],
        d: usize,
        screened: bool,
    ) -> (Vec<u64>, Vec<(u32, u32, u64)>) {
        let t = cand.len() / d;
        let c = Candidates::new(cand, t, d);
        let c32: Vec<f32> = cand.iter().map(|&v| v as f32).collect();
        let c32 = Candidates::new(&c32, t, d);
        let block_norms = block_norms(cand, d);
        let rows: Vec<f32> = tile.iter().map(|&v| v as f32).collect();
        let norms: Vec<f64> = tile
            .chunks_exact(d)
            .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
            .collect();
        let screen = Screen {
            rows: &rows,
            norms: &norms,
            cand: &c32,
            block_norms: &block_norms,
        };
        outcome(t, |out| {
            evaluate_tile(tile, closest, w, &c, out, screened.then_some(&screen))
        })
    }

    /// One tile by the blocked kernel, or by the one with sixteen rows in
    /// the lanes (whatever `d`; without AVX-512, whatever `evaluate_tile`
    /// picks without a screen).
    fn run_unscreened<F: Float>(
        tile: &[F],
        closest: &[F],
        w: Option<&[F]>,
        cand: &[F],
        d: usize,
        blocked: bool,
    ) -> (Vec<u64>, Vec<(u32, u32, u64)>) {
        let t = cand.len() / d;
        let c = Candidates::new(cand, t, d);
        outcome(t, |out| {
            if blocked {
                run_blocked(tile, closest, w, &c, out);
                return;
            }
            #[cfg(target_arch = "x86_64")]
            if simd_level() == SimdLevel::Avx512 {
                // SAFETY: simd_level() only reports features this CPU has.
                unsafe { run_rows16(tile, closest, w, &c, out) };
                return;
            }
            evaluate_tile(tile, closest, w, &c, out, None);
        })
    }

    /// The kernel with rows in the lanes against the blocked one, on tiles
    /// of `F` values `offset + scale·u` for each `(scale, offset)` (`u`
    /// uniform in [0, 1)), 1 to 17 candidates, `closest` at, within a hair
    /// of and far from a candidate's distance, with and without weights,
    /// whole tiles and one cut short of a group.
    fn rows_in_lanes_match_blocked<F: Float>(seed: u64, cases: &[(f64, f64)]) {
        let mut next = uniform(seed);
        for &(scale, offset) in cases {
            for d in [9, 16, 20, 33, 64, 200] {
                // The blocked kernel's relative threshold: `closest` just
                // across it (in either direction after rounding).
                let eps = F::epsilon().as_f64();
                let edge = 1.0 / (1.0 + 4.0 * (d as f64 + 2.0) * eps);
                let factors = [
                    0.0,
                    0.5,
                    1.0 - 1e-6,
                    edge,
                    1.0 - 4.0 * eps,
                    1.0,
                    1.0 + 4.0 * eps,
                    1.0 + 1e-6,
                    1.01,
                    3.0,
                ];
                for t in 1..=17 {
                    let m = 16 * 5 + 7;
                    let v = |x: f64| F::from_f64(offset + scale * x);
                    let tile: Vec<F> = (0..m * d).map(|_| v(next())).collect();
                    let mut cand: Vec<F> = (0..t * d).map(|_| v(next())).collect();
                    // A candidate that is a row of the tile.
                    cand[..d].copy_from_slice(&tile[5 * d..6 * d]);
                    let closest: Vec<F> = (0..m)
                        .map(|i| {
                            let j = i % t;
                            let x = &tile[i * d..(i + 1) * d];
                            let e = crate::kernel::sq_dist(x, &cand[j * d..(j + 1) * d]);
                            e * F::from_f64(factors[i % factors.len()])
                        })
                        .collect();
                    let w: Vec<F> = (0..m).map(|_| F::from_f64(next() * 3.0)).collect();
                    for weights in [None, Some(&w[..])] {
                        // Whole tiles, and tiles cut short of a group: 3
                        // rows in the last (in float64, its second half
                        // empty) or 11 (the second half partly live).
                        for rows in [m, 16 * 2 + 3, 16 * 2 + 11] {
                            let args = (&tile[..rows * d], &closest[..rows]);
                            let wr = weights.map(|w| &w[..rows]);
                            let want = run_unscreened(args.0, args.1, wr, &cand, d, true);
                            let got = run_unscreened(args.0, args.1, wr, &cand, d, false);
                            assert_eq!(got, want, "d={d} t={t} scale={scale:e} rows={rows}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn float32_kernel_with_rows_in_lanes_gives_the_blocked_kernels_bits() {
        // Ordinary values, a far offset, tiny values (subnormal squares),
        // and values whose squares overflow (every pair listed).
        rows_in_lanes_match_blocked::<f32>(
            11,
            &[(1.0, 0.0), (3.0, 1e3), (1e-20, 0.0), (1e19, 0.0)],
        );
    }

    #[test]
    fn float64_kernel_with_rows_in_lanes_gives_the_blocked_kernels_bits() {
        // Ordinary values, far offsets, tiny values (subnormal squares);
        // values whose sums of squares pass a quarter of the largest float64
        // (`closest` so large that every candidate is listed) or overflow,
        // and values whose squares overflow.
        rows_in_lanes_match_blocked::<f64>(
            13,
            &[
                (1.0, 0.0),
                (3.0, 1e3),
                (3.0, 1e7),
                (1e-160, 0.0),
                (5e153, 0.0),
                (1e160, 0.0),
            ],
        );
    }

    #[test]
    fn screened_kernel_gives_the_float64_kernels_bits() {
        let mut next = uniform(7);
        // Ordinary values, a far offset, values that are subnormal or
        // overflow in float32, and huge ones.
        for (scale, offset) in [
            (1.0, 0.0),
            (3.0, 1e4),
            (1.0, 1e6),
            (1e-39, 0.0),
            (1e39, 0.0),
            (1e150, 0.0),
        ] {
            for d in [9, 16, 20, 64] {
                let (m, t) = (131, 11);
                let tile: Vec<f64> = (0..m * d).map(|_| offset + scale * next()).collect();
                let mut cand: Vec<f64> = (0..t * d).map(|_| offset + scale * next()).collect();
                // Two candidates are rows of the tile, one nearly a row.
                cand[..d].copy_from_slice(&tile[5 * d..6 * d]);
                cand[3 * d..4 * d].copy_from_slice(&tile[17 * d..18 * d]);
                for (o, v) in cand[4 * d..5 * d].iter_mut().zip(&tile[30 * d..31 * d]) {
                    *o = v * (1.0 + 1e-9);
                }
                // `closest` at or within a hair of a candidate's distance,
                // where only the float64 sum can decide, and elsewhere.
                let factors = [
                    0.0,
                    0.5,
                    1.0 - 1e-9,
                    1.0,
                    1.0 + 1e-12,
                    1.0 + 1e-7,
                    1.0 + 1e-5,
                    1.0 + 1e-4,
                    1.001,
                    1.01,
                    3.0,
                ];
                let closest: Vec<f64> = (0..m)
                    .map(|i| {
                        let j = i % t;
                        let x = &tile[i * d..(i + 1) * d];
                        let e = crate::kernel::sq_dist(x, &cand[j * d..(j + 1) * d]);
                        e * factors[i % factors.len()]
                    })
                    .collect();
                let w: Vec<f64> = (0..m).map(|_| next() * 3.0).collect();
                for weights in [None, Some(&w[..])] {
                    let want = run(&tile, &closest, weights, &cand, d, false);
                    let got = run(&tile, &closest, weights, &cand, d, true);
                    assert_eq!(got, want, "d={d} scale={scale:e} offset={offset}");
                }
            }
        }
    }
}
