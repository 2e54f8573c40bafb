//! [`PgRecordStore`]: iam's and the KMS's sealed records in one PostgreSQL table,
//! `records (tbl, key, value)`, keyed by (`<store>.<table>`, key bytes). The store name (`iam`,
//! `kms`) keeps apart tables of the same name that two users of one database both declare.
//!
//! Values arrive sealed by their users (`coffer_crypto::Sealer`); this store never sees a
//! plaintext key. The trait is blocking while the driver is async, so the store runs its own small
//! Tokio runtime: its connections live there, and a call waits on a channel for the answer, which
//! works from a blocking thread and from inside another runtime alike.

use std::future::Future;

use coffer_records::{Change, Error as RecordError, RecordStore, Result, Table, check_tables};

use crate::pool::{TxnError, serializable};
use crate::{Error, Pool};

/// A [`coffer_records::RecordStore`] in a PostgreSQL database; several nodes may share one.
pub struct PgRecordStore {
    pool: Pool,
    store: String,
    tables: Vec<Table>,
    /// `Option` only so that `Drop` can take it: a runtime dropped inside another one would panic.
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for PgRecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgRecordStore")
            .field("store", &self.store)
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

impl Drop for PgRecordStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn backend(e: impl std::error::Error + Send + Sync + 'static) -> RecordError {
    RecordError::Backend(Box::new(e))
}

impl PgRecordStore {
    /// Connects to `url` (see [`crate::connect`]), migrating the schema, with `tables` as the
    /// tables of the store called `store` (`[a-z0-9_]`, like a table name). Blocks.
    pub fn open(url: &str, store: &str, tables: &[Table]) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("coffer-records-pg")
            .enable_all()
            .build()
            .map_err(backend)?;
        let url = url.to_owned();
        let pool = wait(&runtime, async move { crate::connect(&url).await })?.map_err(backend)?;
        Ok(Self {
            pool,
            store: store.to_owned(),
            tables: tables.to_vec(),
            runtime: Some(runtime),
        })
    }

    /// The store's connections, for their metrics.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The `tbl` column of `table`'s rows.
    fn column(&self, table: Table) -> String {
        format!("{}.{}", self.store, table.name())
    }

    fn run<T: Send + 'static>(
        &self,
        op: impl Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| RecordError::Backend("record store is shut down".into()))?;
        wait(runtime, op)?.map_err(backend)
    }
}

/// Runs `op` on `runtime` and blocks the calling thread until it is done.
pub(crate) fn wait<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    op: impl Future<Output = T> + Send + 'static,
) -> Result<T> {
    let (send, receive) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        // The receiver only goes away if the caller's thread is gone: nothing to tell then.
        let _ = send.send(op.await);
    });
    receive
        .recv()
        .map_err(|_| RecordError::Backend("record store task ended without an answer".into()))
}

/// The store's generation as `client` sees it: 0 before the first batch.
async fn read_generation(
    client: &impl deadpool_postgres::GenericClient,
    store: &str,
) -> Result<u64, Error> {
    let row = client
        .query_opt(
            "SELECT generation FROM record_generations WHERE store = $1",
            &[&store],
        )
        .await?;
    Ok(row.map_or(0, |r| u64::try_from(r.get::<_, i64>(0)).unwrap_or(0)))
}

/// Why a checked batch was not applied.
enum ApplyError {
    Db(Error),
    Stale,
}

impl From<Error> for ApplyError {
    fn from(e: Error) -> Self {
        ApplyError::Db(e)
    }
}

impl From<tokio_postgres::Error> for ApplyError {
    fn from(e: tokio_postgres::Error) -> Self {
        ApplyError::Db(e.into())
    }
}

impl TxnError for ApplyError {
    fn is_retryable(&self) -> bool {
        matches!(self, ApplyError::Db(e) if e.is_retryable())
    }
    fn is_database_error(&self) -> bool {
        matches!(self, ApplyError::Db(_))
    }
}

impl PgRecordStore {
    /// Applies `changes` and moves the store's generation on by one, in one serializable
    /// transaction; with `expected`, only if the generation is still that. Every batch writes the
    /// generation row, so two batches on one store never commit concurrently: the database
    /// aborts one (and it is retried, when unchecked) rather than let a plan made on a stale read
    /// commit.
    fn apply_checked(&self, expected: Option<u64>, changes: &[Change]) -> Result<u64> {
        check_tables(&self.tables, changes)?;
        let pool = self.pool.clone();
        let store = self.store.clone();
        let changes: Vec<(String, Change)> = changes
            .iter()
            .map(|c| (self.column(table_of(c)), c.clone()))
            .collect();
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| RecordError::Backend("record store is shut down".into()))?;
        let outcome = wait(runtime, async move {
            let out: Result<u64, ApplyError> = serializable!(pool, |tx| {
                if let Some(expected) = expected
                    && read_generation(&tx, &store).await? != expected
                {
                    return Err(ApplyError::Stale);
                }
                for (tbl, change) in &changes {
                    match change {
                        Change::Put { key, value, .. } => {
                            tx.execute(
                                "INSERT INTO records (tbl, key, value) VALUES ($1, $2, $3)
                                 ON CONFLICT (tbl, key) DO UPDATE SET value = excluded.value",
                                &[tbl, key, value],
                            )
                            .await?;
                        }
                        Change::Delete { key, .. } => {
                            tx.execute(
                                "DELETE FROM records WHERE tbl = $1 AND key = $2",
                                &[tbl, key],
                            )
                            .await?;
                        }
                    }
                }
                let row = tx
                    .query_one(
                        "INSERT INTO record_generations (store, generation) VALUES ($1, 1)
                         ON CONFLICT (store)
                         DO UPDATE SET generation = record_generations.generation + 1
                         RETURNING generation",
                        &[&store],
                    )
                    .await?;
                u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)
            });
            out
        })?;
        match outcome {
            Ok(generation) => Ok(generation),
            Err(ApplyError::Stale) => Err(RecordError::Stale),
            Err(ApplyError::Db(e)) => Err(backend(e)),
        }
    }
}

fn table_of(change: &Change) -> Table {
    match change {
        Change::Put { table, .. } | Change::Delete { table, .. } => *table,
    }
}

impl RecordStore for PgRecordStore {
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        check_tables(
            &self.tables,
            &[Change::Delete {
                table,
                key: Vec::new(),
            }],
        )?;
        let pool = self.pool.clone();
        let tbl = self.column(table);
        self.run(async move {
            let client = pool.client().await?;
            // One statement reads one snapshot: every batch is in it whole or not at all.
            let rows = client
                .query(
                    "SELECT key, value FROM records WHERE tbl = $1 ORDER BY key",
                    &[&tbl],
                )
                .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn apply(&self, changes: &[Change]) -> Result<()> {
        self.apply_checked(None, changes).map(|_| ())
    }

    fn generation(&self) -> Result<Option<u64>> {
        let pool = self.pool.clone();
        let store = self.store.clone();
        self.run(async move {
            let client = pool.client().await?;
            read_generation(&client, &store).await
        })
        .map(Some)
    }

    fn apply_at(&self, expected: Option<u64>, changes: &[Change]) -> Result<Option<u64>> {
        match expected {
            Some(expected) => self.apply_checked(Some(expected), changes).map(Some),
            // The caller never read a generation: nothing to check.
            None => self.apply_checked(None, changes).map(Some),
        }
    }

    fn scrub(&self) -> Result<()> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.client().await?;
            // Rewrites the table so that dead row versions (old sealed values) leave it. Databases
            // without VACUUM (CockroachDB) garbage-collect old versions on their own schedule.
            match client.batch_execute("VACUUM FULL records").await {
                Err(e)
                    if e.code()
                        == Some(&tokio_postgres::error::SqlState::FEATURE_NOT_SUPPORTED)
                        || e.code() == Some(&tokio_postgres::error::SqlState::SYNTAX_ERROR) =>
                {
                    Ok(())
                }
                other => Ok(other?),
            }
        })
    }
}
