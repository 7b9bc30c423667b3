//! Greedy k-means++ against a reference: the straightforward three-pass
//! algorithm (sampling masses, candidate potentials by the shared distance
//! kernel, then the winner's update), written here from public parts only,
//! exactly as the crate computed it before the fused kernels. The fused
//! implementation must pick the same rows — same draws, same candidates,
//! same winners — for any shape, weights, type and thread count.

use ferrokmeans_core::init::kmeans_plusplus;
use ferrokmeans_core::kernel::{distances_to, row_sq_norms, sq_dist_sparse, Centers};
use ferrokmeans_core::par::{block_rows, pool};
use ferrokmeans_core::rng::Rng;
use ferrokmeans_core::{CsrView, Data, Event, Float, KMeansError};
use ndarray::{Array2, ShapeBuilder};

// ------------------------------------------------------------ reference

fn weight<F: Float>(w: Option<&[F]>, i: usize) -> f64 {
    w.map_or(1.0, |w| w[i].as_f64())
}

/// Sums of `mass` over the fixed grid of row blocks, each in row order.
fn block_sums(n: usize, mass: impl Fn(usize) -> f64) -> Vec<f64> {
    let br = block_rows(n);
    (0..n.div_ceil(br))
        .map(|b| (b * br..((b + 1) * br).min(n)).map(&mass).sum::<f64>())
        .collect()
}

/// The first row whose running mass exceeds `target` (zero-mass rows never).
fn pick(mass: impl Fn(usize) -> f64, n: usize, sums: &[f64], target: f64) -> Option<usize> {
    let br = block_rows(n);
    let (mut acc, mut last_positive) = (0.0, None);
    let last_in = |b: usize| {
        (b * br..((b + 1) * br).min(n))
            .rev()
            .find(|&i| mass(i) > 0.0)
    };
    for (b, &s) in sums.iter().enumerate() {
        if s > 0.0 {
            last_positive = Some(b);
        }
        if acc + s > target && s > 0.0 {
            for i in b * br..((b + 1) * br).min(n) {
                let m = mass(i);
                acc += m;
                if m > 0.0 && acc > target {
                    return Some(i);
                }
            }
            return last_in(b);
        }
        acc += s;
    }
    last_in(last_positive?)
}

fn rows_of<F: Float>(x: &Data<'_, F>, idx: &[usize]) -> Centers<F> {
    let d = x.n_features();
    let mut data = vec![F::zero(); idx.len() * d];
    for (o, &i) in data.chunks_exact_mut(d).zip(idx) {
        x.row_into(i, o);
    }
    Centers::new(data, idx.len(), d)
}

/// Squared distances from row `i` to every centre of `c`: the dense kernel
/// (one row at a time gives the same bits as any tile), or the sparse
/// expansion.
fn distances<F: Float>(x: &Data<'_, F>, i: usize, c: &Centers<F>, out: &mut [F]) {
    let d = x.n_features();
    match x {
        Data::Dense(_) => {
            let mut row = vec![F::zero(); d];
            x.row_into(i, &mut row);
            distances_to(&row, c, out);
        }
        Data::Csr(m) => {
            let (vals, idx) = m.row(i);
            let x_sq = vals.iter().fold(F::zero(), |s, &v| s + v * v);
            for (j, o) in out.iter_mut().enumerate() {
                let c_sq = row_sq_norms(c.row(j), d)[0];
                *o = if x_sq.is_finite() {
                    sq_dist_sparse(vals, idx, x_sq, c.row(j), c_sq)
                } else {
                    F::infinity()
                };
            }
        }
    }
}

/// The reference greedy k-means++: the indices of the chosen rows.
fn reference<F: Float>(
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    k: usize,
    trials: Option<usize>,
    seed: u64,
) -> Result<Vec<usize>, KMeansError> {
    let (n, br) = (x.n_rows(), block_rows(x.n_rows()));
    let trials = trials
        .unwrap_or(2 + (k as f64).ln().floor() as usize)
        .max(1);
    let mut rng = Rng::new(seed);
    let w = |i: usize| weight(weights, i);
    let wsums = block_sums(n, w);
    let total_w: f64 = wsums.iter().sum();
    let first = pick(w, n, &wsums, rng.next_f64() * total_w).ok_or(KMeansError::ZeroWeight)?;
    let mut chosen = vec![first];
    let mut closest = vec![F::infinity(); n];
    let mut one = [F::zero()];
    let c0 = rows_of(x, &[first]);
    for (i, cl) in closest.iter_mut().enumerate() {
        distances(x, i, &c0, &mut one);
        if !one[0].is_finite() {
            return Err(KMeansError::NotFinite { dtype: "" });
        }
        *cl = cl.min(one[0]);
    }
    for _ in 1..k {
        let mass = |i: usize| w(i) * closest[i].as_f64();
        let msums = block_sums(n, mass);
        let pot: f64 = msums.iter().sum();
        let mut cand = Vec::new();
        for _ in 0..trials {
            let u = rng.next_f64();
            let i = if pot > 0.0 {
                pick(mass, n, &msums, u * pot)
            } else {
                pick(w, n, &wsums, u * total_w)
            };
            cand.push(i.ok_or(KMeansError::ZeroWeight)?);
        }
        let c = rows_of(x, &cand);
        let mut pots = vec![0f64; trials];
        let mut ds = vec![F::zero(); trials];
        for b in 0..n.div_ceil(br) {
            let mut p = vec![0f64; trials];
            for i in b * br..((b + 1) * br).min(n) {
                distances(x, i, &c, &mut ds);
                for (pt, dt) in p.iter_mut().zip(&ds) {
                    *pt += w(i) * closest[i].min(*dt).as_f64();
                }
            }
            pots.iter_mut().zip(&p).for_each(|(a, b)| *a += *b);
        }
        let best = (0..trials).fold(0, |b, t| if pots[t] < pots[b] { t } else { b });
        let winner = rows_of(x, &[cand[best]]);
        for (i, cl) in closest.iter_mut().enumerate() {
            distances(x, i, &winner, &mut one);
            *cl = cl.min(one[0]);
        }
        chosen.push(cand[best]);
    }
    Ok(chosen)
}

// ------------------------------------------------------------ helpers

/// The crate's k-means++ on `threads` threads: chosen rows and centres.
fn fused<F: Float>(
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    k: usize,
    trials: Option<usize>,
    seed: u64,
    threads: usize,
) -> Result<(Vec<usize>, Vec<F>), KMeansError> {
    let p = pool(threads).unwrap();
    let (c, idx) = kmeans_plusplus(&p, x, weights, k, trials, &mut Rng::new(seed), &mut ())?;
    let d = x.n_features();
    let centres = (0..k).flat_map(|j| c.row(j)[..d].to_vec()).collect();
    Ok((idx, centres))
}

/// Same rows as the reference on 1, 2 and 3 threads, and the same bits
/// whatever the thread count; the chosen rows have positive weight.
fn check<F: Float>(
    what: &str,
    x: &Data<'_, F>,
    weights: Option<&[F]>,
    k: usize,
    trials: Option<usize>,
) {
    for seed in [0u64, 7] {
        let want = reference(x, weights, k, trials, seed).unwrap();
        let (one, c1) = fused(x, weights, k, trials, seed, 1).unwrap();
        assert_eq!(one, want, "{what}, k={k}, trials={trials:?}, seed={seed}");
        for threads in [2, 3] {
            let (idx, c) = fused(x, weights, k, trials, seed, threads).unwrap();
            assert_eq!(idx, one, "{what}: {threads} threads");
            assert!(
                c.iter().zip(&c1).all(|(a, b)| a.to_bits_eq(*b)),
                "{what}: centres differ on {threads} threads"
            );
        }
        if let Some(w) = weights {
            assert!(
                one.iter().all(|&i| w[i] > F::zero()),
                "{what}: zero weight chosen"
            );
        }
    }
}

/// Bitwise equality for either float type.
trait BitsEq {
    fn to_bits_eq(self, other: Self) -> bool;
}

impl<F: Float> BitsEq for F {
    fn to_bits_eq(self, other: Self) -> bool {
        self.as_f64().to_bits() == other.as_f64().to_bits()
    }
}

/// Blobs around `c` centres in `[-10, 10]^d` with noise of scale `spread`.
fn blobs<F: Float>(n: usize, d: usize, c: usize, spread: f64, seed: u64) -> Array2<F> {
    let mut rng = Rng::new(seed);
    let centres: Vec<f64> = (0..c * d).map(|_| 20.0 * rng.next_f64() - 10.0).collect();
    let mut x = Array2::zeros((n, d));
    for ((i, j), v) in x.indexed_iter_mut() {
        let noise = (rng.next_f64() + rng.next_f64() + rng.next_f64() - 1.5) * spread;
        let b = (i * 7919 + i / 3) % c;
        *v = F::from_f64(centres[b * d + j] + noise);
    }
    x
}

/// Small integers: many duplicate rows, and exact arithmetic everywhere.
fn integers<F: Float>(n: usize, d: usize, levels: u64, seed: u64) -> Array2<F> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_fn((n, d), |_| F::from_f64(rng.below(levels) as f64))
}

fn weights<F: Float>(n: usize, seed: u64) -> Vec<F> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let u = rng.next_f64();
            // About a fifth of the rows weigh nothing.
            F::from_f64(if u < 0.2 { 0.0 } else { 4.0 * u })
        })
        .collect()
}

// ------------------------------------------------------------ tests

#[test]
fn same_rows_as_the_reference_on_blobs() {
    for d in [1, 2, 3, 5, 8, 9, 16, 33, 64] {
        let x = blobs::<f32>(2500, d, 12, 3.0, d as u64);
        let data = Data::Dense(x.view());
        for k in [1, 2, 10, 40] {
            check(&format!("f32 blobs d={d}"), &data, None, k, None);
        }
        check(&format!("f32 blobs d={d}"), &data, None, 25, Some(11));
    }
}

#[test]
fn same_rows_as_the_reference_in_float64_and_with_weights() {
    for d in [2, 7, 20, 64] {
        let x = blobs::<f64>(3100, d, 9, 2.0, 100 + d as u64);
        check(
            &format!("f64 d={d}"),
            &Data::Dense(x.view()),
            None,
            30,
            None,
        );
        let w = weights::<f64>(3100, d as u64);
        check(
            &format!("f64 weighted d={d}"),
            &Data::Dense(x.view()),
            Some(&w),
            30,
            None,
        );
        let x32 = x.mapv(|v| v as f32);
        let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
        check(
            &format!("f32 weighted d={d}"),
            &Data::Dense(x32.view()),
            Some(&w32),
            30,
            None,
        );
    }
}

#[test]
fn same_rows_as_the_reference_with_duplicates_and_far_offsets() {
    // Fewer distinct rows than k: the draws fall back to weights alone.
    for d in [2, 3, 12, 40] {
        let x = integers::<f32>(1500, d, 3, d as u64);
        check(
            &format!("integers d={d}"),
            &Data::Dense(x.view()),
            None,
            60,
            None,
        );
        let x = integers::<f64>(1500, d, 2, 50 + d as u64);
        check(
            &format!("integers f64 d={d}"),
            &Data::Dense(x.view()),
            None,
            20,
            Some(3),
        );
    }
    // Data far from the origin, where an uncentred expansion would cancel.
    for d in [3, 24] {
        let x = blobs::<f32>(2000, d, 5, 1.0, 9).mapv(|v| v + 1.0e4);
        check(
            &format!("offset d={d}"),
            &Data::Dense(x.view()),
            None,
            30,
            None,
        );
    }
}

#[test]
fn same_rows_as_the_reference_on_strided_and_sparse_input() {
    let x = blobs::<f64>(1800, 20, 6, 2.0, 3);
    let mut fortran = Array2::<f64>::zeros((1800, 20).f());
    fortran.assign(&x);
    check("fortran", &Data::Dense(fortran.view()), None, 20, None);
    let every_other = x.slice(ndarray::s![..;2, ..]);
    check("strided", &Data::Dense(every_other), None, 20, None);

    let (n, d) = (2000, 30);
    let mut rng = Rng::new(11);
    let (mut data, mut indices, mut indptr) = (Vec::new(), Vec::new(), vec![0i64]);
    for i in 0..n {
        for j in 0..d {
            if rng.next_f64() < 0.15 {
                data.push(rng.next_f64() + (i % 5) as f64);
                indices.push(j as i64);
            }
        }
        indptr.push(data.len() as i64);
    }
    let csr = CsrView::new(&data, &indices, &indptr, d).unwrap();
    check("csr", &Data::Csr(csr), None, 25, None);
    let w = weights::<f64>(n, 5);
    check("csr weighted", &Data::Csr(csr), Some(&w), 25, None);
}

#[test]
fn non_finite_input_is_an_error_and_progress_is_reported() {
    for d in [2, 16] {
        let mut x = blobs::<f32>(600, d, 3, 1.0, 1);
        x[[417, d - 1]] = f32::NAN;
        let err = fused(&Data::Dense(x.view()), None, 5, None, 0, 2).unwrap_err();
        assert!(matches!(err, KMeansError::NotFinite { .. }), "{err:?}");
    }
    let x = blobs::<f32>(600, 16, 3, 1.0, 1);
    let p = pool(2).unwrap();
    let mut seen = Vec::new();
    let mut monitor = |e: &Event| {
        if let Event::InitProgress { chosen } = e {
            seen.push(*chosen);
        }
        Ok(())
    };
    let data = Data::Dense(x.view());
    kmeans_plusplus(&p, &data, None, 9, None, &mut Rng::new(0), &mut monitor).unwrap();
    assert_eq!(seen, (1..=9).collect::<Vec<_>>());
    let mut stop = |e: &Event| match e {
        Event::InitProgress { chosen: 4 } => Err(KMeansError::Interrupted),
        _ => Ok(()),
    };
    let r = kmeans_plusplus(&p, &data, None, 9, None, &mut Rng::new(0), &mut stop);
    assert_eq!(r.unwrap_err(), KMeansError::Interrupted);
}

#[test]
fn a_duplicate_of_a_chosen_row_is_never_drawn_again() {
    // Every row is one of k distinct points. A row equal to a chosen centre
    // must have exactly zero mass from then on, so the k chosen rows are
    // the k distinct points whatever the seed.
    for d in [2, 5, 17, 64] {
        let k = 6;
        let x = Array2::from_shape_fn((1001, d), |(i, j)| ((i % k) * (j + 3)) as f32 * 0.37);
        for seed in 0..8 {
            let (idx, _) = fused(&Data::Dense(x.view()), None, k, None, seed, 2).unwrap();
            let points: std::collections::BTreeSet<_> = idx.iter().map(|i| i % k).collect();
            assert_eq!(points.len(), k, "d={d}, seed={seed}: {idx:?}");
        }
    }
}

#[test]
fn same_rows_as_the_reference_in_float64_when_screened_in_float32() {
    // Tight blobs and k beyond their number: after the first steps few
    // rows may come nearer to a candidate, and float64 rows of more than 8
    // features are then screened in float32 (same results by design).
    for (d, offset) in [(24, 0.0), (40, 1e3)] {
        let x = blobs::<f64>(4000, d, 60, 0.3, 200 + d as u64).mapv(|v| v + offset);
        check(
            &format!("f64 screened d={d}"),
            &Data::Dense(x.view()),
            None,
            90,
            None,
        );
    }
}
