//! Invariants of the public API that unit tests beside the code cannot see
//! whole: the thread count never changes a bit of any result, float32 and
//! float64 agree, dense and CSR agree, every invalid input is a
//! `KMeansError` (never a panic), and on arbitrary small inputs `fit`
//! either fails cleanly or returns a result that checks out by brute force.

use ferrokmeans_core::rng::Rng;
use ferrokmeans_core::{
    fit, kmeans2_iterate, kmeans_plusplus, kmeans_refine, mean_variance, predict, transform, vq,
    CsrView, Data, Event, Float, Init, KMeansError, KMeansParams, KMeansResult, Missing,
};
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, ShapeBuilder};
use proptest::prelude::*;

/// Thread counts compared by the invariance tests: 1, 2, an odd count, and
/// more threads than this machine is likely to have.
const THREADS: [usize; 4] = [1, 2, 3, 8];

// ---------------------------------------------------------------- data

/// `n × d` Gaussian-ish blobs around `k` centres spread over a cube, from a
/// fixed seed. Large enough (`n` ≥ a few thousand) to span many row blocks.
fn blobs(n: usize, d: usize, k: usize, spread: f64, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    let centres: Vec<f64> = (0..k * d).map(|_| 20.0 * rng.next_f64() - 10.0).collect();
    Array2::from_shape_fn((n, d), |(i, j)| {
        // Sum of three uniforms: a cheap bell shape.
        let noise = (rng.next_f64() + rng.next_f64() + rng.next_f64() - 1.5) * spread;
        centres[(i % k) * d + j] + noise
    })
}

/// Uniform data in `[0, 1)`: no cluster structure, so Lloyd needs many
/// iterations and the empty-cluster and tolerance paths get exercised.
fn uniform(n: usize, d: usize, seed: u64) -> Array2<f64> {
    let mut rng = Rng::new(seed);
    Array2::from_shape_fn((n, d), |_| rng.next_f64())
}

/// A sparse matrix with about `density` of its entries stored, as owned
/// CSR arrays plus the dense equivalent.
struct Csr<F> {
    data: Vec<F>,
    indices: Vec<i64>,
    indptr: Vec<i64>,
    dense: Array2<F>,
}

impl<F: Float> Csr<F> {
    fn random(n: usize, d: usize, density: f64, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut dense = Array2::<F>::zeros((n, d));
        let (mut data, mut indices, mut indptr) = (Vec::new(), Vec::new(), vec![0i64]);
        for i in 0..n {
            for j in 0..d {
                if rng.next_f64() < density {
                    // Offset by the row's group so that there is structure to find.
                    let v = F::from_f64(rng.next_f64() + (i % 4) as f64);
                    dense[[i, j]] = v;
                    data.push(v);
                    indices.push(j as i64);
                }
            }
            indptr.push(data.len() as i64);
        }
        Csr {
            data,
            indices,
            indptr,
            dense,
        }
    }

    fn view(&self) -> CsrView<'_, F> {
        CsrView::new(&self.data, &self.indices, &self.indptr, self.dense.ncols()).unwrap()
    }
}

fn to_f32(x: &Array2<f64>) -> Array2<f32> {
    x.mapv(|v| v as f32)
}

fn rows(x: &Array2<f64>, idx: &[usize]) -> Array2<f64> {
    Array2::from_shape_fn((idx.len(), x.ncols()), |(r, j)| x[[idx[r], j]])
}

// ------------------------------------------------------- bitwise helpers

/// The bit pattern of every centre coordinate: equality of these is
/// equality of the results down to the last bit (and tells NaN apart).
fn bits<F: Float>(a: ArrayView2<'_, F>) -> Vec<u64> {
    a.iter().map(|v| v.as_f64().to_bits()).collect()
}

/// Everything a fit returns, as exactly comparable values: centre bits,
/// labels, inertia bits, iterations, converged.
type Fingerprint = (Vec<u64>, Vec<i32>, u64, usize, bool);

fn fingerprint<F: Float>(r: &KMeansResult<F>) -> Fingerprint {
    (
        bits(r.centers.view()),
        r.labels.to_vec(),
        r.inertia.to_bits(),
        r.n_iter,
        r.converged,
    )
}

fn fit_all_threads<F: Float>(
    x: Data<'_, F>,
    w: Option<ArrayView1<'_, F>>,
    params: &KMeansParams<F>,
) -> Vec<Fingerprint> {
    THREADS
        .iter()
        .map(|&t| {
            let p = params.clone().n_threads(t);
            fingerprint(&fit(x, w, &p, &mut ()).unwrap())
        })
        .collect()
}

fn assert_all_equal<T: PartialEq + std::fmt::Debug>(what: &str, v: &[T]) {
    for (t, other) in THREADS.iter().zip(v).skip(1) {
        assert_eq!(&v[0], other, "{what}: {t} threads differ from 1 thread");
    }
}

/// Brute-force check of a fit: labels in range and nearest (up to rounding
/// of the distance formula), centres finite, inertia recomputed.
fn check_result(x: ArrayView2<'_, f64>, w: Option<&[f64]>, r: &KMeansResult<f64>, k: usize) {
    assert_eq!(r.centers.dim(), (k, x.ncols()));
    assert_eq!(r.labels.len(), x.nrows());
    assert!(r.centers.iter().all(|v| v.is_finite()), "non-finite centre");
    assert!(r.n_iter >= 1);
    let sq = |i: usize, j: usize| -> f64 {
        x.row(i)
            .iter()
            .zip(r.centers.row(j))
            .map(|(a, b)| (a - b) * (a - b))
            .sum()
    };
    let mut inertia = 0.0;
    for i in 0..x.nrows() {
        let l = r.labels[i];
        assert!((0..k as i32).contains(&l), "label {l} out of range");
        let own = sq(i, l as usize);
        let best = (0..k).map(|j| sq(i, j)).fold(f64::INFINITY, f64::min);
        assert!(
            own <= best + 1e-9 * best.max(1.0),
            "row {i}: label {l} at {own}, nearest at {best}"
        );
        inertia += w.map_or(1.0, |w| w[i]) * own;
    }
    let tol = 1e-9 * inertia.abs().max(1e-300) + 1e-12;
    assert!(
        (r.inertia - inertia).abs() <= tol,
        "inertia {} recomputes as {inertia}",
        r.inertia
    );
}

// ------------------------------------------------ thread-count invariance

fn inits<F: Float>(x: &Array2<F>, k: usize) -> Vec<Init<F>> {
    let every = x.nrows() / k;
    let given = Array2::from_shape_fn((k, x.ncols()), |(j, f)| x[[j * every, f]]);
    vec![
        Init::KMeansPlusPlus {
            n_local_trials: None,
        },
        Init::Random,
        Init::Centers(given),
    ]
}

fn dense_invariance<F: Float>(x: &Array2<F>, w: Option<&Array1<F>>, k: usize) {
    for init in inits(x, k) {
        let params = KMeansParams::new(k)
            .init(init.clone())
            .n_init(2)
            .seed(12345)
            .tol(1e-6)
            .max_iter(10);
        let runs = fit_all_threads(Data::Dense(x.view()), w.map(|w| w.view()), &params);
        assert_all_equal(&format!("dense fit, {init:?}"), &runs);
        assert!(runs[0].3 >= 2, "the fit should iterate more than once");
    }
}

#[test]
fn thread_count_does_not_change_dense_f64_fits() {
    let x = uniform(2503, 3, 1);
    dense_invariance(&x, None, 9);
    let x = blobs(2001, 11, 6, 4.0, 2);
    let w = Array1::from_shape_fn(x.nrows(), |i| ((i * 7) % 5) as f64 * 0.5);
    dense_invariance(&x, Some(&w), 6);
}

#[test]
fn thread_count_does_not_change_dense_f32_fits() {
    let x = to_f32(&uniform(2503, 3, 3));
    dense_invariance(&x, None, 9);
    let x = to_f32(&blobs(2001, 11, 6, 4.0, 4));
    let w = Array1::from_shape_fn(x.nrows(), |i| ((i * 7) % 5) as f32 * 0.5);
    dense_invariance(&x, Some(&w), 6);
}

fn csr_invariance<F: Float>(seed: u64) {
    let m = Csr::<F>::random(1601, 20, 0.2, seed);
    let w = Array1::from_shape_fn(1601, |i| F::from_f64(1.0 + (i % 3) as f64));
    for init in inits(&m.dense, 5) {
        for weights in [None, Some(w.view())] {
            let params = KMeansParams::new(5)
                .init(init.clone())
                .n_init(2)
                .seed(99)
                .tol(0.0)
                .max_iter(10);
            let runs = fit_all_threads(Data::Csr(m.view()), weights, &params);
            assert_all_equal(&format!("CSR fit, {init:?}"), &runs);
        }
    }
}

#[test]
fn thread_count_does_not_change_csr_f64_fits() {
    csr_invariance::<f64>(5);
}

#[test]
fn thread_count_does_not_change_csr_f32_fits() {
    csr_invariance::<f32>(6);
}

#[test]
fn thread_count_does_not_change_the_other_entry_points() {
    let x = blobs(6000, 5, 7, 3.0, 7);
    let m = Csr::<f64>::random(2500, 12, 0.3, 8);
    let w = Array1::from_shape_fn(x.nrows(), |i| 0.25 + (i % 4) as f64);
    let centers = rows(&x, &[0, 1, 2, 3, 4, 5, 6]);
    let book = m.dense.slice(s![..4, ..]).to_owned();
    let mut seen = Vec::new();
    for &t in &THREADS {
        let xv = Data::Dense(x.view());
        let (kc, ki) = kmeans_plusplus(xv, Some(w.view()), 7, None, 3, t, &mut ()).unwrap();
        let (lab, inertia) = predict(xv, Some(w.view()), centers.view(), t).unwrap();
        let dist = transform(xv, centers.view(), t).unwrap();
        let (codes, d) = vq(xv, centers.view(), t).unwrap();
        let cv = Data::Csr(m.view());
        let (refined, distortion) = kmeans_refine(cv, book.view(), 1e-7, t, &mut ()).unwrap();
        let (book2, lab2, empty) =
            kmeans2_iterate(cv, book.view(), 10, Missing::Warn, t, &mut ()).unwrap();
        let sparse_dist = transform(cv, book.view(), t).unwrap();
        seen.push((
            (bits(kc.view()), ki.to_vec()),
            (lab.to_vec(), inertia.to_bits()),
            bits(dist.view()),
            (
                codes.to_vec(),
                d.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            ),
            (bits(refined.view()), distortion.to_bits()),
            (bits(book2.view()), lab2.to_vec(), empty),
            bits(sparse_dist.view()),
        ));
    }
    assert_all_equal("predict/transform/vq/kmeans++/refine/kmeans2", &seen);
}

#[test]
fn memory_layout_does_not_change_bits() {
    // C order, Fortran order and a strided view of the same values must
    // give the same result: tiles are gathered, never reordered.
    let big = blobs(3000, 8, 5, 2.0, 9);
    let c_order = big.slice(s![.., ..;2]).to_owned();
    let mut f_order = Array2::<f64>::zeros((3000, 4).f());
    f_order.assign(&c_order);
    let strided = big.slice(s![.., ..;2]);
    assert!(strided.as_slice().is_none() && f_order.as_slice().is_none());
    let params = KMeansParams::new(5).seed(4).n_threads(2);
    let a = fingerprint(&fit(Data::Dense(c_order.view()), None, &params, &mut ()).unwrap());
    let b = fingerprint(&fit(Data::Dense(f_order.view()), None, &params, &mut ()).unwrap());
    let c = fingerprint(&fit(Data::Dense(strided), None, &params, &mut ()).unwrap());
    assert_eq!(a, b);
    assert_eq!(a, c);
}

#[test]
fn same_seed_same_bits_other_seed_other_start() {
    let x = uniform(2000, 2, 10);
    let p = KMeansParams::new(6).init(Init::Random).max_iter(1);
    let a = fit(Data::Dense(x.view()), None, &p.clone().seed(1), &mut ()).unwrap();
    let b = fit(Data::Dense(x.view()), None, &p.clone().seed(1), &mut ()).unwrap();
    let c = fit(Data::Dense(x.view()), None, &p.clone().seed(2), &mut ()).unwrap();
    assert_eq!(fingerprint(&a), fingerprint(&b));
    assert_ne!(bits(a.centers.view()), bits(c.centers.view()));
}

// ------------------------------------------------- agreement across types

#[test]
fn float32_and_float64_agree_on_separated_blobs() {
    let x = blobs(3000, 6, 5, 1.0, 11);
    let init = rows(&x, &[0, 1, 2, 3, 4]);
    let p64 = KMeansParams::new(5).init(Init::Centers(init.clone()));
    let p32 = KMeansParams::new(5).init(Init::Centers(to_f32(&init)));
    let x32 = to_f32(&x);
    let r64 = fit(Data::Dense(x.view()), None, &p64, &mut ()).unwrap();
    let r32 = fit(Data::Dense(x32.view()), None, &p32, &mut ()).unwrap();
    check_result(x.view(), None, &r64, 5);
    assert_eq!(r64.labels, r32.labels);
    assert_eq!(r64.n_iter, r32.n_iter);
    for (a, b) in r64.centers.iter().zip(r32.centers.iter()) {
        assert!(
            (a - *b as f64).abs() <= 1e-5 * a.abs().max(1.0),
            "{a} vs {b}"
        );
    }
    assert!((r64.inertia - r32.inertia).abs() <= 1e-5 * r64.inertia);
    // Both k-means++ paths pick the same rows from the same seed here.
    let k64 = kmeans_plusplus(Data::Dense(x.view()), None, 5, None, 8, 1, &mut ()).unwrap();
    let k32 = kmeans_plusplus(Data::Dense(x32.view()), None, 5, None, 8, 1, &mut ()).unwrap();
    assert_eq!(k64.1, k32.1);
}

#[test]
fn float32_far_from_the_origin_keeps_its_precision() {
    // Distances as Σ(x - c)² and sums in f64: an offset of 1e4 must not
    // swamp clusters 1 apart in float32.
    let base = blobs(2000, 3, 4, 0.2, 12);
    let x = base.mapv(|v| v * 0.1 + 1e4);
    let init = rows(&x, &[0, 1, 2, 3]);
    let p = KMeansParams::new(4).init(Init::Centers(to_f32(&init)));
    let r32 = fit(Data::Dense(to_f32(&x).view()), None, &p, &mut ()).unwrap();
    let truth: Vec<i32> = (0..2000).map(|i| i % 4).collect();
    assert_eq!(r32.labels.to_vec(), truth);
}

#[test]
fn csr_and_dense_agree() {
    for seed in [13, 14] {
        let m = Csr::<f64>::random(1500, 30, 0.15, seed);
        let init = rows(&m.dense, &[0, 1, 2, 3]);
        let p = KMeansParams::new(4).init(Init::Centers(init)).tol(0.0);
        let a = fit(Data::Dense(m.dense.view()), None, &p, &mut ()).unwrap();
        let b = fit(Data::Csr(m.view()), None, &p, &mut ()).unwrap();
        check_result(m.dense.view(), None, &b, 4);
        assert_eq!(a.labels, b.labels);
        assert_eq!(a.n_iter, b.n_iter);
        for (u, v) in a.centers.iter().zip(b.centers.iter()) {
            assert!((u - v).abs() <= 1e-10 * u.abs().max(1.0));
        }
        assert!((a.inertia - b.inertia).abs() <= 1e-9 * a.inertia);
        let td = transform(Data::Dense(m.dense.view()), a.centers.view(), 2).unwrap();
        let ts = transform(Data::Csr(m.view()), a.centers.view(), 2).unwrap();
        for (u, v) in td.iter().zip(ts.iter()) {
            assert!((u - v).abs() <= 1e-6 * u.max(1.0), "{u} vs {v}");
        }
    }
}

#[test]
fn integer_weights_equal_repeated_rows() {
    let x = blobs(300, 3, 4, 3.0, 15);
    let w: Vec<usize> = (0..300).map(|i| (i * 5) % 4).collect();
    let mut rep_idx = Vec::new();
    for (i, &c) in w.iter().enumerate() {
        rep_idx.extend(std::iter::repeat_n(i, c));
    }
    let xr = rows(&x, &rep_idx);
    let wf = Array1::from_iter(w.iter().map(|&c| c as f64));
    let init = rows(&x, &[1, 2, 3, 5]);
    let p = KMeansParams::new(4).init(Init::Centers(init)).tol(0.0);
    let a = fit(Data::Dense(x.view()), Some(wf.view()), &p, &mut ()).unwrap();
    let b = fit(Data::Dense(xr.view()), None, &p, &mut ()).unwrap();
    for (u, v) in a.centers.iter().zip(b.centers.iter()) {
        assert!((u - v).abs() <= 1e-9 * u.abs().max(1.0));
    }
    for (r, &i) in rep_idx.iter().enumerate() {
        assert_eq!(b.labels[r], a.labels[i]);
    }
    assert!((a.inertia - b.inertia).abs() <= 1e-9 * a.inertia);
}

#[test]
fn zero_weight_rows_are_never_seeds() {
    let x = uniform(500, 2, 16);
    let w = Array1::from_shape_fn(500, |i| if i % 3 == 0 { 1.0 } else { 0.0 });
    for seed in 0..20 {
        let (_, idx) = kmeans_plusplus(
            Data::Dense(x.view()),
            Some(w.view()),
            8,
            None,
            seed,
            2,
            &mut (),
        )
        .unwrap();
        assert!(idx.iter().all(|&i| i % 3 == 0), "{idx:?}");
    }
}

#[test]
fn monitor_sees_every_iteration_and_can_stop_the_fit() {
    let x = uniform(1000, 2, 17);
    let p = KMeansParams::new(5).seed(1).tol(0.0);
    let mut events = Vec::new();
    let r = fit(Data::Dense(x.view()), None, &p, &mut |e: &Event| {
        events.push(e.clone());
        Ok(())
    })
    .unwrap();
    let iterations = events
        .iter()
        .filter(|e| matches!(e, Event::Iteration { .. }))
        .count();
    assert_eq!(iterations, r.n_iter);
    assert!(matches!(
        events.last(),
        Some(Event::StrictConvergence { .. })
    ));
    let mut calls = 0;
    let stopped = fit(Data::Dense(x.view()), None, &p, &mut |e: &Event| {
        calls += 1;
        match e {
            Event::Iteration { iter: 2, .. } => Err(KMeansError::Interrupted),
            _ => Ok(()),
        }
    });
    assert_eq!(stopped.unwrap_err(), KMeansError::Interrupted);
    assert!(calls >= 3);
}

// ------------------------------------------------------------------ errors

fn fit_err(x: ArrayView2<'_, f64>, w: Option<&[f64]>, p: KMeansParams<f64>) -> KMeansError {
    let w = w.map(ArrayView1::from);
    fit(Data::Dense(x), w, &p, &mut ()).unwrap_err()
}

#[test]
fn invalid_parameters_are_errors() {
    let x = uniform(10, 2, 18);
    let xv = x.view();
    let p = || KMeansParams::<f64>::new(3);
    assert_eq!(
        fit_err(xv, None, p().n_init(1).max_iter(0)),
        KMeansError::MaxIter(0)
    );
    assert_eq!(fit_err(xv, None, p().n_init(0)), KMeansError::NInit(0));
    assert_eq!(
        fit_err(xv, None, KMeansParams::new(0)),
        KMeansError::NoClusters(0)
    );
    assert_eq!(
        fit_err(xv, None, KMeansParams::new(11)),
        KMeansError::TooFewSamples {
            n_samples: 10,
            n_clusters: 11
        }
    );
    assert_eq!(fit_err(xv, None, p().tol(-1.0)), KMeansError::Tol(-1.0));
    assert!(matches!(fit_err(xv, None, p().tol(f64::NAN)), KMeansError::Tol(t) if t.is_nan()));
    assert_eq!(
        fit_err(xv, None, p().tol(f64::INFINITY)),
        KMeansError::Tol(f64::INFINITY)
    );
    let wrong = Array2::<f64>::zeros((2, 2));
    assert_eq!(
        fit_err(xv, None, p().init(Init::Centers(wrong))),
        KMeansError::InitShape {
            rows: 2,
            cols: 2,
            n_clusters: 3,
            n_features: 2
        }
    );
    let wrong = Array2::<f64>::zeros((3, 5));
    assert!(matches!(
        fit_err(xv, None, p().init(Init::Centers(wrong))),
        KMeansError::InitShape { cols: 5, .. }
    ));
    let mut nan = Array2::<f64>::zeros((3, 2));
    nan[[1, 1]] = f64::NAN;
    assert_eq!(
        fit_err(xv, None, p().init(Init::Centers(nan))),
        KMeansError::InitNotFinite
    );
    let mut inf = Array2::<f64>::zeros((3, 2));
    inf[[0, 0]] = f64::NEG_INFINITY;
    assert_eq!(
        fit_err(xv, None, p().init(Init::Centers(inf))),
        KMeansError::InitNotFinite
    );
}

#[test]
fn invalid_shapes_are_errors() {
    let p = || KMeansParams::<f64>::new(1);
    let empty = Array2::<f64>::zeros((0, 3));
    assert_eq!(fit_err(empty.view(), None, p()), KMeansError::NoSamples);
    let featureless = Array2::<f64>::zeros((4, 0));
    assert_eq!(
        fit_err(featureless.view(), None, p()),
        KMeansError::NoFeatures
    );
    let x = uniform(5, 3, 19);
    let c = Array2::<f64>::zeros((2, 4));
    let e = predict(Data::Dense(x.view()), None, c.view(), 1).unwrap_err();
    assert_eq!(
        e,
        KMeansError::CodebookFeatures {
            expected: 3,
            got: 4
        }
    );
    let e = transform(Data::Dense(x.view()), c.view(), 1).unwrap_err();
    assert!(matches!(e, KMeansError::CodebookFeatures { .. }));
    let e = vq(Data::Dense(x.view()), c.view(), 1).unwrap_err();
    assert!(matches!(e, KMeansError::CodebookFeatures { .. }));
    let none = Array2::<f64>::zeros((0, 3));
    let e = predict(Data::Dense(x.view()), None, none.view(), 1).unwrap_err();
    assert_eq!(e, KMeansError::NoClusters(0));
    let e = predict(Data::Dense(empty.view()), None, c.view(), 1).unwrap_err();
    assert_eq!(e, KMeansError::NoSamples);
    let e = kmeans_plusplus(Data::Dense(x.view()), None, 6, None, 0, 1, &mut ()).unwrap_err();
    assert!(matches!(e, KMeansError::TooFewSamples { .. }));
}

#[test]
fn invalid_weights_are_errors() {
    let x = uniform(6, 2, 20);
    let p = || KMeansParams::<f64>::new(2);
    assert_eq!(
        fit_err(x.view(), Some(&[1.0; 5][..]), p()),
        KMeansError::WeightLength {
            expected: 6,
            got: 5
        }
    );
    let neg = [1.0, 1.0, -0.5, 1.0, 1.0, 1.0];
    assert_eq!(
        fit_err(x.view(), Some(&neg[..]), p()),
        KMeansError::BadWeight(-0.5)
    );
    let nan = [1.0, 1.0, f64::NAN, 1.0, 1.0, 1.0];
    assert!(matches!(
        fit_err(x.view(), Some(&nan[..]), p()),
        KMeansError::BadWeight(v) if v.is_nan()
    ));
    let inf = [1.0, f64::INFINITY, 1.0, 1.0, 1.0, 1.0];
    assert!(matches!(
        fit_err(x.view(), Some(&inf[..]), p()),
        KMeansError::BadWeight(_)
    ));
    assert_eq!(
        fit_err(x.view(), Some(&[0.0; 6][..]), p()),
        KMeansError::ZeroWeight
    );
    let one = [0.0, 0.0, 3.0, 0.0, 0.0, 0.0];
    assert_eq!(
        fit_err(x.view(), Some(&one[..]), p().init(Init::Random)),
        KMeansError::TooFewWeighted {
            positive: 1,
            n_clusters: 2
        }
    );
    let e = predict(
        Data::Dense(x.view()),
        Some(ArrayView1::from(&[1.0; 2])),
        x.slice(s![..2, ..]),
        1,
    )
    .unwrap_err();
    assert!(matches!(e, KMeansError::WeightLength { .. }));
}

#[test]
fn non_finite_data_is_an_error_everywhere() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut x = uniform(700, 3, 21);
        x[[650, 1]] = bad;
        let nf = |e: KMeansError| assert!(matches!(e, KMeansError::NotFinite { .. }), "{e:?}");
        for init in inits(&uniform(700, 3, 22), 3) {
            nf(fit_err(x.view(), None, KMeansParams::new(3).init(init)));
        }
        let c = rows(&x, &[0, 1]);
        let dx = Data::Dense(x.view());
        nf(predict(dx, None, c.view(), 2).unwrap_err());
        nf(transform(dx, c.view(), 2).unwrap_err());
        nf(vq(dx, c.view(), 2).unwrap_err());
        nf(kmeans_refine(dx, c.view(), 1e-5, 2, &mut ()).unwrap_err());
        nf(kmeans2_iterate(dx, c.view(), 3, Missing::Warn, 2, &mut ()).unwrap_err());
        let x32 = to_f32(&x);
        let p32 = KMeansParams::<f32>::new(3).seed(1);
        nf(fit(Data::Dense(x32.view()), None, &p32, &mut ()).unwrap_err());
        // The same defect in a CSR matrix.
        let vals = [1.0, bad, 2.0];
        let m = CsrView::new(&vals, &[0, 1, 0], &[0, 2, 3, 3], 2).unwrap();
        nf(fit(Data::Csr(m), None, &KMeansParams::new(2), &mut ()).unwrap_err());
        let c2 = Array2::<f64>::zeros((2, 2));
        nf(predict(Data::Csr(m), None, c2.view(), 1).unwrap_err());
        nf(transform(Data::Csr(m), c2.view(), 1).unwrap_err());
    }
}

#[test]
fn overflowing_distances_are_an_error_in_float32() {
    // Every value is finite, but squared distances overflow f32.
    let x = Array2::from_shape_fn(
        (50, 2),
        |(i, j)| if i % 2 == 0 { 3e19f32 } else { -3e19 } * (j + 1) as f32,
    );
    let e = fit(
        Data::Dense(x.view()),
        None,
        &KMeansParams::new(2).seed(3),
        &mut (),
    )
    .unwrap_err();
    assert_eq!(e, KMeansError::NotFinite { dtype: "float32" });
    assert!(e.to_string().contains("float32"));
}

#[test]
fn malformed_csr_is_an_error() {
    let d = [1.0f64, 2.0, 3.0];
    let bad = |e: Result<CsrView<'_, f64>, KMeansError>| {
        assert!(matches!(e, Err(KMeansError::BadCsr(_))), "{e:?}");
    };
    bad(CsrView::new(&d, &[0, 1, 2], &[], 3));
    bad(CsrView::new(&d, &[0, 1], &[0, 3], 3));
    bad(CsrView::new(&d, &[0, 1, 2], &[1, 3], 3));
    bad(CsrView::new(&d, &[0, 1, 2], &[0, 2], 3));
    bad(CsrView::new(&d, &[0, 1, 2], &[0, 2, 1, 3], 3));
    bad(CsrView::new(&d, &[0, 1, 3], &[0, 3], 3));
    bad(CsrView::new(&d, &[0, -1, 2], &[0, 3], 3));
    assert!(CsrView::new(&d, &[0, 1, 2], &[0, 1, 3], 3).is_ok());
}

#[test]
fn empty_cluster_in_kmeans2_raise_mode_is_an_error() {
    let x = uniform(100, 2, 23);
    // A code far away from every observation loses them all.
    let book = ndarray::array![[0.5, 0.5], [100.0, 100.0]];
    let e = kmeans2_iterate(
        Data::Dense(x.view()),
        book.view(),
        5,
        Missing::Raise,
        1,
        &mut (),
    )
    .unwrap_err();
    assert_eq!(e, KMeansError::EmptyCluster);
    let (b, _, empty) = kmeans2_iterate(
        Data::Dense(x.view()),
        book.view(),
        5,
        Missing::Warn,
        1,
        &mut (),
    )
    .unwrap();
    assert_eq!(empty, 5);
    assert_eq!(b.row(1).to_vec(), vec![100.0, 100.0]);
    assert!(kmeans_refine(Data::Dense(x.view()), book.view(), -1.0, 1, &mut ()).is_err());
}

#[test]
fn fewer_distinct_points_than_clusters_still_fits() {
    // Four distinct points, six clusters: no panic, a valid result.
    let x = Array2::from_shape_fn((40, 2), |(i, j)| ((i % 4) * (j + 1)) as f64);
    for init in [
        Init::KMeansPlusPlus {
            n_local_trials: None,
        },
        Init::Random,
    ] {
        let r = fit(
            Data::Dense(x.view()),
            None,
            &KMeansParams::new(6).init(init).seed(5),
            &mut (),
        )
        .unwrap();
        check_result(x.view(), None, &r, 6);
        assert_eq!(r.inertia, 0.0);
    }
}

#[test]
fn subnormal_weights_give_finite_centres() {
    // 1 / 1e-310 overflows to infinity: a centre computed as sum × (1 / w)
    // would be 0 × inf = NaN.
    let x = ndarray::array![[1.0], [1.0], [0.0]];
    let w = [0.5, 0.5, 1e-310];
    let c = ndarray::array![[1.0], [0.0]];
    let p = KMeansParams::new(2).init(Init::Centers(c)).max_iter(1);
    let r = fit(
        Data::Dense(x.view()),
        Some(ArrayView1::from(&w)),
        &p,
        &mut (),
    )
    .unwrap();
    check_result(x.view(), Some(&w), &r, 2);
    assert_eq!(r.labels.to_vec(), vec![0, 0, 1]);
    // The same defect seen as an error: the NaN centre fails the next pass.
    let one = ndarray::array![[0.0]];
    let p = KMeansParams::new(1).seed(0).max_iter(1);
    let r = fit(
        Data::Dense(one.view()),
        Some(ArrayView1::from(&[1e-310])),
        &p,
        &mut (),
    );
    assert_eq!(r.unwrap().centers[[0, 0]], 0.0);
}

// -------------------------------------------------------------- proptest

/// A value that is usually ordinary, sometimes repeated exactly, and
/// sometimes NaN or infinite.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -100.0..100.0f64,
        2 => Just(1.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    x: Array2<f64>,
    w: Option<Vec<f64>>,
    k: usize,
    init: u8,
    seed: u64,
    max_iter: usize,
    tol: f64,
    threads: usize,
}

fn case() -> impl Strategy<Value = Case> {
    (0usize..30, 1usize..5, 0usize..7).prop_flat_map(|(n, d, k)| {
        (
            prop::collection::vec(value(), n * d),
            prop::option::of(prop::collection::vec(
                prop_oneof![3 => 0.1..5.0f64, 1 => Just(0.0), 1 => Just(1e-310)],
                n,
            )),
            0u8..3,
            any::<u64>(),
            1usize..20,
            prop_oneof![Just(0.0), 1e-8..1e-1f64],
            1usize..4,
        )
            .prop_map(move |(v, w, init, seed, max_iter, tol, threads)| Case {
                x: Array2::from_shape_vec((n, d), v).unwrap(),
                w,
                k,
                init,
                seed,
                max_iter,
                tol,
                threads,
            })
    })
}

proptest! {
    // No regression file: a failure prints its minimal case, which then
    // becomes a named test above (as subnormal weights did).
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn fit_is_valid_or_a_clean_error(c in case()) {
        let (n, d) = c.x.dim();
        let init = match c.init {
            0 => Init::KMeansPlusPlus { n_local_trials: None },
            1 => Init::Random,
            _ => Init::Centers(Array2::from_shape_fn((c.k, d), |(j, f)| j as f64 - f as f64)),
        };
        let params = KMeansParams::new(c.k)
            .init(init)
            .seed(c.seed)
            .max_iter(c.max_iter)
            .tol(c.tol)
            .n_threads(c.threads)
            .n_init(2);
        let w = c.w.as_deref();
        let out = fit(Data::Dense(c.x.view()), w.map(ArrayView1::from), &params, &mut ());
        let finite = c.x.iter().all(|v| v.is_finite());
        let positive = w.map_or(n, |w| w.iter().filter(|&&v| v > 0.0).count());
        let must_work = c.k >= 1 && n >= c.k && d >= 1 && finite && positive >= 1
            && (c.init != 1 || positive >= c.k);
        match out {
            Ok(r) => {
                prop_assert!(must_work, "succeeded on invalid input");
                check_result(c.x.view(), w, &r, c.k);
                prop_assert!(r.n_iter <= c.max_iter);
                // The same call again, with another thread count: same bits.
                let again = fit(
                    Data::Dense(c.x.view()),
                    w.map(ArrayView1::from),
                    &params.clone().n_threads(1 + c.threads % 3),
                    &mut (),
                ).unwrap();
                prop_assert_eq!(fingerprint(&r), fingerprint(&again));
            }
            Err(e) => {
                prop_assert!(!must_work, "valid input failed: {e:?}");
                if c.k == 0 {
                    prop_assert_eq!(e, KMeansError::NoClusters(0));
                } else if n == 0 {
                    prop_assert_eq!(e, KMeansError::NoSamples);
                } else if n < c.k {
                    let too_few = KMeansError::TooFewSamples { n_samples: n, n_clusters: c.k };
                    prop_assert_eq!(e, too_few);
                } else if positive == 0 {
                    prop_assert_eq!(e, KMeansError::ZeroWeight);
                } else if !finite {
                    let ok = matches!(e, KMeansError::NotFinite { .. } | KMeansError::TooFewWeighted { .. });
                    prop_assert!(ok, "{:?}", e);
                } else {
                    let ok = matches!(e, KMeansError::TooFewWeighted { .. });
                    prop_assert!(ok, "{:?}", e);
                }
            }
        }
    }

    #[test]
    fn predict_labels_are_the_nearest_centres(
        n in 1usize..40,
        d in 1usize..6,
        k in 1usize..6,
        seed in any::<u64>(),
        threads in 1usize..4,
    ) {
        let mut rng = Rng::new(seed);
        let x = Array2::from_shape_fn((n, d), |_| rng.next_f64() * 10.0 - 5.0);
        let c = Array2::from_shape_fn((k, d), |_| rng.next_f64() * 10.0 - 5.0);
        let (labels, inertia) = predict(Data::Dense(x.view()), None, c.view(), threads).unwrap();
        let dist = transform(Data::Dense(x.view()), c.view(), threads).unwrap();
        let mut total = 0.0;
        for i in 0..n {
            let sq: Vec<f64> = (0..k)
                .map(|j| x.row(i).iter().zip(c.row(j)).map(|(a, b)| (a - b) * (a - b)).sum())
                .collect();
            let best = sq.iter().cloned().fold(f64::INFINITY, f64::min);
            let l = labels[i] as usize;
            prop_assert!(sq[l] <= best * (1.0 + 1e-12) + 1e-300);
            total += sq[l];
            for j in 0..k {
                prop_assert!((dist[[i, j]] - sq[j].sqrt()).abs() <= 1e-12 * sq[j].sqrt().max(1.0));
            }
        }
        prop_assert!((inertia - total).abs() <= 1e-10 * total.max(1.0));
    }
}

/// The variance that scales `tol`, summed per column in row order within
/// each block of the fixed grid and block by block: the reference, written
/// out plainly.
fn mean_variance_reference(x: &Array2<f64>) -> f64 {
    let (n, d) = x.dim();
    let br = ferrokmeans_core::par::block_rows(n);
    let column_sums = |f: &dyn Fn(usize, usize) -> f64| -> Vec<f64> {
        let mut total = vec![0f64; d];
        for b in 0..n.div_ceil(br) {
            let mut part = vec![0f64; d];
            for i in b * br..((b + 1) * br).min(n) {
                for (j, p) in part.iter_mut().enumerate() {
                    *p += f(i, j);
                }
            }
            for (t, p) in total.iter_mut().zip(&part) {
                *t += *p;
            }
        }
        total
    };
    let mean: Vec<f64> = column_sums(&|i, j| x[[i, j]])
        .iter()
        .map(|s| s / n as f64)
        .collect();
    let sq = column_sums(&|i, j| (x[[i, j]] - mean[j]) * (x[[i, j]] - mean[j]));
    sq.iter().map(|s| s / n as f64).sum::<f64>() / d as f64
}

#[test]
fn mean_variance_is_the_same_sum_for_every_layout_and_thread_count() {
    // Row counts around the four-row groups and the block grid.
    for (n, d) in [
        (1, 3),
        (3, 5),
        (4, 2),
        (7, 9),
        (1797, 64),
        (5000, 3),
        (20_001, 17),
    ] {
        let x = uniform(n, d, n as u64) * 1e3 - 250.0;
        let want = mean_variance_reference(&x);
        let fortran = {
            let mut f = Array2::<f64>::zeros((n, d).f());
            f.assign(&x);
            f
        };
        let wide = {
            let mut w = Array2::<f64>::zeros((n, 2 * d));
            w.slice_mut(s![.., ..d]).assign(&x);
            w
        };
        for threads in [1, 2, 3] {
            for (name, view) in [
                ("c", x.view()),
                ("fortran", fortran.view()),
                ("strided rows", wide.slice(s![.., ..d])),
            ] {
                let got = mean_variance(&Data::Dense(view), threads).unwrap();
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "{name} n={n} d={d} t={threads}"
                );
            }
        }
    }
}
