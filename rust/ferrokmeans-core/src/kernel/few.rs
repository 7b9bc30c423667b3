//! The kernel for many features and few centres (`d > 8`, `k ≤ 16`) on
//! AVX-512, with the rows in the SIMD lanes.
//!
//! [`super::nearest_rows`] puts the centres in the lanes: with `k = 10` a
//! vector of 16 lanes carries 6 that are padding, and every row then needs
//! a horizontal argmin across its lanes. Here each group of [`BR`] rows is
//! transposed and centred in registers (the screen's transposition), and
//! each centre gets one accumulator vector over the group's rows: `k`
//! multiply-adds per feature and group, against `BR · ⌈k / lanes⌉` with
//! the centres in the lanes, and the argmin is a vertical comparison.
//!
//! The results are those of [`super::nearest_rows`] bit for bit: every
//! ranking value is `‖c - μ‖²` plus the products `(x_f - μ_f) · (-2(c_f -
//! μ_f))` fused in feature order; the best and second-best values are those
//! of a scan in index order with a strict `<` (NaN never best); `‖x - μ‖²`
//! is summed in sixteen partial sums combined pairwise, as
//! [`super::centre_row`] sums it. The rows' results then go through the
//! same [`finish_row`] as every kernel's. In the exact mode the exact
//! distance to each row's best centre is computed in the lanes too (the
//! centres' values permuted into place), feature by feature as
//! [`super::seq_dist4`] computes it.

use super::{finish_row, finish_rows, Centers, Found, Out, BC, BOUNDS, BR, EXACT, FEW, LABELS};
use crate::float::Float;

/// What the vector part of the kernel leaves for one group's rows.
struct Group<F> {
    best: [F; BR],
    second: [F; BR],
    idx: [i32; BR],
    xn: [F; BR],
}

/// [`super::nearest_rows`] with the rows in the lanes: the same labels,
/// values and bounds in every mode.
///
/// # Safety
/// The CPU has AVX-512F, VL and DQ, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
pub(super) unsafe fn nearest_few_lanes<F: Float, const MODE: u8>(
    tile: &[F],
    c: &Centers<F>,
    out: &mut Out<'_, F>,
) {
    let (d, k) = (c.d, c.k);
    let n = out.labels.len();
    assert!(tile.len() == n * d && (1..=FEW).contains(&k));
    // The centres' `-2(c - μ)` feature by feature, `stride` to a feature.
    let (pw, stride) = if c.packed.len() == d * BC {
        (&c.packed, BC)
    } else {
        (&c.packed_few, FEW)
    };
    assert!(pw.len() == d * stride && c.norms_mu.len() >= k && c.mu.len() == d);
    // The exact mode keeps the rows as they are (centring them as it ranks):
    // its exact distances need `x` itself, `(x - μ) - (c - μ)` would not
    // be the same bits as `x - c`.
    let exact = MODE == EXACT;
    let zeros = vec![F::zero(); if exact { d } else { 0 }];
    let shift = if exact { &zeros } else { &c.mu };
    let mut xg = vec![F::zero(); d * BR];
    for r0 in (0..n).step_by(BR) {
        let live = BR.min(n - r0);
        // SAFETY: the CPU features are the caller's guarantee; `tile`
        // holds the live rows, `xg` BR rows of `d`, `shift` d values.
        unsafe { super::screen::transpose_centred(tile, r0, live, d, shift, &mut xg) };
        let mut g = Group {
            best: [F::infinity(); BR],
            second: [F::infinity(); BR],
            idx: [0; BR],
            xn: [F::zero(); BR],
        };
        let norms = &c.norms_mu;
        // SAFETY: as above; the lengths are asserted inside.
        unsafe {
            match MODE {
                EXACT => x86::rank_any::<F, true, true>(k, &xg, &c.mu, pw, stride, norms, &mut g),
                BOUNDS => x86::rank_any::<F, true, false>(k, &xg, &c.mu, pw, stride, norms, &mut g),
                _ => x86::rank_any::<F, false, false>(k, &xg, &c.mu, pw, stride, norms, &mut g),
            }
            if MODE != LABELS {
                x86::norms(&xg, if exact { Some(&c.mu) } else { None }, d, &mut g.xn);
            }
        }
        let found = |l: usize| Found {
            best: g.best[l],
            second: g.second[l],
            j: g.idx[l] as usize,
            xn: g.xn[l],
        };
        if exact {
            // SAFETY: as above.
            let dist = unsafe { x86::exact_to_best(&xg, &c.packed_raw, d, &g.idx) };
            for l in 0..live {
                let x = &tile[(r0 + l) * d..(r0 + l + 1) * d];
                finish_row::<F, MODE>(x, c, found(l), dist[l], out, r0 + l);
            }
        } else {
            let all: [Found<F>; BR] = std::array::from_fn(found);
            finish_rows::<F, MODE>(tile, c, &all[..live], r0, out);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    fn is_f32<F: Float>() -> bool {
        std::mem::size_of::<F>() == 4
    }

    /// [`rank`] for a `k` known only at run time (1 to [`FEW`]).
    ///
    /// # Safety
    /// As [`rank`].
    #[inline(always)]
    pub(super) unsafe fn rank_any<F: Float, const SECOND: bool, const RAW: bool>(
        k: usize,
        xg: &[F],
        mu: &[F],
        pw: &[F],
        stride: usize,
        norms: &[F],
        g: &mut Group<F>,
    ) {
        macro_rules! ks {
            ($($k:literal)*) => {
                match k {
                    // SAFETY: the caller's guarantee.
                    $($k => unsafe { rank::<F, $k, SECOND, RAW>(xg, mu, pw, stride, norms, g) },)*
                    _ => unreachable!("the kernel takes 1 to {FEW} centres"),
                }
            };
        }
        ks!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }

    /// The best centre of each row of the transposed group `xg` (feature
    /// `f` of lane `l` at `f·BR + l`; centred, or with `RAW` to be centred
    /// here on `mu`, by the same subtraction) against the `K` centres of
    /// `pw` (`-2(c_j - μ)` at `f·stride + j`) with their `‖c - μ‖²` in
    /// `norms`: `K` accumulators, one per centre, in registers (hence `K`
    /// at compile time), then a scan in index order. With `SECOND`, also
    /// the best of the other centres.
    ///
    /// # Safety
    /// The CPU has AVX-512F, VL and DQ, and FMA.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    #[inline(never)]
    unsafe fn rank<F: Float, const K: usize, const SECOND: bool, const RAW: bool>(
        xg: &[F],
        mu: &[F],
        pw: &[F],
        stride: usize,
        norms: &[F],
        g: &mut Group<F>,
    ) {
        let d = mu.len();
        assert!(xg.len() >= d * BR && stride >= K && pw.len() >= d * stride && norms.len() >= K);
        // SAFETY: every load below reads inside the slices asserted above
        // (lanes `0..BR` of feature `f < d`, centres `j < K ≤ stride`);
        // `F` is f32 or f64 (the sealed `Float`), as tested.
        unsafe {
            if is_f32::<F>() {
                let (xp, pp) = (xg.as_ptr().cast::<f32>(), pw.as_ptr().cast::<f32>());
                let mut acc: [__m512; K] =
                    std::array::from_fn(|j| _mm512_set1_ps(norms[j].as_f64() as f32));
                for f in 0..d {
                    let mut x = _mm512_loadu_ps(xp.add(f * BR));
                    if RAW {
                        x = _mm512_sub_ps(x, _mm512_set1_ps(mu[f].as_f64() as f32));
                    }
                    let p = pp.add(f * stride);
                    for (j, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_fmadd_ps(x, _mm512_set1_ps(*p.add(j)), *a);
                    }
                }
                let inf = _mm512_set1_ps(f32::INFINITY);
                let (mut best, mut second, mut idx) = (inf, inf, _mm512_setzero_si512());
                for (j, &a) in acc.iter().enumerate() {
                    let lt = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, best);
                    if SECOND {
                        // A new best pushes the old one to second place.
                        let lt2 = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, second);
                        second =
                            _mm512_mask_blend_ps(lt, _mm512_mask_blend_ps(lt2, second, a), best);
                    }
                    best = _mm512_mask_blend_ps(lt, best, a);
                    idx = _mm512_mask_blend_epi32(lt, idx, _mm512_set1_epi32(j as i32));
                }
                _mm512_storeu_ps(g.best.as_mut_ptr().cast(), best);
                _mm512_storeu_ps(g.second.as_mut_ptr().cast(), second);
                _mm512_storeu_si512(g.idx.as_mut_ptr().cast(), idx);
            } else {
                let (xp, pp) = (xg.as_ptr().cast::<f64>(), pw.as_ptr().cast::<f64>());
                // Two halves of eight rows, one vector of f64 each.
                for h in 0..BR / 8 {
                    let mut acc: [__m512d; K] =
                        std::array::from_fn(|j| _mm512_set1_pd(norms[j].as_f64()));
                    for f in 0..d {
                        let mut x = _mm512_loadu_pd(xp.add(f * BR + 8 * h));
                        if RAW {
                            x = _mm512_sub_pd(x, _mm512_set1_pd(mu[f].as_f64()));
                        }
                        let p = pp.add(f * stride);
                        for (j, a) in acc.iter_mut().enumerate() {
                            *a = _mm512_fmadd_pd(x, _mm512_set1_pd(*p.add(j)), *a);
                        }
                    }
                    let inf = _mm512_set1_pd(f64::INFINITY);
                    let (mut best, mut second, mut idx) = (inf, inf, _mm256_setzero_si256());
                    for (j, &a) in acc.iter().enumerate() {
                        let lt = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a, best);
                        if SECOND {
                            let lt2 = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(a, second);
                            second = _mm512_mask_blend_pd(
                                lt,
                                _mm512_mask_blend_pd(lt2, second, a),
                                best,
                            );
                        }
                        best = _mm512_mask_blend_pd(lt, best, a);
                        idx = _mm256_mask_blend_epi32(lt, idx, _mm256_set1_epi32(j as i32));
                    }
                    _mm512_storeu_pd(g.best.as_mut_ptr().cast::<f64>().add(8 * h), best);
                    _mm512_storeu_pd(g.second.as_mut_ptr().cast::<f64>().add(8 * h), second);
                    _mm256_storeu_si256(g.idx.as_mut_ptr().add(8 * h).cast(), idx);
                }
            }
        }
    }

    /// `‖x - μ‖²` of each row of the group `xg` (centred, or with `mu`
    /// centred here by the same subtraction), summed as
    /// [`super::super::centre_row`] sums one row: sixteen partial sums
    /// (feature `f` into sum `f mod 16`, each a multiplication then an
    /// addition), halved pairwise.
    ///
    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    #[inline(never)]
    pub(super) unsafe fn norms<F: Float>(xg: &[F], mu: Option<&[F]>, d: usize, xn: &mut [F; BR]) {
        const L: usize = 16;
        assert!(xg.len() >= d * BR && mu.is_none_or(|m| m.len() == d));
        let (full, rest) = (d / L, d % L);
        // SAFETY: the loads read lanes `0..BR` of features `f < d` of `xg`
        // (asserted above); `F` is f32 or f64, as tested.
        unsafe {
            if is_f32::<F>() {
                let xp = xg.as_ptr().cast::<f32>();
                let sq = |f: usize| {
                    let mut v = _mm512_loadu_ps(xp.add(f * BR));
                    if let Some(m) = mu {
                        v = _mm512_sub_ps(v, _mm512_set1_ps(m[f].as_f64() as f32));
                    }
                    _mm512_mul_ps(v, v)
                };
                let mut a = [_mm512_setzero_ps(); L];
                for q in 0..full {
                    for (l, s) in a.iter_mut().enumerate() {
                        *s = _mm512_add_ps(*s, sq(q * L + l));
                    }
                }
                for (l, s) in a.iter_mut().enumerate() {
                    if l < rest {
                        *s = _mm512_add_ps(*s, sq(full * L + l));
                    }
                }
                let a8: [__m512; 8] = std::array::from_fn(|l| _mm512_add_ps(a[l], a[l + 8]));
                let a4: [__m512; 4] = std::array::from_fn(|l| _mm512_add_ps(a8[l], a8[l + 4]));
                let s = _mm512_add_ps(_mm512_add_ps(a4[0], a4[2]), _mm512_add_ps(a4[1], a4[3]));
                _mm512_storeu_ps(xn.as_mut_ptr().cast(), s);
            } else {
                let xp = xg.as_ptr().cast::<f64>();
                for h in 0..BR / 8 {
                    let sq = |f: usize| {
                        let mut v = _mm512_loadu_pd(xp.add(f * BR + 8 * h));
                        if let Some(m) = mu {
                            v = _mm512_sub_pd(v, _mm512_set1_pd(m[f].as_f64()));
                        }
                        _mm512_mul_pd(v, v)
                    };
                    let mut a = [_mm512_setzero_pd(); L];
                    for q in 0..full {
                        for (l, s) in a.iter_mut().enumerate() {
                            *s = _mm512_add_pd(*s, sq(q * L + l));
                        }
                    }
                    for (l, s) in a.iter_mut().enumerate() {
                        if l < rest {
                            *s = _mm512_add_pd(*s, sq(full * L + l));
                        }
                    }
                    let a8: [__m512d; 8] = std::array::from_fn(|l| _mm512_add_pd(a[l], a[l + 8]));
                    let a4: [__m512d; 4] = std::array::from_fn(|l| _mm512_add_pd(a8[l], a8[l + 4]));
                    let s = _mm512_add_pd(_mm512_add_pd(a4[0], a4[2]), _mm512_add_pd(a4[1], a4[3]));
                    _mm512_storeu_pd(xn.as_mut_ptr().cast::<f64>().add(8 * h), s);
                }
            }
        }
    }

    /// `Σ (x - c)²` from each row of the raw transposed group `xg` to its
    /// centre `idx[l]`, in feature order, each a subtraction, a
    /// multiplication and an addition: the bits of [`super::super::seq_dist4`].
    /// The centres' values of a feature come from `raw` (blocks of [`BC`]
    /// centres, feature by feature: at most two blocks here) and are
    /// permuted into the lanes.
    ///
    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    #[inline(never)]
    pub(super) unsafe fn exact_to_best<F: Float>(
        xg: &[F],
        raw: &[F],
        d: usize,
        idx: &[i32; BR],
    ) -> [F; BR] {
        let blocks = raw.len() / (d * BC);
        assert!(xg.len() >= d * BR && (1..=2).contains(&blocks) && raw.len() == blocks * d * BC);
        assert!(idx.iter().all(|&j| (0..(blocks * BC) as i32).contains(&j)));
        let mut out = [F::zero(); BR];
        // SAFETY: the loads read lanes `0..BR` of features `f < d` of `xg`
        // and, masked to 8 values, feature `f` of a block of `raw` (asserted
        // above); the indices select among the 16 values of two blocks.
        unsafe {
            if is_f32::<F>() {
                let (xp, rp) = (xg.as_ptr().cast::<f32>(), raw.as_ptr().cast::<f32>());
                let j = _mm512_loadu_si512(idx.as_ptr().cast());
                // Centre j of the second block sits in lane 16 + (j - 8) of
                // the pair (a, b) that `permutex2var` draws from.
                let hi = _mm512_cmpge_epi32_mask(j, _mm512_set1_epi32(BC as i32));
                let pick = _mm512_mask_add_epi32(j, hi, j, _mm512_set1_epi32(BC as i32));
                let mut s = _mm512_setzero_ps();
                for f in 0..d {
                    let a = _mm512_maskz_loadu_ps(0xFF, rp.add(f * BC));
                    let b = if blocks == 2 {
                        _mm512_maskz_loadu_ps(0xFF, rp.add((d + f) * BC))
                    } else {
                        _mm512_setzero_ps()
                    };
                    let c = _mm512_permutex2var_ps(a, pick, b);
                    let t = _mm512_sub_ps(_mm512_loadu_ps(xp.add(f * BR)), c);
                    s = _mm512_add_ps(s, _mm512_mul_ps(t, t));
                }
                _mm512_storeu_ps(out.as_mut_ptr().cast(), s);
            } else {
                let (xp, rp) = (xg.as_ptr().cast::<f64>(), raw.as_ptr().cast::<f64>());
                for h in 0..BR / 8 {
                    let j = _mm256_loadu_si256(idx.as_ptr().add(8 * h).cast());
                    let pick = _mm512_cvtepi32_epi64(j);
                    let mut s = _mm512_setzero_pd();
                    for f in 0..d {
                        let a = _mm512_loadu_pd(rp.add(f * BC));
                        let b = if blocks == 2 {
                            _mm512_loadu_pd(rp.add((d + f) * BC))
                        } else {
                            _mm512_setzero_pd()
                        };
                        let c = _mm512_permutex2var_pd(a, pick, b);
                        let t = _mm512_sub_pd(_mm512_loadu_pd(xp.add(f * BR + 8 * h)), c);
                        s = _mm512_add_pd(s, _mm512_mul_pd(t, t));
                    }
                    _mm512_storeu_pd(out.as_mut_ptr().cast::<f64>().add(8 * h), s);
                }
            }
        }
        out
    }
}
