//! The connection pool and the one way this crate runs a transaction: serializable, retried on
//! conflict.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod};

use crate::Error;

/// Connections to one database, shared by the stores opened on it. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    pub(crate) inner: deadpool_postgres::Pool,
    pub(crate) stats: Arc<Stats>,
}

/// Upper bounds (seconds) of the transaction latency histogram's buckets.
const LATENCY_BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0];

/// What the transactions run on a pool took, for `/metrics`.
#[derive(Default)]
pub(crate) struct Stats {
    /// Transactions whose latency fell at or under each bucket's bound (not cumulative).
    buckets: [AtomicU64; LATENCY_BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    /// Runs again after a serialization conflict or deadlock.
    retries: AtomicU64,
    /// Transactions that ended in a database or pool error (after any retries).
    failures: AtomicU64,
}

impl Stats {
    /// Records one transaction, start to commit (all its attempts).
    pub(crate) fn transaction(&self, took: Duration, attempts: u32, failed: bool) {
        let seconds = took.as_secs_f64();
        if let Some(i) = LATENCY_BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.retries
            .fetch_add(u64::from(attempts.saturating_sub(1)), Ordering::Relaxed);
        if failed {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Pool {
    /// The pool's connections and its transactions' latency, in the Prometheus text format,
    /// labelled `pool="<name>"`. Call [`Pool::metrics_help`] once before the pools' lines.
    pub fn render_metrics(&self, name: &str) -> String {
        let status = self.inner.status();
        let in_use = status.size.saturating_sub(status.available);
        let mut text = format!(
            "coffer_pg_pool_connections{{pool=\"{name}\",state=\"idle\"}} {}\n\
             coffer_pg_pool_connections{{pool=\"{name}\",state=\"in_use\"}} {in_use}\n\
             coffer_pg_pool_max_connections{{pool=\"{name}\"}} {}\n\
             coffer_pg_pool_waiting{{pool=\"{name}\"}} {}\n",
            status.available, status.max_size, status.waiting
        );
        let stats = &self.stats;
        let mut cumulative = 0;
        for (bound, bucket) in LATENCY_BUCKETS.iter().zip(&stats.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            text.push_str(&format!(
                "coffer_pg_transaction_seconds_bucket{{pool=\"{name}\",le=\"{bound}\"}} {cumulative}\n"
            ));
        }
        let count = stats.count.load(Ordering::Relaxed);
        let sum = Duration::from_micros(stats.sum_micros.load(Ordering::Relaxed)).as_secs_f64();
        text.push_str(&format!(
            "coffer_pg_transaction_seconds_bucket{{pool=\"{name}\",le=\"+Inf\"}} {count}\n\
             coffer_pg_transaction_seconds_sum{{pool=\"{name}\"}} {sum}\n\
             coffer_pg_transaction_seconds_count{{pool=\"{name}\"}} {count}\n\
             coffer_pg_transaction_retries_total{{pool=\"{name}\"}} {}\n\
             coffer_pg_transaction_failures_total{{pool=\"{name}\"}} {}\n",
            stats.retries.load(Ordering::Relaxed),
            stats.failures.load(Ordering::Relaxed),
        ));
        text
    }

    /// The `# HELP` and `# TYPE` lines of [`Pool::render_metrics`]'s families.
    pub fn metrics_help() -> &'static str {
        "# HELP coffer_pg_pool_connections PostgreSQL connections of each pool, idle or in use.\n\
         # TYPE coffer_pg_pool_connections gauge\n\
         # HELP coffer_pg_pool_max_connections The most connections each pool opens.\n\
         # TYPE coffer_pg_pool_max_connections gauge\n\
         # HELP coffer_pg_pool_waiting Requests waiting for a connection of each pool.\n\
         # TYPE coffer_pg_pool_waiting gauge\n\
         # HELP coffer_pg_transaction_seconds Transactions from start to commit, retries included.\n\
         # TYPE coffer_pg_transaction_seconds histogram\n\
         # HELP coffer_pg_transaction_retries_total Transactions run again after a conflict.\n\
         # TYPE coffer_pg_transaction_retries_total counter\n\
         # HELP coffer_pg_transaction_failures_total Transactions that failed on a database error.\n\
         # TYPE coffer_pg_transaction_failures_total counter\n"
    }
}

impl std::fmt::Debug for Pool {
    // The connection string may carry a password: never print it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.inner.status();
        f.debug_struct("Pool")
            .field("size", &status.size)
            .field("available", &status.available)
            .finish_non_exhaustive()
    }
}

/// How many connections one node keeps open at most.
const MAX_CONNECTIONS: usize = 16;

/// How many times a transaction aborted by a serialization conflict or deadlock is run again
/// before its error is returned.
pub(crate) const MAX_ATTEMPTS: u32 = 30;

/// Waits before attempt `attempt` (2 and up) of a transaction that conflicted: exponentially longer,
/// capped at 100 ms, with jitter so that the transactions that collided do not collide again.
pub(crate) async fn back_off(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    let cap_ms = 1u64 << attempt.min(7).saturating_sub(1);
    let cap_us = cap_ms.min(100) * 1000;
    // A random-enough number without a dependency: the standard library seeds every
    // `RandomState` afresh.
    let noise = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    let wait_us = cap_us / 2 + noise % (cap_us / 2 + 1);
    tokio::time::sleep(std::time::Duration::from_micros(wait_us)).await;
}

/// Opens a pool on `url` (`postgres://user:password@host:port/db` or the key-value form; a host
/// that is an absolute path is a Unix socket directory), checks that the database answers, and
/// brings its schema up to date (see [`crate::schema`]).
pub async fn connect(url: &str) -> Result<Pool, Error> {
    let config = tokio_postgres::Config::from_str(url).map_err(Error::Config)?;
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let inner = deadpool_postgres::Pool::builder(manager)
        .max_size(MAX_CONNECTIONS)
        .build()
        .map_err(|e| Error::Pool(e.to_string()))?;
    let pool = Pool {
        inner,
        stats: Arc::default(),
    };
    crate::schema::migrate(&pool).await?;
    Ok(pool)
}

impl Pool {
    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, Error> {
        Ok(self.inner.get().await?)
    }
}

/// An error a transaction body may end with: a database error (which may call for a retry) or a
/// refusal of the operation itself (which never does).
pub(crate) trait TxnError: From<Error> {
    fn is_retryable(&self) -> bool;
    /// Whether the database or the pool failed (rather than the operation being refused).
    fn is_database_error(&self) -> bool;
}

impl TxnError for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }
    fn is_database_error(&self) -> bool {
        true
    }
}

/// Runs `$body` (an expression using the transaction `$tx`, evaluating to `Result<T, E>` with
/// `E: TxnError`) in a `SERIALIZABLE` transaction taken from `$pool`, commits it if the body
/// succeeds, and runs it all again while the database aborts it for a conflict, up to
/// [`MAX_ATTEMPTS`] times, backing off in between. An `Err` from the body rolls the transaction back (it is dropped).
macro_rules! serializable {
    ($pool:expr, |$tx:ident| $body:expr) => {{
        let started = ::std::time::Instant::now();
        let mut attempt = 1;
        let outcome = loop {
            let outcome = async {
                let mut client = $pool.client().await?;
                let $tx = client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::Serializable)
                    .start()
                    .await
                    .map_err($crate::Error::from)?;
                let value = $body;
                $tx.commit().await.map_err($crate::Error::from)?;
                Ok(value)
            }
            .await;
            match outcome {
                Err(e)
                    if $crate::pool::TxnError::is_retryable(&e)
                        && attempt < $crate::pool::MAX_ATTEMPTS =>
                {
                    attempt += 1;
                    $crate::pool::back_off(attempt).await;
                }
                other => break other,
            }
        };
        let failed = matches!(&outcome, Err(e) if $crate::pool::TxnError::is_database_error(e));
        $pool.stats.transaction(started.elapsed(), attempt, failed);
        outcome
    }};
}
pub(crate) use serializable;
