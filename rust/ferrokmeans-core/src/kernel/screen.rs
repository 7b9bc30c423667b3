//! The large-`d` kernel screened by 8-bit dot products (AVX-512 VNNI).
//!
//! The blocked kernel spends `d` multiply-adds per row and centre; an 8-bit
//! dot product (`vpdpbusd`: 64 byte products per instruction, against 16
//! float32 multiply-adds) estimates the same ranking value `g_j` four times
//! cheaper. Rows and centres are quantised to integers in `[-127, 127]`
//! (each row with its own scale, the centres with one), and the estimate's
//! error is bounded from the norms of the quantisation residues
//! (Cauchy-Schwarz), with room for every rounding of the estimate and of the
//! exact value. Only the centres whose estimate lies within twice that
//! bound of the row's best estimate can be nearest; their `g_j` are then
//! computed by exactly the operations of the blocked kernel (in the `EXACT`
//! mode, the exact `Σ (x - c)²` with the exact kernel's operations), in
//! index order with a strict comparison. So the labels, and every value
//! reported, are the blocked kernel's bits; the screen only skips centres
//! that provably lose. A group of rows with values that are not finite, or
//! whose squares would leave `f32`'s range, goes through the blocked kernel.
//!
//! Rows are quantised per group of [`BR`] as the group is read (no copy of
//! the data is kept), the centres once per pass ([`ScreenCentres`]).

use super::{finish_rows, nearest_blocked, prefetch, Centers, Found, Out, BC, BR, EXACT, LABELS};
use crate::float::Float;

/// Centres per register block of the screen: one accumulator vector each.
const SB: usize = 16;

/// The screen needs whole bytes per product: at most this many features, so
/// that every integer dot product (`≤ 127² · d`) converts to `f32` exactly.
const MAX_D: usize = 1024;

/// The fewest features and centres for which the screen pays: below, its
/// fixed costs per row (transposition, quantisation, the scan for
/// survivors, the exact values) outweigh what it saves. Measured, one Lloyd
/// iteration, one thread, screened against blocked (benchmarks' W4-W6):
/// 200,000 × 32, k = 256: 20.9 / 22.1 ms (f32), 28.4 / 41.0 ms (f64);
/// 100,000 × 256, k = 100: 34.4 / 41.1, 49.7 / 66.5 ms; 100,000 × 64,
/// k = 1,024: 43.0 / 72.6, 49.9 / 119 ms.
const MIN_D: usize = 16;
const MIN_K: usize = 64;

/// The centres as the screen needs them, built once per pass.
#[derive(Debug, Clone)]
pub(super) struct ScreenCentres {
    /// `q_c`, four features to an `i32` (signed bytes): block `b` of [`SB`]
    /// centres, quad `p`, centre `cc` at `(b·quads + p)·SB + cc`; padding
    /// centres and features are 0.
    packed: Vec<i32>,
    /// `-128 Σ q_c` per (padded) centre: the rows' bytes are `q_x + 128`
    /// (unsigned), so the accumulator starts here to end at `q_x · q_c`.
    corr: Vec<i32>,
    /// `‖c - ν‖²` in `f32`; `+inf` for padding centres.
    norms: Vec<f32>,
    /// `ν - μ` per feature, in `f32`: the screen centres rows and centres on
    /// the centres' own mean `ν`, not on the kernels' integer `μ` (data in
    /// `[0, 1]` would otherwise sit up to 0.5 off centre in every feature).
    /// Ranking values about `ν` differ from those about `μ` by a constant
    /// per row, which changes no comparison within a row.
    shift: Vec<f32>,
    /// `2s`, `s` the centres' scale (`c - ν ≈ s q_c`).
    two_scale: f32,
    /// Upper bounds on `max ‖c - ν‖` and on `max ‖c - ν - s q_c‖`.
    a_max: f32,
    b_max: f32,
    /// Upper bounds on `max ‖c - μ‖` and `‖ν - μ‖` (for the rounding of the
    /// exact values, which are taken about `μ`).
    a_mu: f32,
    shift_norm: f32,
    /// Relative slack for the rounding of the estimate (in `f32`) and of the
    /// exact value (the expansion's error coefficient).
    gamma: f32,
    /// The relative error bound of the exact sums `Σ (x - c)²`, `(d + 3)u`.
    err_exact: f32,
    quads: usize,
}

/// Whether this CPU runs the screen (AVX-512 with VNNI and byte
/// instructions), within the cap of `FERROKMEANS_SIMD`; `FERROKMEANS_SCREEN=off`
/// turns it off (for comparisons).
pub(super) fn available() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            super::simd_level() == super::SimdLevel::Avx512
                && is_x86_feature_detected!("avx512vnni")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("popcnt")
                && is_x86_feature_detected!("bmi2")
                && std::env::var("FERROKMEANS_SCREEN").as_deref() != Ok("off")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Whether passes over `k` centres of `d` features run screened (on this
/// CPU, in every mode but `BOUNDS`), given values of ordinary range.
pub(super) fn applies(d: usize, k: usize) -> bool {
    (MIN_D..=MAX_D).contains(&d) && k >= MIN_K && available()
}

impl ScreenCentres {
    /// The screen for `k` centres of `d` features centred on μ (`centred`,
    /// row-major), or `None` where it does not apply: too few or too many
    /// features, too few centres, no VNNI, or values whose squares leave
    /// `f32`'s range.
    pub(super) fn build<F: Float>(
        centred: &[F],
        k: usize,
        d: usize,
        err_expansion: f64,
        err_exact: f64,
    ) -> Option<Self> {
        if !applies(d, k) {
            return None;
        }
        let mut nu = vec![0f64; d];
        for v in centred.chunks_exact(d) {
            for (m, x) in nu.iter_mut().zip(v) {
                *m += x.as_f64();
            }
        }
        // The shift as the rows will subtract it (in f32); the centres are
        // shifted by the same values.
        let shift: Vec<f32> = nu.iter().map(|m| (m / k as f64) as f32).collect();
        let shifted = |v: &[F], f: usize| v[f].as_f64() - shift[f] as f64;
        let mut vmax = 0f64;
        for v in centred.chunks_exact(d) {
            for f in 0..d {
                vmax = vmax.max(shifted(v, f).abs());
            }
        }
        // Squares and products of these magnitudes must stay far inside f32.
        if !(vmax > 1e-15 && vmax < 1e15) {
            return None;
        }
        let scale = (vmax / 127.0) as f32;
        let s = scale as f64;
        let quads = d.div_ceil(4);
        let blocks = k.div_ceil(SB);
        let mut packed = vec![0i32; blocks * quads * SB];
        let mut corr = vec![0i32; blocks * SB];
        let mut norms = vec![f32::INFINITY; blocks * SB];
        let (mut a_max, mut b_max, mut a_mu) = (0f64, 0f64, 0f64);
        for (j, v) in centred.chunks_exact(d).enumerate() {
            let (b, cc) = (j / SB, j % SB);
            let (mut sum_q, mut a2, mut b2, mut m2) = (0i32, 0f64, 0f64, 0f64);
            for f in 0..d {
                let x = shifted(v, f);
                let q = (x / s).round().clamp(-127.0, 127.0);
                // s·q is exact in f64 (24 + 8 significant bits).
                let e = x - s * q;
                a2 += x * x;
                b2 += e * e;
                m2 += v[f].as_f64() * v[f].as_f64();
                let q = q as i32;
                sum_q += q;
                let word = &mut packed[(b * quads + f / 4) * SB + cc];
                *word |= ((q as u8) as i32) << (8 * (f % 4));
            }
            corr[j] = -128 * sum_q;
            norms[j] = a2 as f32;
            a_max = a_max.max(a2.sqrt());
            b_max = b_max.max(b2.sqrt());
            a_mu = a_mu.max(m2.sqrt());
        }
        let up = |v: f64| (v * (1.0 + 1e-5)) as f32;
        let shift_norm = shift
            .iter()
            .map(|v| (*v as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        Some(ScreenCentres {
            packed,
            corr,
            norms,
            shift,
            two_scale: 2.0 * scale,
            a_max: up(a_max),
            b_max: up(b_max),
            a_mu: up(a_mu),
            shift_norm: up(shift_norm),
            gamma: (8.0 * f32::EPSILON as f64 + err_expansion) as f32,
            err_exact: (err_exact * 1.01) as f32,
            quads,
        })
    }
}

/// The screened kernel for the `RANK`, `LABELS` and `EXACT` modes: the
/// labels and values of [`super::nearest_blocked`], bit for bit. Only
/// called where [`available`] holds and `c` has a screen.
pub(super) fn nearest_screened<F: Float, const MODE: u8>(
    tile: &[F],
    c: &Centers<F>,
    out: &mut Out<'_, F>,
) {
    #[cfg(target_arch = "x86_64")]
    {
        let sc = c.screen.as_deref().expect("a screen for these centres");
        assert!(available());
        // SAFETY: `available()` checked that this CPU has every feature
        // that `screened` is compiled with.
        unsafe { x86::screened::<F, MODE>(tile, c, sc, out) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (tile, c, out);
        unreachable!("the screen is only built on x86_64");
    }
}

/// `xg[f·BR + l] = tile[(r0 + l)·d + f] - mu[f]` for the `live` (at most
/// [`BR`]) rows from `r0`, 0 in the other lanes: the group transposed and
/// centred in registers, by the same subtractions as the other kernels'
/// (with `mu` all zeros, the values unchanged, zeros' signs included:
/// `x - 0` is `x`). `xg` holds at least `BR·d` values, `mu` `d`.
///
/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn transpose_centred<F: Float>(
    tile: &[F],
    r0: usize,
    live: usize,
    d: usize,
    mu: &[F],
    xg: &mut [F],
) {
    debug_assert!(live <= BR);
    // SAFETY: the caller's guarantee; the bounds are asserted inside.
    unsafe { x86::transpose_group(tile, r0, live, d, mu, xg) }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    fn is_f32<F: Float>() -> bool {
        std::mem::size_of::<F>() == 4
    }

    /// 16 lanes of `F` as `f32` (rounded to nearest from `f64`).
    #[inline(always)]
    unsafe fn load16<F: Float>(p: &[F]) -> __m512 {
        debug_assert!(p.len() >= 16);
        // SAFETY (both branches): `p` holds 16 values of the size tested.
        unsafe {
            if is_f32::<F>() {
                _mm512_loadu_ps(p.as_ptr().cast::<f32>())
            } else {
                let q = p.as_ptr().cast::<f64>();
                let lo = _mm512_cvtpd_ps(_mm512_loadu_pd(q));
                let hi = _mm512_cvtpd_ps(_mm512_loadu_pd(q.add(8)));
                _mm512_insertf32x8::<1>(_mm512_castps256_ps512(lo), hi)
            }
        }
    }

    /// One group of [`BR`] rows quantised: four bytes `q_x + 128` to a word
    /// (quad `p` of lane `l` at `p·BR + l`), and per lane the estimate's
    /// factor `2 s_c s_x` and its error bound `Δ`; `all` marks the lanes
    /// whose values are not all finite (every centre is then checked).
    struct Rows {
        words: Vec<i32>,
        factor: __m512,
        delta: __m512,
        all: u16,
    }

    /// Quantises the transposed group `xg` (feature `f` of lane `l` at
    /// `f·BR + l`, centred on μ), shifted to ν.
    #[inline(always)]
    unsafe fn quantise<F: Float>(xg: &[F], d: usize, sc: &ScreenCentres, rows: &mut Rows) {
        // SAFETY: the caller has the CPU features; every load reads 16
        // values of `xg` (d·BR long) and every store 16 words of `words`
        // (quads·BR long).
        unsafe {
            // A closure here would not be inlined, nor its intrinsics.
            #[inline(always)]
            unsafe fn centred<F: Float>(xg: &[F], sc: &ScreenCentres, f: usize) -> __m512 {
                // SAFETY: the caller's (16 values of `xg` from f·BR).
                unsafe { _mm512_sub_ps(load16(&xg[f * BR..]), _mm512_set1_ps(sc.shift[f])) }
            }
            let mut mx = _mm512_setzero_ps();
            let mut bad = _mm512_setzero_ps();
            for f in 0..d {
                let y = centred(xg, sc, f);
                mx = _mm512_max_ps(mx, _mm512_abs_ps(y));
                // y - y is 0, or NaN where y is not finite.
                bad = _mm512_add_ps(bad, _mm512_sub_ps(y, y));
            }
            let finite = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(bad, bad)
                & _mm512_cmp_ps_mask::<_CMP_LT_OQ>(mx, _mm512_set1_ps(1e15));
            let s = _mm512_mul_ps(mx, _mm512_set1_ps(1.0 / 127.0));
            let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(mx, _mm512_setzero_ps()) & finite;
            let inv = _mm512_maskz_div_ps(pos, _mm512_set1_ps(127.0), mx);
            let (lo, hi) = (_mm512_set1_ps(-127.0), _mm512_set1_ps(127.0));
            let (mut q2, mut e2) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            let off = _mm512_set1_epi32(128);
            for p in 0..sc.quads {
                let mut word = _mm512_setzero_si512();
                for b in 0..4 {
                    let f = 4 * p + b;
                    if f >= d {
                        break;
                    }
                    let y = centred(xg, sc, f);
                    let q = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                        _mm512_mul_ps(y, inv),
                    );
                    let q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
                    let e = _mm512_fnmadd_ps(s, q, y);
                    q2 = _mm512_fmadd_ps(q, q, q2);
                    e2 = _mm512_fmadd_ps(e, e, e2);
                    let byte = _mm512_add_epi32(_mm512_cvtps_epi32(q), off);
                    let shifted = _mm512_sllv_epi32(byte, _mm512_set1_epi32(8 * b as i32));
                    word = _mm512_or_si512(word, shifted);
                }
                _mm512_storeu_si512(rows.words[p * BR..].as_mut_ptr().cast(), word);
            }
            // |(x-ν)·(c-ν) - s_x s q_x·q_c| ≤ ‖s_x q_x‖ ‖e_c‖ + ‖e_x‖ ‖c - ν‖
            // (e the residues); the factors enlarge each norm past the
            // rounding of its computation, and `e_x` past the rounding of
            // `x - ν` to f32 (≤ 2^-23 ‖x - ν‖ ≤ 2^-23 (a_x + b_x)).
            let one = _mm512_set1_ps(1.001);
            let a = _mm512_mul_ps(_mm512_mul_ps(s, _mm512_sqrt_ps(q2)), one);
            let b0 = _mm512_mul_ps(_mm512_sqrt_ps(e2), one);
            let b = _mm512_fmadd_ps(
                _mm512_add_ps(_mm512_add_ps(a, b0), _mm512_set1_ps(sc.shift_norm)),
                _mm512_set1_ps(2.4e-7),
                b0,
            );
            let (am, bm) = (_mm512_set1_ps(sc.a_max), _mm512_set1_ps(sc.b_max));
            let quant = _mm512_mul_ps(
                _mm512_fmadd_ps(a, bm, _mm512_mul_ps(b, am)),
                _mm512_set1_ps(2.0 * 1.01),
            );
            // Rounding of the estimate (f32, about ν) and of the exact
            // value (about μ), each relative to |‖c‖²| + 2 Σ|x_f c_f|, with
            // ‖x - μ‖ ≤ ‖x - ν‖ + ‖ν - μ‖.
            let big = _mm512_set1_ps(sc.a_max.max(sc.a_mu) + sc.b_max);
            let xr = _mm512_add_ps(_mm512_add_ps(a, b), _mm512_set1_ps(sc.shift_norm));
            let size = _mm512_fmadd_ps(_mm512_add_ps(xr, xr), big, _mm512_mul_ps(big, big));
            let round = _mm512_mul_ps(size, _mm512_set1_ps(sc.gamma * 1.01));
            // The exact sums Σ (x - c)² (the `EXACT` mode) are within
            // (d + 3)u of ‖x - c‖² ≤ (‖x - ν‖ + ‖c - ν‖)².
            let far = _mm512_add_ps(xr, big);
            let sums = _mm512_mul_ps(_mm512_mul_ps(far, far), _mm512_set1_ps(sc.err_exact * 1.01));
            rows.delta = _mm512_add_ps(
                _mm512_add_ps(_mm512_add_ps(quant, round), sums),
                _mm512_set1_ps(1e-30),
            );
            rows.factor = _mm512_mul_ps(s, _mm512_set1_ps(sc.two_scale));
            rows.all = !finite;
        }
    }

    /// `xg[f·BR + l] = tile[(r0 + l)·d + f] - mu[f]` for the `live` rows
    /// from `r0` (0 in the other lanes): the group transposed and centred,
    /// by the same subtractions as the blocked kernel's. In `f32`, blocks of
    /// 16 × 16 transposed in registers (a compiler left to itself scatters,
    /// several times more slowly).
    #[inline(always)]
    pub(super) unsafe fn transpose_group<F: Float>(
        tile: &[F],
        r0: usize,
        live: usize,
        d: usize,
        mu: &[F],
        xg: &mut [F],
    ) {
        assert!((r0 + live) * d <= tile.len() && xg.len() >= d * BR && mu.len() >= d);
        if !is_f32::<F>() {
            // SAFETY: as for f32 below, with blocks of 8 features.
            unsafe { transpose_group_f64(tile, r0, live, d, mu, xg) };
            return;
        }
        // SAFETY: the caller has the CPU features; the masked loads read
        // the live rows' features `f0..f0 + w` inside `tile` and `mu` (the
        // assertion above), the stores write 16 values of `xg` per feature.
        unsafe {
            let (tp, mp, xp) = (
                tile.as_ptr().cast::<f32>(),
                mu.as_ptr().cast::<f32>(),
                xg.as_mut_ptr().cast::<f32>(),
            );
            for f0 in (0..d).step_by(16) {
                let w = (d - f0).min(16);
                let fm: u16 = if w == 16 { u16::MAX } else { (1u16 << w) - 1 };
                let m = _mm512_maskz_loadu_ps(fm, mp.add(f0));
                let r: [__m512; 16] = std::array::from_fn(|l| {
                    if l < live {
                        _mm512_maskz_sub_ps(
                            fm,
                            _mm512_maskz_loadu_ps(fm, tp.add((r0 + l) * d + f0)),
                            m,
                        )
                    } else {
                        _mm512_setzero_ps()
                    }
                });
                let t: [__m512; 16] = std::array::from_fn(|i| {
                    let (a, b) = (r[i & !1], r[i | 1]);
                    if i % 2 == 0 {
                        _mm512_unpacklo_ps(a, b)
                    } else {
                        _mm512_unpackhi_ps(a, b)
                    }
                });
                // u[4g + m]: in 128-bit lane q, feature 4q + m of rows 4g..4g+4.
                let u: [__m512; 16] = std::array::from_fn(|i| {
                    let (g, m) = (i / 4, i % 4);
                    let (a, b) = (t[4 * g + (m / 2)], t[4 * g + 2 + (m / 2)]);
                    if m % 2 == 0 {
                        _mm512_shuffle_ps::<0x44>(a, b)
                    } else {
                        _mm512_shuffle_ps::<0xEE>(a, b)
                    }
                });
                // Each column stored as soon as it is made: gathered in an
                // array first, the stores became a call to memcpy from the
                // stack.
                for m in 0..4 {
                    let (a, b, c, e) = (u[m], u[4 + m], u[8 + m], u[12 + m]);
                    let v0 = _mm512_shuffle_f32x4::<0x88>(a, b);
                    let v1 = _mm512_shuffle_f32x4::<0xDD>(a, b);
                    let w0 = _mm512_shuffle_f32x4::<0x88>(c, e);
                    let w1 = _mm512_shuffle_f32x4::<0xDD>(c, e);
                    for (i, v) in [
                        (m, _mm512_shuffle_f32x4::<0x88>(v0, w0)),
                        (m + 8, _mm512_shuffle_f32x4::<0xDD>(v0, w0)),
                        (m + 4, _mm512_shuffle_f32x4::<0x88>(v1, w1)),
                        (m + 12, _mm512_shuffle_f32x4::<0xDD>(v1, w1)),
                    ] {
                        if i < w {
                            _mm512_storeu_ps(xp.add((f0 + i) * BR), v);
                        }
                    }
                }
            }
        }
    }

    /// [`transpose_group`] in `f64`: blocks of 8 features, each as two
    /// 8 × 8 transposes in registers (rows 0-7 and 8-15).
    #[inline(always)]
    unsafe fn transpose_group_f64<F: Float>(
        tile: &[F],
        r0: usize,
        live: usize,
        d: usize,
        mu: &[F],
        xg: &mut [F],
    ) {
        // SAFETY: the caller has the CPU features and checked the lengths;
        // the masked loads read the live rows' features `f0..f0 + w`.
        unsafe {
            let (tp, mp, xp) = (
                tile.as_ptr().cast::<f64>(),
                mu.as_ptr().cast::<f64>(),
                xg.as_mut_ptr().cast::<f64>(),
            );
            for f0 in (0..d).step_by(8) {
                let w = (d - f0).min(8);
                let fm: u8 = if w == 8 { u8::MAX } else { (1u8 << w) - 1 };
                let m = _mm512_maskz_loadu_pd(fm, mp.add(f0));
                for h in 0..2 {
                    let r: [__m512d; 8] = std::array::from_fn(|i| {
                        let l = 8 * h + i;
                        if l < live {
                            let x = _mm512_maskz_loadu_pd(fm, tp.add((r0 + l) * d + f0));
                            _mm512_maskz_sub_pd(fm, x, m)
                        } else {
                            _mm512_setzero_pd()
                        }
                    });
                    let t: [__m512d; 8] = std::array::from_fn(|i| {
                        let (a, b) = (r[i & !1], r[i | 1]);
                        if i % 2 == 0 {
                            _mm512_unpacklo_pd(a, b)
                        } else {
                            _mm512_unpackhi_pd(a, b)
                        }
                    });
                    // u[4g + m]: rows 4g..4g+4 (pairs in 128-bit lanes).
                    let u: [__m512d; 8] = std::array::from_fn(|i| {
                        let (g, m) = (i / 4, i % 4);
                        let (a, b) = (t[4 * g + m / 2], t[4 * g + 2 + m / 2]);
                        if m % 2 == 0 {
                            _mm512_shuffle_f64x2::<0x88>(a, b)
                        } else {
                            _mm512_shuffle_f64x2::<0xDD>(a, b)
                        }
                    });
                    // u[0]/u[1]: features {0,4}/{2,6} of rows 0-3, u[2]/u[3]:
                    // {1,5}/{3,7}; u[4..8] the same for rows 4-7.
                    let col: [__m512d; 8] = std::array::from_fn(|f| {
                        let m = [0, 2, 1, 3][f % 4];
                        if f < 4 {
                            _mm512_shuffle_f64x2::<0x88>(u[m], u[4 + m])
                        } else {
                            _mm512_shuffle_f64x2::<0xDD>(u[m], u[4 + m])
                        }
                    });
                    for (i, v) in col.iter().enumerate().take(w) {
                        _mm512_storeu_pd(xp.add((f0 + i) * BR + 8 * h), *v);
                    }
                }
            }
        }
    }

    /// Per-thread buffers of [`screened`].
    #[derive(Default)]
    struct Scratch {
        est: Vec<f32>,
        block_min: Vec<f32>,
        lanes: Vec<i32>,
        cents: Vec<i32>,
        vals: Vec<f64>,
    }

    thread_local! {
        static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
    }

    /// The smallest of 16 vectors, lane by lane (a tree).
    #[inline(always)]
    unsafe fn min16(v: &[__m512; SB]) -> __m512 {
        // SAFETY: the caller has AVX-512.
        unsafe {
            let m8: [__m512; 8] = std::array::from_fn(|i| _mm512_min_ps(v[i], v[i + 8]));
            let m4: [__m512; 4] = std::array::from_fn(|i| _mm512_min_ps(m8[i], m8[i + 4]));
            _mm512_min_ps(_mm512_min_ps(m4[0], m4[2]), _mm512_min_ps(m4[1], m4[3]))
        }
    }

    #[target_feature(
        enable = "avx512f,avx512vl,avx512dq,avx512bw,avx512vnni,avx2,fma,popcnt,bmi1,bmi2"
    )]
    pub(super) unsafe fn screened<F: Float, const MODE: u8>(
        tile: &[F],
        c: &Centers<F>,
        sc: &ScreenCentres,
        out: &mut Out<'_, F>,
    ) {
        let d = c.d;
        let n = out.labels.len();
        let k = c.k;
        let blocks = k.div_ceil(SB);
        let exact = MODE == EXACT;
        let mut xg = vec![F::zero(); d * BR];
        // The raw rows, transposed (the `EXACT` mode's sums).
        let mut xr = vec![F::zero(); if exact { d * BR } else { 0 }];
        let zeros = vec![F::zero(); d];
        let mut rows = Rows {
            words: vec![0i32; sc.quads * BR],
            factor: _mm512_setzero_ps(),
            delta: _mm512_setzero_ps(),
            all: 0,
        };
        // The estimates of the group, centre by centre (16 lanes each), and
        // their minima per block of centres; the pairs that need exact
        // values (lane and centre) and those values. Buffers kept per thread
        // from call to call: a call is one tile of rows, and allocating
        // (and zeroing) them per tile cost a fifth of the pass.
        let mut scratch = SCRATCH.with(|s| s.take());
        let Scratch {
            est,
            block_min,
            lanes,
            cents,
            vals,
        } = &mut scratch;
        let grow = |v: &mut Vec<i32>, len: usize| {
            if v.len() < len {
                v.resize(len, 0)
            }
        };
        if est.len() < blocks * SB * BR {
            est.resize(blocks * SB * BR, 0.0);
        }
        if block_min.len() < blocks * BR {
            block_min.resize(blocks * BR, 0.0);
        }
        grow(lanes, 4 * BR);
        grow(cents, 4 * BR);
        let iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
        for g in 0..n.div_ceil(BR) {
            let rows_g = (g * BR)..((g + 1) * BR).min(n);
            let live = rows_g.len();
            let live_mask: u16 = if live == BR {
                u16::MAX
            } else {
                (1u16 << live) - 1
            };
            // SAFETY: this function's features; rows `rows_g` of `tile`.
            unsafe { transpose_group(tile, rows_g.start, live, d, &c.mu, &mut xg) };
            prefetch(tile, rows_g.end * d, (rows_g.end + BR) * d);
            if exact {
                // SAFETY: as above (x - 0 is x).
                unsafe { transpose_group(tile, rows_g.start, live, d, &zeros, &mut xr) };
            }
            // SAFETY: this function's features; the buffers' lengths as
            // `quantise` documents.
            unsafe { quantise(&xg, d, sc, &mut rows) };
            if rows.all & live_mask != 0 {
                // Values that are not finite or whose squares leave f32's
                // range: this group goes through the blocked kernel.
                let r = rows_g.clone();
                let mut sub = Out {
                    labels: &mut out.labels[r.clone()],
                    dists: &mut out.dists[r.clone()],
                    second: &mut [],
                    xn: &mut [],
                };
                nearest_blocked::<F, true, MODE>(&tile[r.start * d..r.end * d], c, &mut sub);
                continue;
            }
            let mut xn = [F::zero(); BR];
            if MODE != LABELS {
                for xv in xg.chunks_exact(BR) {
                    for l in 0..BR {
                        xn[l] += xv[l] * xv[l];
                    }
                }
            }
            let mut best_est = _mm512_set1_ps(f32::INFINITY);
            for b in 0..blocks {
                let mut acc: [__m512i; SB] =
                    std::array::from_fn(|cc| _mm512_set1_epi32(sc.corr[b * SB + cc]));
                let cw = &sc.packed[b * sc.quads * SB..(b + 1) * sc.quads * SB];
                for (p, cq) in cw.chunks_exact(SB).enumerate() {
                    // SAFETY: `words` holds quads·BR words.
                    let xv = unsafe { _mm512_loadu_si512(rows.words[p * BR..].as_ptr().cast()) };
                    for cc in 0..SB {
                        acc[cc] = _mm512_dpbusd_epi32(acc[cc], xv, _mm512_set1_epi32(cq[cc]));
                    }
                }
                let e: [__m512; SB] = std::array::from_fn(|cc| {
                    _mm512_fnmadd_ps(
                        rows.factor,
                        _mm512_cvtepi32_ps(acc[cc]),
                        _mm512_set1_ps(sc.norms[b * SB + cc]),
                    )
                });
                let dst = &mut est[b * SB * BR..(b + 1) * SB * BR];
                for (cc, v) in e.iter().enumerate() {
                    // SAFETY: `dst` holds SB·BR values.
                    unsafe { _mm512_storeu_ps(dst[cc * BR..].as_mut_ptr(), *v) };
                }
                // SAFETY: this function's features.
                let m = unsafe { min16(&e) };
                best_est = _mm512_min_ps(best_est, m);
                // SAFETY: `block_min` holds blocks·BR values.
                unsafe { _mm512_storeu_ps(block_min[b * BR..].as_mut_ptr(), m) };
            }
            let mut limit = _mm512_fmadd_ps(rows.delta, _mm512_set1_ps(2.0), best_est);
            // Lanes with a non-finite limit or values check every centre.
            let finite = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(
                _mm512_abs_ps(limit),
                _mm512_set1_ps(f32::INFINITY),
            );
            limit = _mm512_mask_blend_ps(finite, _mm512_set1_ps(f32::INFINITY), limit);
            let all = !finite & live_mask;
            let mut count = 0usize;
            for b in 0..blocks {
                // SAFETY: as above.
                let m = unsafe { _mm512_loadu_ps(block_min[b * BR..].as_ptr()) };
                if (_mm512_cmp_ps_mask::<_CMP_LE_OQ>(m, limit) & live_mask) | all == 0 {
                    continue;
                }
                // Room for every pair of the block; then no branch per
                // centre (a centre's pairs are often none, unpredictably).
                if lanes.len() < count + (SB + 1) * BR {
                    grow(lanes, 2 * (count + (SB + 1) * BR));
                    grow(cents, 2 * (count + (SB + 1) * BR));
                }
                for j in b * SB..(b * SB + SB).min(k) {
                    // SAFETY: as above.
                    let e = unsafe { _mm512_loadu_ps(est[j * BR..].as_ptr()) };
                    let m = (_mm512_cmp_ps_mask::<_CMP_LE_OQ>(e, limit) & live_mask) | all;
                    // SAFETY: `lanes` and `cents` have room for 16 more.
                    unsafe {
                        _mm512_storeu_si512(
                            lanes[count..].as_mut_ptr().cast(),
                            _mm512_maskz_compress_epi32(m, iota),
                        );
                        _mm512_storeu_si512(
                            cents[count..].as_mut_ptr().cast(),
                            _mm512_set1_epi32(j as i32),
                        );
                    }
                    count += m.count_ones() as usize;
                }
            }
            // SAFETY: this function's features; `count` pairs, buffers with
            // room for a vector more.
            if vals.len() < count + BR {
                vals.resize(count + BR, 0.0);
            }
            unsafe {
                if exact {
                    exact_values::<F, true>(&xr, c, lanes, cents, count, vals)
                } else {
                    exact_values::<F, false>(&xg, c, lanes, cents, count, vals)
                }
            };
            // The values in F, widened exactly: the same comparisons.
            let mut best = [f64::INFINITY; BR];
            let mut idx = [0usize; BR];
            for i in 0..count {
                let (l, v) = (lanes[i] as usize, vals[i]);
                if v < best[l] {
                    best[l] = v;
                    idx[l] = cents[i] as usize;
                }
            }
            let best: [F; BR] = best.map(F::from_f64);
            if exact {
                // The exact nearest centre among all that can be nearest
                // (every other is farther by the bound), ties to the lowest
                // index; its exact distance (finite: the values are).
                for l in 0..live {
                    out.labels[rows_g.start + l] = idx[l] as i32;
                    out.dists[rows_g.start + l] = best[l];
                }
                continue;
            }
            let found: [Found<F>; BR] = std::array::from_fn(|l| Found {
                best: best[l],
                second: F::infinity(),
                j: idx[l],
                xn: xn[l],
            });
            finish_rows::<F, MODE>(tile, c, &found[..live], rows_g.start, out);
        }
        SCRATCH.with(|s| s.replace(scratch));
    }

    /// The blocked kernel's `g_j` (with `RAW`: the exact `Σ (x - c)²`, `xg`
    /// then the raw rows) of the first `count` pairs (lane `lanes[i]`,
    /// centre `cents[i]`) into `vals`: for each pair the whole group's vector
    /// of its centre (one multiply-add per feature by the centre's value
    /// broadcast, or a subtraction, a product and a sum, in feature order:
    /// the kernels' own operations), of which its lane is kept; eight pairs
    /// at a time, as independent chains. (Gathering the pairs into lanes is slower: this
    /// CPU's gathers cost more than the multiply-adds they save.)
    #[inline(always)]
    unsafe fn exact_values<F: Float, const RAW: bool>(
        xg: &[F],
        c: &Centers<F>,
        lanes: &[i32],
        cents: &[i32],
        count: usize,
        vals: &mut [f64],
    ) {
        const P: usize = 8;
        let d = c.d;
        assert!(
            xg.len() >= d * BR
                && lanes.len() >= count
                && cents.len() >= count
                && vals.len() >= count
        );
        // Where feature f of centre j sits: the packed `-2(c - μ)` (blocks of
        // BC centres, feature by feature), or the raw centres (row-major).
        let (stride, offset): (usize, &dyn Fn(usize) -> usize) = if RAW {
            (1, &|j| j * d)
        } else {
            (BC, &|j| (j / BC) * d * BC + j % BC)
        };
        // SAFETY: the caller has the CPU features; `cents` are centres of
        // `c` (below `k`), so every read of `packed` / `data` (offset +
        // f·stride) and `norms_mu` is inside; `xg` holds d·BR values.
        unsafe {
            let cp = if RAW {
                c.data.as_ptr()
            } else {
                c.packed.as_ptr()
            };
            let np = c.norms_mu.as_ptr();
            let mut i = 0;
            while i < count {
                let m = (count - i).min(P);
                let pair = |q: usize| i + q.min(m - 1);
                let co: [usize; P] = std::array::from_fn(|q| offset(cents[pair(q)] as usize));
                if is_f32::<F>() {
                    let (xp, cp, np) = (
                        xg.as_ptr().cast::<f32>(),
                        cp.cast::<f32>(),
                        np.cast::<f32>(),
                    );
                    let mut acc: [__m512; P] = std::array::from_fn(|q| {
                        if RAW {
                            _mm512_setzero_ps()
                        } else {
                            _mm512_set1_ps(*np.add(cents[pair(q)] as usize))
                        }
                    });
                    for f in 0..d {
                        let xv = _mm512_loadu_ps(xp.add(f * BR));
                        for q in 0..P {
                            let cv = _mm512_set1_ps(*cp.add(co[q] + f * stride));
                            acc[q] = if RAW {
                                // Σ (x - c)² in feature order, unfused.
                                let t = _mm512_sub_ps(xv, cv);
                                _mm512_add_ps(acc[q], _mm512_mul_ps(t, t))
                            } else {
                                _mm512_fmadd_ps(xv, cv, acc[q])
                            };
                        }
                    }
                    for q in 0..m {
                        let lane = _mm512_set1_epi32(lanes[i + q]);
                        let v = _mm512_permutexvar_ps(lane, acc[q]);
                        vals[i + q] = _mm_cvtss_f32(_mm512_castps512_ps128(v)) as f64;
                    }
                } else {
                    let (xp, cp, np) = (
                        xg.as_ptr().cast::<f64>(),
                        cp.cast::<f64>(),
                        np.cast::<f64>(),
                    );
                    // The half of the group's vector that holds each pair's lane.
                    let h: [usize; P] = std::array::from_fn(|q| (lanes[pair(q)] as usize) & 8);
                    let mut acc: [__m512d; P] = std::array::from_fn(|q| {
                        if RAW {
                            _mm512_setzero_pd()
                        } else {
                            _mm512_set1_pd(*np.add(cents[pair(q)] as usize))
                        }
                    });
                    for f in 0..d {
                        for q in 0..P {
                            let xv = _mm512_loadu_pd(xp.add(f * BR + h[q]));
                            let cv = _mm512_set1_pd(*cp.add(co[q] + f * stride));
                            acc[q] = if RAW {
                                let t = _mm512_sub_pd(xv, cv);
                                _mm512_add_pd(acc[q], _mm512_mul_pd(t, t))
                            } else {
                                _mm512_fmadd_pd(xv, cv, acc[q])
                            };
                        }
                    }
                    for q in 0..m {
                        let lane = _mm512_set1_epi64((lanes[i + q] & 7) as i64);
                        let v = _mm512_permutexvar_pd(lane, acc[q]);
                        vals[i + q] = _mm_cvtsd_f64(_mm512_castpd512_pd128(v));
                    }
                }
                i += m;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{nearest_large, RANK};
    use super::*;

    /// A splitmix64 stream of uniforms in [0, 1).
    struct Uniform(u64);

    impl Uniform {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    /// `n` rows around `blobs` random centres (spread `spread`, offset
    /// `offset`); with `integers`, values rounded to integers, so that rows
    /// and centres repeat and ranking values tie exactly.
    fn rows(
        n: usize,
        d: usize,
        blobs: usize,
        spread: f64,
        offset: f64,
        integers: bool,
        seed: u64,
    ) -> Vec<f64> {
        let mut u = Uniform(seed);
        let centres: Vec<f64> = (0..blobs * d).map(|_| 20.0 * u.next()).collect();
        let mut x = Vec::with_capacity(n * d);
        for _ in 0..n {
            let b = (u.next() * blobs as f64) as usize;
            for f in 0..d {
                let v = offset + centres[b * d + f] + spread * (u.next() - 0.5);
                x.push(if integers { v.round() } else { v });
            }
        }
        x
    }

    fn compare<F: Float>(tile: &[f64], centres: &[f64], k: usize, d: usize, what: &str) {
        let tile: Vec<F> = tile.iter().map(|v| F::from_f64(*v)).collect();
        let cs: Vec<F> = centres.iter().map(|v| F::from_f64(*v)).collect();
        let c = Centers::new(cs, k, d);
        assert_eq!(
            c.screen.is_some(),
            available(),
            "{what}: the screen applies here"
        );
        let n = tile.len() / d;
        for mode in [RANK, LABELS, EXACT] {
            let run = |screened: bool| {
                let (mut labels, mut dists) = (vec![-1; n], vec![F::nan(); n]);
                let mut out = Out {
                    labels: &mut labels,
                    dists: &mut dists,
                    second: &mut [],
                    xn: &mut [],
                };
                match (screened, mode) {
                    (true, RANK) => nearest_screened::<F, RANK>(&tile, &c, &mut out),
                    (true, LABELS) => nearest_screened::<F, LABELS>(&tile, &c, &mut out),
                    (true, _) => nearest_screened::<F, EXACT>(&tile, &c, &mut out),
                    (false, RANK) => nearest_large::<F, RANK>(&tile, &c, &mut out),
                    (false, LABELS) => nearest_large::<F, LABELS>(&tile, &c, &mut out),
                    (false, _) => nearest_large::<F, EXACT>(&tile, &c, &mut out),
                }
                (
                    labels,
                    dists
                        .iter()
                        .map(|v| v.as_f64().to_bits())
                        .collect::<Vec<_>>(),
                )
            };
            if c.screen.is_none() {
                return;
            }
            let (want, got) = (run(false), run(true));
            for i in 0..n {
                assert_eq!(
                    (want.0[i], want.1[i]),
                    (got.0[i], got.1[i]),
                    "{what}, mode {mode}, row {i}"
                );
            }
        }
    }

    /// The screened kernel gives the blocked kernel's labels and values bit
    /// for bit: clustered and uniform data, far from the origin, integer
    /// data with exact ties and duplicate centres, short last groups, every
    /// padding of features to whole quads and of centres to whole blocks.
    #[test]
    fn the_screen_keeps_the_blocked_kernels_bits() {
        let mut seed = 1;
        for d in [16, 17, 30, 49, 64, 129, 256] {
            for k in [64, 65, 200] {
                for (spread, offset, integers) in [
                    (3.0, 0.0, false),
                    (40.0, 0.0, false),
                    (4.0, 1e3, false),
                    (6.0, 0.0, true),
                ] {
                    seed += 1;
                    let n = 16 * 5 + 7;
                    let tile = rows(n, d, 12, spread, offset, integers, seed);
                    let mut centres = rows(k, d, 12, spread, offset, integers, seed + 1000);
                    // A duplicate centre and a row equal to a centre.
                    centres.copy_within(0..d, (k - 1) * d);
                    let mut tile = tile;
                    tile[3 * d..4 * d].copy_from_slice(&centres[5 * d..6 * d]);
                    let what =
                        format!("d={d} k={k} spread={spread} offset={offset} integers={integers}");
                    compare::<f32>(&tile, &centres, k, d, &what);
                    compare::<f64>(&tile, &centres, k, d, &what);
                }
            }
        }
    }

    /// Rows with NaN, infinity, zeros, or values whose squares overflow
    /// `f32` are ranked as the blocked kernel ranks them.
    #[test]
    fn the_screen_keeps_non_finite_and_extreme_rows() {
        let (d, k) = (24, 70);
        let centres = rows(k, d, 5, 3.0, 0.0, false, 7);
        let mut tile = rows(40, d, 5, 3.0, 0.0, false, 8);
        tile[2 * d + 3] = f64::NAN;
        tile[5 * d] = f64::INFINITY;
        tile[7 * d + 1] = f64::NEG_INFINITY;
        tile[11 * d..12 * d].fill(0.0);
        tile[13 * d + 2] = 1e20;
        tile[17 * d + 4] = -3e19;
        tile[19 * d + 6] = 1e-30;
        compare::<f32>(&tile, &centres, k, d, "extreme rows");
        compare::<f64>(&tile, &centres, k, d, "extreme rows");
    }
}
