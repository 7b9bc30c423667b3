//! The one numeric trait of the crate: `f32` or `f64`.

use ndarray::NdFloat;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type the algorithms run on: `f32` or `f64`.
///
/// Distances are computed in `Self` (as scikit-learn does); every sum over
/// rows (centre sums, weights, inertia) is accumulated in `f64`, so float32
/// data keeps its precision on large inputs.
pub trait Float: NdFloat + Send + Sync + sealed::Sealed {
    /// Widen to `f64` (exact).
    fn as_f64(self) -> f64;
    /// Round from `f64` to the nearest `Self`.
    fn from_f64(v: f64) -> Self;
    /// A small non-negative integral value (a centre index) as `usize`.
    fn index(self) -> usize;
    /// The same as an `i32` (saturating; vectorises).
    fn to_i32(self) -> i32;
}

impl Float for f32 {
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn index(self) -> usize {
        self as usize
    }
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
}

impl Float for f64 {
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn index(self) -> usize {
        self as usize
    }
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
}
