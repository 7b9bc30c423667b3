//! Lloyd's algorithm, step for step as scikit-learn runs it, so that the
//! same initial centres give the same labels, centres and iteration count.

use crate::par::Pool;

use crate::assign::{assign_pass, farthest_rows, Centers, Partial};
use crate::data::Data;
use crate::error::Result;
use crate::float::Float;
use crate::monitor::{Event, Monitor};

/// The outcome of one Lloyd run from one set of initial centres.
#[derive(Debug, Clone)]
pub struct Run<F> {
    pub centers: Centers<F>,
    pub labels: Vec<i32>,
    pub inertia: f64,
    pub n_iter: usize,
    pub converged: bool,
}

/// Moves each empty cluster onto one of the rows farthest from their
/// current centres, as scikit-learn does: the row's weighted values leave
/// its old cluster's sums and become the empty cluster's. If fewer rows with
/// positive weight are left than empty clusters, the rest keep their centre.
pub(crate) fn relocate_empty<F: Float>(
    pool: &Pool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    old: &Centers<F>,
    labels: &[i32],
    p: &mut Partial,
) {
    let d = old.d;
    let empty: Vec<usize> = (0..old.k).filter(|&j| p.weights[j] == 0.0).collect();
    if empty.is_empty() {
        return;
    }
    let far = farthest_rows(pool, x, weights, old, labels, empty.len());
    let mut row = vec![F::zero(); d];
    for (&new_j, &i) in empty.iter().zip(&far) {
        let w = weights.map_or(1.0, |w| w[i].as_f64());
        let old_j = labels[i] as usize;
        x.row_into(i, &mut row);
        for (f, v) in row.iter().enumerate() {
            let wv = w * v.as_f64();
            p.sums[old_j * d + f] -= wv;
            p.sums[new_j * d + f] = wv;
        }
        p.weights[new_j] = w;
        p.weights[old_j] -= w;
    }
}

/// New centres from the sums; a cluster without weight keeps its centre.
/// Returns them with the total squared shift from `old`, or an error if a
/// centre does not fit in `F`.
pub(crate) fn new_centers<F: Float>(old: &Centers<F>, p: &Partial) -> Result<(Centers<F>, f64)> {
    let d = old.d;
    let mut data = old.data.clone();
    let mut shift = 0.0;
    for j in 0..old.k {
        if p.weights[j] > 0.0 {
            // Divide rather than multiply by 1/w: 1/w overflows for a
            // subnormal total weight.
            for f in 0..d {
                data[j * d + f] = F::from_f64(p.sums[j * d + f] / p.weights[j]);
            }
        }
        let s = crate::kernel::sq_dist(&data[j * d..(j + 1) * d], old.row(j)).as_f64();
        shift += s;
    }
    if data.iter().any(|v| !v.is_finite()) {
        return Err(crate::assign::not_finite::<F>());
    }
    Ok((Centers::new(data, old.k, d), shift))
}

/// Reports iteration `iter` to the monitor and applies the stopping rules
/// shared by every algorithm: true when no label changed (strict
/// convergence) or the total squared shift is at most `tol`.
pub(crate) fn iteration_done(
    monitor: &mut dyn Monitor,
    iter: usize,
    inertia: f64,
    changed: usize,
    shift: f64,
    tol: f64,
) -> Result<bool> {
    let inertia = if monitor.wants_inertia() {
        inertia
    } else {
        f64::NAN
    };
    monitor.event(&Event::Iteration { iter, inertia })?;
    if changed == 0 {
        monitor.event(&Event::StrictConvergence { iter })?;
        return Ok(true);
    }
    if shift <= tol {
        monitor.event(&Event::ToleranceConvergence { iter, shift, tol })?;
        return Ok(true);
    }
    Ok(false)
}

/// Runs Lloyd iterations from `init` until no label changes (strict
/// convergence), the total squared centre shift is at most `tol` (absolute),
/// or `max_iter` iterations; then assigns once more so that the labels and
/// inertia belong to the returned centres.
pub fn lloyd<F: Float>(
    pool: &Pool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    init: Centers<F>,
    max_iter: usize,
    tol: f64,
    monitor: &mut dyn Monitor,
) -> Result<Run<F>> {
    let n = x.n_rows();
    let mut labels = vec![-1i32; n];
    let mut centers = init;
    let mut converged = false;
    let mut n_iter = 0;
    let inertia = monitor.wants_inertia();
    for iter in 0..max_iter {
        n_iter = iter + 1;
        let mut p = assign_pass(pool, x, weights, &centers, &mut labels, true, inertia)?;
        relocate_empty(pool, x, weights, &centers, &labels, &mut p);
        let (next, shift) = new_centers(&centers, &p)?;
        centers = next;
        if iteration_done(monitor, iter, p.inertia, p.changed, shift, tol)? {
            converged = true;
            break;
        }
    }
    finish(pool, x, weights, centers, labels, n_iter, converged)
}

/// The end of every algorithm's run: one more exact assignment, so that the
/// labels and inertia belong to the returned centres.
pub(crate) fn finish<F: Float>(
    pool: &Pool,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    centers: Centers<F>,
    mut labels: Vec<i32>,
    n_iter: usize,
    converged: bool,
) -> Result<Run<F>> {
    let fin = assign_pass(pool, x, weights, &centers, &mut labels, false, true)?;
    Ok(Run {
        centers,
        labels,
        inertia: fin.inertia,
        n_iter,
        converged,
    })
}
