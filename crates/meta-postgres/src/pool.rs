//! The connection pool and the one way this crate runs a transaction: serializable, retried on
//! conflict.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod};

use crate::Error;

/// Connections to one database, shared by the stores opened on it. Cheap to clone.
#[derive(Clone)]
pub struct Pool {
    pub(crate) inner: deadpool_postgres::Pool,
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
    let pool = Pool { inner };
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
}

impl TxnError for Error {
    fn is_retryable(&self) -> bool {
        Error::is_retryable(self)
    }
}

/// Runs `$body` (an expression using the transaction `$tx`, evaluating to `Result<T, E>` with
/// `E: TxnError`) in a `SERIALIZABLE` transaction taken from `$pool`, commits it if the body
/// succeeds, and runs it all again while the database aborts it for a conflict, up to
/// [`MAX_ATTEMPTS`] times, backing off in between. An `Err` from the body rolls the transaction back (it is dropped).
macro_rules! serializable {
    ($pool:expr, |$tx:ident| $body:expr) => {{
        let mut attempt = 1;
        loop {
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
        }
    }};
}
pub(crate) use serializable;
