//! [`Lease`]: which of the nodes sharing a database runs the periodic duties (KMS deletion
//! windows and rotations, SSE keyring rotation, garbage collection).
//!
//! The lease is a session-level advisory lock (`pg_try_advisory_lock`) taken on a connection of
//! its own, outside the pool. The node whose connection holds it runs the duties; the others try
//! again every [`Lease::start`]'s `every`. When the holder dies, its connection closes and the
//! database releases the lock at once (a SIGKILL closes the socket; a lost machine is noticed by
//! TCP keepalive, set here to about a minute), and the next node to try takes it over. The
//! holder checks its connection on the same schedule and stops running duties as soon as the
//! check fails, so two nodes run duties at once only for the time between a holder losing its
//! connection unnoticed and its next check: the duties are written to be safe if that happens
//! (each one's writes are conditional or idempotent).
//!
//! Databases that accept advisory locks but ignore them (CockroachDB) give every node the lease;
//! a connection pooler in transaction mode in front of PostgreSQL breaks session locks: connect
//! the nodes to the database directly, or through a pooler in session mode.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio_postgres::NoTls;

use crate::Error;

/// The advisory lock key of the duty lease ("duties" in ASCII). Fixed: every node must use it.
const DUTY_LOCK: i64 = 0x6475_7469_6573;

/// This node's claim on the duty lease, kept by a background task while the value lives.
pub struct Lease {
    held: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("held", &self.is_held())
            .finish_non_exhaustive()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // Dropping the task's connection releases the lock.
        self.task.abort();
    }
}

impl Lease {
    /// Starts contending for the duty lease on the database at `url`, trying (and, once held,
    /// checking the connection) every `every`. Must be called inside a Tokio runtime; returns at
    /// once, before the first try.
    pub fn start(url: &str, every: Duration) -> Result<Self, Error> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(Error::Config)?;
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3)
            .connect_timeout(Duration::from_secs(10));
        let held = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(keep(config, every, held.clone()));
        Ok(Self { held, task })
    }

    /// Whether this node holds the lease (as of its last check, at most `every` ago).
    pub fn is_held(&self) -> bool {
        self.held.load(Ordering::Acquire)
    }
}

async fn keep(config: tokio_postgres::Config, every: Duration, held: Arc<AtomicBool>) {
    loop {
        match config.connect(NoTls).await {
            Ok((client, connection)) => {
                let connection = tokio::spawn(connection);
                hold(&client, every, &held).await;
                held.store(false, Ordering::Release);
                drop(client);
                connection.abort();
            }
            Err(e) => tracing::warn!(error = %e, "duty lease: cannot connect to the database"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Tries to take the lock, then checks the connection, every `every`, until the connection fails.
async fn hold(client: &tokio_postgres::Client, every: Duration, held: &AtomicBool) {
    loop {
        if held.load(Ordering::Acquire) {
            if let Err(e) = client.simple_query("SELECT 1").await {
                tracing::warn!(error = %e, "duty lease lost: its connection failed");
                return;
            }
        } else {
            match client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&DUTY_LOCK])
                .await
            {
                Ok(row) if row.get::<_, bool>(0) => {
                    tracing::info!("duty lease taken: this node runs the periodic duties");
                    held.store(true, Ordering::Release);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "duty lease: the database refused the try");
                    return;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}
