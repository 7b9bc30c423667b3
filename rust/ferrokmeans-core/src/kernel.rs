//! The fused inner kernels: for a tile of rows, the distance to every centre
//! and the nearest one, without materialising the tile × k distance matrix.
//!
//! Dense distances are computed as `Σ (x - c)²` (never `‖x‖² - 2x·c + ‖c‖²`),
//! which cannot cancel catastrophically on data far from the origin. Small
//! dimensions get a kernel specialised at compile time. Ties go to the lowest
//! centre index, as in scikit-learn.

use crate::data::CsrView;
use crate::float::Float;

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

/// For each row of the row-major `tile` (`labels.len()` rows × `d`), the
/// index of the nearest of the row-major `centers` and the squared distance
/// to it. A row whose distances are all NaN or infinite gets distance
/// `+inf` (callers treat a non-finite distance as invalid input).
pub fn nearest_dense<F: Float>(
    tile: &[F],
    d: usize,
    centers: &[F],
    labels: &mut [i32],
    dists: &mut [F],
) {
    match d {
        1 => nearest_fixed::<F, 1>(tile, centers, labels, dists),
        2 => nearest_fixed::<F, 2>(tile, centers, labels, dists),
        3 => nearest_fixed::<F, 3>(tile, centers, labels, dists),
        4 => nearest_fixed::<F, 4>(tile, centers, labels, dists),
        5 => nearest_fixed::<F, 5>(tile, centers, labels, dists),
        6 => nearest_fixed::<F, 6>(tile, centers, labels, dists),
        7 => nearest_fixed::<F, 7>(tile, centers, labels, dists),
        8 => nearest_fixed::<F, 8>(tile, centers, labels, dists),
        _ => nearest_generic(tile, d, centers, labels, dists),
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

    #[test]
    fn fixed_and_generic_kernels_agree() {
        for d in 1..12 {
            let n = 37;
            let k = 5;
            let tile: Vec<f64> = (0..n * d)
                .map(|i| ((i * 7919) % 101) as f64 / 10.0)
                .collect();
            let centers: Vec<f64> = (0..k * d)
                .map(|i| ((i * 104729) % 97) as f64 / 9.0)
                .collect();
            let (mut l1, mut d1) = (vec![0; n], vec![0.0; n]);
            let (mut l2, mut d2) = (vec![0; n], vec![0.0; n]);
            nearest_dense(&tile, d, &centers, &mut l1, &mut d1);
            nearest_generic(&tile, d, &centers, &mut l2, &mut d2);
            assert_eq!(l1, l2);
            for i in 0..n {
                let brute = (0..k)
                    .map(|j| sq_dist(&tile[i * d..(i + 1) * d], &centers[j * d..(j + 1) * d]))
                    .fold(f64::INFINITY, f64::min);
                assert!((d1[i] - brute).abs() <= 1e-9 * brute.max(1.0));
                assert!((d2[i] - brute).abs() <= 1e-9 * brute.max(1.0));
            }
        }
    }

    #[test]
    fn ties_go_to_lowest_index_and_nan_is_infinite() {
        let centers = [1.0f64, 1.0, 1.0];
        let tile = [0.0f64, f64::NAN];
        let (mut l, mut d) = (vec![9; 2], vec![0.0; 2]);
        nearest_dense(&tile, 1, &centers, &mut l, &mut d);
        assert_eq!(l, vec![0, 0]);
        assert_eq!(d[0], 1.0);
        assert!(d[1].is_infinite());
    }
}
