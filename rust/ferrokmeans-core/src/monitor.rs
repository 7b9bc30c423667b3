//! Progress events: how the caller follows a fit (verbose output) and stops
//! it (Ctrl-C). The core never prints and never looks at signals itself.

use crate::error::Result;

/// Something that happened during a fit.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Initial centres of restart `run` are chosen.
    InitDone { run: usize },
    /// `k` of the initial centres are chosen (k-means++ reports as it goes).
    InitProgress { chosen: usize },
    /// Lloyd iteration `iter` (0-based) ended; `inertia` is that of the
    /// centres it started from under the labels it assigned, or NaN when
    /// the monitor said it does not want it ([`Monitor::wants_inertia`]).
    Iteration { iter: usize, inertia: f64 },
    /// No label changed in iteration `iter`.
    StrictConvergence { iter: usize },
    /// The total squared centre shift fell within the tolerance.
    ToleranceConvergence { iter: usize, shift: f64, tol: f64 },
}

/// Receives [`Event`]s. Returning an error (typically
/// [`crate::KMeansError::Interrupted`]) stops the fit with that error.
pub trait Monitor {
    fn event(&mut self, event: &Event) -> Result<()>;

    /// Whether [`Event::Iteration`] should carry the inertia. Computing it
    /// costs a share of every iteration (a third of the kernel's work with
    /// few centres; a pass over the data for the bound-based algorithms),
    /// and the algorithms themselves never need it.
    fn wants_inertia(&self) -> bool {
        true
    }
}

/// The silent monitor.
impl Monitor for () {
    fn event(&mut self, _: &Event) -> Result<()> {
        Ok(())
    }

    fn wants_inertia(&self) -> bool {
        false
    }
}

impl<T: FnMut(&Event) -> Result<()>> Monitor for T {
    fn event(&mut self, event: &Event) -> Result<()> {
        self(event)
    }
}
