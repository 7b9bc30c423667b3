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
//! same [`finish_rows`] as every kernel's.

use super::{finish_rows, Centers, Found, Out, BC, BOUNDS, BR, EXACT, FEW, LABELS};
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
    let second = MODE == EXACT || MODE == BOUNDS;
    let mut xg = vec![F::zero(); d * BR];
    for r0 in (0..n).step_by(BR) {
        let live = BR.min(n - r0);
        // SAFETY: the CPU features are the caller's guarantee; `tile`
        // holds the live rows, `xg` BR rows of `d`, `mu` d values.
        unsafe { super::screen::transpose_centred(tile, r0, live, d, &c.mu, &mut xg) };
        let mut g = Group {
            best: [F::infinity(); BR],
            second: [F::infinity(); BR],
            idx: [0; BR],
            xn: [F::zero(); BR],
        };
        // SAFETY: as above; the lengths are asserted inside.
        unsafe {
            if second {
                x86::rank_any::<F, true>(k, &xg, pw, stride, &c.norms_mu, d, &mut g);
            } else {
                x86::rank_any::<F, false>(k, &xg, pw, stride, &c.norms_mu, d, &mut g);
            }
            if MODE != LABELS {
                x86::norms(&xg, d, &mut g.xn);
            }
        }
        let found: [Found<F>; BR] = std::array::from_fn(|l| Found {
            best: g.best[l],
            second: g.second[l],
            j: g.idx[l] as usize,
            xn: g.xn[l],
        });
        finish_rows::<F, MODE>(tile, c, &found[..live], r0, out);
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
    pub(super) unsafe fn rank_any<F: Float, const SECOND: bool>(
        k: usize,
        xg: &[F],
        pw: &[F],
        stride: usize,
        norms: &[F],
        d: usize,
        g: &mut Group<F>,
    ) {
        macro_rules! ks {
            ($($k:literal)*) => {
                match k {
                    // SAFETY: the caller's guarantee.
                    $($k => unsafe { rank::<F, $k, SECOND>(xg, pw, stride, norms, d, g) },)*
                    _ => unreachable!("the kernel takes 1 to {FEW} centres"),
                }
            };
        }
        ks!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
    }

    /// The best centre of each row of the transposed, centred group `xg`
    /// (feature `f` of lane `l` at `f·BR + l`) against the `K` centres of
    /// `pw` (`-2(c_j - μ)` at `f·stride + j`) with their `‖c - μ‖²` in
    /// `norms`: `K` accumulators, one per centre, in registers (hence `K`
    /// at compile time), then a scan in index order. With `SECOND`, also
    /// the best of the other centres.
    ///
    /// # Safety
    /// The CPU has AVX-512F, VL and DQ, and FMA.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    #[inline(never)]
    unsafe fn rank<F: Float, const K: usize, const SECOND: bool>(
        xg: &[F],
        pw: &[F],
        stride: usize,
        norms: &[F],
        d: usize,
        g: &mut Group<F>,
    ) {
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
                    let x = _mm512_loadu_ps(xp.add(f * BR));
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
                        let x = _mm512_loadu_pd(xp.add(f * BR + 8 * h));
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

    /// `‖x - μ‖²` of each row of the group `xg`, summed as
    /// [`super::super::centre_row`] sums one row: sixteen partial sums
    /// (feature `f` into sum `f mod 16`, each a multiplication then an
    /// addition), halved pairwise.
    ///
    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    #[inline(never)]
    pub(super) unsafe fn norms<F: Float>(xg: &[F], d: usize, xn: &mut [F; BR]) {
        const L: usize = 16;
        assert!(xg.len() >= d * BR);
        let (full, rest) = (d / L, d % L);
        // SAFETY: the loads read lanes `0..BR` of features `f < d` of `xg`
        // (asserted above); `F` is f32 or f64, as tested.
        unsafe {
            if is_f32::<F>() {
                let xp = xg.as_ptr().cast::<f32>();
                let sq = |f: usize| {
                    let v = _mm512_loadu_ps(xp.add(f * BR));
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
                        let v = _mm512_loadu_pd(xp.add(f * BR + 8 * h));
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
}
