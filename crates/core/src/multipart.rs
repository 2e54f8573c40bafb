//! Multipart uploads: initiate, upload parts (also by copy), complete, abort, list.

use coffer_iam::{Action, Grant};
use coffer_meta::{
    Acl, ObjectChecksum, ObjectRecord, ObjectType, PartRecord, PutCondition, StorageClass,
    UploadChecksum, UploadRecord,
};
use coffer_types::{BucketName, ObjectKey, UploadId};

use crate::additional::{self, BodyChecksum};
use crate::checksum::{crc64_combine, multipart_etag};
use crate::data::{self, BodyStream, Seal};
use crate::object::sealed;
use crate::sse::{SseRequest, cipher_of};
use crate::store::{in_bucket, object_resource, require};
use crate::{
    ByteRange, Error, ObjectMetadata, Preconditions, PutOutput, RangeBehavior, RequestContext,
    Result, Store,
};
use coffer_crypto::DataKey;

/// Highest part number OSS allows.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Input of InitiateMultipartUpload.
#[derive(Debug, Clone)]
pub struct InitiateUpload {
    /// Target bucket.
    pub bucket: BucketName,
    /// Target key.
    pub key: ObjectKey,
    /// Metadata of the final object.
    pub metadata: ObjectMetadata,
    /// ACL of the final object.
    pub acl: Acl,
    /// Storage class of the final object.
    pub storage_class: Option<StorageClass>,
    /// Requested encryption; `None` means the bucket default. Fixed for the whole upload.
    pub sse: Option<SseRequest>,
    /// Tags of the final object.
    pub tags: Vec<(String, String)>,
    /// The checksum the parts must carry and the final object gets, if any.
    pub checksum: Option<UploadChecksum>,
}

/// What UploadPart / UploadPartCopy return.
#[derive(Debug, Clone)]
pub struct PartOutput {
    /// ETag without quotes.
    pub etag: String,
    /// CRC-64 of the part.
    pub crc64: u64,
    /// MD5 of the part.
    pub md5: [u8; 16],
    /// The stored part.
    pub part: PartRecord,
    /// The upload's encryption (to echo; no key material).
    pub encryption: Option<coffer_meta::ObjectEncryption>,
}

/// One entry of a CompleteMultipartUpload part list.
#[derive(Debug, Clone)]
pub struct CompletePart {
    /// The part number.
    pub part_number: u32,
    /// The ETag the client got for it (quotes and case do not matter).
    pub etag: String,
    /// The additional checksum the client got for it (digest bytes, in the upload's
    /// algorithm), if it lists one; it must equal the stored one.
    pub checksum: Option<Vec<u8>>,
}

/// Input of CompleteMultipartUpload.
#[derive(Debug, Clone)]
pub struct CompleteUpload {
    /// Target bucket.
    pub bucket: BucketName,
    /// Target key.
    pub key: ObjectKey,
    /// The upload.
    pub upload_id: UploadId,
    /// The parts to assemble; `None` means all uploaded parts in order (`x-oss-complete-all`).
    pub parts: Option<Vec<CompletePart>>,
    /// `x-oss-forbid-overwrite`.
    pub forbid_overwrite: bool,
}

/// A page of ListParts.
#[derive(Debug, Clone)]
pub struct PartsPage {
    /// The upload.
    pub upload: UploadRecord,
    /// Parts in ascending order.
    pub parts: Vec<PartRecord>,
    /// More follow.
    pub truncated: bool,
}

fn normalize_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_ascii_uppercase()
}

impl Store {
    async fn existing_upload(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
        id: &UploadId,
    ) -> Result<UploadRecord> {
        match self.meta.upload(bucket, id).await? {
            Some(u) if &u.key == key => Ok(u),
            _ => {
                self.existing_bucket(bucket).await?;
                Err(Error::NoSuchUpload)
            }
        }
    }

    /// InitiateMultipartUpload.
    pub async fn initiate_upload(
        &self,
        ctx: &RequestContext,
        grant: &Grant,
        input: InitiateUpload,
    ) -> Result<UploadRecord> {
        let bucket = self
            .writable_bucket(grant, &input.bucket, &input.key)
            .await?;
        // The data key is unwrapped again for each part; only its wrapped form is kept.
        let encryption = self
            .new_object_key(
                grant,
                &bucket,
                &input.key,
                input.sse,
                ctx.customer_keys.target.as_deref(),
            )
            .await?
            .map(|(_data_key, enc)| enc);
        if let Some(c) = input.checksum {
            let supported = if c.composite {
                additional::supports_composite(c.algorithm)
            } else {
                additional::supports_full_object(c.algorithm)
            };
            if !supported {
                let kind = if c.composite {
                    "COMPOSITE"
                } else {
                    "FULL_OBJECT"
                };
                return Err(Error::invalid_argument(
                    "x-amz-checksum-type",
                    kind,
                    format!("The {kind} checksum type is not supported for this algorithm."),
                ));
            }
        }
        let upload = UploadRecord {
            upload_id: UploadId::random(),
            key: input.key,
            initiated: Self::now(),
            content_type: input.metadata.content_type,
            headers: input.metadata.headers,
            user_meta: input.metadata.user_meta,
            acl: input.acl,
            storage_class: input.storage_class.unwrap_or(bucket.storage_class),
            encryption,
            tags: input.tags,
            checksum: input.checksum,
        };
        self.meta
            .create_upload(&input.bucket, upload.clone())
            .await
            .map_err(in_bucket(&input.bucket))?;
        Ok(upload)
    }

    async fn store_part(
        &self,
        bucket: &BucketName,
        upload_id: &UploadId,
        part_number: u32,
        written: data::Written,
        encryption: Option<coffer_meta::ObjectEncryption>,
        checksum: Option<ObjectChecksum>,
    ) -> Result<PartOutput> {
        let part = PartRecord {
            part_number,
            size: written.segment.len,
            etag: written.etag(),
            crc64: written.crc64,
            last_modified: Self::now(),
            segment: written.segment,
            checksum,
        };
        match self.meta.put_part(bucket, upload_id, part.clone()).await {
            Ok(()) => {
                self.garbage_produced();
                Ok(PartOutput {
                    etag: part.etag.clone(),
                    crc64: part.crc64,
                    md5: written.md5,
                    part,
                    encryption,
                })
            }
            Err(e) => {
                self.blobs.delete(&part.segment.blob).await.ok();
                Err(in_bucket(bucket)(e))
            }
        }
    }

    fn check_part_number(part_number: u32) -> Result<()> {
        if (1..=MAX_PART_NUMBER).contains(&part_number) {
            Ok(())
        } else {
            Err(Error::invalid_argument(
                "partNumber",
                part_number.to_string(),
                "Part number must be an integer between 1 and 10000, inclusive.",
            ))
        }
    }

    /// UploadPart.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part(
        &self,
        ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
        upload_id: &UploadId,
        part_number: u32,
        body: BodyStream,
        content_md5: Option<[u8; 16]>,
        checksum: &BodyChecksum,
    ) -> Result<PartOutput> {
        require(grant, Action::PutObject, object_resource(bucket, key))?;
        Self::check_part_number(part_number)?;
        let upload = self.existing_upload(bucket, key, upload_id).await?;
        let data_key = self.upload_data_key(ctx, grant, bucket, &upload).await?;
        let seal = seal_for(&upload, data_key.as_ref(), bucket, key);
        let written = data::write_segment(
            self.blobs.as_ref(),
            body,
            self.config.max_object_size,
            content_md5,
            seal,
            0,
        )
        .await?;
        let checksum = checksum.stored();
        // An upload initiated with a checksum algorithm takes only parts checksummed with it
        // (Amazon S3 API reference, "UploadPart"), so that Complete can combine them.
        if let Some(wanted) = upload.checksum
            && checksum.as_ref().map(|c| c.algorithm) != Some(wanted.algorithm)
        {
            self.blobs.delete(&written.segment.blob).await.ok();
            return Err(Error::invalid_argument(
                "x-amz-checksum-algorithm",
                format!("{:?}", wanted.algorithm),
                "Checksum Type mismatch occurred: the part must carry the checksum algorithm \
                 the upload was initiated with.",
            ));
        }
        self.store_part(
            bucket,
            upload_id,
            part_number,
            written,
            upload.encryption,
            checksum,
        )
        .await
    }

    /// UploadPartCopy: a part made of (a range of) an existing object.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_part_copy(
        &self,
        ctx: &RequestContext,
        source_grant: &Grant,
        grant: &Grant,
        source_bucket: &BucketName,
        source_key: &ObjectKey,
        source_range: Option<ByteRange>,
        source_preconditions: &Preconditions,
        bucket: &BucketName,
        key: &ObjectKey,
        upload_id: &UploadId,
        part_number: u32,
    ) -> Result<PartOutput> {
        require(
            source_grant,
            Action::GetObject,
            object_resource(source_bucket, source_key),
        )?;
        require(grant, Action::PutObject, object_resource(bucket, key))?;
        Self::check_part_number(part_number)?;
        let upload = self.existing_upload(bucket, key, upload_id).await?;
        let source = self.existing_object(source_bucket, source_key).await?;
        source_preconditions.check(&source)?;
        let range = match source_range {
            Some(r) => r
                .resolve(source.size, RangeBehavior::Standard)?
                .unwrap_or(0..source.size),
            None => 0..source.size,
        };
        let unseal = self
            .unseal(
                source_grant,
                source_bucket,
                &source,
                ctx.customer_keys.source.as_deref(),
            )
            .await?;
        let data_key = self.upload_data_key(ctx, grant, bucket, &upload).await?;
        let seal = seal_for(&upload, data_key.as_ref(), bucket, key);
        let whole_source = range == (0..source.size);
        let body = data::read_range(self.blobs.clone(), &source, range, unseal).await?;
        let written = data::write_segment(
            self.blobs.as_ref(),
            body,
            self.config.max_object_size,
            None,
            seal,
            0,
        )
        .await?;
        // The copied bytes are the source's unchanged: a whole-object checksum of the source
        // still holds for a part that is all of it. Ranges get none (the store does not
        // compute checksums), so such an upload cannot complete with one.
        let checksum = source
            .checksum
            .clone()
            .filter(|c| c.composite_parts.is_none() && whole_source);
        self.store_part(
            bucket,
            upload_id,
            part_number,
            written,
            upload.encryption,
            checksum,
        )
        .await
    }

    async fn all_parts(
        &self,
        bucket: &BucketName,
        upload_id: &UploadId,
    ) -> Result<Vec<PartRecord>> {
        self.meta
            .parts(bucket, upload_id, 0, MAX_PART_NUMBER as usize)
            .await
            .map_err(in_bucket(bucket))
    }

    /// CompleteMultipartUpload: checks the part list and makes the object visible atomically.
    pub async fn complete_upload(
        &self,
        ctx: &RequestContext,
        grant: &Grant,
        input: CompleteUpload,
    ) -> Result<PutOutput> {
        require(
            grant,
            Action::PutObject,
            object_resource(&input.bucket, &input.key),
        )?;
        let upload = self
            .existing_upload(&input.bucket, &input.key, &input.upload_id)
            .await?;
        let uploaded = self.all_parts(&input.bucket, &input.upload_id).await?;
        let chosen: Vec<PartRecord> = match &input.parts {
            None => uploaded,
            Some(list) => {
                if list.is_empty() {
                    return Err(Error::InvalidPart(
                        "The part list must not be empty.".into(),
                    ));
                }
                let mut chosen = Vec::with_capacity(list.len());
                let mut previous = 0u32;
                for wanted in list {
                    if wanted.part_number <= previous {
                        return Err(Error::InvalidPartOrder);
                    }
                    previous = wanted.part_number;
                    let found = uploaded
                        .binary_search_by_key(&wanted.part_number, |p| p.part_number)
                        .ok()
                        .map(|i| &uploaded[i])
                        .filter(|p| p.etag == normalize_etag(&wanted.etag))
                        .filter(|p| match &wanted.checksum {
                            None => true,
                            Some(given) => p.checksum.as_ref().is_some_and(|c| &c.value == given),
                        });
                    match found {
                        Some(p) => chosen.push(p.clone()),
                        None => {
                            return Err(Error::InvalidPart(format!(
                                "One or more of the specified parts could not be found or the \
                                 specified entity tag might not have matched the part's entity \
                                 tag (part {}).",
                                wanted.part_number
                            )));
                        }
                    }
                }
                chosen
            }
        };
        if chosen.is_empty() {
            return Err(Error::InvalidPart("The upload has no parts.".into()));
        }
        if let Some((_, init)) = chosen.split_last()
            && init.iter().any(|p| p.size < self.config.min_part_size)
        {
            return Err(Error::EntityTooSmall);
        }
        let mut crc = 0u64;
        let mut size = 0u64;
        for p in &chosen {
            crc = crc64_combine(crc, p.crc64, p.size);
            size += p.size;
        }
        let etag = multipart_etag(chosen.iter().map(|p| p.etag.as_str()));
        let checksum = additional::of_parts(upload.checksum, &chosen)?;
        let segments: Vec<_> = chosen.into_iter().map(|p| p.segment).collect();
        let data_key = self
            .upload_data_key(ctx, grant, &input.bucket, &upload)
            .await?;
        let encryption = sealed(
            data_key.zip(upload.encryption.clone()),
            &input.bucket,
            &input.key,
            &segments,
        )?;
        let record = ObjectRecord {
            key: input.key.clone(),
            generation: rand::random(),
            size,
            etag,
            crc64: crc,
            last_modified: Self::now(),
            object_type: ObjectType::Multipart,
            storage_class: upload.storage_class,
            acl: upload.acl,
            content_type: upload.content_type,
            headers: upload.headers,
            user_meta: upload.user_meta,
            segments,
            encryption,
            tags: upload.tags,
            checksum,
        };
        let condition = if input.forbid_overwrite {
            PutCondition::IfAbsent
        } else {
            PutCondition::None
        };
        self.meta
            .complete_upload(&input.bucket, &input.upload_id, record.clone(), condition)
            .await
            .map_err(in_bucket(&input.bucket))?;
        self.garbage_produced();
        Ok(PutOutput {
            etag: record.etag.clone(),
            crc64: record.crc64,
            md5: None,
            record,
        })
    }

    /// AbortMultipartUpload.
    pub async fn abort_upload(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
        upload_id: &UploadId,
    ) -> Result<()> {
        require(
            grant,
            Action::AbortMultipartUpload,
            object_resource(bucket, key),
        )?;
        self.existing_upload(bucket, key, upload_id).await?;
        self.meta
            .abort_upload(bucket, upload_id)
            .await
            .map_err(in_bucket(bucket))?;
        self.garbage_produced();
        Ok(())
    }

    /// ListParts.
    #[allow(clippy::too_many_arguments)]
    pub async fn list_parts(
        &self,
        ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
        upload_id: &UploadId,
        after: u32,
        max_parts: usize,
    ) -> Result<PartsPage> {
        require(grant, Action::ListParts, object_resource(bucket, key))?;
        let upload = self.existing_upload(bucket, key, upload_id).await?;
        // The key is optional here (S3 asks for it only with checksums), but a wrong one is
        // refused.
        if ctx.customer_keys.target.is_some() {
            crate::sse::check_customer_key(
                upload.encryption.as_ref(),
                bucket,
                key,
                ctx.customer_keys.target.as_deref(),
            )?;
        }
        let mut parts = self
            .meta
            .parts(bucket, upload_id, after, max_parts + 1)
            .await
            .map_err(in_bucket(bucket))?;
        let truncated = parts.len() > max_parts;
        parts.truncate(max_parts);
        Ok(PartsPage {
            upload,
            parts,
            truncated,
        })
    }
}

impl Store {
    /// The data key of an encrypted upload (`None` for a plain one). An SSE-C upload needs the
    /// request's customer key, the one it was initiated with.
    async fn upload_data_key(
        &self,
        ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        upload: &UploadRecord,
    ) -> Result<Option<DataKey>> {
        let customer = ctx.customer_keys.target.as_deref();
        match &upload.encryption {
            Some(enc) => {
                let caller = self.kms_caller(grant, bucket, &upload.key);
                Ok(Some(
                    self.keys
                        .data_key(&caller, bucket, &upload.key, enc, customer)
                        .await?,
                ))
            }
            None if customer.is_some() => Err(Error::CustomerKeyNotApplicable),
            None => Ok(None),
        }
    }
}

fn seal_for<'a>(
    upload: &UploadRecord,
    data_key: Option<&'a DataKey>,
    bucket: &'a BucketName,
    key: &'a ObjectKey,
) -> Option<Seal<'a>> {
    match (data_key, &upload.encryption) {
        (Some(data_key), Some(enc)) => Some(Seal {
            data_key,
            cipher: cipher_of(enc),
            bucket,
            key,
        }),
        _ => None,
    }
}
