//! The counters of a job, read by whoever shows it (the console's page and status, the CLI's
//! bar and summary) while the job runs.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// A job's counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Objects the listing returned so far.
    pub listed: u64,
    /// Objects rewritten (in a dry run: that would be).
    pub rewritten: u64,
    /// Objects already encrypted as asked.
    pub already: u64,
    /// Objects changed or deleted since they were listed: left as their writer wrote them.
    pub skipped: u64,
    /// Objects that could not be rewritten, plus one for a listing that failed (which ends
    /// the job).
    pub failed: u64,
    /// Of the rewritten objects, those whose data key was only rewrapped in place (no data
    /// copied; their bytes are not in `bytes`).
    pub rewrapped: u64,
    /// Bytes of the objects copied (in a dry run: that would be).
    pub bytes: u64,
    /// The job has finished: nothing of it runs any more.
    pub done: bool,
}

impl Counts {
    /// Objects (and failed listings) dealt with so far, whatever the outcome.
    #[must_use]
    pub fn settled(&self) -> u64 {
        self.rewritten + self.already + self.skipped + self.failed
    }
}

/// The first failure of a job.
#[derive(Debug)]
pub struct FirstError<E> {
    /// The object it concerns; `None` for a failed listing.
    pub key: Option<String>,
    /// The backend's error.
    pub error: E,
}

struct State<E> {
    counts: Counts,
    first_error: Option<FirstError<E>>,
}

/// A job's progress, updated by [`run`](crate::run) and readable at any time from any thread.
pub struct Progress<E> {
    state: Mutex<State<E>>,
}

impl<E> Default for Progress<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> Progress<E> {
    /// All counters zero, no error, not done.
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                counts: Counts::default(),
                first_error: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<E>> {
        // The counters stay meaningful even if a reader panicked while holding the lock.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The counters now (one consistent snapshot).
    #[must_use]
    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    /// `f` of the first failure so far, if any.
    pub fn with_first_error<R>(&self, f: impl FnOnce(Option<&FirstError<E>>) -> R) -> R {
        f(self.lock().first_error.as_ref())
    }

    /// Takes the first failure out (for a front-end that reports it once, at the end).
    pub fn take_first_error(&self) -> Option<FirstError<E>> {
        self.lock().first_error.take()
    }

    pub(crate) fn update(&self, f: impl FnOnce(&mut Counts)) {
        f(&mut self.lock().counts);
    }

    /// Counts one failure, keeping it if it is the first.
    pub(crate) fn fail(&self, key: Option<&str>, error: E) {
        let mut s = self.lock();
        s.counts.failed += 1;
        if s.first_error.is_none() {
            s.first_error = Some(FirstError {
                key: key.map(str::to_owned),
                error,
            });
        }
    }
}
