//! # ferrokmeans-core
//!
//! Exact, deterministic, parallel k-means for `f32` and `f64` data, dense
//! (any memory layout) or CSR sparse. No Python in here: the `ferrokmeans`
//! Python package is a thin binding over this crate.
//!
//! The pipeline of [`fit`]: validate the [`KMeansParams`]; for each of
//! `n_init` restarts, choose initial centres (greedy k-means++, random rows,
//! or given) and run Lloyd iterations — each one fused pass over the data
//! assigns rows to their nearest centre and accumulates weighted sums in
//! `f64` — until no label changes or the centres move less than the
//! tolerance; keep the restart with the lowest inertia. Every pass runs over
//! a fixed grid of row blocks whose partial results are combined in block
//! order ([`par`]), so the result is bit-identical for any thread count.
//!
//! ```
//! use ndarray::array;
//! use ferrokmeans_core::{fit, Data, KMeansParams};
//!
//! let x = array![[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]];
//! let params = KMeansParams::new(2).seed(42);
//! let r = fit(Data::Dense(x.view()), None, &params, &mut ()).unwrap();
//! assert_eq!(r.labels[0], r.labels[1]);
//! assert_ne!(r.labels[0], r.labels[2]);
//! assert!((r.inertia - 0.01).abs() < 1e-12);
//! ```

pub mod assign;
pub mod data;
pub mod error;
pub mod float;
pub mod hamerly;
pub mod init;
pub mod kernel;
pub mod kmeans;
mod kpp_kernel;
pub mod lloyd;
pub mod monitor;
pub mod par;
pub mod rng;
pub mod scipy;
pub mod yinyang;

pub use data::{CsrView, Data};
pub use error::{KMeansError, Result};
pub use float::Float;
pub use kmeans::{
    check_weights, fit, kmeans_plusplus, mean_variance, predict, transform, Algorithm, Init,
    KMeansParams, KMeansResult, Runner,
};
pub use monitor::{Event, Monitor};
pub use scipy::{kmeans2_iterate, kmeans_refine, vq, Missing};
