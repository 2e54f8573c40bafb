//! The records a metadata store keeps, and their versioned encoding.
//!
//! Encoding: one format byte, then the record in `postcard`. Do not change a released layout in
//! place: add a new format byte and a migration in `decode_record` (see `docs/format.md`).

use coffer_types::{BlobId, BucketName, ObjectKey, UploadId};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{Error, Result};

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UnixMillis(pub i64);

/// Canned access control list of a bucket or object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Acl {
    /// Objects only: follow the bucket's ACL.
    #[default]
    Default,
    /// Only the owner and those granted by policy.
    Private,
    /// Anyone may read.
    PublicRead,
    /// Anyone may read and write.
    PublicReadWrite,
}

/// Storage class, recorded and echoed; every class is stored the same way here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum StorageClass {
    /// `Standard`.
    #[default]
    Standard,
    /// `IA`.
    Ia,
    /// `Archive`.
    Archive,
    /// `ColdArchive`.
    ColdArchive,
    /// `DeepColdArchive`.
    DeepColdArchive,
}

/// Server-side encryption algorithm, as named by `x-oss-server-side-encryption`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SseAlgorithm {
    /// SSE-OSS with AES-256.
    Aes256,
    /// SSE-KMS.
    Kms,
    /// SSE-OSS with SM4.
    Sm4,
    /// SSE-C: AES-256 under a data key wrapped by the client's own key, which is never stored
    /// (objects only; a bucket rule never names it). Added last: postcard numbers variants in
    /// order, so the earlier ones keep their bytes.
    SseC,
}

/// A bucket's default encryption rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptionRule {
    /// The algorithm new objects get when their request names none.
    pub algorithm: SseAlgorithm,
    /// KMS only: the CMK; `None` means the account's default OSS key.
    pub kms_key_id: Option<String>,
    /// KMS only: encrypt data with SM4 instead of AES-256.
    pub kms_data_sm4: bool,
}

/// A bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Its name.
    pub name: BucketName,
    /// When it was created.
    pub created: UnixMillis,
    /// Account id of the owner.
    pub owner: String,
    /// Canned ACL (never `Acl::Default`).
    pub acl: Acl,
    /// Default storage class.
    pub storage_class: StorageClass,
    /// Default server-side encryption, if set.
    pub encryption: Option<EncryptionRule>,
    /// The bucket policy (RAM policy JSON, exactly as it was put), if set. It lives in the
    /// bucket's record so that deleting the bucket drops it in the same transaction. Changed only
    /// by [`MetaStore::set_bucket_policy`](crate::MetaStore::set_bucket_policy).
    pub policy: Option<String>,
    /// CORS, tags and lifecycle: the sub-resource configurations, in one field so that a later
    /// addition changes one struct. Added in format 3.
    pub subresources: BucketSubresources,
}

/// A bucket's sub-resource configurations (format 3 of the bucket record). Each is replaced
/// whole by its Put operation and emptied by its Delete.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BucketSubresources {
    /// PutBucketCors: the rules and whether responses carry `Vary: Origin`.
    pub cors: Option<CorsConfig>,
    /// PutBucketTagging: (key, value) in the order given.
    pub tags: Vec<(String, String)>,
    /// PutBucketLifecycle: the rules in the order given; empty when none.
    pub lifecycle: Vec<LifecycleRule>,
    /// `BlockedEncryptionTypes` of the S3 PutBucketEncryption (Amazon S3 user guide, "Blocking or
    /// unblocking SSE-C for a general purpose bucket"): new objects may not be written with a
    /// customer-provided key. Set on buckets created since format 4; buckets of older formats
    /// read as unblocked, so that an upgrade does not refuse writes that worked before. Kept
    /// apart from `encryption`, so that a rule put through the OSS API leaves it as it is.
    /// Added in format 4.
    pub sse_c_blocked: bool,
}

/// The sub-resources as format 3 of the bucket record laid them out: no blocked encryption
/// types. Do not change.
#[derive(Deserialize)]
struct BucketSubresourcesV3 {
    cors: Option<CorsConfig>,
    tags: Vec<(String, String)>,
    lifecycle: Vec<LifecycleRule>,
}

/// A bucket record as format 3 laid it out. Do not change: existing data directories hold it.
#[derive(Deserialize)]
struct BucketRecordV3 {
    name: BucketName,
    created: UnixMillis,
    owner: String,
    acl: Acl,
    storage_class: StorageClass,
    encryption: Option<EncryptionRule>,
    policy: Option<String>,
    subresources: BucketSubresourcesV3,
}

impl From<BucketRecordV3> for BucketRecord {
    fn from(v3: BucketRecordV3) -> Self {
        Self {
            name: v3.name,
            created: v3.created,
            owner: v3.owner,
            acl: v3.acl,
            storage_class: v3.storage_class,
            encryption: v3.encryption,
            policy: v3.policy,
            subresources: BucketSubresources {
                cors: v3.subresources.cors,
                tags: v3.subresources.tags,
                lifecycle: v3.subresources.lifecycle,
                sse_c_blocked: false,
            },
        }
    }
}

/// A bucket's CORS configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsConfig {
    /// The rules, tried in order; the first that matches answers.
    pub rules: Vec<CorsRule>,
    /// `ResponseVary`: answers carry `Vary: Origin`.
    pub response_vary: bool,
}

/// One CORS rule, as given (validated by the front-end).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorsRule {
    /// Origins, each with at most one `*`.
    pub allowed_origins: Vec<String>,
    /// Methods (`GET`, `PUT`, `DELETE`, `POST`, `HEAD`).
    pub allowed_methods: Vec<String>,
    /// Request headers a preflight may announce, each with at most one `*`.
    pub allowed_headers: Vec<String>,
    /// Response headers scripts may read.
    pub expose_headers: Vec<String>,
    /// How long a browser may cache the preflight answer, in seconds.
    pub max_age_seconds: Option<u32>,
}

/// When a lifecycle action applies to an object or an upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LifecycleAge {
    /// This many days after the last modification (objects) or initiation (uploads).
    Days(u32),
    /// To everything last modified (initiated) before this time (midnight UTC of a date).
    CreatedBefore(UnixMillis),
}

/// One lifecycle rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// `ID`, unique in the bucket.
    pub id: String,
    /// Objects whose keys start with this (empty: all).
    pub prefix: String,
    /// Objects carrying all of these tags (empty: no tag condition).
    pub tags: Vec<(String, String)>,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    /// `Expiration`: when objects are deleted.
    pub expiration: Option<LifecycleAge>,
    /// `AbortMultipartUpload`: when unfinished uploads are aborted.
    pub abort_multipart: Option<LifecycleAge>,
}

/// How an object came to be; echoed as `x-oss-object-type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ObjectType {
    /// PutObject or CopyObject.
    Normal,
    /// CompleteMultipartUpload.
    Multipart,
    /// AppendObject.
    Appendable,
}

/// One stored piece of an object's data: a blob, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// The blob holding this segment's (possibly encrypted) bytes.
    pub blob: BlobId,
    /// Length of the plaintext this segment contributes to the object, in bytes.
    pub len: u64,
    /// How the blob's bytes are laid out (opaque to the metadata layer): the encryption header
    /// of an encrypted segment, or the checksum framing header of a plain one; `None` for a plain
    /// segment written before plain segments were framed, whose blob holds the bytes raw.
    #[serde(with = "byte_string::optional")]
    pub crypto: Option<Vec<u8>>,
    /// The blob's bytes, when they are kept in this record instead of the blob store (small
    /// objects): exactly what the blob would hold, encrypted the same way. The blob id still
    /// names the segment (encryption binds to it) and is tracked like any other, but no blob of
    /// that id is ever written.
    #[serde(with = "byte_string::optional")]
    pub inline: Option<Vec<u8>>,
}

/// How an object's data is encrypted; `None` on the record means not encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectEncryption {
    /// The method the client asked for (or the bucket default chose).
    pub algorithm: SseAlgorithm,
    /// KMS only: the CMK id.
    pub kms_key_id: Option<String>,
    /// KMS only: data encrypted with SM4.
    pub kms_data_sm4: bool,
    /// Wrapped data key and any other envelope the crypto layer needs (opaque here).
    #[serde(with = "byte_string")]
    pub envelope: Vec<u8>,
}

/// An additional checksum algorithm (Amazon S3 user guide, "Checking object integrity in
/// Amazon S3"). Values are the algorithm's digest bytes, CRCs big-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumAlgorithm {
    /// CRC-32 (ISO-HDLC).
    Crc32,
    /// CRC-32C (Castagnoli).
    Crc32c,
    /// CRC-64/NVME.
    Crc64Nvme,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
}

/// An additional checksum kept with an object or a part, as the front-end computed and verified
/// it while the body streamed (the store never recomputes it). Added in format 4 of object and
/// part records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectChecksum {
    /// Which algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The digest: of the whole data, or (composite) of the parts' digests concatenated.
    #[serde(with = "byte_string")]
    pub value: Vec<u8>,
    /// A multipart object's "checksum of checksums" over this many parts; `None` for a checksum
    /// of the whole data (a part, a single-part object, or a multipart object whose CRC was
    /// combined from its parts').
    pub composite_parts: Option<u32>,
}

/// The checksum a multipart upload was initiated with; its parts must carry that algorithm.
/// Added in format 3 of upload records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadChecksum {
    /// Which algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The final object's checksum is a checksum of the parts' checksums rather than of the
    /// whole data.
    pub composite: bool,
}

/// An object: everything but its data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Its key.
    pub key: ObjectKey,
    /// Changes on every write of this key; compare-and-swap token for appends.
    pub generation: u64,
    /// Plaintext size in bytes.
    pub size: u64,
    /// ETag without quotes (upper-case hex MD5, or `HEX-N` for multipart).
    pub etag: String,
    /// CRC-64/XZ of the plaintext.
    pub crc64: u64,
    /// Last write time.
    pub last_modified: UnixMillis,
    /// Normal, Multipart or Appendable.
    pub object_type: ObjectType,
    /// Storage class.
    pub storage_class: StorageClass,
    /// Object ACL.
    pub acl: Acl,
    /// `Content-Type` to serve.
    pub content_type: String,
    /// Other standard headers to serve (`cache-control`, `content-disposition`, `content-encoding`,
    /// `content-language`, `expires`), names lower-case.
    pub headers: Vec<(String, String)>,
    /// User metadata: names lower-case without the `x-oss-meta-` prefix.
    pub user_meta: Vec<(String, String)>,
    /// The data, in order; their `len`s add up to `size`.
    pub segments: Vec<Segment>,
    /// Server-side encryption, if any.
    pub encryption: Option<ObjectEncryption>,
    /// Object tags, (key, value) in the order they were given; at most a handful (the front-end
    /// validates them). Added in format 3.
    pub tags: Vec<(String, String)>,
    /// The additional checksum, if one was given. Added in format 4.
    pub checksum: Option<ObjectChecksum>,
}

/// A multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Its id.
    pub upload_id: UploadId,
    /// The key the object will have.
    pub key: ObjectKey,
    /// When it was initiated.
    pub initiated: UnixMillis,
    /// `Content-Type` of the final object.
    pub content_type: String,
    /// Standard headers of the final object.
    pub headers: Vec<(String, String)>,
    /// User metadata of the final object.
    pub user_meta: Vec<(String, String)>,
    /// ACL of the final object.
    pub acl: Acl,
    /// Storage class of the final object.
    pub storage_class: StorageClass,
    /// Encryption fixed at initiation.
    pub encryption: Option<ObjectEncryption>,
    /// Tags of the final object. Added in format 2.
    pub tags: Vec<(String, String)>,
    /// The additional checksum the parts carry and the final object gets. Added in format 3.
    pub checksum: Option<UploadChecksum>,
}

/// An upload record as format 1 laid it out: everything but the tags. Do not change.
#[derive(Deserialize)]
struct UploadRecordV1 {
    upload_id: UploadId,
    key: ObjectKey,
    initiated: UnixMillis,
    content_type: String,
    headers: Vec<(String, String)>,
    user_meta: Vec<(String, String)>,
    acl: Acl,
    storage_class: StorageClass,
    encryption: Option<ObjectEncryption>,
}

impl From<UploadRecordV1> for UploadRecord {
    fn from(v1: UploadRecordV1) -> Self {
        Self {
            upload_id: v1.upload_id,
            key: v1.key,
            initiated: v1.initiated,
            content_type: v1.content_type,
            headers: v1.headers,
            user_meta: v1.user_meta,
            acl: v1.acl,
            storage_class: v1.storage_class,
            encryption: v1.encryption,
            tags: Vec::new(),
            checksum: None,
        }
    }
}

/// An upload record as format 2 laid it out: with the tags, without the checksum. Do not change.
#[derive(Deserialize)]
struct UploadRecordV2 {
    upload_id: UploadId,
    key: ObjectKey,
    initiated: UnixMillis,
    content_type: String,
    headers: Vec<(String, String)>,
    user_meta: Vec<(String, String)>,
    acl: Acl,
    storage_class: StorageClass,
    encryption: Option<ObjectEncryption>,
    tags: Vec<(String, String)>,
}

impl From<UploadRecordV2> for UploadRecord {
    fn from(v2: UploadRecordV2) -> Self {
        Self {
            upload_id: v2.upload_id,
            key: v2.key,
            initiated: v2.initiated,
            content_type: v2.content_type,
            headers: v2.headers,
            user_meta: v2.user_meta,
            acl: v2.acl,
            storage_class: v2.storage_class,
            encryption: v2.encryption,
            tags: v2.tags,
            checksum: None,
        }
    }
}

/// One uploaded part of a multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// 1..=10000.
    pub part_number: u32,
    /// Plaintext size.
    pub size: u64,
    /// ETag without quotes (upper-case hex MD5 of the part).
    pub etag: String,
    /// CRC-64/XZ of the part.
    pub crc64: u64,
    /// When it was uploaded.
    pub last_modified: UnixMillis,
    /// Where its bytes are.
    pub segment: Segment,
    /// The additional checksum of the part, if one was given. Added in format 4.
    pub checksum: Option<ObjectChecksum>,
}

/// Byte fields as serde byte strings rather than sequences of numbers. In postcard both are the
/// same bytes (a varint length, then the bytes), so no layout changes; but a byte string is
/// written and read in one copy, where a sequence goes through serde one byte at a time, which
/// showed in profiles of small PUTs and GETs once records carry inline data.
mod byte_string {
    use serde::de::{Deserializer, SeqAccess, Visitor};
    use serde::ser::Serializer;

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(bytes)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_byte_buf(ByteBuf)
    }

    struct ByteBuf;

    impl<'de> Visitor<'de> for ByteBuf {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a byte string")
        }

        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }

        fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }

    pub(super) mod optional {
        use serde::de::{Deserializer, Visitor};
        use serde::ser::{Serialize, Serializer};

        struct Bytes<'a>(&'a [u8]);

        impl Serialize for Bytes<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_bytes(self.0)
            }
        }

        pub(in super::super) fn serialize<S: Serializer>(
            bytes: &Option<Vec<u8>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(b) => s.serialize_some(&Bytes(b)),
                None => s.serialize_none(),
            }
        }

        pub(in super::super) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Vec<u8>>, D::Error> {
            d.deserialize_option(Maybe)
        }

        struct Maybe;

        impl<'de> Visitor<'de> for Maybe {
            type Value = Option<Vec<u8>>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an optional byte string")
            }

            fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(None)
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                super::deserialize(d).map(Some)
            }
        }
    }
}

/// Format byte of the first record layout.
const FORMAT_V1: u8 = 1;
/// Format byte of the second layout: bucket records that carry the bucket policy, upload
/// records that carry tags.
const FORMAT_V2: u8 = 2;
/// Format byte of object records with tags, of object and part records whose segments may
/// hold their data inline, and of bucket records with their sub-resources (CORS, tags,
/// lifecycle).
const FORMAT_V3: u8 = 3;
/// Format byte of object and part records with their additional checksum (and of upload
/// records with theirs: format 3 of uploads).
const FORMAT_V4: u8 = 4;

/// A record type with its versioned layouts: the format byte it is written with now, and how
/// older layouts are read.
pub trait Record: Serialize + DeserializeOwned {
    /// The format byte [`encode_record`] writes.
    const FORMAT: u8;
    /// Decodes `rest`, written in the older layout `format`; `None` if there is no such layout.
    fn decode_older(format: u8, rest: &[u8]) -> Option<Result<Self>>;
}

/// Format 2 added the tags, format 3 the checksum.
impl Record for UploadRecord {
    const FORMAT: u8 = FORMAT_V3;
    fn decode_older(format: u8, rest: &[u8]) -> Option<Result<Self>> {
        match format {
            FORMAT_V1 => Some(postcard_decode::<UploadRecordV1>(rest).map(Self::from)),
            FORMAT_V2 => Some(postcard_decode::<UploadRecordV2>(rest).map(Self::from)),
            _ => None,
        }
    }
}

/// Format 3 added the tags and inline segment data (no object record was ever written in
/// format 2), format 4 the checksum.
impl Record for ObjectRecord {
    const FORMAT: u8 = FORMAT_V4;
    fn decode_older(format: u8, rest: &[u8]) -> Option<Result<Self>> {
        match format {
            FORMAT_V1 => Some(postcard_decode::<ObjectRecordV1>(rest).map(Self::from)),
            FORMAT_V3 => Some(postcard_decode::<ObjectRecordV3>(rest).map(Self::from)),
            _ => None,
        }
    }
}

/// Format 3 let the segment hold its data inline, format 4 added the checksum.
impl Record for PartRecord {
    const FORMAT: u8 = FORMAT_V4;
    fn decode_older(format: u8, rest: &[u8]) -> Option<Result<Self>> {
        match format {
            FORMAT_V1 => Some(postcard_decode::<PartRecordV1>(rest).map(Self::from)),
            FORMAT_V3 => Some(postcard_decode::<PartRecordV3>(rest).map(Self::from)),
            _ => None,
        }
    }
}

fn postcard_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    postcard::from_bytes(bytes).map_err(|e| Error::Corrupt(e.to_string()))
}

/// A segment as format 1 laid it out: no inline data. Do not change: existing data directories
/// hold it.
#[derive(Deserialize)]
struct SegmentV1 {
    blob: BlobId,
    len: u64,
    #[serde(with = "byte_string::optional")]
    crypto: Option<Vec<u8>>,
}

impl From<SegmentV1> for Segment {
    fn from(v1: SegmentV1) -> Self {
        Self {
            blob: v1.blob,
            len: v1.len,
            crypto: v1.crypto,
            inline: None,
        }
    }
}

/// An object record as format 1 laid it out (no tags, segments without inline data). Do not
/// change: existing data directories hold it.
#[derive(Deserialize)]
struct ObjectRecordV1 {
    key: ObjectKey,
    generation: u64,
    size: u64,
    etag: String,
    crc64: u64,
    last_modified: UnixMillis,
    object_type: ObjectType,
    storage_class: StorageClass,
    acl: Acl,
    content_type: String,
    headers: Vec<(String, String)>,
    user_meta: Vec<(String, String)>,
    segments: Vec<SegmentV1>,
    encryption: Option<ObjectEncryption>,
}

impl From<ObjectRecordV1> for ObjectRecord {
    fn from(v1: ObjectRecordV1) -> Self {
        Self {
            key: v1.key,
            generation: v1.generation,
            size: v1.size,
            etag: v1.etag,
            crc64: v1.crc64,
            last_modified: v1.last_modified,
            object_type: v1.object_type,
            storage_class: v1.storage_class,
            acl: v1.acl,
            content_type: v1.content_type,
            headers: v1.headers,
            user_meta: v1.user_meta,
            segments: v1.segments.into_iter().map(Segment::from).collect(),
            encryption: v1.encryption,
            tags: Vec::new(),
            checksum: None,
        }
    }
}

/// An object record as format 3 laid it out: with tags and inline segment data, without the
/// checksum. Do not change: existing data directories hold it.
#[derive(Deserialize)]
struct ObjectRecordV3 {
    key: ObjectKey,
    generation: u64,
    size: u64,
    etag: String,
    crc64: u64,
    last_modified: UnixMillis,
    object_type: ObjectType,
    storage_class: StorageClass,
    acl: Acl,
    content_type: String,
    headers: Vec<(String, String)>,
    user_meta: Vec<(String, String)>,
    segments: Vec<Segment>,
    encryption: Option<ObjectEncryption>,
    tags: Vec<(String, String)>,
}

impl From<ObjectRecordV3> for ObjectRecord {
    fn from(v3: ObjectRecordV3) -> Self {
        Self {
            key: v3.key,
            generation: v3.generation,
            size: v3.size,
            etag: v3.etag,
            crc64: v3.crc64,
            last_modified: v3.last_modified,
            object_type: v3.object_type,
            storage_class: v3.storage_class,
            acl: v3.acl,
            content_type: v3.content_type,
            headers: v3.headers,
            user_meta: v3.user_meta,
            segments: v3.segments,
            encryption: v3.encryption,
            tags: v3.tags,
            checksum: None,
        }
    }
}

/// A part record as format 1 laid it out. Do not change.
#[derive(Deserialize)]
struct PartRecordV1 {
    part_number: u32,
    size: u64,
    etag: String,
    crc64: u64,
    last_modified: UnixMillis,
    segment: SegmentV1,
}

impl From<PartRecordV1> for PartRecord {
    fn from(v1: PartRecordV1) -> Self {
        Self {
            part_number: v1.part_number,
            size: v1.size,
            etag: v1.etag,
            crc64: v1.crc64,
            last_modified: v1.last_modified,
            segment: v1.segment.into(),
            checksum: None,
        }
    }
}

/// A part record as format 3 laid it out: a segment that may hold its data inline, no checksum.
/// Do not change.
#[derive(Deserialize)]
struct PartRecordV3 {
    part_number: u32,
    size: u64,
    etag: String,
    crc64: u64,
    last_modified: UnixMillis,
    segment: Segment,
}

impl From<PartRecordV3> for PartRecord {
    fn from(v3: PartRecordV3) -> Self {
        Self {
            part_number: v3.part_number,
            size: v3.size,
            etag: v3.etag,
            crc64: v3.crc64,
            last_modified: v3.last_modified,
            segment: v3.segment,
            checksum: None,
        }
    }
}

/// A bucket record as format 1 laid it out: everything but the policy. Do not change: existing
/// data directories hold it.
#[derive(Deserialize)]
struct BucketRecordV1 {
    name: BucketName,
    created: UnixMillis,
    owner: String,
    acl: Acl,
    storage_class: StorageClass,
    encryption: Option<EncryptionRule>,
}

impl From<BucketRecordV1> for BucketRecord {
    fn from(v1: BucketRecordV1) -> Self {
        Self {
            name: v1.name,
            created: v1.created,
            owner: v1.owner,
            acl: v1.acl,
            storage_class: v1.storage_class,
            encryption: v1.encryption,
            policy: None,
            subresources: BucketSubresources::default(),
        }
    }
}

/// A bucket record as format 2 laid it out: with the policy, without the sub-resources. Do not
/// change: existing data directories hold it.
#[derive(Deserialize)]
struct BucketRecordV2 {
    name: BucketName,
    created: UnixMillis,
    owner: String,
    acl: Acl,
    storage_class: StorageClass,
    encryption: Option<EncryptionRule>,
    policy: Option<String>,
}

impl From<BucketRecordV2> for BucketRecord {
    fn from(v2: BucketRecordV2) -> Self {
        Self {
            name: v2.name,
            created: v2.created,
            owner: v2.owner,
            acl: v2.acl,
            storage_class: v2.storage_class,
            encryption: v2.encryption,
            policy: v2.policy,
            subresources: BucketSubresources::default(),
        }
    }
}

/// Encodes a bucket record in its current layout (format 4).
pub fn encode_bucket(record: &BucketRecord) -> Vec<u8> {
    let mut out = vec![FORMAT_V4];
    // As in `encode_record`: plain data always serializes.
    out.extend(postcard::to_stdvec(record).expect("records always serialize"));
    out
}

/// Decodes a bucket record of any supported layout: format 1 (no policy), format 2 (no
/// sub-resources), format 3 (no blocked encryption types) or format 4.
pub fn decode_bucket(bytes: &[u8]) -> Result<BucketRecord> {
    let corrupt = |e: postcard::Error| Error::Corrupt(e.to_string());
    match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => postcard::from_bytes::<BucketRecordV1>(rest)
            .map(BucketRecord::from)
            .map_err(corrupt),
        Some((&FORMAT_V2, rest)) => postcard::from_bytes::<BucketRecordV2>(rest)
            .map(BucketRecord::from)
            .map_err(corrupt),
        Some((&FORMAT_V3, rest)) => postcard::from_bytes::<BucketRecordV3>(rest)
            .map(BucketRecord::from)
            .map_err(corrupt),
        Some((&FORMAT_V4, rest)) => postcard::from_bytes(rest).map_err(corrupt),
        Some((v, _)) => Err(Error::Corrupt(format!("unknown bucket record format {v}"))),
        None => Err(Error::Corrupt("empty record".into())),
    }
}

/// Encodes a record in its current versioned layout (bucket records: [`encode_bucket`]).
pub fn encode_record<T: Record>(record: &T) -> Vec<u8> {
    let mut out = vec![T::FORMAT];
    // Serializing plain data into a Vec cannot fail: no maps with non-string keys, no I/O.
    out.extend(postcard::to_stdvec(record).expect("records always serialize"));
    out
}

/// Decodes a record written by [`encode_record`] (any supported format version).
pub fn decode_record<T: Record>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&v, rest)) if v == T::FORMAT => postcard_decode(rest),
        Some((&v, rest)) => T::decode_older(v, rest)
            .unwrap_or_else(|| Err(Error::Corrupt(format!("unknown record format {v}")))),
        None => Err(Error::Corrupt("empty record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bucket with every field set (golden files: `tests/golden.rs`).
    fn golden_bucket(policy: Option<&str>) -> BucketRecord {
        BucketRecord {
            name: BucketName::parse("golden-bucket").expect("valid"),
            created: UnixMillis(1_700_000_000_000),
            owner: "1234567890123456".into(),
            acl: Acl::PublicRead,
            storage_class: StorageClass::Ia,
            encryption: Some(EncryptionRule {
                algorithm: SseAlgorithm::Kms,
                kms_key_id: Some("alias/golden".into()),
                kms_data_sm4: true,
            }),
            policy: policy.map(str::to_owned),
            subresources: BucketSubresources::default(),
        }
    }

    const POLICY: &str = r#"{"Version":"1","Statement":[]}"#;

    #[test]
    fn bucket_records_round_trip_with_and_without_a_policy() {
        for policy in [None, Some(POLICY)] {
            let record = golden_bucket(policy);
            assert_eq!(
                decode_bucket(&encode_bucket(&record)).expect("decodes"),
                record
            );
        }
    }

    #[test]
    fn unknown_bucket_formats_are_refused() {
        let mut bytes = encode_bucket(&golden_bucket(None));
        bytes[0] = 5;
        assert!(matches!(decode_bucket(&bytes), Err(Error::Corrupt(_))));
        assert!(matches!(decode_bucket(&[]), Err(Error::Corrupt(_))));
    }
}
