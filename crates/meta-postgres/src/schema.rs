//! The database schema and its versioned migrations.
//!
//! `coffer_schema` holds one row per applied migration. At start each node takes a session
//! advisory lock, applies every migration newer than the highest stored version (each in its own
//! transaction together with its row) and releases the lock. The lock only spares two nodes starting
//! at once from doing the work twice: every statement is `IF NOT EXISTS` and the version row has a
//! primary key, so a database that ignores advisory locks still ends with one schema.
//!
//! Keys are `bytea`, so that every database orders them by bytes (the order listings promise)
//! whatever its collation; bucket names and ids are ASCII `text`.

use crate::{Error, Pool};

/// Arbitrary, fixed: the advisory lock key that serialises migrations ("coffer" in ASCII).
const MIGRATION_LOCK: i64 = 0x636f_6666_6572;

/// Migrations in order; the version of a migration is its index plus one. Never edit one that has
/// shipped: append a new one.
const MIGRATIONS: &[&str] = &[
    // 1: metadata (see `crate::meta`) and the record store (see `crate::records`).
    "CREATE TABLE IF NOT EXISTS meta_buckets (
        name text PRIMARY KEY,
        record bytea NOT NULL
    );
    CREATE TABLE IF NOT EXISTS meta_objects (
        bucket text NOT NULL,
        key bytea NOT NULL,
        record bytea NOT NULL,
        PRIMARY KEY (bucket, key)
    );
    CREATE TABLE IF NOT EXISTS meta_uploads (
        bucket text NOT NULL,
        key bytea NOT NULL,
        upload_id text NOT NULL,
        record bytea NOT NULL,
        PRIMARY KEY (bucket, key, upload_id)
    );
    CREATE UNIQUE INDEX IF NOT EXISTS meta_uploads_by_id ON meta_uploads (bucket, upload_id);
    CREATE TABLE IF NOT EXISTS meta_parts (
        bucket text NOT NULL,
        upload_id text NOT NULL,
        part_number bigint NOT NULL,
        blob text NOT NULL,
        record bytea NOT NULL,
        PRIMARY KEY (bucket, upload_id, part_number)
    );
    CREATE TABLE IF NOT EXISTS meta_live_blobs (id text PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS meta_garbage (id text PRIMARY KEY);
    CREATE TABLE IF NOT EXISTS records (
        tbl text NOT NULL,
        key bytea NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (tbl, key)
    );",
    // 2: one generation per record store, moved on by every batch (see `crate::records`).
    "CREATE TABLE IF NOT EXISTS record_generations (
        store text PRIMARY KEY,
        generation bigint NOT NULL
    );",
    // 3: what several nodes share besides records (see `crate::shared`): the spent signature
    // nonces of the KMS and admin APIs, the KMS's usage counters and audit trail, and the sealed
    // SSE-OSS keyring.
    "CREATE TABLE IF NOT EXISTS replay_nonces (
        digest bytea PRIMARY KEY,
        expires_at bigint NOT NULL
    );
    CREATE INDEX IF NOT EXISTS replay_nonces_by_expiry ON replay_nonces (expires_at);
    CREATE TABLE IF NOT EXISTS kms_usage (
        account text NOT NULL,
        key_id text NOT NULL,
        operation text NOT NULL,
        day bigint NOT NULL,
        calls bigint NOT NULL,
        failures bigint NOT NULL,
        PRIMARY KEY (account, key_id, operation, day)
    );
    CREATE TABLE IF NOT EXISTS kms_audit (
        id bytea PRIMARY KEY,
        account text NOT NULL,
        key_id text,
        operation text NOT NULL,
        principal text NOT NULL,
        resource text,
        at_ns bigint NOT NULL,
        record text NOT NULL
    );
    CREATE INDEX IF NOT EXISTS kms_audit_by_account ON kms_audit (account, id);
    CREATE TABLE IF NOT EXISTS keyrings (
        name text PRIMARY KEY,
        generation bigint NOT NULL,
        sealed bytea NOT NULL
    );",
];

/// The schema version this build writes.
pub(crate) fn current_version() -> i64 {
    i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// Brings the database up to [`current_version`]; refuses a database that is newer.
pub(crate) async fn migrate(pool: &Pool) -> Result<(), Error> {
    let mut client = pool.client().await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let outcome = apply(&mut client).await;
    // Release even after a failure; a lost connection releases it too.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    outcome?;
    unlocked?;
    Ok(())
}

async fn apply(client: &mut deadpool_postgres::Object) -> Result<(), Error> {
    // The "already exists, skipping" notices of a migrated database are not worth a log line.
    client
        .batch_execute("SET client_min_messages TO WARNING")
        .await?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS coffer_schema (
                version bigint PRIMARY KEY,
                applied_at timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await?;
    let row = client
        .query_one("SELECT COALESCE(MAX(version), 0) FROM coffer_schema", &[])
        .await?;
    let found: i64 = row.get(0);
    let known = current_version();
    if found > known {
        return Err(Error::SchemaTooNew { found, known });
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS.iter())
        .skip_while(|(v, _)| *v <= found)
    {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO coffer_schema (version) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&version],
        )
        .await?;
        tx.commit().await?;
    }
    Ok(())
}
