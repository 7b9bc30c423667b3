//! The input matrix: a dense view with any strides, or a CSR sparse matrix.

use ndarray::ArrayView2;

use crate::error::{KMeansError, Result};
use crate::float::Float;

/// A borrowed CSR (compressed sparse row) matrix, as scipy stores it.
#[derive(Debug, Clone, Copy)]
pub struct CsrView<'a, F> {
    data: &'a [F],
    indices: &'a [i64],
    indptr: &'a [i64],
    n_features: usize,
}

impl<'a, F: Float> CsrView<'a, F> {
    /// Checks the structure once, so that the kernels can index without
    /// further checks: `indptr` starts at 0, never decreases and ends at
    /// `nnz`; every column index lies in `[0, n_features)`.
    pub fn new(
        data: &'a [F],
        indices: &'a [i64],
        indptr: &'a [i64],
        n_features: usize,
    ) -> Result<Self> {
        let bad = |m: &str| Err(KMeansError::BadCsr(m.to_string()));
        if indptr.is_empty() {
            return bad("indptr is empty");
        }
        if data.len() != indices.len() {
            return bad("data and indices differ in length");
        }
        if indptr[0] != 0 || *indptr.last().unwrap() as usize != data.len() {
            return bad("indptr must start at 0 and end at nnz");
        }
        if indptr.windows(2).any(|w| w[1] < w[0]) {
            return bad("indptr decreases");
        }
        if indices.iter().any(|&j| j < 0 || j as usize >= n_features) {
            return bad("a column index is out of range");
        }
        Ok(CsrView {
            data,
            indices,
            indptr,
            n_features,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.indptr.len() - 1
    }

    /// Number of columns.
    pub fn n_features(&self) -> usize {
        self.n_features
    }

    /// The stored values and column indices of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> (&'a [F], &'a [i64]) {
        let (a, b) = (self.indptr[i] as usize, self.indptr[i + 1] as usize);
        (&self.data[a..b], &self.indices[a..b])
    }
}

/// The data to cluster: `n_samples × n_features`.
#[derive(Debug, Clone, Copy)]
pub enum Data<'a, F: Float> {
    /// A dense matrix with any memory layout (C, Fortran, strided).
    Dense(ArrayView2<'a, F>),
    /// A CSR sparse matrix.
    Csr(CsrView<'a, F>),
}

impl<'a, F: Float> Data<'a, F> {
    /// Number of samples (rows).
    pub fn n_rows(&self) -> usize {
        match self {
            Data::Dense(x) => x.nrows(),
            Data::Csr(c) => c.n_rows(),
        }
    }

    /// Number of features (columns).
    pub fn n_features(&self) -> usize {
        match self {
            Data::Dense(x) => x.ncols(),
            Data::Csr(c) => c.n_features(),
        }
    }

    /// Copies row `i` into `out` (dense, length `n_features`).
    pub fn row_into(&self, i: usize, out: &mut [F]) {
        match self {
            Data::Dense(x) => {
                for (o, v) in out.iter_mut().zip(x.row(i).iter()) {
                    *o = *v;
                }
            }
            Data::Csr(c) => {
                out.fill(F::zero());
                let (vals, idx) = c.row(i);
                for (v, &j) in vals.iter().zip(idx) {
                    out[j as usize] = *v;
                }
            }
        }
    }
}

/// Rows `start..end` of a dense view as one row-major slice: borrowed when
/// the view is C-contiguous, otherwise gathered into `buf` (one tile at a
/// time, so a Fortran-ordered or strided input is never copied whole).
pub(crate) fn dense_tile<'b, F: Float>(
    x: &'b ArrayView2<'_, F>,
    start: usize,
    end: usize,
    buf: &'b mut Vec<F>,
) -> &'b [F] {
    let tile = x.slice(ndarray::s![start..end, ..]);
    if let Some(s) = tile.to_slice() {
        return s;
    }
    buf.clear();
    buf.reserve((end - start) * x.ncols());
    for row in tile.rows() {
        buf.extend(row.iter().copied());
    }
    buf
}
