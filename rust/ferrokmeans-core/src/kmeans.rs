//! The public entry points: validated parameters, `fit` with restarts, and
//! the uses of fitted centres (`predict`, `transform`, `score`).

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};

use crate::assign::{all_distances, assign_pass, Centers};
use crate::data::Data;
use crate::error::{KMeansError, Result};
use crate::float::Float;
use crate::hamerly::hamerly;
use crate::init::{kmeans_plusplus as kpp, random_rows};
use crate::lloyd::lloyd;
use crate::monitor::{Event, Monitor};
use crate::par::{map_blocks, pool};
use crate::rng::Rng;
use crate::yinyang::yinyang;

/// How the initial centres are chosen.
#[derive(Debug, Clone, PartialEq)]
pub enum Init<F> {
    /// Greedy k-means++; `None` trials means `2 + ⌊ln k⌋`.
    KMeansPlusPlus { n_local_trials: Option<usize> },
    /// `k` distinct rows, drawn with probability ∝ sample weight.
    Random,
    /// These centres (`k × d`); every restart starts from them.
    Centers(Array2<F>),
}

/// Which exact algorithm runs the iterations. All give identical labels,
/// centres, inertia and iteration counts (see [`crate::hamerly`] and
/// [`crate::yinyang`]). `Elkan` (scikit-learn's name for its bound-based
/// option) runs Hamerly's algorithm, which keeps two bounds per row instead
/// of `k + 1`. `Yinyang` keeps one bound per group of about ten centres.
/// `Auto` picks the fastest for the shape. Sparse data always runs Lloyd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Lloyd,
    Elkan,
    Hamerly,
    Yinyang,
    Auto,
}

/// The algorithm that actually runs (see [`Algorithm::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runner {
    Lloyd,
    Hamerly,
    Yinyang,
}

impl Algorithm {
    /// Which algorithm runs for `k` centres of `d` features on dense data.
    /// `Auto` uses the bound-based algorithms where they measured faster
    /// (benchmarks/converge.py): Yinyang from 16 features and 32 centres on,
    /// except where Lloyd's passes are screened (see below).
    /// With few features or centres the SIMD Lloyd kernel costs less per row
    /// than the bookkeeping of the bounds. From 32 centres Yinyang's group
    /// bounds settle more rows than Hamerly's single one: over 24 shapes of
    /// blobs, 16 to 256 features and 32 to 128 centres
    /// (benchmarks/auto_choice.py), Hamerly's time over Yinyang's was 0.92
    /// to 1.24, median 1.03, below 1 in 7; and on W5 (100 centres) Yinyang
    /// was 8% faster.
    pub fn resolve(self, d: usize, k: usize) -> Runner {
        match self {
            Algorithm::Lloyd => Runner::Lloyd,
            Algorithm::Elkan | Algorithm::Hamerly => Runner::Hamerly,
            // Yinyang's group ranking uses the blocked kernel's arithmetic,
            // which the kernel for 8 features or fewer does not share.
            Algorithm::Yinyang if d <= 8 => Runner::Hamerly,
            Algorithm::Yinyang => Runner::Yinyang,
            Algorithm::Auto if d < 16 || k < 32 => Runner::Lloyd,
            // Where Lloyd's passes are screened by 8-bit dot products
            // (AVX-512 VNNI) and the centres are many (Yinyang's groups,
            // at most d / 4, are then large and prune little), Lloyd costs
            // less (benchmarks/converge.py, f32, one thread): W6 (100,000 ×
            // 64, k = 1,024) 1.28 s against Yinyang's 1.57 s; but W4 (k =
            // 256) 6.47 s against 5.84 s and W5 (k = 100) 1.09 s against
            // 0.81 s.
            Algorithm::Auto if k >= 512 && crate::kernel::screened_shape(d, k) => Runner::Lloyd,
            Algorithm::Auto => Runner::Yinyang,
        }
    }
}

/// Parameters of a fit. Build with [`KMeansParams::new`] and the setters;
/// [`fit`] validates them against the data before any work starts.
#[derive(Debug, Clone, PartialEq)]
pub struct KMeansParams<F> {
    pub n_clusters: usize,
    pub init: Init<F>,
    pub n_init: usize,
    pub max_iter: usize,
    /// Relative tolerance: the fit stops when the total squared centre shift
    /// is at most `tol` × the mean per-feature variance of the data.
    pub tol: f64,
    pub seed: u64,
    /// 0 means all cores.
    pub n_threads: usize,
    pub algorithm: Algorithm,
}

impl<F: Float> KMeansParams<F> {
    /// scikit-learn's defaults: k-means++, 1 restart, 300 iterations, tol 1e-4.
    pub fn new(n_clusters: usize) -> Self {
        KMeansParams {
            n_clusters,
            init: Init::KMeansPlusPlus {
                n_local_trials: None,
            },
            n_init: 1,
            max_iter: 300,
            tol: 1e-4,
            seed: 0,
            n_threads: 0,
            algorithm: Algorithm::Auto,
        }
    }
    pub fn init(mut self, init: Init<F>) -> Self {
        self.init = init;
        self
    }
    pub fn n_init(mut self, n_init: usize) -> Self {
        self.n_init = n_init;
        self
    }
    pub fn max_iter(mut self, max_iter: usize) -> Self {
        self.max_iter = max_iter;
        self
    }
    pub fn tol(mut self, tol: f64) -> Self {
        self.tol = tol;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    pub fn n_threads(mut self, n_threads: usize) -> Self {
        self.n_threads = n_threads;
        self
    }
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Checks the parameters against data of `n` rows and `d` features.
    pub fn validate(&self, n: usize, d: usize) -> Result<()> {
        if self.n_clusters == 0 {
            return Err(KMeansError::NoClusters(0));
        }
        if n == 0 {
            return Err(KMeansError::NoSamples);
        }
        if d == 0 {
            return Err(KMeansError::NoFeatures);
        }
        if n < self.n_clusters {
            return Err(KMeansError::TooFewSamples {
                n_samples: n,
                n_clusters: self.n_clusters,
            });
        }
        if self.max_iter == 0 {
            return Err(KMeansError::MaxIter(0));
        }
        if self.n_init == 0 {
            return Err(KMeansError::NInit(0));
        }
        if !(self.tol >= 0.0 && self.tol.is_finite()) {
            return Err(KMeansError::Tol(self.tol));
        }
        if let Init::Centers(c) = &self.init {
            check_centers(c.view(), self.n_clusters, d)?;
        }
        Ok(())
    }
}

fn check_centers<F: Float>(c: ArrayView2<'_, F>, k: usize, d: usize) -> Result<()> {
    if c.nrows() != k || c.ncols() != d {
        return Err(KMeansError::InitShape {
            rows: c.nrows(),
            cols: c.ncols(),
            n_clusters: k,
            n_features: d,
        });
    }
    if c.iter().any(|v| !v.is_finite()) {
        return Err(KMeansError::InitNotFinite);
    }
    Ok(())
}

/// Checks sample weights: one per row, finite, non-negative, positive sum.
pub fn check_weights<F: Float>(w: Option<ArrayView1<'_, F>>, n: usize) -> Result<()> {
    let Some(w) = w else { return Ok(()) };
    if w.len() != n {
        return Err(KMeansError::WeightLength {
            expected: n,
            got: w.len(),
        });
    }
    if let Some(bad) = w.iter().find(|v| !(v.is_finite() && **v >= F::zero())) {
        return Err(KMeansError::BadWeight(bad.as_f64()));
    }
    if !w.iter().any(|v| *v > F::zero()) {
        return Err(KMeansError::ZeroWeight);
    }
    Ok(())
}

/// The result of a fit.
#[derive(Debug, Clone)]
pub struct KMeansResult<F> {
    /// `k × d` centres.
    pub centers: Array2<F>,
    /// Index of the nearest centre of each row.
    pub labels: Array1<i32>,
    /// Weighted sum of squared distances of the rows to their centres.
    pub inertia: f64,
    /// Lloyd iterations of the winning restart.
    pub n_iter: usize,
    /// Whether the winning restart converged before `max_iter`.
    pub converged: bool,
}

/// [`column_moments_any`] compiled for the best instruction set available
/// (the same additions in the same order: the columns in the lanes).
fn column_moments<F: Float>(
    x: &Data<'_, F>,
    rows: std::ops::Range<usize>,
    center: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::kernel::{simd_level, SimdLevel};
        #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2")]
        fn avx512<F: Float>(
            x: &Data<'_, F>,
            rows: std::ops::Range<usize>,
            center: Option<&[f64]>,
        ) -> (Vec<f64>, Vec<f64>) {
            column_moments_any(x, rows, center)
        }
        #[target_feature(enable = "avx2")]
        fn avx2<F: Float>(
            x: &Data<'_, F>,
            rows: std::ops::Range<usize>,
            center: Option<&[f64]>,
        ) -> (Vec<f64>, Vec<f64>) {
            column_moments_any(x, rows, center)
        }
        match simd_level() {
            // SAFETY: simd_level() only reports features this CPU has.
            SimdLevel::Avx512 => return unsafe { avx512(x, rows, center) },
            // SAFETY: as above.
            SimdLevel::Avx2 => return unsafe { avx2(x, rows, center) },
            SimdLevel::Portable => {}
        }
    }
    column_moments_any(x, rows, center)
}

/// Column sums of `x`, or with `center` the sums of squared deviations
/// from it; for CSR input also the count of stored entries per column.
#[inline(always)]
fn column_moments_any<F: Float>(
    x: &Data<'_, F>,
    rows: std::ops::Range<usize>,
    center: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let d = x.n_features();
    let (mut s, mut nnz) = (vec![0f64; d], vec![0f64; d]);
    let dev = |j: usize, v: F| {
        let v = v.as_f64();
        center.map_or(v, |m| (v - m[j]) * (v - m[j]))
    };
    match x {
        Data::Dense(v) if v.is_standard_layout() && d > 0 => {
            // Four rows at a time, the sums kept in registers across them:
            // per column the same additions in the same order.
            let all = v.as_slice().expect("standard layout");
            let block = &all[rows.start * d..rows.end * d];
            let quads = block.chunks_exact(4 * d);
            let rest = quads.remainder();
            for q in quads {
                let (r0, q) = q.split_at(d);
                let (r1, q) = q.split_at(d);
                let (r2, r3) = q.split_at(d);
                // Zipped, not indexed: indexing the four rows kept bounds
                // checks in the loop, and it did not vectorise.
                let cols = s.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3);
                match center {
                    None => {
                        for ((((a, x0), x1), x2), x3) in cols {
                            *a = (((*a + x0.as_f64()) + x1.as_f64()) + x2.as_f64()) + x3.as_f64();
                        }
                    }
                    Some(m) => {
                        for (((((a, x0), x1), x2), x3), m) in cols.zip(m) {
                            let sq = |x: &F| (x.as_f64() - m) * (x.as_f64() - m);
                            *a = (((*a + sq(x0)) + sq(x1)) + sq(x2)) + sq(x3);
                        }
                    }
                }
            }
            for r in rest.chunks_exact(d) {
                for (j, a) in s.iter_mut().enumerate() {
                    *a += dev(j, r[j]);
                }
            }
        }
        Data::Dense(v) => {
            for i in rows {
                let row = v.row(i);
                // Contiguous rows without the closure and bounds checks, so
                // that the columns vectorise (the same additions, in the
                // same order).
                match (row.as_slice(), center) {
                    (Some(r), None) => {
                        for (a, x) in s.iter_mut().zip(r) {
                            *a += x.as_f64();
                        }
                    }
                    (Some(r), Some(m)) => {
                        for ((a, x), m) in s.iter_mut().zip(r).zip(m) {
                            let t = x.as_f64() - m;
                            *a += t * t;
                        }
                    }
                    (None, _) => {
                        for (j, val) in row.iter().enumerate() {
                            s[j] += dev(j, *val);
                        }
                    }
                }
            }
        }
        Data::Csr(c) => {
            for i in rows {
                let (vals, idx) = c.row(i);
                for (val, &j) in vals.iter().zip(idx) {
                    s[j as usize] += dev(j as usize, *val);
                    nnz[j as usize] += 1.0;
                }
            }
        }
    }
    (s, nnz)
}

/// Mean over features of the (unweighted, population) variance of `x`, as
/// scikit-learn uses to scale `tol`.
pub fn mean_variance<F: Float>(x: &Data<'_, F>, n_threads: usize) -> Result<f64> {
    let pool = pool(n_threads)?;
    let (n, d) = (x.n_rows(), x.n_features());
    let moments = |center: Option<&[f64]>| {
        let (mut s, mut nnz) = (vec![0f64; d], vec![0f64; d]);
        map_blocks(
            &pool,
            n,
            (&mut [] as &mut [u8], 0),
            (&mut [] as &mut [u8], 0),
            |_, rows, _, _| column_moments(x, rows, center),
            |(bs, bn)| {
                s.iter_mut().zip(&bs).for_each(|(a, b)| *a += *b);
                nnz.iter_mut().zip(&bn).for_each(|(a, b)| *a += *b);
            },
        );
        (s, nnz)
    };
    let mean: Vec<f64> = moments(None).0.iter().map(|s| s / n as f64).collect();
    let (mut sq, nnz) = moments(Some(&mean));
    if let Data::Csr(_) = x {
        // Every implicit zero deviates from the mean by the mean itself.
        for j in 0..d {
            sq[j] += (n as f64 - nnz[j]) * mean[j] * mean[j];
        }
    }
    Ok(sq.iter().map(|s| s / n as f64).sum::<f64>() / d as f64)
}

/// Clusters `x` into `params.n_clusters` groups: `n_init` restarts (their
/// seeds drawn in sequence from one stream seeded with `params.seed`), each
/// an initialisation followed by Lloyd iterations; the lowest inertia wins
/// (the first one on ties).
pub fn fit<F: Float>(
    x: Data<'_, F>,
    weights: Option<ArrayView1<'_, F>>,
    params: &KMeansParams<F>,
    monitor: &mut dyn Monitor,
) -> Result<KMeansResult<F>> {
    let (n, d) = (x.n_rows(), x.n_features());
    params.validate(n, d)?;
    check_weights(weights, n)?;
    let w_owned = weights.map(|w| w.to_vec());
    let w = w_owned.as_deref();
    let pool = pool(params.n_threads)?;
    let tol = if params.tol == 0.0 {
        0.0
    } else {
        params.tol * mean_variance(&x, params.n_threads)?
    };
    if !tol.is_finite() {
        return Err(crate::assign::not_finite::<F>());
    }
    let k = params.n_clusters;
    let mut seeds = Rng::new(params.seed);
    let mut best: Option<crate::lloyd::Run<F>> = None;
    for run in 0..params.n_init {
        let mut rng = Rng::new(seeds.next_u64());
        let init = match &params.init {
            Init::KMeansPlusPlus { n_local_trials } => {
                kpp(&pool, &x, w, k, *n_local_trials, &mut rng, monitor)?.0
            }
            Init::Random => random_rows(&x, w, k, &mut rng)?.0,
            Init::Centers(c) => Centers::new(c.iter().copied().collect(), k, d),
        };
        monitor.event(&Event::InitDone { run })?;
        let r = match (&x, params.algorithm.resolve(d, k)) {
            (Data::Dense(v), Runner::Hamerly) => {
                hamerly(&pool, v, w, init, params.max_iter, tol, monitor)?
            }
            (Data::Dense(v), Runner::Yinyang) => {
                yinyang(&pool, v, w, init, params.max_iter, tol, monitor)?
            }
            _ => lloyd(&pool, &x, w, init, params.max_iter, tol, monitor)?,
        };
        if best.as_ref().is_none_or(|b| r.inertia < b.inertia) {
            best = Some(r);
        }
    }
    let b = best.expect("n_init >= 1 was validated");
    Ok(KMeansResult {
        centers: Array2::from_shape_vec((k, d), b.centers.data).expect("k × d centres"),
        labels: Array1::from_vec(b.labels),
        inertia: b.inertia,
        n_iter: b.n_iter,
        converged: b.converged,
    })
}

pub(crate) fn to_centers<F: Float>(
    x: &Data<'_, F>,
    centers: ArrayView2<'_, F>,
) -> Result<Centers<F>> {
    if x.n_rows() == 0 {
        return Err(KMeansError::NoSamples);
    }
    if x.n_features() == 0 {
        return Err(KMeansError::NoFeatures);
    }
    if centers.nrows() == 0 {
        return Err(KMeansError::NoClusters(0));
    }
    if centers.ncols() != x.n_features() {
        return Err(KMeansError::CodebookFeatures {
            expected: x.n_features(),
            got: centers.ncols(),
        });
    }
    if centers.iter().any(|v| !v.is_finite()) {
        return Err(KMeansError::InitNotFinite);
    }
    Ok(Centers::new(
        centers.iter().copied().collect(),
        centers.nrows(),
        centers.ncols(),
    ))
}

/// Index of the nearest centre of every row, and the weighted inertia.
pub fn predict<F: Float>(
    x: Data<'_, F>,
    weights: Option<ArrayView1<'_, F>>,
    centers: ArrayView2<'_, F>,
    n_threads: usize,
) -> Result<(Array1<i32>, f64)> {
    let c = to_centers(&x, centers)?;
    check_weights(weights, x.n_rows())?;
    let w_owned = weights.map(|w| w.to_vec());
    let pool = pool(n_threads)?;
    let mut labels = vec![-1i32; x.n_rows()];
    let p = assign_pass(&pool, &x, w_owned.as_deref(), &c, &mut labels, false, true)?;
    Ok((Array1::from_vec(labels), p.inertia))
}

/// Euclidean distance of every row to every centre (`n × k`).
pub fn transform<F: Float>(
    x: Data<'_, F>,
    centers: ArrayView2<'_, F>,
    n_threads: usize,
) -> Result<Array2<F>> {
    let c = to_centers(&x, centers)?;
    let pool = pool(n_threads)?;
    let mut out = vec![F::zero(); x.n_rows() * c.k];
    all_distances(&pool, &x, &c, &mut out)?;
    Ok(Array2::from_shape_vec((x.n_rows(), c.k), out).expect("n × k distances"))
}

/// Greedy k-means++ seeding alone (scikit-learn's `kmeans_plusplus`): the
/// initial centres and the indices of the rows they were taken from.
pub fn kmeans_plusplus<F: Float>(
    x: Data<'_, F>,
    weights: Option<ArrayView1<'_, F>>,
    n_clusters: usize,
    n_local_trials: Option<usize>,
    seed: u64,
    n_threads: usize,
    monitor: &mut dyn Monitor,
) -> Result<(Array2<F>, Array1<i64>)> {
    let (n, d) = (x.n_rows(), x.n_features());
    KMeansParams::<F>::new(n_clusters).validate(n, d)?;
    check_weights(weights, n)?;
    let w = weights.map(|w| w.to_vec());
    let pool = pool(n_threads)?;
    let (c, idx) = kpp(
        &pool,
        &x,
        w.as_deref(),
        n_clusters,
        n_local_trials,
        &mut Rng::new(seed),
        monitor,
    )?;
    Ok((
        Array2::from_shape_vec((c.k, d), c.data).expect("k × d centres"),
        idx.into_iter().map(|i| i as i64).collect(),
    ))
}
