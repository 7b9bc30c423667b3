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
    /// A centre index kept as a float (an integer below 2^24) as `i32`,
    /// without the checks of a saturating conversion, so that it vectorises.
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
        debug_assert!(self >= 0.0 && self < (1u32 << 24) as Self && self.fract() == 0.0);
        // SAFETY: callers pass centre indices: small non-negative integers,
        // finite and far inside i32's range.
        unsafe { self.to_int_unchecked::<i32>() }
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
        debug_assert!(self >= 0.0 && self < (1u32 << 24) as Self && self.fract() == 0.0);
        // SAFETY: callers pass centre indices: small non-negative integers,
        // finite and far inside i32's range.
        unsafe { self.to_int_unchecked::<i32>() }
    }
}
