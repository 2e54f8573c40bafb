//! The object store's operations, free of any wire protocol: buckets, objects, listing, ranges,
//! copy, append and multipart uploads, over a [`coffer_meta::MetaStore`] and a
//! [`coffer_blob::BlobStore`].
//!
//! Every operation acting for a caller takes a [`coffer_iam::Grant`], so it cannot run without an
//! authorization decision. Object data flows as streams through [`data`], the one place where bytes
//! enter and leave the blob store (and where encryption sits), so memory does not grow with object
//! size. This crate knows nothing of HTTP: no headers, status codes or XML.

mod acl;
mod additional;
mod bucket;
mod checksum;
mod conditions;
mod config;
mod context;
pub mod data;
mod error;
mod frame;
mod gc;
mod list;
mod multipart;
mod object;
mod range;
mod rewrap;
mod sse;
mod stat;
mod store;
mod subresource;
mod tags;

pub use additional::{BodyChecksum, supports_composite, supports_full_object};
pub use bucket::{BucketSettings, CreateBucket};
pub use checksum::{Crc64, crc64_combine, multipart_etag};
pub use coffer_crypto::CustomerKey;
pub use conditions::Preconditions;
pub use config::Config;
pub use context::RequestContext;
pub use data::BodyStream;
pub use error::{Error, Result};
pub use gc::Collector;
pub use list::{ListEntry, ListPage, ListQuery, UploadListPage, UploadListQuery};
pub use multipart::{
    CompletePart, CompleteUpload, InitiateUpload, MAX_PART_NUMBER, PartOutput, PartsPage,
};
pub use object::{
    AppendObject, CopyObject, GetObjectOutput, GetOptions, MetadataDirective, ObjectMetadata,
    PutObject, PutOutput,
};
pub use range::{ByteRange, RangeBehavior};
pub use sse::{CustomerKeys, GeneratedKey, KmsCaller, KmsClient, KmsError, SseRequest};
pub use stat::{BucketStat, ClassStat, class_index};
pub use store::Store;
pub use subresource::{CorsRequest, LifecycleReport, is_past, wildcard_match};
pub use tags::{MAX_TAGS, TagProblem, validate_tags};

pub use coffer_meta::{
    Acl, BucketRecord, BucketSubresources, ChecksumAlgorithm, CorsConfig, CorsRule, EncryptionRule,
    LifecycleAge, LifecycleRule, ObjectChecksum, ObjectEncryption, ObjectRecord, ObjectType,
    PartRecord, SseAlgorithm, StorageClass, UnixMillis, UploadChecksum, UploadRecord,
};
