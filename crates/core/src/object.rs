//! Object operations: put, get, head, delete, copy and append.

use std::ops::Range;

use coffer_iam::{Action, Grant};
use coffer_meta::{Acl, ObjectRecord, ObjectType, PutCondition, StorageClass};
use coffer_types::{BucketName, ObjectKey};
use md5::{Digest, Md5};
use tracing::warn;

use crate::checksum::crc64_combine;
use crate::data::{self, BodyStream, Seal};
use crate::sse::{SseRequest, seal_segments};
use crate::store::{in_bucket, object_resource, require};
use crate::{ByteRange, Error, Preconditions, RangeBehavior, RequestContext, Result, Store};
use coffer_crypto::DataKey;
use coffer_meta::{ObjectEncryption, Segment};

/// Metadata a writer sets on an object.
#[derive(Debug, Clone, Default)]
pub struct ObjectMetadata {
    /// `Content-Type`; empty means `application/octet-stream`.
    pub content_type: String,
    /// Standard headers to store and serve, names lower-case.
    pub headers: Vec<(String, String)>,
    /// User metadata, names lower-case without `x-oss-meta-`.
    pub user_meta: Vec<(String, String)>,
}

/// Input of PutObject.
pub struct PutObject {
    /// Target bucket.
    pub bucket: BucketName,
    /// Target key.
    pub key: ObjectKey,
    /// The data.
    pub body: BodyStream,
    /// `Content-MD5`, decoded.
    pub content_md5: Option<[u8; 16]>,
    /// Metadata.
    pub metadata: ObjectMetadata,
    /// Object ACL.
    pub acl: Acl,
    /// Storage class; `None` means the bucket's.
    pub storage_class: Option<StorageClass>,
    /// `x-oss-forbid-overwrite`.
    pub forbid_overwrite: bool,
    /// Requested server-side encryption; `None` means the bucket default.
    pub sse: Option<SseRequest>,
    /// The object's tags (validated: [`validate_tags`](crate::validate_tags)).
    pub tags: Vec<(String, String)>,
    /// The body's additional checksum, filled by the front-end when the body has ended; kept
    /// with the object as given.
    pub checksum: crate::BodyChecksum,
}

/// What a write returns.
#[derive(Debug, Clone)]
pub struct PutOutput {
    /// ETag without quotes.
    pub etag: String,
    /// CRC-64 of the whole object.
    pub crc64: u64,
    /// MD5 of the written bytes, when the operation received a body.
    pub md5: Option<[u8; 16]>,
    /// The stored record.
    pub record: ObjectRecord,
}

/// Options of GetObject.
#[derive(Debug, Clone, Default)]
pub struct GetOptions {
    /// The requested range.
    pub range: Option<ByteRange>,
    /// How an unsatisfiable range is treated.
    pub range_behavior: RangeBehavior,
    /// If-Match and friends.
    pub preconditions: Preconditions,
}

/// What GetObject returns.
pub struct GetObjectOutput {
    /// The object's record.
    pub record: ObjectRecord,
    /// The served range (`None`: the whole object, status 200).
    pub range: Option<Range<u64>>,
    /// The bytes.
    pub body: BodyStream,
}

/// Whether CopyObject keeps the source's metadata or takes the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataDirective {
    /// Keep the source's metadata.
    #[default]
    Copy,
    /// Use the metadata in the request.
    Replace,
}

/// Input of CopyObject.
pub struct CopyObject {
    /// Source bucket.
    pub source_bucket: BucketName,
    /// Source key.
    pub source_key: ObjectKey,
    /// Target bucket.
    pub bucket: BucketName,
    /// Target key.
    pub key: ObjectKey,
    /// COPY or REPLACE.
    pub directive: MetadataDirective,
    /// New metadata (used with REPLACE).
    pub metadata: ObjectMetadata,
    /// Conditions on the source.
    pub source_preconditions: Preconditions,
    /// Target ACL.
    pub acl: Acl,
    /// Target storage class; `None` keeps the source's.
    pub storage_class: Option<StorageClass>,
    /// `x-oss-forbid-overwrite`.
    pub forbid_overwrite: bool,
    /// Requested encryption of the target; `None` means the target bucket's default (never the
    /// source's: encryption is a property of the new object).
    pub sse: Option<SseRequest>,
    /// The target's tags: `None` keeps the source's, `Some` replaces them.
    pub tags: Option<Vec<(String, String)>>,
}

/// Input of AppendObject.
pub struct AppendObject {
    /// Target bucket.
    pub bucket: BucketName,
    /// Target key.
    pub key: ObjectKey,
    /// Where the client believes the object ends.
    pub position: u64,
    /// The data to append.
    pub body: BodyStream,
    /// `Content-MD5` of this append's data.
    pub content_md5: Option<[u8; 16]>,
    /// Metadata; only used by the first append.
    pub metadata: ObjectMetadata,
    /// ACL; only used by the first append.
    pub acl: Acl,
    /// Storage class; only used by the first append.
    pub storage_class: Option<StorageClass>,
    /// Requested encryption; only the first append chooses it, later ones' is ignored.
    pub sse: Option<SseRequest>,
    /// Tags; only used by the first append.
    pub tags: Vec<(String, String)>,
}

impl Store {
    /// PutObject: streams the body into a new blob, then makes the object visible in one
    /// metadata transaction. An interrupted or refused upload leaves nothing visible.
    pub async fn put_object(
        &self,
        ctx: &RequestContext,
        grant: &Grant,
        input: PutObject,
    ) -> Result<PutOutput> {
        let bucket = self
            .writable_bucket(grant, &input.bucket, &input.key)
            .await?;
        if input.forbid_overwrite && self.meta.object(&input.bucket, &input.key).await?.is_some() {
            return Err(Error::FileAlreadyExists);
        }
        let encryption = self
            .new_object_key(
                grant,
                &bucket,
                &input.key,
                input.sse,
                ctx.customer_keys.target.as_deref(),
            )
            .await?;
        let seal = encryption
            .as_ref()
            .map(|m| Seal::for_object(m, &input.bucket, &input.key));
        let written = data::write_segment(
            self.blobs.as_ref(),
            input.body,
            self.config.max_object_size,
            input.content_md5,
            seal,
            self.config.inline_limit,
        )
        .await?;
        let segments = vec![written.segment.clone()];
        let encryption = sealed(encryption, &input.bucket, &input.key, &segments)?;
        let record = ObjectRecord {
            key: input.key,
            generation: rand::random(),
            size: written.segment.len,
            etag: written.etag(),
            crc64: written.crc64,
            last_modified: Self::now(),
            object_type: ObjectType::Normal,
            storage_class: input.storage_class.unwrap_or(bucket.storage_class),
            acl: input.acl,
            content_type: input.metadata.content_type,
            headers: input.metadata.headers,
            user_meta: input.metadata.user_meta,
            segments,
            encryption,
            tags: input.tags,
            checksum: input.checksum.stored(),
        };
        let condition = if input.forbid_overwrite {
            PutCondition::IfAbsent
        } else {
            PutCondition::None
        };
        let record = self.commit(&input.bucket, record, condition).await?;
        Ok(PutOutput {
            etag: record.etag.clone(),
            crc64: record.crc64,
            md5: Some(written.md5),
            record,
        })
    }

    /// Commits a record whose blobs are already durable; on failure the blobs are deleted so
    /// nothing is left behind.
    async fn commit(
        &self,
        bucket: &BucketName,
        record: ObjectRecord,
        condition: PutCondition,
    ) -> Result<ObjectRecord> {
        match self
            .meta
            .put_object(bucket, record.clone(), condition)
            .await
        {
            Ok(replaced) => {
                if replaced.is_some() {
                    self.garbage_produced();
                }
                Ok(record)
            }
            Err(e) => {
                self.discard_blobs(&record).await;
                Err(in_bucket(bucket)(e))
            }
        }
    }

    /// Deletes blobs that never became part of a committed record.
    pub(crate) async fn discard_blobs(&self, record: &ObjectRecord) {
        for segment in &record.segments {
            if let Err(e) = self.blobs.delete(&segment.blob).await {
                warn!(blob = %segment.blob, error = %e, "could not delete an uncommitted blob; the startup sweep will");
            }
        }
    }

    /// Reads an object record or fails with `NoSuchKey` (or `NoSuchBucket`).
    pub(crate) async fn existing_object(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<ObjectRecord> {
        match self.meta.object(bucket, key).await? {
            Some(o) => Ok(o),
            None => {
                self.existing_bucket(bucket).await?;
                Err(Error::NoSuchKey {
                    key: key.to_string(),
                })
            }
        }
    }

    /// HeadObject / GetObjectMeta: the record, after checking preconditions.
    pub async fn head_object(
        &self,
        ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
        preconditions: &Preconditions,
    ) -> Result<ObjectRecord> {
        require(grant, Action::GetObject, object_resource(bucket, key))?;
        let record = self.existing_object(bucket, key).await?;
        // An SSE-C object's metadata is not served without its key, as on S3.
        crate::sse::check_customer_key(
            record.encryption.as_ref(),
            bucket,
            key,
            ctx.customer_keys.target.as_deref(),
        )?;
        preconditions.check(&record)?;
        Ok(record)
    }

    /// The object ACL of an existing object, for anonymous-access decisions.
    pub async fn object_acl(&self, bucket: &BucketName, key: &ObjectKey) -> Result<Option<Acl>> {
        Ok(self.meta.object(bucket, key).await?.map(|o| o.acl))
    }

    /// GetObject: the record and a stream of the requested range.
    pub async fn get_object(
        &self,
        ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
        options: GetOptions,
    ) -> Result<GetObjectOutput> {
        require(grant, Action::GetObject, object_resource(bucket, key))?;
        let record = self.existing_object(bucket, key).await?;
        options.preconditions.check(&record)?;
        let range = match options.range {
            Some(r) => r.resolve(record.size, options.range_behavior)?,
            None => None,
        };
        let unseal = self
            .unseal(grant, bucket, &record, ctx.customer_keys.target.as_deref())
            .await?;
        let body = data::read_range(
            self.blobs.clone(),
            &record,
            range.clone().unwrap_or(0..record.size),
            unseal,
        )
        .await?;
        Ok(GetObjectOutput {
            record,
            range,
            body,
        })
    }

    /// DeleteObject: succeeds whether or not the key exists.
    pub async fn delete_object(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<()> {
        require(grant, Action::DeleteObject, object_resource(bucket, key))?;
        self.existing_bucket(bucket).await?;
        if self
            .meta
            .delete_object(bucket, key)
            .await
            .map_err(in_bucket(bucket))?
            .is_some()
        {
            self.garbage_produced();
        }
        Ok(())
    }

    /// CopyObject: reads the source (checking its preconditions) and writes the target as a new
    /// object with its own blob. `source_grant` covers reading the source, `grant` writing the
    /// target.
    pub async fn copy_object(
        &self,
        ctx: &RequestContext,
        source_grant: &Grant,
        grant: &Grant,
        input: CopyObject,
    ) -> Result<PutOutput> {
        require(
            source_grant,
            Action::GetObject,
            object_resource(&input.source_bucket, &input.source_key),
        )?;
        require(
            grant,
            Action::PutObject,
            object_resource(&input.bucket, &input.key),
        )?;
        let source = self
            .existing_object(&input.source_bucket, &input.source_key)
            .await?;
        input.source_preconditions.check(&source)?;
        let target_bucket = self.existing_bucket(&input.bucket).await?;
        let onto_itself = input.source_bucket == input.bucket && input.source_key == input.key;
        if onto_itself
            && input.directive == MetadataDirective::Copy
            && input.storage_class.is_none()
            && input.sse.is_none()
            && ctx.customer_keys.target.is_none()
        {
            return Err(Error::invalid_argument(
                "x-oss-metadata-directive",
                "COPY",
                "This copy request is illegal because it is trying to copy an object to itself \
                 without changing the object's metadata or encryption.",
            ));
        }
        if input.forbid_overwrite
            && !onto_itself
            && self.meta.object(&input.bucket, &input.key).await?.is_some()
        {
            return Err(Error::FileAlreadyExists);
        }
        let source_unseal = self
            .unseal(
                source_grant,
                &input.source_bucket,
                &source,
                ctx.customer_keys.source.as_deref(),
            )
            .await?;
        let encryption = self
            .new_object_key(
                grant,
                &target_bucket,
                &input.key,
                input.sse,
                ctx.customer_keys.target.as_deref(),
            )
            .await?;
        let seal = encryption
            .as_ref()
            .map(|m| Seal::for_object(m, &input.bucket, &input.key));
        let body =
            data::read_range(self.blobs.clone(), &source, 0..source.size, source_unseal).await?;
        let written = data::write_segment(
            self.blobs.as_ref(),
            body,
            self.config.max_object_size,
            None,
            seal,
            self.config.inline_limit,
        )
        .await?;
        if written.crc64 != source.crc64 {
            self.blobs.delete(&written.segment.blob).await.ok();
            return Err(Error::Corrupt(
                "the copy source's data does not match its checksum".into(),
            ));
        }
        let segments = vec![written.segment.clone()];
        let encryption = sealed(encryption, &input.bucket, &input.key, &segments)?;
        let metadata = match input.directive {
            MetadataDirective::Copy => ObjectMetadata {
                content_type: source.content_type.clone(),
                headers: source.headers.clone(),
                user_meta: source.user_meta.clone(),
            },
            MetadataDirective::Replace => input.metadata,
        };
        let record = ObjectRecord {
            key: input.key,
            generation: rand::random(),
            size: written.segment.len,
            // Content is unchanged, so the ETag is the source's (OSS keeps it, also for
            // multipart sources).
            etag: source.etag.clone(),
            crc64: source.crc64,
            last_modified: Self::now(),
            object_type: ObjectType::Normal,
            storage_class: input.storage_class.unwrap_or(target_bucket.storage_class),
            acl: input.acl,
            content_type: metadata.content_type,
            headers: metadata.headers,
            user_meta: metadata.user_meta,
            segments,
            encryption,
            tags: input.tags.unwrap_or_else(|| source.tags.clone()),
            // The data is copied unchanged (its CRC-64 was checked above), so a checksum of the
            // whole data still holds; a composite one names parts the copy does not have.
            checksum: source
                .checksum
                .clone()
                .filter(|c| c.composite_parts.is_none()),
        };
        let condition = if input.forbid_overwrite && !onto_itself {
            PutCondition::IfAbsent
        } else {
            PutCondition::None
        };
        let record = self.commit(&input.bucket, record, condition).await?;
        Ok(PutOutput {
            etag: record.etag.clone(),
            crc64: record.crc64,
            md5: None,
            record,
        })
    }

    /// AppendObject: adds the body as a new segment at `position`, which must equal the
    /// object's current length. Concurrent appends are serialized by the record's generation:
    /// the loser gets `PositionNotEqualToLength` and its data is discarded.
    pub async fn append_object(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        input: AppendObject,
    ) -> Result<PutOutput> {
        let bucket = self
            .writable_bucket(grant, &input.bucket, &input.key)
            .await?;
        let current = self.meta.object(&input.bucket, &input.key).await?;
        let current_len = match &current {
            Some(o) if o.object_type != ObjectType::Appendable => {
                return Err(Error::ObjectNotAppendable);
            }
            Some(o) => o.size,
            None => 0,
        };
        if input.position != current_len {
            return Err(Error::PositionNotEqualToLength {
                next_position: current_len,
            });
        }
        let room = self.config.max_object_size.saturating_sub(current_len);
        let caller = self.kms_caller(grant, &input.bucket, &input.key);
        // The first append chooses the encryption; later ones reuse the object's data key (each
        // append is a new segment with its own salt, so no nonce repeats). A later append's
        // requested encryption is ignored, whatever it names, as OSS ignores it: the object keeps
        // the encryption of its first append.
        let key_material = match &current {
            Some(o) => match &o.encryption {
                Some(enc) => {
                    let data_key = self
                        .keys
                        .data_key(&caller, &input.bucket, &input.key, enc, None)
                        .await?;
                    crate::sse::verify_segments(
                        enc,
                        &data_key,
                        &input.bucket,
                        &input.key,
                        &o.segments,
                    )?;
                    Some((data_key, enc.clone()))
                }
                None => None,
            },
            None => {
                self.new_object_key(grant, &bucket, &input.key, input.sse.clone(), None)
                    .await?
            }
        };
        let seal = key_material
            .as_ref()
            .map(|m| Seal::for_object(m, &input.bucket, &input.key));
        let written = data::write_segment(
            self.blobs.as_ref(),
            input.body,
            room,
            input.content_md5,
            seal,
            0,
        )
        .await?;
        let (mut record, condition) = match current {
            Some(mut o) => {
                let condition = PutCondition::IfGeneration(o.generation);
                o.generation = rand::random();
                o.crc64 = crc64_combine(o.crc64, written.crc64, written.segment.len);
                o.size += written.segment.len;
                o.etag = chained_etag(&o.etag, &written.md5);
                o.last_modified = Self::now();
                o.segments.push(written.segment.clone());
                // The appended bytes were not checksummed by the client: the old value no
                // longer describes the data.
                o.checksum = None;
                (o, condition)
            }
            None => (
                ObjectRecord {
                    key: input.key.clone(),
                    generation: rand::random(),
                    size: written.segment.len,
                    etag: written.etag(),
                    crc64: written.crc64,
                    last_modified: Self::now(),
                    object_type: ObjectType::Appendable,
                    storage_class: input.storage_class.unwrap_or(bucket.storage_class),
                    acl: input.acl,
                    content_type: input.metadata.content_type,
                    headers: input.metadata.headers,
                    user_meta: input.metadata.user_meta,
                    segments: vec![written.segment.clone()],
                    encryption: None,
                    tags: input.tags,
                    checksum: None,
                },
                PutCondition::IfAbsent,
            ),
        };
        record.encryption = sealed(key_material, &input.bucket, &input.key, &record.segments)?;
        match self
            .meta
            .put_object(&input.bucket, record.clone(), condition)
            .await
        {
            Ok(_) => Ok(PutOutput {
                etag: record.etag.clone(),
                crc64: record.crc64,
                md5: Some(written.md5),
                record,
            }),
            Err(coffer_meta::Error::GenerationMismatch | coffer_meta::Error::ObjectExists) => {
                // Lost a race with another append: nothing of ours is visible.
                self.blobs.delete(&written.segment.blob).await.ok();
                let next_position = self
                    .meta
                    .object(&input.bucket, &input.key)
                    .await?
                    .map_or(0, |o| o.size);
                Err(Error::PositionNotEqualToLength { next_position })
            }
            Err(e) => {
                self.blobs.delete(&written.segment.blob).await.ok();
                Err(in_bucket(&input.bucket)(e))
            }
        }
    }
}

/// The ETag of an appendable object after an append: changes with every append and depends on
/// all the data appended so far, but is not an MD5 of the content (as in OSS).
fn chained_etag(previous: &str, appended_md5: &[u8; 16]) -> String {
    let mut md5 = Md5::new();
    md5.update(previous.as_bytes());
    md5.update(appended_md5);
    hex::encode_upper(md5.finalize())
}

/// The encryption record of an object with these segments: the segment list sealed under the data
/// key (which is dropped, and so zeroized, here).
pub(crate) fn sealed(
    key_material: Option<(DataKey, ObjectEncryption)>,
    bucket: &BucketName,
    key: &ObjectKey,
    segments: &[Segment],
) -> Result<Option<ObjectEncryption>> {
    match key_material {
        Some((data_key, mut enc)) => {
            seal_segments(&mut enc, &data_key, bucket, key, segments)?;
            Ok(Some(enc))
        }
        None => Ok(None),
    }
}
