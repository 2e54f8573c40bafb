//! The shared-state backends of coffer on PostgreSQL: [`PgMetaStore`] implements
//! [`coffer_meta::MetaStore`] and [`PgRecordStore`] implements [`coffer_records::RecordStore`],
//! both over one pool of connections ([`deadpool_postgres`] on [`tokio_postgres`]).
//!
//! Several coffer nodes may share one database: every trait method is one transaction at
//! `SERIALIZABLE` isolation, its conditions are checked in that transaction, and a transaction the
//! database aborts for a serialization conflict or a deadlock (SQLSTATE `40001`, `40P01`) is
//! retried from the start a bounded number of times. Nothing here depends on advisory locks or
//! `LISTEN` for the correctness of an operation (the [`Lease`] that picks the node running the
//! periodic duties is an advisory lock, but the duties stay correct without it), so the same SQL runs on PostgreSQL-compatible
//! distributed databases; the advisory lock taken around migrations only keeps two nodes that
//! start at once from racing to create the same tables (and the migrations are idempotent anyway).
//!
//! [`PgShared`] holds what else the nodes share: the signature nonces the KMS and admin APIs
//! spent ([`PgNonces`]), the KMS's usage counters ([`PgUsage`]) and audit trail ([`PgAuditLog`]),
//! and the sealed SSE-OSS keyring ([`PgKeyring`]), each implementing its owner's trait.
//!
//! Values are opaque bytes: metadata records are stored as `coffer_meta::encode_record` makes them,
//! record-store values arrive sealed by their users. The database never sees object data or a
//! plaintext key.

mod error;
mod lease;
mod meta;
mod pool;
mod records;
mod schema;
mod shared;

pub use error::Error;
pub use lease::Lease;
pub use meta::PgMetaStore;
pub use pool::{Pool, connect};
pub use records::PgRecordStore;
pub use shared::{PgAuditLog, PgKeyring, PgNonces, PgShared, PgUsage};
