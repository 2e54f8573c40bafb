//! The one place a storage backend is chosen: every store the server keeps state in is opened
//! here, from the configuration, and handed on as a trait object. Nothing else in the workspace
//! names a concrete backend.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use coffer_blob::BlobStore;
use coffer_keyring::SharedKeyring;
use coffer_kms::{AuditSink, UsageStore};
use coffer_meta::MetaStore;
use coffer_records::RecordStore;
use coffer_signature::replay::SpentNonces;

use crate::config::{BlobBackend, MetaBackend, ServerConfig};

/// The opened stores, not yet holding any key: the services built over them unseal what they
/// need with the root key.
pub(crate) struct Backends {
    /// Buckets, objects, uploads, parts.
    pub(crate) meta: Arc<dyn MetaStore>,
    /// Object data.
    pub(crate) blobs: Arc<dyn BlobStore>,
    /// RAM users, keys, policies, roles.
    pub(crate) identities: Arc<dyn RecordStore>,
    /// The KMS's keys and counters.
    pub(crate) kms: Box<dyn RecordStore>,
    /// The KMS's audit trail.
    pub(crate) kms_audit: Box<dyn AuditSink>,
    /// What the nodes share besides records, when state is in a shared database: the KMS's
    /// usage counters, the spent signature nonces, the SSE keyring. `None`: all of it is this
    /// node's own (the KMS store's counters, memory, the keyring file).
    pub(crate) shared: Option<Shared>,
    /// How old an unknown blob must be before startup recovery deletes it. Zero for a blob store
    /// this node owns (every blob older than its start was written by a process now gone); for a
    /// shared one, long enough that another node's write has committed its metadata or failed.
    pub(crate) orphan_grace: Duration,
    /// Whether this node runs the periodic duties now.
    pub(crate) duty_lease: DutyLease,
    /// The backends' own metrics (connection pools, transaction latency), in the Prometheus
    /// text format, for `/metrics`.
    pub(crate) metrics: coffer_oss::MetricsSource,
}

/// The stores several nodes share besides records.
pub(crate) struct Shared {
    /// The KMS's usage counters, summed over the nodes.
    pub(crate) kms_usage: Box<dyn UsageStore>,
    /// The signature nonces the KMS and admin APIs of every node spent.
    pub(crate) nonces: Arc<dyn SpentNonces>,
    /// The sealed SSE keyring.
    pub(crate) keyring: Arc<dyn SharedKeyring>,
}

/// Which node runs the periodic duties (garbage collection, keyring rotation, the KMS's
/// schedule): with state in this process only, always this one; with state in a shared
/// database, the holder of its lease (`coffer_meta_postgres::Lease`), one node at a time.
pub(crate) struct DutyLease(Option<coffer_meta_postgres::Lease>);

impl DutyLease {
    /// Whether the duties are this node's to run now.
    pub(crate) fn is_held(&self) -> bool {
        self.0
            .as_ref()
            .is_none_or(coffer_meta_postgres::Lease::is_held)
    }
}

/// How often a node that does not hold the duty lease tries to take it, and the holder checks
/// that it still does: the longest the duties pause after their node dies.
pub(crate) const DUTY_LEASE_EVERY: Duration = Duration::from_secs(2);

/// The name of the SSE-OSS keyring's row in a shared database.
pub(crate) const SSE_KEYRING: &str = "sse";

/// [`Backends::orphan_grace`] of a shared blob store: far longer than a blob's commit and its
/// metadata transaction take, even for a 5 GiB part.
const SHARED_ORPHAN_GRACE: Duration = Duration::from_secs(6 * 60 * 60);

/// Creates the data directory if needed and opens each store the configuration names. Blocks
/// while the embedded stores open: call it at startup.
pub(crate) async fn open_backends(config: &ServerConfig) -> Result<Backends> {
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir.root())
        .with_context(|| format!("create data directory {}", dir.root().display()))?;
    let server = &config.sections.server;
    let mut duty_lease = DutyLease(None);
    let mut metrics: coffer_oss::MetricsSource = Arc::new(String::new);
    let mut shared = None;
    let mut kms_audit: Option<Box<dyn AuditSink>> = None;
    let (meta, identities, kms): (
        Arc<dyn MetaStore>,
        Arc<dyn RecordStore>,
        Box<dyn RecordStore>,
    ) = match &server.meta {
        MetaBackend::Embedded => (
            Arc::new(
                coffer_meta_redb::RedbMetaStore::open(&dir.meta())
                    .context("open metadata store")?,
            ),
            Arc::new(coffer_iam::open_redb_store(&dir.iam()).context("open the identity store")?),
            Box::new(coffer_kms::open_redb_store(&dir.kms()).context("open the KMS store")?),
        ),
        MetaBackend::Postgres(url) => {
            let pool = coffer_meta_postgres::connect(url.expose())
                .await
                .context("open the PostgreSQL metadata store")?;
            duty_lease = DutyLease(Some(
                coffer_meta_postgres::Lease::start(url.expose(), DUTY_LEASE_EVERY)
                    .context("contend for the duty lease in PostgreSQL")?,
            ));
            let open = |store, tables: &[coffer_records::Table]| {
                coffer_meta_postgres::PgRecordStore::open(url.expose(), store, tables)
            };
            let identities = open("iam", &coffer_iam::TABLES)
                .context("open the identity store in PostgreSQL")?;
            let kms =
                open("kms", &coffer_kms::TABLES).context("open the KMS store in PostgreSQL")?;
            let tables = coffer_meta_postgres::PgShared::open(url.expose())
                .context("open the shared tables in PostgreSQL")?;
            kms_audit = Some(Box::new(tables.audit_log()));
            shared = Some(Shared {
                kms_usage: Box::new(tables.usage()),
                nonces: Arc::new(tables.nonces()),
                keyring: Arc::new(tables.keyring(SSE_KEYRING)),
            });
            let pools = [
                ("meta", pool.clone()),
                ("iam", identities.pool().clone()),
                ("kms", kms.pool().clone()),
                ("shared", tables.pool().clone()),
            ];
            metrics = Arc::new(move || {
                let mut text = coffer_meta_postgres::Pool::metrics_help().to_owned();
                for (name, pool) in &pools {
                    text.push_str(&pool.render_metrics(name));
                }
                text
            });
            (
                Arc::new(coffer_meta_postgres::PgMetaStore::new(pool)),
                Arc::new(identities),
                Box::new(kms),
            )
        }
    };
    let (blobs, orphan_grace): (Arc<dyn BlobStore>, Duration) = match &server.blob {
        BlobBackend::Local => (
            Arc::new(coffer_blob_fs::FsBlobStore::open(&dir.blobs()).context("open blob store")?),
            Duration::ZERO,
        ),
        BlobBackend::S3(place) => {
            let (access_key_id, secret) = config.secrets.s3_keys.clone().context(
                "--blob s3://... needs COFFER_S3_ACCESS_KEY_ID and COFFER_S3_SECRET_ACCESS_KEY",
            )?;
            let store = coffer_blob_s3::S3BlobStore::open(&coffer_blob_s3::S3Config {
                endpoint: place.endpoint.clone(),
                bucket: place.bucket.clone(),
                region: place.region.clone(),
                root: place.root.clone(),
                access_key_id,
                secret_access_key: secret.to_string(),
            })
            .context("open the S3 blob store")?;
            (Arc::new(store), SHARED_ORPHAN_GRACE)
        }
    };
    let kms_audit = match kms_audit {
        Some(shared) => shared,
        None => Box::new(
            coffer_kms::JsonlAuditLog::open(&dir.kms_audit_log())
                .context("open the KMS audit log")?,
        ),
    };
    Ok(Backends {
        meta,
        blobs,
        identities,
        kms,
        kms_audit,
        shared,
        orphan_grace,
        duty_lease,
        metrics,
    })
}

#[cfg(test)]
mod tests {
    use coffer_types::DataDir;

    #[test]
    fn kms_open_and_data_dir_agree_on_the_audit_log() {
        // `Kms::open` (used by the KMS crate's tests and examples) derives the audit log's path
        // from the store's; `open_backends` takes both from `DataDir`. They must name one file.
        let dir = DataDir::new("d");
        assert_eq!(
            coffer_kms::Kms::audit_log_path(&dir.kms()),
            dir.kms_audit_log()
        );
    }
}
