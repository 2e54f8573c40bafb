//! The periodic duties (garbage collection, SSE keyring rotation, the KMS's schedule, bucket
//! lifecycle rules) and
//! which node runs them: all on one node at a time, the holder of the duty lease
//! ([`crate::backends::DutyLease`]). Each pass is counted for `/metrics`, so that an operator (and
//! the multi-node test) can see that one node runs them, not every node.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use crate::backends::{DUTY_LEASE_EVERY, DutyLease};

/// A periodic duty, by its name on `/metrics`.
#[derive(Clone, Copy)]
pub(crate) enum Duty {
    GarbageCollection,
    KeyringRotation,
    KmsSchedule,
    Lifecycle,
}

const DUTIES: [Duty; 4] = [
    Duty::GarbageCollection,
    Duty::KeyringRotation,
    Duty::KmsSchedule,
    Duty::Lifecycle,
];

impl Duty {
    fn name(self) -> &'static str {
        match self {
            Duty::GarbageCollection => "gc",
            Duty::KeyringRotation => "keyring_rotation",
            Duty::KmsSchedule => "kms_schedule",
            Duty::Lifecycle => "lifecycle",
        }
    }
}

/// The lease and the passes this node ran.
pub(crate) struct Duties {
    lease: DutyLease,
    runs: [AtomicU64; 4],
}

impl Duties {
    pub(crate) fn new(lease: DutyLease) -> Self {
        Self {
            lease,
            runs: Default::default(),
        }
    }

    /// Whether the duties are this node's to run now.
    pub(crate) fn mine(&self) -> bool {
        self.lease.is_held()
    }

    /// Counts one pass of `duty`.
    pub(crate) fn ran(&self, duty: Duty) {
        self.runs[duty as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The lease and the pass counters, in the Prometheus text format.
    pub(crate) fn render(&self) -> String {
        let mut text = format!(
            "# HELP coffer_duty_lease_held Whether this node runs the periodic duties now.\n\
             # TYPE coffer_duty_lease_held gauge\n\
             coffer_duty_lease_held {}\n\
             # HELP coffer_duty_runs_total Passes of each periodic duty this node ran.\n\
             # TYPE coffer_duty_runs_total counter\n",
            u8::from(self.mine())
        );
        for duty in DUTIES {
            let n = self.runs[duty as usize].load(Ordering::Relaxed);
            text.push_str(&format!(
                "coffer_duty_runs_total{{duty=\"{}\"}} {n}\n",
                duty.name()
            ));
        }
        text
    }

    /// Runs `pass` every `every` while this node holds the lease (checking for it every
    /// [`DUTY_LEASE_EVERY`] while it does not), until `stop` turns true.
    pub(crate) async fn every<F: Future<Output = ()>>(
        &self,
        duty: Duty,
        every: Duration,
        mut pass: impl FnMut() -> F,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let wait = if self.mine() {
                pass().await;
                self.ran(duty);
                every
            } else {
                DUTY_LEASE_EVERY.min(every)
            };
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
