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
    /// Encryption header of this segment (opaque to the metadata layer); `None` when stored plain.
    pub crypto: Option<Vec<u8>>,
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
    pub envelope: Vec<u8>,
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
}

/// Format byte of the current record layout.
const FORMAT_V1: u8 = 1;

/// Encodes a record in the current versioned layout.
pub fn encode_record<T: Serialize>(record: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_V1];
    // Serializing plain data into a Vec cannot fail: no maps with non-string keys, no I/O.
    out.extend(postcard::to_stdvec(record).expect("records always serialize"));
    out
}

/// Decodes a record written by [`encode_record`] (any supported format version).
pub fn decode_record<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT_V1, rest)) => {
            postcard::from_bytes(rest).map_err(|e| Error::Corrupt(e.to_string()))
        }
        Some((v, _)) => Err(Error::Corrupt(format!("unknown record format {v}"))),
        None => Err(Error::Corrupt("empty record".into())),
    }
}
