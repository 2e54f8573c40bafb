//! The metadata store of coffer: the [`MetaStore`] trait, the records it holds and a conformance
//! suite ([`conformance`]) that every backend's tests run.
//!
//! A backend stores buckets, object records, multipart uploads and their parts, and the set of
//! blobs that are live or waiting to be deleted. It sees object data only as opaque bytes: records
//! name blobs, and a small object's segment may carry the blob's bytes itself (`Segment::inline`,
//! encrypted when the object is).
//! Every method is one atomic transaction; that is what makes a PUT visible all at once.
//!
//! This crate knows nothing of HTTP, of encryption internals (an object's encryption envelope is
//! opaque bytes here) or of any concrete database.

pub mod conformance;
mod error;
mod memory;
mod record;
mod store;

pub use error::{Error, Result};
pub use memory::MemoryMetaStore;
pub use record::{
    Acl, BucketRecord, BucketSubresources, ChecksumAlgorithm, CorsConfig, CorsRule, EncryptionRule,
    LifecycleAge, LifecycleRule, ObjectChecksum, ObjectEncryption, ObjectRecord, ObjectType,
    PartRecord, Record, Segment, SseAlgorithm, StorageClass, UnixMillis, UploadChecksum,
    UploadRecord, decode_bucket, decode_record, encode_bucket, encode_record,
};
pub use store::{MetaStore, PutCondition, UploadCursor};
