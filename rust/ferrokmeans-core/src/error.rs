//! The crate's single error type. Messages are short, say what is wrong, and
//! the binding layer passes them through unchanged.

use thiserror::Error;

/// Everything that can go wrong in the core. User input never panics the
/// core: each invalid state is reported here instead.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum KMeansError {
    #[error("n_clusters must be at least 1, got {0}")]
    NoClusters(usize),
    #[error("n_samples={n_samples} should be >= n_clusters={n_clusters}")]
    TooFewSamples { n_samples: usize, n_clusters: usize },
    #[error("X has 0 features; at least 1 is required")]
    NoFeatures,
    #[error("X has 0 samples; at least 1 is required")]
    NoSamples,
    #[error("max_iter must be at least 1, got {0}")]
    MaxIter(usize),
    #[error("n_init must be at least 1, got {0}")]
    NInit(usize),
    #[error("tol must be a finite number >= 0, got {0}")]
    Tol(f64),
    #[error("sample_weight has {got} entries but X has {expected} samples")]
    WeightLength { expected: usize, got: usize },
    #[error("sample_weight must be finite and >= 0; found {0}")]
    BadWeight(f64),
    #[error("sample_weight must have a positive sum")]
    ZeroWeight,
    #[error("only {positive} samples have a positive weight, fewer than n_clusters={n_clusters}")]
    TooFewWeighted { positive: usize, n_clusters: usize },
    #[error(
        "the initial centers have shape ({rows}, {cols}); expected ({n_clusters}, {n_features})"
    )]
    InitShape {
        rows: usize,
        cols: usize,
        n_clusters: usize,
        n_features: usize,
    },
    #[error("the initial centers contain NaN or infinity")]
    InitNotFinite,
    #[error("the code book has {got} features but the observations have {expected}")]
    CodebookFeatures { expected: usize, got: usize },
    #[error("the input contains NaN or infinity, or values so large that squared distances or weighted sums overflow {dtype}; remove them or rescale the data (or the sample weights)")]
    NotFinite { dtype: &'static str },
    #[error("malformed CSR matrix: {0}")]
    BadCsr(String),
    #[error("One of the clusters is empty. Re-run kmeans with a different initialization.")]
    EmptyCluster,
    #[error("could not start a thread pool with {threads} threads: {reason}")]
    ThreadPool { threads: usize, reason: String },
    #[error("interrupted")]
    Interrupted,
}

/// Shorthand used throughout the crate.
pub type Result<T> = std::result::Result<T, KMeansError>;
