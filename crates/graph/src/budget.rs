//! How long a computation may run: a deadline, a cancellation flag, or both.
//!
//! A thread cannot be killed from outside, so the long loops (one Brandes
//! source, one sampled path, a block of clustering nodes) ask the budget
//! between units of work and give up with [`Interrupted`] once it has run
//! out. A unit is small (one breadth-first search), so a computation stops
//! within one unit's time of its deadline; checking costs one clock read per
//! unit, nothing next to the search itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;

/// Why a computation stopped before its end.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum Interrupted {
    /// Its deadline passed.
    #[error("the computation passed its deadline")]
    Deadline,
    /// Someone set its cancellation flag (the caller went away).
    #[error("the computation was cancelled")]
    Cancelled,
}

/// A deadline and a cancellation flag, each optional. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    deadline: Option<Instant>,
    cancelled: Option<Arc<AtomicBool>>,
}

impl Budget {
    /// No deadline, no flag: runs to the end.
    pub fn unlimited() -> Self {
        Self::default()
    }

    /// Stops once `limit` has passed from now.
    pub fn for_duration(limit: Duration) -> Self {
        Self {
            // A limit too large to add is no limit.
            deadline: Instant::now().checked_add(limit),
            cancelled: None,
        }
    }

    /// Also stops as soon as `flag` is set.
    pub fn with_cancel_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancelled = Some(flag);
        self
    }

    /// `Err` once the flag is set or the deadline has passed.
    pub fn check(&self) -> Result<(), Interrupted> {
        if self
            .cancelled
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
        {
            return Err(Interrupted::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Interrupted::Deadline);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_budget_has_run_out_and_an_unlimited_one_never_does() {
        assert_eq!(
            Budget::for_duration(Duration::ZERO).check(),
            Err(Interrupted::Deadline)
        );
        assert_eq!(Budget::unlimited().check(), Ok(()));
        assert_eq!(Budget::for_duration(Duration::MAX).check(), Ok(()));
    }

    #[test]
    fn setting_the_flag_cancels_every_clone() {
        let flag = Arc::new(AtomicBool::new(false));
        let budget = Budget::unlimited().with_cancel_flag(flag.clone());
        let clone = budget.clone();
        assert_eq!(clone.check(), Ok(()));
        flag.store(true, Ordering::Relaxed);
        assert_eq!(budget.check(), Err(Interrupted::Cancelled));
        assert_eq!(clone.check(), Err(Interrupted::Cancelled));
    }
}
