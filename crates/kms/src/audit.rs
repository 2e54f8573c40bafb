//! The audit trail: one [`AuditRecord`] per KMS operation from any path, successful or not, written
//! to an [`AuditSink`] — by default [`JsonlAuditLog`], an append-only JSON-lines file (mode 0600)
//! beside the store.
//!
//! Records hold ids, names, the encryption context (not secret, and exactly what an auditor needs)
//! and the result code; never key material, plaintext or import tokens.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::context::EncryptionContext;
use crate::id::{AccountId, KeyId, KeyVersionId};
use crate::{Error, Result};

/// A KMS operation, named as the KMS API action, plus the KMS's own scheduled actions.
// Serialized by name in the audit log, by index in store records: append, never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)] // The names are the KMS API's actions.
pub enum Operation {
    CreateKey,
    DescribeKey,
    ListKeys,
    UpdateKeyDescription,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    TagResource,
    UntagResource,
    ListResourceTags,
    CreateAlias,
    UpdateAlias,
    DeleteAlias,
    ListAliases,
    ListAliasesByKeyId,
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    Encrypt,
    Decrypt,
    ReEncrypt,
    CreateKeyVersion,
    ListKeyVersions,
    DescribeKeyVersion,
    UpdateRotationPolicy,
    GetParametersForImport,
    ImportKeyMaterial,
    DeleteKeyMaterial,
    /// `tick`: a version made by automatic rotation.
    AutomaticRotation,
    /// `tick`: a key destroyed at the end of its pending window.
    KeyDeletion,
    /// `tick`: imported material erased at its expiry.
    KeyMaterialExpiry,
}

impl Operation {
    /// The action name, e.g. `GenerateDataKey`.
    pub fn as_str(self) -> &'static str {
        use Operation::*;
        match self {
            CreateKey => "CreateKey",
            DescribeKey => "DescribeKey",
            ListKeys => "ListKeys",
            UpdateKeyDescription => "UpdateKeyDescription",
            EnableKey => "EnableKey",
            DisableKey => "DisableKey",
            ScheduleKeyDeletion => "ScheduleKeyDeletion",
            CancelKeyDeletion => "CancelKeyDeletion",
            TagResource => "TagResource",
            UntagResource => "UntagResource",
            ListResourceTags => "ListResourceTags",
            CreateAlias => "CreateAlias",
            UpdateAlias => "UpdateAlias",
            DeleteAlias => "DeleteAlias",
            ListAliases => "ListAliases",
            ListAliasesByKeyId => "ListAliasesByKeyId",
            GenerateDataKey => "GenerateDataKey",
            GenerateDataKeyWithoutPlaintext => "GenerateDataKeyWithoutPlaintext",
            Encrypt => "Encrypt",
            Decrypt => "Decrypt",
            ReEncrypt => "ReEncrypt",
            CreateKeyVersion => "CreateKeyVersion",
            ListKeyVersions => "ListKeyVersions",
            DescribeKeyVersion => "DescribeKeyVersion",
            UpdateRotationPolicy => "UpdateRotationPolicy",
            GetParametersForImport => "GetParametersForImport",
            ImportKeyMaterial => "ImportKeyMaterial",
            DeleteKeyMaterial => "DeleteKeyMaterial",
            AutomaticRotation => "AutomaticRotation",
            KeyDeletion => "KeyDeletion",
            KeyMaterialExpiry => "KeyMaterialExpiry",
        }
    }
}

/// The `result` of a successful operation; failures record their error code.
pub const RESULT_SUCCESS: &str = "Success";

/// One audited operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it ran (RFC 3339 in the log).
    #[serde(with = "rfc3339")]
    pub time: SystemTime,
    /// The caller's account.
    pub account: AccountId,
    /// The caller within the account.
    pub principal: String,
    /// `Api`, `Oss` or `Internal`.
    pub via: String,
    /// What the call served, e.g. `oss:bucket/key` for SSE.
    pub resource: Option<String>,
    /// The operation.
    pub operation: Operation,
    /// The key it used, when one was resolved.
    pub key_id: Option<KeyId>,
    /// The key version it used, when one was.
    pub key_version_id: Option<KeyVersionId>,
    /// The encryption context of a cryptographic operation.
    pub encryption_context: Option<EncryptionContext>,
    /// [`RESULT_SUCCESS`] or the error code, e.g. `Rejected.Disabled`.
    pub result: String,
}

/// Which records [`crate::Kms::audit`] returns; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this account.
    pub account: Option<AccountId>,
    /// Only this key.
    pub key_id: Option<KeyId>,
    /// Only this operation.
    pub operation: Option<Operation>,
    /// Only at or after this time.
    pub since: Option<SystemTime>,
    /// Only before this time.
    pub until: Option<SystemTime>,
    /// Only calls by this principal (as the record names it: `root`, a user's name, a role
    /// session's `role/session`).
    pub principal: Option<String>,
    /// Only records whose resource starts with this, e.g. `bucket/` for one bucket's objects or
    /// `bucket/key` for one object (SSE-KMS calls name their object so).
    pub resource_prefix: Option<String>,
    /// At most this many, the oldest first.
    pub limit: Option<usize>,
}

impl AuditFilter {
    /// Whether `record` passes the filter (ignoring `limit`).
    pub fn matches(&self, record: &AuditRecord) -> bool {
        self.account.as_ref().is_none_or(|a| *a == record.account)
            && self.key_id.is_none_or(|k| record.key_id == Some(k))
            && self.operation.is_none_or(|o| o == record.operation)
            && self.since.is_none_or(|t| record.time >= t)
            && self.until.is_none_or(|t| record.time < t)
            && self
                .principal
                .as_ref()
                .is_none_or(|p| *p == record.principal)
            && self.resource_prefix.as_ref().is_none_or(|prefix| {
                record
                    .resource
                    .as_ref()
                    .is_some_and(|r| r.starts_with(prefix.as_str()))
            })
    }
}

/// One page of audit records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditPage {
    /// The records, in the sink's order.
    pub records: Vec<AuditRecord>,
    /// Where the next page starts, when more records match.
    pub next: Option<String>,
}

/// Where audit records go.
pub trait AuditSink: Send + Sync {
    /// Appends one record; when it returns `Ok` the record is in the sink's storage. The KMS fails
    /// the audited operation if this fails (no unaudited key use).
    fn append(&self, record: &AuditRecord) -> Result<()>;

    /// The records matching `filter`, in the order they were appended.
    fn records(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;

    /// At most `limit` records matching `filter` (its `limit` ignored) after the marker `after`
    /// (a [`AuditPage::next`] this sink returned; `None` for the first page). A marker that is not
    /// one of this sink's is [`Error::InvalidParameter`]. The default counts matching records from
    /// the start (a record's position among the matches never changes in an append-only log);
    /// sinks that can seek override it.
    fn page(&self, filter: &AuditFilter, after: Option<&str>, limit: usize) -> Result<AuditPage> {
        let skip = match after {
            None => 0,
            Some(m) => m.parse::<usize>().map_err(|_| Error::InvalidParameter {
                what: "Marker",
                reason: "is not a marker this server returned",
            })?,
        };
        let mut filter = filter.clone();
        filter.limit = Some(skip.saturating_add(limit).saturating_add(1));
        let records = self.records(&filter)?;
        let more = records.len() > skip.saturating_add(limit);
        Ok(AuditPage {
            records: records.into_iter().skip(skip).take(limit).collect(),
            next: more.then(|| (skip + limit).to_string()),
        })
    }

    /// The last `n` records matching `filter` (its `limit` ignored), oldest first.
    fn tail(&self, filter: &AuditFilter, n: usize) -> Result<Vec<AuditRecord>> {
        let mut filter = filter.clone();
        filter.limit = None;
        let mut records = self.records(&filter)?;
        let skip = records.len().saturating_sub(n);
        Ok(records.split_off(skip))
    }
}

/// An append-only JSON-lines audit log: one record per line, written with one `write` call on a
/// file opened for appending (mode 0600).
///
/// Each append reaches the operating system before the operation returns, so it survives a crash
/// of the process; it is not fsynced per record (that would cost a disk flush per Decrypt), so
/// power loss can lose the most recent records. A torn last line is skipped when reading.
pub struct JsonlAuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

impl std::fmt::Debug for JsonlAuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlAuditLog")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl JsonlAuditLog {
    /// Opens (creating with mode 0600) the log at `path`. If the last line was torn by a crash,
    /// ends it, so the next record starts on a line of its own.
    pub fn open(path: &Path) -> Result<Self> {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(Error::internal)?;
        let len = file.metadata().map_err(Error::internal)?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))
                .map_err(Error::internal)?;
            file.read_exact(&mut last).map_err(Error::internal)?;
            if last[0] != b'\n' {
                file.write_all(b"\n").map_err(Error::internal)?;
            }
        }
        Ok(Self {
            path: path.to_owned(),
            file: Mutex::new(file),
        })
    }
}

impl AuditSink for JsonlAuditLog {
    fn append(&self, record: &AuditRecord) -> Result<()> {
        let mut line = serde_json::to_vec(record).map_err(Error::internal)?;
        line.push(b'\n');
        let mut file = self.file.lock().expect("audit lock poisoned");
        file.write_all(&line).map_err(Error::internal)
    }

    fn records(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let file = File::open(&self.path).map_err(Error::internal)?;
        let mut out = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(Error::internal)?;
            match serde_json::from_str::<AuditRecord>(&line) {
                Ok(record) if filter.matches(&record) => out.push(record),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "skipping unreadable audit line"),
            }
            if filter.limit.is_some_and(|n| out.len() >= n) {
                break;
            }
        }
        Ok(out)
    }
}

/// An audit sink in memory, for tests and benchmarks.
#[derive(Debug, Default)]
pub struct MemoryAuditLog(Mutex<Vec<AuditRecord>>);

impl MemoryAuditLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }
}

impl AuditSink for MemoryAuditLog {
    fn append(&self, record: &AuditRecord) -> Result<()> {
        self.0
            .lock()
            .expect("audit lock poisoned")
            .push(record.clone());
        Ok(())
    }

    fn records(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let records = self.0.lock().expect("audit lock poisoned");
        Ok(records
            .iter()
            .filter(|r| filter.matches(r))
            .take(filter.limit.unwrap_or(usize::MAX))
            .cloned()
            .collect())
    }
}

mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        let text = OffsetDateTime::from(*t)
            .format(&Rfc3339)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339)
            .map(SystemTime::from)
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn record(op: Operation, secs: u64) -> AuditRecord {
        AuditRecord {
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(secs * 1000 + 250),
            account: AccountId::parse("1234567890123456").unwrap(),
            principal: "root".into(),
            via: "Oss".into(),
            resource: Some("oss:b/k".into()),
            operation: op,
            key_id: Some(KeyId::random()),
            key_version_id: None,
            encryption_context: Some(EncryptionContext::from_pairs([("a", "b")])),
            result: RESULT_SUCCESS.into(),
        }
    }

    #[test]
    fn jsonl_log_round_trips_filters_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms.audit.jsonl");
        let log = JsonlAuditLog::open(&path).unwrap();
        let a = record(Operation::Decrypt, 10);
        let b = record(Operation::Encrypt, 20);
        log.append(&a).unwrap();
        log.append(&b).unwrap();
        drop(log);
        let log = JsonlAuditLog::open(&path).unwrap();
        assert_eq!(
            log.records(&AuditFilter::default()).unwrap(),
            vec![a.clone(), b.clone()]
        );
        let only = |f: AuditFilter| log.records(&f).unwrap();
        assert_eq!(
            only(AuditFilter {
                operation: Some(Operation::Encrypt),
                ..Default::default()
            }),
            vec![b.clone()]
        );
        assert_eq!(
            only(AuditFilter {
                key_id: a.key_id,
                ..Default::default()
            }),
            vec![a.clone()]
        );
        assert_eq!(
            only(AuditFilter {
                since: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(15)),
                ..Default::default()
            }),
            vec![b.clone()]
        );
        assert_eq!(
            only(AuditFilter {
                limit: Some(1),
                ..Default::default()
            }),
            vec![a.clone()]
        );
        let mut c = record(Operation::Decrypt, 30);
        c.principal = "alice".into();
        c.resource = Some("oss:other/k".into());
        log.append(&c).unwrap();
        assert_eq!(
            only(AuditFilter {
                principal: Some("alice".into()),
                ..Default::default()
            }),
            vec![c.clone()]
        );
        assert_eq!(
            only(AuditFilter {
                resource_prefix: Some("oss:b/".into()),
                ..Default::default()
            }),
            vec![a.clone(), b.clone()]
        );
        // A prefix is matched on the resource's text, and a record without one never matches.
        let mut d = record(Operation::ListKeys, 40);
        d.resource = None;
        log.append(&d).unwrap();
        assert_eq!(
            only(AuditFilter {
                resource_prefix: Some("oss:other/k".into()),
                ..Default::default()
            }),
            vec![c.clone()]
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(r#""operation":"Decrypt""#), "{text}");
        assert!(text.contains(&a.key_id.unwrap().to_string()), "{text}");
        assert!(text.contains("1970-01-01T00:00:10.25Z"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_torn_last_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let log = JsonlAuditLog::open(&path).unwrap();
        log.append(&record(Operation::Decrypt, 1)).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"time\":\"19")
            .unwrap();
        assert_eq!(log.records(&AuditFilter::default()).unwrap().len(), 1);
        drop(log);
        let log = JsonlAuditLog::open(&path).unwrap();
        log.append(&record(Operation::Encrypt, 2)).unwrap();
        let all = log.records(&AuditFilter::default()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].operation, Operation::Encrypt);
    }
}
