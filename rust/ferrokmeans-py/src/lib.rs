//! `ferrokmeans._core`: the thin binding between Python and
//! `ferrokmeans-core`. Each function extracts arrays (f32 or f64; the Python
//! layer converts anything else first), runs the core with the GIL released,
//! maps the error once, and hands back numpy arrays.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ferrokmeans_core as core;
use ferrokmeans_core::{CsrView, Data, Event, Float, KMeansError};
use ndarray::ArrayView1;
use numpy::{Element, IntoPyArray, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

create_exception!(
    ferrokmeans,
    ClusterError,
    PyException,
    "Raised by kmeans2(missing='raise') when a cluster becomes empty."
);

/// Input matrix as extracted from Python: a 2-D ndarray, or a CSR matrix
/// passed as the tuple `(data, indices, indptr, n_features)` with int64
/// indices.
enum Input<'py, F: Element> {
    Dense(PyReadonlyArray2<'py, F>),
    Csr(
        PyReadonlyArray1<'py, F>,
        PyReadonlyArray1<'py, i64>,
        PyReadonlyArray1<'py, i64>,
        usize,
    ),
}

impl<'py, F: Element + Float> Input<'py, F> {
    fn extract(x: &Bound<'py, PyAny>) -> PyResult<Self> {
        if let Ok(t) = x.cast::<PyTuple>() {
            let (data, indices, indptr, n_features) = t.extract()?;
            return Ok(Input::Csr(data, indices, indptr, n_features));
        }
        Ok(Input::Dense(x.extract()?))
    }

    fn data(&self) -> PyResult<Data<'_, F>> {
        Ok(match self {
            Input::Dense(a) => Data::Dense(a.as_array()),
            Input::Csr(d, i, p, nf) => Data::Csr(
                CsrView::new(d.as_slice()?, i.as_slice()?, p.as_slice()?, *nf).map_err(to_py)?,
            ),
        })
    }
}

/// Which float type an input holds; anything else is refused.
fn is_f32(x: &Bound<'_, PyAny>) -> PyResult<bool> {
    let arr = match x.cast::<PyTuple>() {
        Ok(t) => t.get_item(0)?,
        Err(_) => x.clone(),
    };
    let dtype = arr.getattr("dtype")?.str()?.to_string();
    match dtype.as_str() {
        "float32" => Ok(true),
        "float64" => Ok(false),
        other => Err(PyTypeError::new_err(format!(
            "expected float32 or float64 data, got {other}"
        ))),
    }
}

fn to_py(e: KMeansError) -> PyErr {
    match e {
        KMeansError::EmptyCluster => ClusterError::new_err(e.to_string()),
        KMeansError::ThreadPool { .. } => PyRuntimeError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Forwards core events to an optional Python callback and checks for
/// Ctrl-C; a Python error (KeyboardInterrupt, or one raised by the
/// callback) stops the core and is re-raised once the GIL is back.
struct PyMonitor {
    callback: Option<Py<PyAny>>,
    error: Option<PyErr>,
}

impl PyMonitor {
    fn new(callback: Option<Py<PyAny>>) -> Self {
        PyMonitor {
            callback,
            error: None,
        }
    }
}

impl core::Monitor for PyMonitor {
    fn event(&mut self, event: &Event) -> core::Result<()> {
        let r = Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(cb) = &self.callback {
                match *event {
                    Event::InitDone { run } => cb.call1(py, ("init", run, 0.0, 0.0))?,
                    Event::InitProgress { chosen } => {
                        cb.call1(py, ("init_progress", chosen, 0.0, 0.0))?
                    }
                    Event::Iteration { iter, inertia } => {
                        cb.call1(py, ("iteration", iter, inertia, 0.0))?
                    }
                    Event::StrictConvergence { iter } => {
                        cb.call1(py, ("strict", iter, 0.0, 0.0))?
                    }
                    Event::ToleranceConvergence { iter, shift, tol } => {
                        cb.call1(py, ("tol", iter, shift, tol))?
                    }
                };
            }
            Ok(())
        });
        r.map_err(|e| {
            self.error = Some(e);
            KMeansError::Interrupted
        })
    }

    /// Only a verbose fit prints the inertia of each iteration.
    fn wants_inertia(&self) -> bool {
        self.callback.is_some()
    }
}

/// Runs `f` with the GIL released; turns its error into a Python exception
/// and a panic into a RuntimeError, so no panic ever crosses into Python.
fn run<T: Send>(
    py: Python<'_>,
    monitor: &mut PyMonitor,
    f: impl FnOnce(&mut PyMonitor) -> core::Result<T> + Send,
) -> PyResult<T> {
    let out = py.detach(|| catch_unwind(AssertUnwindSafe(|| f(monitor))));
    match out {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(KMeansError::Interrupted)) => Err(monitor
            .error
            .take()
            .unwrap_or_else(|| PyRuntimeError::new_err("interrupted"))),
        Ok(Err(e)) => Err(to_py(e)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(PyRuntimeError::new_err(format!(
                "internal error in ferrokmeans, please report it: {msg}"
            )))
        }
    }
}

fn weights_view<'a, F: Element>(
    w: &'a Option<PyReadonlyArray1<'_, F>>,
) -> Option<ArrayView1<'a, F>> {
    w.as_ref().map(|w| w.as_array())
}

macro_rules! dispatch {
    ($x:expr, $f:ident ( $($arg:expr),* )) => {
        if is_f32($x)? { $f::<f32>($($arg),*) } else { $f::<f64>($($arg),*) }
    };
}

fn fit_impl<'py, F: Element + Float>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_clusters: usize,
    init: &Bound<'py, PyAny>,
    n_local_trials: Option<usize>,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    n_threads: usize,
    callback: Option<Py<PyAny>>,
    algorithm: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    let algorithm = match algorithm {
        "lloyd" => core::Algorithm::Lloyd,
        "elkan" => core::Algorithm::Elkan,
        "hamerly" => core::Algorithm::Hamerly,
        "yinyang" => core::Algorithm::Yinyang,
        "auto" => core::Algorithm::Auto,
        _ => {
            return Err(PyValueError::new_err(format!(
                "unknown algorithm {algorithm:?}"
            )))
        }
    };
    let input = Input::<F>::extract(x)?;
    let w: Option<PyReadonlyArray1<F>> = sample_weight.map(|w| w.extract()).transpose()?;
    let init = if let Ok(name) = init.extract::<String>() {
        match name.as_str() {
            "k-means++" => core::Init::KMeansPlusPlus { n_local_trials },
            "random" => core::Init::Random,
            _ => return Err(PyValueError::new_err(format!("unknown init {name:?}"))),
        }
    } else {
        let c: PyReadonlyArray2<F> = init.extract()?;
        core::Init::Centers(c.as_array().to_owned())
    };
    let params = core::KMeansParams::new(n_clusters)
        .init(init)
        .n_init(n_init)
        .max_iter(max_iter)
        .tol(tol)
        .seed(seed)
        .n_threads(n_threads)
        .algorithm(algorithm);
    let data = input.data()?;
    let wv = weights_view(&w);
    let mut mon = PyMonitor::new(callback);
    let r = run(py, &mut mon, |m| core::fit(data, wv, &params, m))?;
    (
        r.centers.into_pyarray(py),
        r.labels.into_pyarray(py),
        r.inertia,
        r.n_iter,
        r.converged,
    )
        .into_pyobject(py)
}

/// fit(x, sample_weight, n_clusters, init, n_local_trials, n_init, max_iter,
/// tol, seed, n_threads, callback=None, algorithm="lloyd")
/// -> (centers, labels, inertia, n_iter, converged)
#[pyfunction]
#[pyo3(signature = (x, sample_weight, n_clusters, init, n_local_trials, n_init, max_iter, tol, seed, n_threads, callback=None, algorithm="lloyd"))]
fn fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_clusters: usize,
    init: &Bound<'py, PyAny>,
    n_local_trials: Option<usize>,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    n_threads: usize,
    callback: Option<Py<PyAny>>,
    algorithm: &str,
) -> PyResult<Bound<'py, PyTuple>> {
    dispatch!(
        x,
        fit_impl(
            py,
            x,
            sample_weight,
            n_clusters,
            init,
            n_local_trials,
            n_init,
            max_iter,
            tol,
            seed,
            n_threads,
            callback,
            algorithm
        )
    )
}

fn predict_impl<'py, F: Element + Float>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let input = Input::<F>::extract(x)?;
    let c: PyReadonlyArray2<F> = centers.extract()?;
    let w: Option<PyReadonlyArray1<F>> = sample_weight.map(|w| w.extract()).transpose()?;
    let (data, cv, wv) = (input.data()?, c.as_array(), weights_view(&w));
    let (labels, inertia) = run(py, &mut PyMonitor::new(None), |_| {
        core::predict(data, wv, cv, n_threads)
    })?;
    (labels.into_pyarray(py), inertia).into_pyobject(py)
}

/// predict(x, centers, sample_weight, n_threads) -> (labels, inertia)
#[pyfunction]
fn predict<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    dispatch!(x, predict_impl(py, x, centers, sample_weight, n_threads))
}

fn transform_impl<'py, F: Element + Float>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let input = Input::<F>::extract(x)?;
    let c: PyReadonlyArray2<F> = centers.extract()?;
    let (data, cv) = (input.data()?, c.as_array());
    let d = run(py, &mut PyMonitor::new(None), |_| {
        core::transform(data, cv, n_threads)
    })?;
    Ok(d.into_pyarray(py).into_any())
}

/// transform(x, centers, n_threads) -> distances (n × k)
#[pyfunction]
fn transform<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyAny>> {
    dispatch!(x, transform_impl(py, x, centers, n_threads))
}

fn vq_impl<'py, F: Element + Float>(
    py: Python<'py>,
    obs: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let input = Input::<F>::extract(obs)?;
    let c: PyReadonlyArray2<F> = code_book.extract()?;
    let (data, cv) = (input.data()?, c.as_array());
    let (codes, dist) = run(py, &mut PyMonitor::new(None), |_| {
        core::vq(data, cv, n_threads)
    })?;
    (codes.into_pyarray(py), dist.into_pyarray(py)).into_pyobject(py)
}

/// vq(obs, code_book, n_threads) -> (codes, distances)
#[pyfunction]
fn vq<'py>(
    py: Python<'py>,
    obs: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    dispatch!(obs, vq_impl(py, obs, code_book, n_threads))
}

fn kmeans_refine_impl<'py, F: Element + Float>(
    py: Python<'py>,
    obs: &Bound<'py, PyAny>,
    guess: &Bound<'py, PyAny>,
    thresh: f64,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let input = Input::<F>::extract(obs)?;
    let g: PyReadonlyArray2<F> = guess.extract()?;
    let (data, gv) = (input.data()?, g.as_array());
    let (book, dist) = run(py, &mut PyMonitor::new(None), |m| {
        core::kmeans_refine(data, gv, thresh, n_threads, m)
    })?;
    (book.into_pyarray(py), dist).into_pyobject(py)
}

/// kmeans_refine(obs, guess, thresh, n_threads) -> (code_book, distortion)
#[pyfunction]
fn kmeans_refine<'py>(
    py: Python<'py>,
    obs: &Bound<'py, PyAny>,
    guess: &Bound<'py, PyAny>,
    thresh: f64,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    dispatch!(obs, kmeans_refine_impl(py, obs, guess, thresh, n_threads))
}

fn kmeans2_impl<'py, F: Element + Float>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    iter: usize,
    raise_on_empty: bool,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let input = Input::<F>::extract(data)?;
    let c: PyReadonlyArray2<F> = code_book.extract()?;
    let (dv, cv) = (input.data()?, c.as_array());
    let missing = if raise_on_empty {
        core::Missing::Raise
    } else {
        core::Missing::Warn
    };
    let (book, labels, empty) = run(py, &mut PyMonitor::new(None), |m| {
        core::kmeans2_iterate(dv, cv, iter, missing, n_threads, m)
    })?;
    (book.into_pyarray(py), labels.into_pyarray(py), empty).into_pyobject(py)
}

/// kmeans2_iterate(data, code_book, iter, raise_on_empty, n_threads)
/// -> (code_book, labels, iterations_with_an_empty_cluster)
#[pyfunction]
fn kmeans2_iterate<'py>(
    py: Python<'py>,
    data: &Bound<'py, PyAny>,
    code_book: &Bound<'py, PyAny>,
    iter: usize,
    raise_on_empty: bool,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    dispatch!(
        data,
        kmeans2_impl(py, data, code_book, iter, raise_on_empty, n_threads)
    )
}

fn kpp_impl<'py, F: Element + Float>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_clusters: usize,
    n_local_trials: Option<usize>,
    seed: u64,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    let input = Input::<F>::extract(x)?;
    let w: Option<PyReadonlyArray1<F>> = sample_weight.map(|w| w.extract()).transpose()?;
    let (data, wv) = (input.data()?, weights_view(&w));
    let (centers, idx) = run(py, &mut PyMonitor::new(None), |m| {
        core::kmeans_plusplus(data, wv, n_clusters, n_local_trials, seed, n_threads, m)
    })?;
    (centers.into_pyarray(py), idx.into_pyarray(py)).into_pyobject(py)
}

/// kmeans_plusplus(x, sample_weight, n_clusters, n_local_trials, seed, n_threads)
/// -> (centers, indices)
#[pyfunction]
fn kmeans_plusplus<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_clusters: usize,
    n_local_trials: Option<usize>,
    seed: u64,
    n_threads: usize,
) -> PyResult<Bound<'py, PyTuple>> {
    dispatch!(
        x,
        kpp_impl(
            py,
            x,
            sample_weight,
            n_clusters,
            n_local_trials,
            seed,
            n_threads
        )
    )
}

/// Panics inside the core's call path on purpose: proves that a panic
/// becomes a Python RuntimeError and the interpreter survives.
#[pyfunction]
fn _panic_for_test(py: Python<'_>) -> PyResult<()> {
    run(py, &mut PyMonitor::new(None), |_| -> core::Result<()> {
        panic!("deliberate panic for the test suite")
    })
}

/// The instruction set the kernels use: "avx512", "avx2" or "portable"
/// (capped by the FERROKMEANS_SIMD environment variable).
#[pyfunction]
fn simd_level() -> &'static str {
    core::kernel::simd_level().name()
}

/// Number of threads that `n_threads=0` means (all cores).
#[pyfunction]
fn default_threads() -> usize {
    core::par::resolve_threads(0)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(transform, m)?)?;
    m.add_function(wrap_pyfunction!(vq, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_refine, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans2_iterate, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_plusplus, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    m.add_function(wrap_pyfunction!(default_threads, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add("ClusterError", m.py().get_type::<ClusterError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
