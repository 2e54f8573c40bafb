//! What the nodes of one deployment share besides records, each in a table of its own (schema
//! migration 3) and each behind its owner's trait:
//!
//! - [`PgNonces`] (`coffer_signature::replay::SpentNonces`): `replay_nonces (digest, expires_at)`.
//!   A pair is spent by one `INSERT … ON CONFLICT DO UPDATE … WHERE expires_at <= now`: a row is
//!   written (a new pair, or one whose window ended) or nothing is (a replay), and of two nodes
//!   spending one digest at once the database lets exactly one write. Expired rows are deleted
//!   lazily, at most once a minute per node, by a statement that does not hold up the request.
//! - [`PgUsage`] (`coffer_kms::UsageStore`): `kms_usage`, one row per account, key, operation and
//!   UTC day; a flush adds each node's deltas with `calls = calls + excluded.calls`, so nothing
//!   one node counted is overwritten by another.
//! - [`PgAuditLog`] (`coffer_kms::AuditSink`): `kms_audit`, one row per record with the record's
//!   JSON and the columns the filters read. The row key is the record's time in nanoseconds
//!   (8 bytes, big-endian) and 8 random bytes, so key order is time order; a page's marker is the
//!   last key it returned, and the next page is read from there by the primary key.
//! - [`PgKeyring`] (`coffer_keyring::SharedKeyring`): `keyrings (name, generation, sealed)`, the
//!   keyring's sealed format-3 bytes, changed only by an `UPDATE … WHERE generation = expected`.
//!
//! The traits are blocking; like [`crate::PgRecordStore`], [`PgShared`] runs its own small Tokio
//! runtime and each call waits for its answer.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use coffer_kms::{AccountId, AuditFilter, AuditPage, AuditRecord, KeyId, Operation, UsageDelta};
use coffer_kms::{UsageRow, UsageStore};

use crate::records::wait;
use crate::{Error, Pool};

/// How often a node deletes expired nonces, at most (seconds).
const PRUNE_EVERY_SECS: i64 = 60;

/// The shared tables' connections and the runtime they live on. Cheap to clone.
#[derive(Clone)]
pub struct PgShared {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// `Option` only so that `Drop` can take it: a runtime dropped inside another one would panic.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for PgShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgShared").finish_non_exhaustive()
    }
}

impl PgShared {
    /// Connects to `url` (see [`crate::connect`]), migrating the schema. Blocks.
    pub fn open(url: &str) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("coffer-shared-pg")
            .enable_all()
            .build()
            .map_err(|e| Error::Pool(e.to_string()))?;
        let url = url.to_owned();
        let pool = wait(&runtime, async move { crate::connect(&url).await })
            .map_err(|e| Error::Pool(e.to_string()))??;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                runtime: Some(runtime),
            }),
        })
    }

    /// The connections, for their metrics.
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// The spent-nonce store of the KMS and admin APIs.
    pub fn nonces(&self) -> PgNonces {
        PgNonces {
            shared: self.clone(),
            pruned_at: AtomicI64::new(i64::MIN),
        }
    }

    /// The KMS's usage counters.
    pub fn usage(&self) -> PgUsage {
        PgUsage(self.clone())
    }

    /// The KMS's audit trail.
    pub fn audit_log(&self) -> PgAuditLog {
        PgAuditLog(self.clone())
    }

    /// The sealed keyring called `name` (`sse`).
    pub fn keyring(&self, name: &str) -> PgKeyring {
        PgKeyring {
            shared: self.clone(),
            name: name.to_owned(),
        }
    }

    fn run<T: Send + 'static>(
        &self,
        op: impl std::future::Future<Output = Result<T, Error>> + Send + 'static,
    ) -> Result<T, Error> {
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .ok_or_else(|| Error::Pool("the shared store is shut down".into()))?;
        wait(runtime, op).map_err(|e| Error::Pool(e.to_string()))?
    }

    /// Starts `op` without waiting for it (its outcome is only logged).
    fn spawn(
        &self,
        what: &'static str,
        op: impl std::future::Future<Output = Result<u64, Error>> + Send + 'static,
    ) {
        if let Some(runtime) = &self.inner.runtime {
            runtime.spawn(async move {
                if let Err(e) = op.await {
                    tracing::warn!(error = %e, "{what} failed");
                }
            });
        }
    }
}

/// The signature nonces every node spent ([`coffer_signature::replay::SpentNonces`]).
pub struct PgNonces {
    shared: PgShared,
    /// When this node last deleted expired rows (Unix seconds).
    pruned_at: AtomicI64,
}

impl std::fmt::Debug for PgNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgNonces").finish_non_exhaustive()
    }
}

impl coffer_signature::replay::SpentNonces for PgNonces {
    fn spend(&self, digest: &[u8; 16], expiry: i64, now: i64) -> Result<bool, String> {
        let last = self.pruned_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= PRUNE_EVERY_SECS
            && self
                .pruned_at
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let pool = self.shared.pool().clone();
            self.shared.spawn("deleting expired nonces", async move {
                let client = pool.client().await?;
                Ok(client
                    .execute("DELETE FROM replay_nonces WHERE expires_at <= $1", &[&now])
                    .await?)
            });
        }
        let pool = self.shared.pool().clone();
        let digest = digest.to_vec();
        self.shared
            .run(async move {
                let client = pool.client().await?;
                // One statement: the row is written (a new pair, or one whose window ended) or it
                // is not (spent and live). Concurrent spenders of one digest wait on its row lock
                // and then see the winner's expiry.
                let written = client
                    .execute(
                        "INSERT INTO replay_nonces (digest, expires_at) VALUES ($1, $2)
                         ON CONFLICT (digest) DO UPDATE SET expires_at = excluded.expires_at
                         WHERE replay_nonces.expires_at <= $3",
                        &[&digest, &expiry, &now],
                    )
                    .await?;
                Ok(written == 1)
            })
            .map_err(|e| e.to_string())
    }
}

fn kms_error(e: Error) -> coffer_kms::Error {
    coffer_kms::Error::Internal(Box::new(e))
}

/// The KMS's usage counters, summed over every node ([`coffer_kms::UsageStore`]).
#[derive(Debug)]
pub struct PgUsage(PgShared);

/// The `key_id` column of no key (account-wide operations): the primary key has no NULLs.
const NO_KEY: &str = "";

fn operation_named(name: &str) -> Option<Operation> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

impl UsageStore for PgUsage {
    fn add(&self, deltas: &[UsageDelta]) -> coffer_kms::Result<()> {
        let pool = self.0.pool().clone();
        let rows: Vec<(String, String, String, i64, i64, i64)> = deltas
            .iter()
            .map(|d| {
                (
                    d.account.as_str().to_owned(),
                    d.key_id
                        .map_or_else(|| NO_KEY.to_owned(), |k| k.to_string()),
                    d.operation.as_str().to_owned(),
                    d.day,
                    i64::try_from(d.count).unwrap_or(i64::MAX),
                    i64::try_from(d.failures).unwrap_or(i64::MAX),
                )
            })
            .collect();
        self.0
            .run(async move {
                let mut client = pool.client().await?;
                // Each upsert adds to its row under the row's lock, so no isolation above the
                // default is needed for concurrent adders to all count.
                let tx = client.transaction().await?;
                for (account, key_id, operation, day, calls, failures) in &rows {
                    tx.execute(
                        "INSERT INTO kms_usage (account, key_id, operation, day, calls, failures)
                         VALUES ($1, $2, $3, $4, $5, $6)
                         ON CONFLICT (account, key_id, operation, day) DO UPDATE
                         SET calls = kms_usage.calls + excluded.calls,
                             failures = kms_usage.failures + excluded.failures",
                        &[account, key_id, operation, day, calls, failures],
                    )
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            })
            .map_err(kms_error)
    }

    fn rows(&self, account: &AccountId) -> coffer_kms::Result<Vec<UsageRow>> {
        let pool = self.0.pool().clone();
        let account = account.as_str().to_owned();
        let rows = self
            .0
            .run(async move {
                let client = pool.client().await?;
                let rows = client
                    .query(
                        "SELECT key_id, operation, SUM(calls)::bigint, SUM(failures)::bigint
                         FROM kms_usage WHERE account = $1
                         GROUP BY key_id, operation ORDER BY key_id, operation",
                        &[&account],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| {
                        (
                            r.get::<_, String>(0),
                            r.get::<_, String>(1),
                            r.get::<_, i64>(2),
                            r.get::<_, i64>(3),
                        )
                    })
                    .collect::<Vec<_>>())
            })
            .map_err(kms_error)?;
        Ok(rows
            .into_iter()
            .filter_map(|(key_id, operation, calls, failures)| {
                Some(UsageRow {
                    key_id: if key_id == NO_KEY {
                        None
                    } else {
                        Some(KeyId::parse(&key_id)?)
                    },
                    // A name a newer build wrote and this one does not know is left out.
                    operation: operation_named(&operation)?,
                    count: u64::try_from(calls).unwrap_or(0),
                    failures: u64::try_from(failures).unwrap_or(0),
                })
            })
            .collect())
    }
}

/// The KMS's audit trail, every node's records in one table ([`coffer_kms::AuditSink`]).
#[derive(Debug)]
pub struct PgAuditLog(PgShared);

/// Nanoseconds since the Unix epoch (0 before it, the largest `i64` past 2262).
fn nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The columns a filter compares, as query parameters.
struct Where {
    account: Option<String>,
    key_id: Option<String>,
    operation: Option<String>,
    since: Option<i64>,
    until: Option<i64>,
    principal: Option<String>,
    resource_prefix: Option<String>,
}

impl Where {
    fn of(filter: &AuditFilter) -> Self {
        Self {
            account: filter.account.as_ref().map(|a| a.as_str().to_owned()),
            key_id: filter.key_id.map(|k| k.to_string()),
            operation: filter.operation.map(|o| o.as_str().to_owned()),
            since: filter.since.map(nanos),
            until: filter.until.map(nanos),
            principal: filter.principal.clone(),
            resource_prefix: filter.resource_prefix.clone(),
        }
    }
}

/// The conditions of every audit query; `$1`…`$5` and `$8`, `$9` are [`Where`]'s fields, `$6`
/// the marker. The prefix is compared with `left`/`length`, which the PostgreSQL-compatible
/// databases share (`starts_with` is not everywhere).
const AUDIT_WHERE: &str = "($1::text IS NULL OR account = $1)
    AND ($2::text IS NULL OR key_id = $2)
    AND ($3::text IS NULL OR operation = $3)
    AND ($4::bigint IS NULL OR at_ns >= $4)
    AND ($5::bigint IS NULL OR at_ns < $5)
    AND ($6::bytea IS NULL OR id > $6)
    AND ($8::text IS NULL OR principal = $8)
    AND ($9::text IS NULL OR left(resource, length($9)) = $9)";

impl PgAuditLog {
    /// Up to `limit` matching rows after `after`, in key order (or the last ones, `newest`).
    fn query(
        &self,
        filter: &AuditFilter,
        after: Option<Vec<u8>>,
        limit: i64,
        newest: bool,
    ) -> coffer_kms::Result<Vec<(Vec<u8>, AuditRecord)>> {
        let pool = self.0.pool().clone();
        let w = Where::of(filter);
        let order = if newest { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT id, record FROM kms_audit WHERE {AUDIT_WHERE} ORDER BY id {order} LIMIT $7"
        );
        let rows = self
            .0
            .run(async move {
                let client = pool.client().await?;
                let rows = client
                    .query(
                        &sql,
                        &[
                            &w.account,
                            &w.key_id,
                            &w.operation,
                            &w.since,
                            &w.until,
                            &after,
                            &limit,
                            &w.principal,
                            &w.resource_prefix,
                        ],
                    )
                    .await?;
                Ok(rows
                    .iter()
                    .map(|r| (r.get::<_, Vec<u8>>(0), r.get::<_, String>(1)))
                    .collect::<Vec<_>>())
            })
            .map_err(kms_error)?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, text) in rows {
            match serde_json::from_str::<AuditRecord>(&text) {
                Ok(record) => out.push((id, record)),
                Err(e) => tracing::warn!(error = %e, "skipping an unreadable audit row"),
            }
        }
        if newest {
            out.reverse();
        }
        Ok(out)
    }
}

impl coffer_kms::AuditSink for PgAuditLog {
    fn append(&self, record: &AuditRecord) -> coffer_kms::Result<()> {
        let text =
            serde_json::to_string(record).map_err(|e| coffer_kms::Error::Internal(Box::new(e)))?;
        let at = nanos(record.time);
        let mut id = at.to_be_bytes().to_vec();
        id.extend_from_slice(&rand::random::<[u8; 8]>());
        let account = record.account.as_str().to_owned();
        let key_id = record.key_id.map(|k| k.to_string());
        let operation = record.operation.as_str().to_owned();
        let principal = record.principal.clone();
        let resource = record.resource.clone();
        let pool = self.0.pool().clone();
        self.0
            .run(async move {
                let client = pool.client().await?;
                client
                    .execute(
                        "INSERT INTO kms_audit
                             (id, account, key_id, operation, principal, resource, at_ns, record)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        &[
                            &id, &account, &key_id, &operation, &principal, &resource, &at, &text,
                        ],
                    )
                    .await?;
                Ok(())
            })
            .map_err(kms_error)
    }

    fn records(&self, filter: &AuditFilter) -> coffer_kms::Result<Vec<AuditRecord>> {
        let limit = filter
            .limit
            .map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX));
        Ok(self
            .query(filter, None, limit, false)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }

    fn page(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> coffer_kms::Result<AuditPage> {
        let after = after
            .map(|m| {
                hex::decode(m).ok().filter(|id| id.len() == 16).ok_or(
                    coffer_kms::Error::InvalidParameter {
                        what: "Marker",
                        reason: "is not a marker this server returned",
                    },
                )
            })
            .transpose()?;
        let wanted = i64::try_from(limit).unwrap_or(i64::MAX - 1);
        let mut rows = self.query(filter, after, wanted.saturating_add(1), false)?;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more {
            rows.last().map(|(id, _)| hex::encode(id))
        } else {
            None
        };
        Ok(AuditPage {
            records: rows.into_iter().map(|(_, r)| r).collect(),
            next,
        })
    }

    fn tail(&self, filter: &AuditFilter, n: usize) -> coffer_kms::Result<Vec<AuditRecord>> {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        Ok(self
            .query(filter, None, n, true)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }
}

/// A sealed keyring in the `keyrings` table ([`coffer_keyring::SharedKeyring`]).
#[derive(Debug)]
pub struct PgKeyring {
    shared: PgShared,
    name: String,
}

impl coffer_keyring::SharedKeyring for PgKeyring {
    fn name(&self) -> String {
        format!("keyring {:?} in PostgreSQL", self.name)
    }

    fn load(&self) -> Result<Option<Vec<u8>>, String> {
        let pool = self.shared.pool().clone();
        let name = self.name.clone();
        self.shared
            .run(async move {
                let client = pool.client().await?;
                let row = client
                    .query_opt("SELECT sealed FROM keyrings WHERE name = $1", &[&name])
                    .await?;
                Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
            })
            .map_err(|e| e.to_string())
    }

    fn store(&self, expected: u64, generation: u64, bytes: &[u8]) -> Result<bool, String> {
        let pool = self.shared.pool().clone();
        let name = self.name.clone();
        let bytes = bytes.to_vec();
        let expected = i64::try_from(expected).map_err(|e| e.to_string())?;
        let generation = i64::try_from(generation).map_err(|e| e.to_string())?;
        self.shared
            .run(async move {
                let client = pool.client().await?;
                let written = if expected == 0 {
                    client
                        .execute(
                            "INSERT INTO keyrings (name, generation, sealed) VALUES ($1, $2, $3)
                             ON CONFLICT (name) DO NOTHING",
                            &[&name, &generation, &bytes],
                        )
                        .await?
                } else {
                    client
                        .execute(
                            "UPDATE keyrings SET generation = $2, sealed = $3
                             WHERE name = $1 AND generation = $4",
                            &[&name, &generation, &bytes, &expected],
                        )
                        .await?
                };
                Ok(written == 1)
            })
            .map_err(|e| e.to_string())
    }
}
