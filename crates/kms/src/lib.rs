//! The key management service of coffer: customer master keys (CMKs) with versions, automatic and
//! manual rotation, aliases, BYOK import of key material (RSA-wrapped), and the cryptographic
//! operations of the Alibaba Cloud KMS API — GenerateDataKey, Encrypt, Decrypt, ReEncrypt — over
//! our own authenticated [`CiphertextBlob`] format, each bound to an [`EncryptionContext`]. One
//! [`Kms`] method per KMS API action, so the object store's SSE-KMS (in process) and the KMS API
//! front-end call the same code; every call is metered ([`Kms::usage`]) and audited ([`Kms::audit`]).
//!
//! State lives in its own store (a [`coffer_records::RecordStore`] with the KMS's [`TABLES`]: a
//! `kms.redb` file, [`open_redb_store`]), with every piece of key material sealed by
//! [`coffer_crypto::Sealer`] under a key derived from the [`RootKey`] the caller lends; the
//! audit log is a JSON-lines file beside it. Deleting a key (at the end of its pending window, in
//! [`Kms::tick`]) destroys all its versions and scrubs the store: ciphertexts under it are
//! unrecoverable (crypto-shredding).
//!
//! It deliberately does not speak HTTP, parse API parameters beyond typed values, or authorize:
//! the front-ends verify signatures and RAM permissions first and pass a [`Caller`]. It does not
//! encrypt object data (that is `coffer-crypto`, with the [`DataKey`](coffer_crypto::DataKey) a
//! [`Plaintext`] converts to), does not run timers (the server calls [`Kms::tick`]), and has no
//! key policies or cross-account use. Time comes from a [`Clock`], never from sleeping.
//!
//! Errors are one [`Error`] enum whose variants map one to one onto the KMS error codes
//! ([`Error::code`], [`Error::http_status`]).

#![warn(missing_docs)]

mod audit;
mod blob;
mod caller;
mod config;
mod context;
mod error;
mod id;
mod key;
mod kms;
mod metering;
mod record;
mod seal;
mod secret;
mod store;
mod wrapping;

pub use audit::{
    AuditFilter, AuditPage, AuditRecord, AuditSink, JsonlAuditLog, MemoryAuditLog, Operation,
    RESULT_SUCCESS,
};
pub use blob::{BLOB_OVERHEAD, CiphertextBlob, MAX_BLOB_BASE64_LEN};
pub use caller::{Caller, KmsItself, Via};
pub use coffer_crypto::RootKey;
pub use coffer_types::{Clock, ManualClock, SystemClock, Timestamp};
pub use config::Config;
pub use context::{EncryptionContext, MAX_CONTEXT_JSON_LEN};
pub use error::{Error, Result};
pub use id::{
    ALIAS_PREFIX, AccountId, AliasName, KeyId, KeyRef, KeyVersionId, RESERVED_ALIAS_PREFIX,
    alias_arn, key_arn,
};
pub use key::{
    AutomaticRotation, CreateKey, DataKeySpec, KeyFilter, KeyListEntry, KeyMetadata, KeySpec,
    KeyState, KeyUsage, KeyVersion, MAX_CREATE_ROTATION_INTERVAL, MAX_ROTATION_INTERVAL, MAX_TAGS,
    MIN_ROTATION_INTERVAL, Origin, Page, Paged, ProtectionLevel, RotationPolicy, Tag,
};
pub use kms::{
    AliasEntry, Decrypt, Decrypted, Encrypt, Encrypted, GenerateDataKey, GeneratedDataKey,
    IMPORT_TOKEN_TTL_SECS, ImportKeyMaterial, ImportParameters, Kms, MAX_ENCRYPT_PLAINTEXT_LEN,
    OSS_DEFAULT_ALIAS, ReEncrypt, ReEncrypted, TickReport,
};
pub use metering::{UsageDelta, UsageRow, UsageStore};
pub use secret::{ImportToken, Plaintext};
pub use store::{TABLES, memory_store, open_redb_store};
pub use wrapping::{WrappingAlgorithm, WrappingKeySpec};
