//! Fuzzing the public functions with extreme values (issue #4, point 9).
//!
//! `vq`, `kmeans_refine`, `kmeans2_iterate`, `kmeans_plusplus`, `predict`,
//! `transform` and `fit`, in `f32` and `f64`, on dense (C or Fortran order)
//! and CSR data, with values that are ordinary, duplicated, NaN, infinite,
//! huge (squares or their sums overflow), tiny or denormal (squares
//! underflow), with awkward weights (zero, denormal, huge, negative, NaN, the
//! wrong length) and cluster counts from 0 to more than the rows.
//!
//! Each call must return `Err`, or `Ok` with output that checks out against
//! a brute-force recomputation in `f64`: labels in range and nearest, finite
//! centres and distances, an inertia or distortion that recomputes. A panic
//! fails the case (proptest catches it), so "never panic" is checked too.
//! The invariants of ordinary inputs (thread counts, f32 vs f64) live in
//! `invariants.rs`.

use ferrokmeans_core::{
    fit, kmeans2_iterate, kmeans_plusplus, kmeans_refine, predict, transform, vq, CsrView, Data,
    Float, Init, KMeansParams, Missing,
};
use ndarray::{Array1, Array2, ArrayView1, ShapeBuilder};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

// ------------------------------------------------------------- values

/// One value: mostly ordinary, often duplicated, sometimes extreme.
fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -100.0..100.0f64,
        3 => prop::sample::select(vec![0.0, 1.0, -2.5, 7.0]),
        1 => prop::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        // Squares or their sums overflow f32 or f64; 1e300 is inf in f32.
        2 => prop::sample::select(vec![1e19, -3e19, 3e38, 1e153, -5e153, 1e300, -1.7e308]),
        // Squares underflow: subnormal in f32 or f64, or the smallest of all.
        2 => prop::sample::select(vec![1e-20, 1e-40, 1e-45, 1e-160, 1e-310, 5e-324]),
    ]
}

/// Ordinary data at one extreme scale: each squared distance fits but
/// their sum may not, or every square underflows.
fn scale() -> impl Strategy<Value = f64> {
    prop::sample::select(vec![
        1.0, 1.0, 1.0, 1e-300, 1e-160, 1e-20, 1e17, 3e151, 1e153,
    ])
}

fn weight() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => 0.0..10.0f64,
        2 => prop::sample::select(vec![0.0, 1e-310, 1e300, -1.0, f64::NAN, f64::INFINITY]),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Layout {
    C,
    Fortran,
    Csr,
}

/// A whole problem: data, weights, a code book or initial centres, k.
#[derive(Debug, Clone)]
struct Case {
    x: Array2<f64>,
    layout: Layout,
    w: Option<Vec<f64>>,
    book: Array2<f64>,
    k: usize,
    threads: usize,
    seed: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (0usize..20, 0usize..4, 0usize..7).prop_flat_map(|(n, d, k)| {
        (
            prop::collection::vec(value(), n * d),
            scale(),
            prop::sample::select(vec![Layout::C, Layout::Fortran, Layout::Csr]),
            prop::option::of(prop_oneof![
                9 => prop::collection::vec(weight(), n),
                1 => prop::collection::vec(weight(), 0..n + 2),
            ]),
            // The book: rows of the data (the usual case) or drawn values.
            prop::bool::ANY,
            prop::collection::vec(value(), k * d),
            1usize..4,
            any::<u64>(),
        )
            .prop_map(move |(v, s, layout, w, from_data, book, threads, seed)| {
                let x = Array2::from_shape_vec((n, d), v).unwrap().mapv(|v| v * s);
                let book = if from_data && n > 0 {
                    Array2::from_shape_fn((k, d), |(j, f)| x[[j % n, f]])
                } else {
                    Array2::from_shape_vec((k, d), book).unwrap()
                };
                Case {
                    x,
                    layout,
                    w,
                    book,
                    k,
                    threads,
                    seed,
                }
            })
    })
}

// ---------------------------------------------------- typed inputs

/// The case in the float type under test, with the storage the layout asks
/// for. Casting to f32 turns values beyond its range into infinities, and
/// that is a case too.
struct Typed<F: Float> {
    dense: Array2<F>,
    fortran: Array2<F>,
    csr: (Vec<F>, Vec<i64>, Vec<i64>),
    layout: Layout,
    w: Option<Vec<F>>,
    book: Array2<F>,
}

impl<F: Float> Typed<F> {
    fn new(c: &Case) -> Self {
        let dense = c.x.mapv(F::from_f64);
        let mut fortran = Array2::<F>::zeros(dense.dim().f());
        fortran.assign(&dense);
        let (mut data, mut indices, mut indptr) = (Vec::new(), Vec::new(), vec![0i64]);
        for row in dense.rows() {
            for (j, v) in row.iter().enumerate() {
                if *v != F::zero() {
                    data.push(*v);
                    indices.push(j as i64);
                }
            }
            indptr.push(data.len() as i64);
        }
        Typed {
            dense,
            fortran,
            csr: (data, indices, indptr),
            layout: c.layout,
            w: c.w
                .as_ref()
                .map(|w| w.iter().map(|v| F::from_f64(*v)).collect()),
            book: c.book.mapv(F::from_f64),
        }
    }

    fn data(&self) -> Data<'_, F> {
        match self.layout {
            Layout::C => Data::Dense(self.dense.view()),
            Layout::Fortran => Data::Dense(self.fortran.view()),
            Layout::Csr => {
                let (d, i, p) = &self.csr;
                Data::Csr(CsrView::new(d, i, p, self.dense.ncols()).expect("well-formed CSR"))
            }
        }
    }

    fn weights(&self) -> Option<ArrayView1<'_, F>> {
        self.w.as_deref().map(ArrayView1::from)
    }

    /// The data and weights as the f64 values the core actually saw.
    fn x64(&self) -> Array2<f64> {
        self.dense.mapv(|v| v.as_f64())
    }

    fn w64(&self) -> Option<Vec<f64>> {
        self.w
            .as_ref()
            .map(|w| w.iter().map(|v| v.as_f64()).collect())
    }
}

// ------------------------------------------------------- brute force

/// Relative tolerance of a recomputation in f64 of what the core computed
/// in `F`, and the absolute slack per feature for squares that underflow.
fn tolerances<F: Float>() -> (f64, f64) {
    if std::mem::size_of::<F>() == 4 {
        (1e-4, 1e-37)
    } else {
        (1e-9, 1e-300)
    }
}

fn sq(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn sq_norm(a: ArrayView1<'_, f64>) -> f64 {
    a.iter().map(|v| v * v).sum()
}

/// Rounding slack of the squared distance `d2` of row `x` to centre `c` as
/// the core computes it: relative to the distance for dense rows (it sums
/// `(x - c)²`), relative to `‖x‖² + ‖c‖²` for sparse rows (it expands, as
/// scikit-learn does); plus what underflowing squares may lose.
fn pair_slack<F: Float>(
    sparse: bool,
    x: ArrayView1<'_, f64>,
    c: ArrayView1<'_, f64>,
    d2: f64,
) -> f64 {
    let (rtol, atol) = tolerances::<F>();
    let expansion = if sparse { sq_norm(x) + sq_norm(c) } else { 0.0 };
    rtol * (d2 + 4.0 * expansion) + atol * x.len() as f64
}

/// Checks that `labels` are in range and the nearest of `centers` (up to
/// rounding). Returns, for each row, the squared distance to its labelled
/// centre and the rounding slack of that distance.
fn check_nearest<F: Float>(
    t: &Typed<F>,
    labels: &[i32],
    centers: &Array2<f64>,
) -> Result<Vec<(f64, f64)>, TestCaseError> {
    let x = t.x64();
    let (n, k) = (x.nrows(), centers.nrows());
    let sparse = matches!(t.layout, Layout::Csr);
    prop_assert_eq!(labels.len(), n);
    prop_assert!(centers.iter().all(|v| v.is_finite()), "non-finite centres");
    let mut own = Vec::with_capacity(n);
    for i in 0..n {
        let l = labels[i];
        prop_assert!((0..k as i32).contains(&l), "label {} out of [0, {})", l, k);
        let d2: Vec<f64> = (0..k).map(|j| sq(x.row(i), centers.row(j))).collect();
        let (best_j, best) =
            d2.iter()
                .copied()
                .enumerate()
                .fold(
                    (0, f64::INFINITY),
                    |b, (j, v)| if v < b.1 { (j, v) } else { b },
                );
        prop_assert!(
            best.is_finite(),
            "row {}: every distance overflows, yet Ok",
            i
        );
        let mine = d2[l as usize];
        prop_assert!(
            mine.is_finite(),
            "row {}: labelled with a centre out of reach",
            i
        );
        let mine_slack = pair_slack::<F>(sparse, x.row(i), centers.row(l as usize), mine);
        let best_slack = pair_slack::<F>(sparse, x.row(i), centers.row(best_j), best);
        prop_assert!(
            mine <= best + mine_slack + best_slack,
            "row {}: label {} at {}, nearest at {}",
            i,
            l,
            mine,
            best
        );
        own.push((mine, mine_slack));
    }
    Ok(own)
}

/// The weighted sum of the rows' squared distances and of their slacks
/// (rows of zero weight count for nothing, even where a slack is huge).
fn weighted_total(own: &[(f64, f64)], w: Option<&[f64]>) -> (f64, f64) {
    own.iter()
        .enumerate()
        .map(|(i, (d, s))| (w.map_or(1.0, |w| w[i]), d, s))
        .filter(|(wi, _, _)| *wi > 0.0)
        .fold((0.0, 1e-300), |(t, sl), (wi, d, s)| {
            (t + wi * d, sl + wi * s)
        })
}

/// `reported` is finite and within `slack` (and rounding) of `recomputed`.
fn check_total<F: Float>(
    what: &str,
    reported: f64,
    recomputed: f64,
    slack: f64,
) -> Result<(), TestCaseError> {
    prop_assert!(
        reported.is_finite(),
        "{} = {} presented as a result",
        what,
        reported
    );
    prop_assert!(
        recomputed.is_finite(),
        "{}: the true value overflows f64, yet Ok({})",
        what,
        reported
    );
    let (rtol, _) = tolerances::<F>();
    prop_assert!(
        (reported - recomputed).abs() <= rtol * recomputed + slack,
        "{} = {} but recomputes as {} (slack {})",
        what,
        reported,
        recomputed,
        slack
    );
    Ok(())
}

fn book64<F: Float>(b: &Array2<F>) -> Array2<f64> {
    b.mapv(|v| v.as_f64())
}

// ------------------------------------------------------ the checks

fn check_vq<F: Float>(c: &Case) -> Result<(), TestCaseError> {
    let t = Typed::<F>::new(c);
    let Ok((labels, dists)) = vq(t.data(), t.book.view(), c.threads) else {
        return Ok(());
    };
    let centers = book64(&t.book);
    let own = check_nearest(&t, labels.as_slice().unwrap(), &centers)?;
    for (i, (d, (o, slack))) in dists.iter().zip(&own).enumerate() {
        let d = d.as_f64();
        prop_assert!(d.is_finite() && d >= 0.0, "row {}: distance {}", i, d);
        prop_assert!(
            (d * d - o).abs() <= *slack,
            "row {}: distance {} but {} recomputed",
            i,
            d,
            o.sqrt()
        );
    }
    Ok(())
}

fn check_predict<F: Float>(c: &Case) -> Result<(), TestCaseError> {
    let t = Typed::<F>::new(c);
    let Ok((labels, inertia)) = predict(t.data(), t.weights(), t.book.view(), c.threads) else {
        return Ok(());
    };
    let centers = book64(&t.book);
    let own = check_nearest(&t, labels.as_slice().unwrap(), &centers)?;
    let (total, slack) = weighted_total(&own, t.w64().as_deref());
    check_total::<F>("inertia", inertia, total, slack)
}

fn check_transform<F: Float>(c: &Case) -> Result<(), TestCaseError> {
    let t = Typed::<F>::new(c);
    let Ok(dist) = transform(t.data(), t.book.view(), c.threads) else {
        return Ok(());
    };
    let (x, centers) = (t.x64(), book64(&t.book));
    prop_assert_eq!(dist.dim(), (x.nrows(), centers.nrows()));
    let sparse = matches!(t.layout, Layout::Csr);
    for ((i, j), d) in dist.indexed_iter() {
        let d = d.as_f64();
        prop_assert!(d.is_finite() && d >= 0.0, "({}, {}): distance {}", i, j, d);
        let o = sq(x.row(i), centers.row(j));
        prop_assert!(
            o.is_finite(),
            "({}, {}): the distance overflows, yet Ok",
            i,
            j
        );
        let slack = pair_slack::<F>(sparse, x.row(i), centers.row(j), o);
        prop_assert!(
            (d * d - o).abs() <= slack,
            "({}, {}): distance {} but {} recomputed",
            i,
            j,
            d,
            o.sqrt()
        );
    }
    Ok(())
}

fn check_refine<F: Float>(c: &Case) -> Result<(), TestCaseError> {
    let t = Typed::<F>::new(c);
    let Ok((book, distortion)) = kmeans_refine(t.data(), t.book.view(), 1e-5, c.threads, &mut ())
    else {
        return Ok(());
    };
    prop_assert_eq!(book.dim(), t.book.dim());
    let centers = book64(&book);
    prop_assert!(
        centers.iter().all(|v| v.is_finite()),
        "non-finite code book"
    );
    // The distortion is the mean distance to the nearest code of the
    // returned book; |√a - √b| ≤ √|a - b| turns the slack of each squared
    // distance into one of the distance.
    let x = t.x64();
    let sparse = matches!(t.layout, Layout::Csr);
    let (mut mean, mut slack) = (0.0, 1e-150);
    for i in 0..x.nrows() {
        let (j, d2) = (0..centers.nrows())
            .map(|j| (j, sq(x.row(i), centers.row(j))))
            .fold(
                (0, f64::INFINITY),
                |b, (j, v)| if v < b.1 { (j, v) } else { b },
            );
        mean += d2.sqrt() / x.nrows() as f64;
        slack += pair_slack::<F>(sparse, x.row(i), centers.row(j), d2).sqrt() / x.nrows() as f64;
    }
    check_total::<F>("distortion", distortion, mean, slack)
}

fn check_kmeans2<F: Float>(c: &Case, raise: bool) -> Result<(), TestCaseError> {
    let t = Typed::<F>::new(c);
    let missing = if raise { Missing::Raise } else { Missing::Warn };
    let Ok((book, labels, empty)) =
        kmeans2_iterate(t.data(), t.book.view(), 3, missing, c.threads, &mut ())
    else {
        return Ok(());
    };
    prop_assert_eq!(book.dim(), t.book.dim());
    prop_assert!(book.iter().all(|v| v.is_finite()), "non-finite code book");
    prop_assert!(empty <= 3);
    prop_assert!(!raise || empty == 0);
    // The labels are those of the last assignment, made before the last
    // update of the book: in range, but not necessarily nearest to `book`.
    prop_assert_eq!(labels.len(), t.dense.nrows());
    let k = book.nrows() as i32;
    prop_assert!(
        labels.iter().all(|l| (0..k).contains(l)),
        "label out of range"
    );
    Ok(())
}

fn check_kmeans_plusplus<F: Float>(c: &Case) -> Result<(), TestCaseError> {
    let t = Typed::<F>::new(c);
    let Ok((centers, idx)) =
        kmeans_plusplus(t.data(), t.weights(), c.k, None, c.seed, c.threads, &mut ())
    else {
        return Ok(());
    };
    let n = t.dense.nrows() as i64;
    prop_assert_eq!(centers.dim(), (c.k, t.dense.ncols()));
    prop_assert_eq!(idx.len(), c.k);
    prop_assert!(centers.iter().all(|v| v.is_finite()), "non-finite centres");
    for (j, &i) in idx.iter().enumerate() {
        prop_assert!((0..n).contains(&i), "index {} out of range", i);
        let row = t.dense.row(i as usize);
        prop_assert!(
            centers.row(j).iter().zip(row).all(|(a, b)| a == b),
            "centre {} is not row {}",
            j,
            i
        );
        if let Some(w) = &t.w {
            prop_assert!(w[i as usize] > F::zero(), "row {} of zero weight chosen", i);
        }
    }
    Ok(())
}

fn check_fit<F: Float>(c: &Case, init: u8, tol: f64) -> Result<(), TestCaseError> {
    let t = Typed::<F>::new(c);
    let init = match init {
        0 => Init::KMeansPlusPlus {
            n_local_trials: None,
        },
        1 => Init::Random,
        _ => Init::Centers(t.book.clone()),
    };
    let params = KMeansParams::new(c.k)
        .init(init)
        .n_init(2)
        .max_iter(10)
        .tol(tol)
        .seed(c.seed)
        .n_threads(c.threads);
    let Ok(r) = fit(t.data(), t.weights(), &params, &mut ()) else {
        return Ok(());
    };
    let centers = book64(&r.centers);
    prop_assert_eq!(centers.dim(), (c.k, t.dense.ncols()));
    let own = check_nearest(&t, r.labels.as_slice().unwrap(), &centers)?;
    let (total, slack) = weighted_total(&own, t.w64().as_deref());
    check_total::<F>("inertia", r.inertia, total, slack)
}

// ---------------------------------------------------------- proptest

proptest! {
    // No regression file: a failure prints its minimal case, which then
    // becomes a named test (or a fix).
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn vq_is_valid_or_an_error(c in case()) {
        check_vq::<f64>(&c)?;
        check_vq::<f32>(&c)?;
    }

    #[test]
    fn predict_is_valid_or_an_error(c in case()) {
        check_predict::<f64>(&c)?;
        check_predict::<f32>(&c)?;
    }

    #[test]
    fn transform_is_valid_or_an_error(c in case()) {
        check_transform::<f64>(&c)?;
        check_transform::<f32>(&c)?;
    }

    #[test]
    fn kmeans_refine_is_valid_or_an_error(c in case()) {
        check_refine::<f64>(&c)?;
        check_refine::<f32>(&c)?;
    }

    #[test]
    fn kmeans2_iterate_is_valid_or_an_error(c in case(), raise in any::<bool>()) {
        check_kmeans2::<f64>(&c, raise)?;
        check_kmeans2::<f32>(&c, raise)?;
    }

    #[test]
    fn kmeans_plusplus_is_valid_or_an_error(c in case()) {
        check_kmeans_plusplus::<f64>(&c)?;
        check_kmeans_plusplus::<f32>(&c)?;
    }

    #[test]
    fn fit_is_valid_or_an_error(c in case(), init in 0u8..3, tol in prop::sample::select(vec![0.0, 1e-4])) {
        check_fit::<f64>(&c, init, tol)?;
        check_fit::<f32>(&c, init, tol)?;
    }
}

// ------------------------------------------ cases found by the fuzzer

/// Each squared distance fits in f64, their sum (the inertia) does not:
/// `fit` and `predict` returned `Ok` with an infinite inertia.
#[test]
fn an_inertia_that_overflows_is_an_error() {
    let x = Array2::from_shape_fn((40, 3), |(i, j)| {
        6e153 * (((i * 7 + j * 13) % 40) as f64 / 40.0)
    });
    let params = KMeansParams::new(2).seed(0).tol(0.0);
    if let Ok(r) = fit(Data::Dense(x.view()), None, &params, &mut ()) {
        assert!(r.inertia.is_finite(), "fit: inertia {}", r.inertia);
    }
    let c = Array2::<f64>::zeros((1, 3));
    if let Ok((_, inertia)) = predict(Data::Dense(x.view()), None, c.view(), 1) {
        assert!(inertia.is_finite(), "predict: inertia {inertia}");
    }
    // Found by the fuzzer: one finite squared distance times a huge weight.
    let (x, c, w) = ([[-4.96e17]], [[1e-20]], [1e300]);
    let (x, c) = (ndarray::arr2(&x), ndarray::arr2(&c));
    let w = ndarray::arr1(&w);
    if let Ok((_, inertia)) = predict(Data::Dense(x.view()), Some(w.view()), c.view(), 1) {
        assert!(inertia.is_finite(), "weighted predict: inertia {inertia}");
    }
}

/// weight × value overflows the cluster sums: an empty cluster relocated
/// onto the row of weight 1e300 got the centre inf.
#[test]
fn weighted_sums_that_overflow_are_an_error() {
    let mut x = Array2::<f64>::zeros((8, 1));
    x[[7, 0]] = 1e19;
    let mut w = Array1::<f64>::zeros(8);
    w[7] = 1e300;
    let params = KMeansParams::new(2).seed(0);
    if let Ok(r) = fit(Data::Dense(x.view()), Some(w.view()), &params, &mut ()) {
        assert!(
            r.centers.iter().all(|v| v.is_finite()),
            "centres {:?}",
            r.centers
        );
    }
}
