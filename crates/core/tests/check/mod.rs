//! The one layer between the table-driven tests and `coffer-core`'s API: it builds the inputs,
//! makes the grants, collects bodies, and names every failure with a stable code of its own
//! (`code`). When core's inputs or error variants change, this file changes and the tables in
//! the tests do not.

#![allow(dead_code)] // each test binary uses part of the layer

use std::sync::Arc;

use bytes::Bytes;
use coffer_core::{
    AppendObject, BodyStream, ByteRange, CompletePart, CompleteUpload, CopyObject, CreateBucket,
    EncryptionRule, Error, GetOptions, InitiateUpload, ListEntry, ListQuery, MetadataDirective,
    ObjectMetadata, ObjectRecord, Preconditions, PutObject, RangeBehavior, RequestContext,
    SseRequest, Store,
};
use coffer_iam::{Action, Grant, Iam, PublicAccess, Resource};
use coffer_types::{AccessKeySecret, BucketName, ObjectKey, RequestId, UploadId};
use futures::TryStreamExt;

pub(crate) const BUCKET: &str = "bkt";
const OWNER: &str = "1000";

/// A failure, named in the tests' own vocabulary.
pub(crate) type Outcome<T> = Result<T, &'static str>;

/// The neutral name of a core error. The only place the tests match on core's variants.
pub(crate) fn code(e: &Error) -> &'static str {
    match e {
        Error::NoSuchBucket { .. } => "no-bucket",
        Error::BucketAlreadyExists => "bucket-exists",
        Error::BucketNotEmpty => "bucket-not-empty",
        Error::NoSuchKey { .. } => "no-key",
        Error::NoSuchUpload => "no-upload",
        Error::InvalidBucketName(_) => "bad-bucket-name",
        Error::InvalidObjectName(_) => "bad-key",
        Error::InvalidArgument { .. } => "bad-argument",
        Error::InvalidTag(_) => "bad-tag",
        Error::InvalidDigest => "bad-digest",
        Error::EntityTooLarge => "too-large",
        Error::EntityTooSmall => "too-small",
        Error::InvalidPart(_) => "bad-part",
        Error::InvalidPartOrder => "bad-part-order",
        Error::PreconditionFailed { .. } => "precondition",
        Error::NotModified => "not-modified",
        Error::InvalidRange => "bad-range",
        Error::PositionNotEqualToLength { .. } => "wrong-position",
        Error::ObjectNotAppendable => "not-appendable",
        Error::FileAlreadyExists => "exists",
        Error::AccessDenied => "denied",
        Error::IncompleteBody => "incomplete",
        Error::CustomerKeyRequired => "customer-key-required",
        Error::CustomerKeyMismatch => "customer-key-mismatch",
        Error::CustomerKeyNotApplicable => "customer-key-not-applicable",
        Error::EncryptionTypeBlocked => "encryption-type-blocked",
        Error::NotRewrappable(_) => "not-rewrappable",
        Error::Kms(_) => "kms",
        Error::Corrupt(_) => "corrupt",
        Error::Internal(_) => "internal",
    }
}

fn coded<T>(r: coffer_core::Result<T>) -> Outcome<T> {
    r.map_err(|e| code(&e))
}

pub(crate) fn ctx() -> RequestContext {
    RequestContext {
        request_id: RequestId::random(),
        source: None,
        secure: false,
        customer_keys: Default::default(),
    }
}

pub(crate) fn body(data: &[u8]) -> BodyStream {
    // Several chunks, so the store's streaming path sees chunk boundaries.
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(7_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

/// Bytes that do not repeat with a short period, so misplaced ranges are caught.
pub(crate) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

pub(crate) fn key(k: &str) -> ObjectKey {
    ObjectKey::parse(k).expect("test keys are valid")
}

pub(crate) fn bucket() -> BucketName {
    BucketName::parse(BUCKET).expect("valid")
}

/// How a test asks for encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sse {
    None,
    Aes256,
    Sm4,
}

impl Sse {
    fn request(self) -> Option<SseRequest> {
        match self {
            Sse::None => None,
            Sse::Aes256 => Some(SseRequest::Aes256),
            Sse::Sm4 => Some(SseRequest::Sm4),
        }
    }

    /// Whether `record` is encrypted as asked.
    pub(crate) fn matches(self, record: &ObjectRecord) -> bool {
        use coffer_core::SseAlgorithm as A;
        matches!(
            (self, record.encryption.as_ref().map(|e| e.algorithm)),
            (Sse::None, None) | (Sse::Aes256, Some(A::Aes256)) | (Sse::Sm4, Some(A::Sm4))
        )
    }
}

/// A part list for CompleteMultipartUpload: (part number, ETag); `None` completes every part.
pub(crate) type PartList = Option<Vec<(u32, String)>>;

/// What a GET may carry besides the key.
#[derive(Debug, Clone, Default)]
pub(crate) struct Get {
    pub(crate) range: Option<ByteRange>,
    pub(crate) standard_range: bool,
    pub(crate) preconditions: Preconditions,
}

/// What a GET returned.
pub(crate) struct Got {
    pub(crate) record: ObjectRecord,
    pub(crate) range: Option<std::ops::Range<u64>>,
    pub(crate) data: Vec<u8>,
}

/// A store over the in-memory backends with the keyring, one bucket `bkt`, and the root
/// account's grants.
pub(crate) struct World {
    pub(crate) store: Store,
    iam: Iam,
    _dir: tempfile::TempDir,
}

impl World {
    pub(crate) async fn new() -> Self {
        Self::with_config(coffer_core::Config::default()).await
    }

    pub(crate) async fn with_config(config: coffer_core::Config) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let keyring = coffer_keyring::Keyring::open(
            &dir.path().join("keyring"),
            &coffer_crypto::RootKey::generate(),
            coffer_types::Timestamp::UNIX_EPOCH,
        )
        .expect("keyring");
        let store = Store::new(
            Arc::new(coffer_meta::MemoryMetaStore::new()),
            Arc::new(coffer_blob::MemoryBlobStore::new()),
            coffer_core::Config {
                owner_id: OWNER.into(),
                ..config
            },
        )
        .with_keyring(keyring);
        let iam = Iam::new(OWNER.into(), "AK".into(), AccessKeySecret::new("SK"));
        let w = Self {
            store,
            iam,
            _dir: dir,
        };
        w.create_bucket(BUCKET).await.expect("create the bucket");
        w
    }

    fn grant(&self, action: Action, resource: Resource) -> Grant {
        let (p, _) = self.iam.secret_for("AK").expect("root key");
        self.iam
            .authorize(&p, action, resource, PublicAccess::None)
            .expect("root may do anything")
    }

    fn on_object(&self, action: Action, bucket: &str, k: &str) -> Grant {
        self.grant(
            action,
            Resource::Object {
                bucket: bucket.into(),
                key: k.into(),
            },
        )
    }

    fn on_bucket(&self, action: Action, bucket: &str) -> Grant {
        self.grant(action, Resource::Bucket(bucket.into()))
    }

    pub(crate) async fn create_bucket(&self, name: &str) -> Outcome<()> {
        let name = BucketName::parse(name).map_err(|_| "bad-bucket-name")?;
        let g = self.on_bucket(Action::PutBucket, name.as_str());
        coded(
            self.store
                .create_bucket(
                    &ctx(),
                    &g,
                    CreateBucket {
                        name,
                        acl: coffer_core::Acl::Private,
                        storage_class: coffer_core::StorageClass::Standard,
                        encryption: None,
                    },
                )
                .await,
        )
    }

    pub(crate) async fn delete_bucket(&self, name: &str) -> Outcome<()> {
        let g = self.on_bucket(Action::DeleteBucket, name);
        let name = BucketName::parse(name).map_err(|_| "bad-bucket-name")?;
        coded(self.store.delete_bucket(&ctx(), &g, &name).await)
    }

    pub(crate) async fn set_default_encryption(&self, sse: Sse) -> Outcome<()> {
        let g = self.on_bucket(Action::PutBucketEncryption, BUCKET);
        let algorithm = match sse {
            Sse::Aes256 => coffer_core::SseAlgorithm::Aes256,
            Sse::Sm4 => coffer_core::SseAlgorithm::Sm4,
            Sse::None => {
                let g = self.on_bucket(Action::DeleteBucketEncryption, BUCKET);
                return coded(
                    self.store
                        .delete_bucket_encryption(&ctx(), &g, &bucket())
                        .await,
                );
            }
        };
        let rule = EncryptionRule {
            algorithm,
            kms_key_id: None,
            kms_data_sm4: false,
        };
        coded(
            self.store
                .put_bucket_encryption(&ctx(), &g, &bucket(), rule)
                .await,
        )
    }

    /// PutObject with an optional Content-MD5 and forbid-overwrite.
    pub(crate) async fn put_with(
        &self,
        in_bucket: &str,
        k: &str,
        data: &[u8],
        sse: Sse,
        content_md5: Option<[u8; 16]>,
        forbid_overwrite: bool,
    ) -> Outcome<ObjectRecord> {
        let g = self.on_object(Action::PutObject, in_bucket, k);
        let out = self
            .store
            .put_object(
                &ctx(),
                &g,
                PutObject {
                    bucket: BucketName::parse(in_bucket).map_err(|_| "bad-bucket-name")?,
                    key: ObjectKey::parse(k).map_err(|_| "bad-key")?,
                    body: body(data),
                    content_md5,
                    metadata: ObjectMetadata {
                        content_type: "text/plain".into(),
                        headers: vec![("cache-control".into(), "no-cache".into())],
                        user_meta: vec![("colour".into(), "blue".into())],
                    },
                    acl: coffer_core::Acl::Default,
                    storage_class: None,
                    forbid_overwrite,
                    sse: sse.request(),
                    tags: Vec::new(),
                    checksum: Default::default(),
                },
            )
            .await;
        coded(out).map(|o| o.record)
    }

    pub(crate) async fn put(&self, k: &str, data: &[u8], sse: Sse) -> Outcome<ObjectRecord> {
        self.put_with(BUCKET, k, data, sse, None, false).await
    }

    pub(crate) async fn get_with(&self, in_bucket: &str, k: &str, get: Get) -> Outcome<Got> {
        let g = self.on_object(Action::GetObject, in_bucket, k);
        let out = self
            .store
            .get_object(
                &ctx(),
                &g,
                &BucketName::parse(in_bucket).map_err(|_| "bad-bucket-name")?,
                &ObjectKey::parse(k).map_err(|_| "bad-key")?,
                GetOptions {
                    range: get.range,
                    range_behavior: if get.standard_range {
                        RangeBehavior::Standard
                    } else {
                        RangeBehavior::Compatible
                    },
                    preconditions: get.preconditions,
                },
            )
            .await;
        let out = coded(out)?;
        let chunks: Vec<Bytes> = out.body.try_collect().await.map_err(|_| "read-failed")?;
        Ok(Got {
            record: out.record,
            range: out.range,
            data: chunks.concat(),
        })
    }

    pub(crate) async fn get(&self, k: &str) -> Outcome<Vec<u8>> {
        self.get_with(BUCKET, k, Get::default())
            .await
            .map(|g| g.data)
    }

    pub(crate) async fn head(
        &self,
        k: &str,
        preconditions: Preconditions,
    ) -> Outcome<ObjectRecord> {
        let g = self.on_object(Action::GetObject, BUCKET, k);
        coded(
            self.store
                .head_object(&ctx(), &g, &bucket(), &key(k), &preconditions)
                .await,
        )
    }

    pub(crate) async fn delete(&self, k: &str) -> Outcome<()> {
        let g = self.on_object(Action::DeleteObject, BUCKET, k);
        coded(
            self.store
                .delete_object(&ctx(), &g, &bucket(), &key(k))
                .await,
        )
    }

    /// CopyObject within `bkt`; `replace` takes new metadata (user meta `copied=yes`).
    pub(crate) async fn copy(
        &self,
        from: &str,
        to: &str,
        sse: Sse,
        replace: bool,
        source_preconditions: Preconditions,
    ) -> Outcome<ObjectRecord> {
        let sg = self.on_object(Action::GetObject, BUCKET, from);
        let g = self.on_object(Action::PutObject, BUCKET, to);
        let out = self
            .store
            .copy_object(
                &ctx(),
                &sg,
                &g,
                CopyObject {
                    source_bucket: bucket(),
                    source_key: key(from),
                    bucket: bucket(),
                    key: key(to),
                    directive: if replace {
                        MetadataDirective::Replace
                    } else {
                        MetadataDirective::Copy
                    },
                    metadata: ObjectMetadata {
                        content_type: "application/x-copied".into(),
                        headers: Vec::new(),
                        user_meta: vec![("copied".into(), "yes".into())],
                    },
                    source_preconditions,
                    acl: coffer_core::Acl::Default,
                    storage_class: None,
                    forbid_overwrite: false,
                    sse: sse.request(),
                    tags: None,
                },
            )
            .await;
        coded(out).map(|o| o.record)
    }

    /// AppendObject; on a wrong position the error carries where the next append must start,
    /// which this returns as `Err(("wrong-position", next))`.
    pub(crate) async fn append(
        &self,
        k: &str,
        position: u64,
        data: &[u8],
        sse: Sse,
    ) -> Result<ObjectRecord, (&'static str, Option<u64>)> {
        let g = self.on_object(Action::PutObject, BUCKET, k);
        self.store
            .append_object(
                &ctx(),
                &g,
                AppendObject {
                    bucket: bucket(),
                    key: key(k),
                    position,
                    body: body(data),
                    content_md5: None,
                    metadata: ObjectMetadata::default(),
                    acl: coffer_core::Acl::Default,
                    storage_class: None,
                    sse: sse.request(),
                    tags: Vec::new(),
                },
            )
            .await
            .map(|o| o.record)
            .map_err(|e| {
                let next = match &e {
                    Error::PositionNotEqualToLength { next_position } => Some(*next_position),
                    _ => None,
                };
                (code(&e), next)
            })
    }

    pub(crate) async fn initiate(&self, k: &str, sse: Sse) -> Outcome<UploadId> {
        let g = self.on_object(Action::PutObject, BUCKET, k);
        let out = self
            .store
            .initiate_upload(
                &ctx(),
                &g,
                InitiateUpload {
                    bucket: bucket(),
                    key: key(k),
                    metadata: ObjectMetadata::default(),
                    acl: coffer_core::Acl::Default,
                    storage_class: None,
                    sse: sse.request(),
                    tags: Vec::new(),
                    checksum: None,
                },
            )
            .await;
        coded(out).map(|u| u.upload_id)
    }

    /// UploadPart; returns the part's ETag.
    pub(crate) async fn part(
        &self,
        k: &str,
        id: &UploadId,
        number: u32,
        data: &[u8],
    ) -> Outcome<String> {
        let g = self.on_object(Action::PutObject, BUCKET, k);
        let out = self
            .store
            .upload_part(
                &ctx(),
                &g,
                &bucket(),
                &key(k),
                id,
                number,
                body(data),
                None,
                &Default::default(),
            )
            .await;
        coded(out).map(|p| p.etag)
    }

    /// CompleteMultipartUpload with the given (number, etag) list, or every part when `None`.
    pub(crate) async fn complete(
        &self,
        k: &str,
        id: &UploadId,
        parts: PartList,
    ) -> Outcome<ObjectRecord> {
        let g = self.on_object(Action::PutObject, BUCKET, k);
        let parts = parts.map(|ps| {
            ps.into_iter()
                .map(|(part_number, etag)| CompletePart {
                    part_number,
                    etag,
                    checksum: None,
                })
                .collect()
        });
        let out = self
            .store
            .complete_upload(
                &ctx(),
                &g,
                CompleteUpload {
                    bucket: bucket(),
                    key: key(k),
                    upload_id: id.clone(),
                    parts,
                    forbid_overwrite: false,
                },
            )
            .await;
        coded(out).map(|o| o.record)
    }

    pub(crate) async fn abort(&self, k: &str, id: &UploadId) -> Outcome<()> {
        let g = self.on_object(Action::AbortMultipartUpload, BUCKET, k);
        coded(
            self.store
                .abort_upload(&ctx(), &g, &bucket(), &key(k), id)
                .await,
        )
    }

    /// Part numbers listed for an upload.
    pub(crate) async fn parts(&self, k: &str, id: &UploadId) -> Outcome<Vec<u32>> {
        let g = self.on_object(Action::ListParts, BUCKET, k);
        let out = self
            .store
            .list_parts(&ctx(), &g, &bucket(), &key(k), id, 0, 1000)
            .await;
        coded(out).map(|p| p.parts.iter().map(|p| p.part_number).collect())
    }

    /// ListObjects: entries as keys, common prefixes with their delimiter, and the truncation.
    pub(crate) async fn list(
        &self,
        prefix: &str,
        delimiter: Option<&str>,
        marker: &str,
        max_keys: usize,
    ) -> Outcome<(Vec<String>, bool)> {
        let g = self.on_bucket(Action::ListObjects, BUCKET);
        let query = ListQuery {
            prefix: prefix.into(),
            delimiter: delimiter.map(Into::into),
            marker: marker.into(),
            max_keys,
        };
        let page = coded(self.store.list_objects(&ctx(), &g, &bucket(), &query).await)?;
        let names = page
            .entries
            .iter()
            .map(|e| match e {
                ListEntry::Object(o) => o.key.as_str().to_owned(),
                ListEntry::Prefix(p) => format!("{p}(prefix)"),
            })
            .collect();
        Ok((names, page.truncated))
    }

    /// UploadPartCopy of (a range of) `from` in `bkt` as part `number`; returns the ETag.
    pub(crate) async fn part_copy(
        &self,
        from: &str,
        range: Option<ByteRange>,
        k: &str,
        id: &UploadId,
        number: u32,
    ) -> Outcome<String> {
        let sg = self.on_object(Action::GetObject, BUCKET, from);
        let g = self.on_object(Action::PutObject, BUCKET, k);
        let out = self
            .store
            .upload_part_copy(
                &ctx(),
                &sg,
                &g,
                &bucket(),
                &key(from),
                range,
                &Preconditions::default(),
                &bucket(),
                &key(k),
                id,
                number,
            )
            .await;
        coded(out).map(|p| p.etag)
    }

    /// ListMultipartUploads: (key, upload id) of each listed upload, and the truncation.
    pub(crate) async fn uploads(
        &self,
        prefix: &str,
        max_uploads: usize,
    ) -> Outcome<(Vec<(String, String)>, bool)> {
        let g = self.on_bucket(Action::ListMultipartUploads, BUCKET);
        let query = coffer_core::UploadListQuery {
            prefix: prefix.into(),
            max_uploads,
            ..Default::default()
        };
        let page = coded(self.store.list_uploads(&ctx(), &g, &bucket(), &query).await)?;
        let uploads = page
            .uploads
            .iter()
            .map(|u| (u.key.as_str().to_owned(), u.upload_id.as_str().to_owned()))
            .collect();
        Ok((uploads, page.truncated))
    }

    /// ListBuckets: the names listed, and the truncation.
    pub(crate) async fn buckets(&self, prefix: &str, max: usize) -> Outcome<(Vec<String>, bool)> {
        let g = self.grant(Action::ListBuckets, Resource::Account);
        let page = coded(self.store.list_buckets(&ctx(), &g, prefix, "", max).await)?;
        let names = page.buckets.iter().map(|b| b.name.to_string()).collect();
        Ok((names, page.truncated))
    }

    /// GetBucketInfo: the bucket's default encryption algorithm, if any.
    pub(crate) async fn bucket_info(
        &self,
        name: &str,
    ) -> Outcome<Option<coffer_core::SseAlgorithm>> {
        let g = self.on_bucket(Action::GetBucketInfo, name);
        let name = BucketName::parse(name).map_err(|_| "bad-bucket-name")?;
        let record = coded(self.store.bucket_info(&ctx(), &g, &name).await)?;
        Ok(record.encryption.map(|e| e.algorithm))
    }

    /// PutBucketLifecycle with one enabled rule expiring objects under `prefix` carrying `tags`
    /// after `days`, and aborting uploads under it after `days`.
    pub(crate) async fn expire_after(
        &self,
        prefix: &str,
        tags: &[(&str, &str)],
        days: u32,
    ) -> Outcome<()> {
        let g = self.on_bucket(Action::PutBucketLifecycle, BUCKET);
        let rule = coffer_core::LifecycleRule {
            id: format!("rule-{prefix}"),
            prefix: prefix.into(),
            tags: tags
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            enabled: true,
            expiration: Some(coffer_core::LifecycleAge::Days(days)),
            abort_multipart: tags
                .is_empty()
                .then_some(coffer_core::LifecycleAge::Days(days)),
        };
        coded(
            self.store
                .put_bucket_lifecycle(&ctx(), &g, &bucket(), vec![rule])
                .await,
        )
    }

    /// One lifecycle pass `days_later` days after now: (objects expired, uploads aborted).
    pub(crate) async fn lifecycle_pass(&self, days_later: i64) -> Outcome<(u64, u64)> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after the epoch")
            .as_millis();
        let now = i64::try_from(now).expect("fits") + days_later * 86_400_000;
        let report = coded(
            self.store
                .apply_lifecycle(coffer_core::UnixMillis(now))
                .await,
        )?;
        Ok((report.expired_objects, report.aborted_uploads))
    }

    /// UpdateObjectEncryption to `kms_key` (this harness has no KMS).
    pub(crate) async fn rewrap(&self, k: &str, kms_key: &str) -> Outcome<ObjectRecord> {
        let g = self.on_object(Action::PutObject, BUCKET, k);
        coded(
            self.store
                .update_object_encryption(&ctx(), &g, &bucket(), &key(k), Some(kms_key), None)
                .await,
        )
    }

    /// PutObjectTagging.
    pub(crate) async fn tag(&self, k: &str, tags: &[(&str, &str)]) -> Outcome<()> {
        let g = self.on_object(Action::PutObjectTagging, BUCKET, k);
        let tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        coded(
            self.store
                .put_object_tagging(&ctx(), &g, &bucket(), &key(k), tags)
                .await,
        )
    }
}
