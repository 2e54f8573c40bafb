//! Header and query names of the OSS wire protocol, in one place.

#![allow(missing_docs)]

pub const X_OSS_REQUEST_ID: &str = "x-oss-request-id";
pub const X_OSS_DATE: &str = "x-oss-date";
pub const X_OSS_EC: &str = "x-oss-ec";
pub const X_OSS_ERR: &str = "x-oss-err";
pub const X_OSS_SERVER_TIME: &str = "x-oss-server-time";
pub const X_OSS_HASH_CRC64ECMA: &str = "x-oss-hash-crc64ecma";
pub const X_OSS_OBJECT_TYPE: &str = "x-oss-object-type";
pub const X_OSS_STORAGE_CLASS: &str = "x-oss-storage-class";
pub const X_OSS_NEXT_APPEND_POSITION: &str = "x-oss-next-append-position";
pub const X_OSS_META_PREFIX: &str = "x-oss-meta-";
pub const X_OSS_ACL: &str = "x-oss-acl";
pub const X_OSS_OBJECT_ACL: &str = "x-oss-object-acl";
pub const X_OSS_FORBID_OVERWRITE: &str = "x-oss-forbid-overwrite";
pub const X_OSS_COPY_SOURCE: &str = "x-oss-copy-source";
pub const X_OSS_COPY_SOURCE_RANGE: &str = "x-oss-copy-source-range";
pub const X_OSS_COPY_SOURCE_IF_MATCH: &str = "x-oss-copy-source-if-match";
pub const X_OSS_COPY_SOURCE_IF_NONE_MATCH: &str = "x-oss-copy-source-if-none-match";
pub const X_OSS_COPY_SOURCE_IF_MODIFIED_SINCE: &str = "x-oss-copy-source-if-modified-since";
pub const X_OSS_COPY_SOURCE_IF_UNMODIFIED_SINCE: &str = "x-oss-copy-source-if-unmodified-since";
pub const X_OSS_METADATA_DIRECTIVE: &str = "x-oss-metadata-directive";
pub const X_OSS_RANGE_BEHAVIOR: &str = "x-oss-range-behavior";
pub const X_OSS_COMPLETE_ALL: &str = "x-oss-complete-all";
pub const X_OSS_SERVER_SIDE_ENCRYPTION: &str = "x-oss-server-side-encryption";
pub const X_OSS_SERVER_SIDE_DATA_ENCRYPTION: &str = "x-oss-server-side-data-encryption";
pub const X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID: &str = "x-oss-server-side-encryption-key-id";
pub const X_OSS_TAGGING: &str = "x-oss-tagging";
pub const X_OSS_TAGGING_DIRECTIVE: &str = "x-oss-tagging-directive";
pub const X_OSS_TAGGING_COUNT: &str = "x-oss-tagging-count";

/// Standard headers an object stores and serves back.
pub const STORED_STANDARD_HEADERS: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// `response-*` query parameters of GetObject and the header each overrides.
pub const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

pub const ORIGIN: &str = "origin";
pub const ACCESS_CONTROL_REQUEST_METHOD: &str = "access-control-request-method";
pub const ACCESS_CONTROL_REQUEST_HEADERS: &str = "access-control-request-headers";
pub const ACCESS_CONTROL_ALLOW_ORIGIN: &str = "access-control-allow-origin";
pub const ACCESS_CONTROL_ALLOW_METHODS: &str = "access-control-allow-methods";
pub const ACCESS_CONTROL_ALLOW_HEADERS: &str = "access-control-allow-headers";
pub const ACCESS_CONTROL_EXPOSE_HEADERS: &str = "access-control-expose-headers";
pub const ACCESS_CONTROL_MAX_AGE: &str = "access-control-max-age";
pub const VARY: &str = "vary";
