//! The algorithms behind `scipy.cluster.vq`: `vq`, the `kmeans` refinement
//! loop (stop when the mean distance changes by at most `thresh`) and the
//! fixed-count `kmeans2` loop. Random initialisation stays with the caller,
//! which must consume the user's generator exactly as scipy does.

use ndarray::{Array1, Array2, ArrayView2};

use crate::assign::{assign_pass, nearest_with_dist, Centers};
use crate::data::Data;
use crate::error::{KMeansError, Result};
use crate::float::Float;
use crate::kmeans::to_centers;
use crate::lloyd::new_centers;
use crate::monitor::{Event, Monitor};
use crate::par::pool;

/// For each observation, the index of the nearest code and the Euclidean
/// (non-squared) distance to it. Unlike scipy, NaN or infinity in `obs` is
/// an error even when the caller skipped the finiteness check.
pub fn vq<F: Float>(
    obs: Data<'_, F>,
    code_book: ArrayView2<'_, F>,
    n_threads: usize,
) -> Result<(Array1<i32>, Array1<F>)> {
    let c = to_centers(&obs, code_book)?;
    let pool = pool(n_threads)?;
    let n = obs.n_rows();
    let (mut labels, mut dists) = (vec![0i32; n], vec![F::zero(); n]);
    nearest_with_dist(&pool, &obs, &c, &mut labels, &mut dists)?;
    Ok((Array1::from_vec(labels), Array1::from_vec(dists)))
}

/// The mean Euclidean distance of the rows to the nearest code.
fn mean_distance<F: Float>(
    pool: &crate::par::Pool,
    obs: &Data<'_, F>,
    c: &Centers<F>,
    labels: &mut [i32],
    dists: &mut [F],
) -> Result<f64> {
    nearest_with_dist(pool, obs, c, labels, dists)?;
    // Fixed order: one sequential sum over rows.
    Ok(dists.iter().map(|d| d.as_f64()).sum::<f64>() / dists.len() as f64)
}

/// The refinement loop of `scipy.cluster.vq.kmeans` from one guess: repeat
/// (assign, move each code to the mean of its observations) while the mean
/// distance changes by more than `thresh`. Returns the code book and the
/// mean distance *of that code book* (scipy reports the one before the last
/// update). An empty cluster keeps its code (scipy drops it and returns
/// fewer codes than asked for).
pub fn kmeans_refine<F: Float>(
    obs: Data<'_, F>,
    guess: ArrayView2<'_, F>,
    thresh: f64,
    n_threads: usize,
    monitor: &mut dyn Monitor,
) -> Result<(Array2<F>, f64)> {
    if thresh.is_nan() || thresh < 0.0 {
        return Err(KMeansError::Tol(thresh));
    }
    let mut c = to_centers(&obs, guess)?;
    let pool = pool(n_threads)?;
    let n = obs.n_rows();
    let (mut labels, mut dists) = (vec![-1i32; n], vec![F::zero(); n]);
    let mut prev = f64::INFINITY;
    // Lloyd converges in finitely many steps; the cap only guards against a
    // floating-point cycle with thresh = 0.
    for iter in 0..100_000 {
        let avg = mean_distance(&pool, &obs, &c, &mut labels, &mut dists)?;
        // The distortion comes from the exact pass above.
        let p = assign_pass(&pool, &obs, None, &c, &mut labels, true, false)?;
        c = new_centers(&c, &p)?.0;
        monitor.event(&Event::Iteration { iter, inertia: avg })?;
        let diff = (prev - avg).abs();
        prev = avg;
        if diff.is_nan() || diff <= thresh {
            break;
        }
    }
    let avg = mean_distance(&pool, &obs, &c, &mut labels, &mut dists)?;
    Ok((
        Array2::from_shape_vec((c.k, c.d), c.data).expect("k × d"),
        avg,
    ))
}

/// What to do when a cluster of `kmeans2` loses all its observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Keep the cluster's previous code and count the event.
    Warn,
    /// Stop with [`KMeansError::EmptyCluster`].
    Raise,
}

/// The loop of `scipy.cluster.vq.kmeans2`: exactly `iter` times, assign
/// every observation to the nearest code, then move each code to the mean of
/// its observations (an empty cluster keeps its code). As in scipy, the
/// labels returned are those of the last assignment, made before the last
/// update. Returns the code book, the labels and the number of iterations
/// that met an empty cluster.
pub fn kmeans2_iterate<F: Float>(
    data: Data<'_, F>,
    code_book: ArrayView2<'_, F>,
    iter: usize,
    missing: Missing,
    n_threads: usize,
    monitor: &mut dyn Monitor,
) -> Result<(Array2<F>, Array1<i32>, usize)> {
    let mut c = to_centers(&data, code_book)?;
    let pool = pool(n_threads)?;
    let mut labels = vec![-1i32; data.n_rows()];
    let mut empty_events = 0;
    let inertia = monitor.wants_inertia();
    for it in 0..iter {
        let p = assign_pass(&pool, &data, None, &c, &mut labels, true, inertia)?;
        if p.weights.contains(&0.0) {
            if missing == Missing::Raise {
                return Err(KMeansError::EmptyCluster);
            }
            empty_events += 1;
        }
        c = new_centers(&c, &p)?.0;
        monitor.event(&Event::Iteration {
            iter: it,
            inertia: if inertia { p.inertia } else { f64::NAN },
        })?;
    }
    Ok((
        Array2::from_shape_vec((c.k, c.d), c.data).expect("k × d"),
        Array1::from_vec(labels),
        empty_events,
    ))
}
