//! Alibaba OSS request signatures: V1 (`OSS <ak>:<sig>`, HMAC-SHA1) and V4
//! (`OSS4-HMAC-SHA256`), each in header and presigned-query form. The server authenticates a
//! request with [`detect`] (which scheme, which access key, which claimed time) and then
//! [`verify`] (recompute, compare in constant time, check skew and expiry); coffer's own tools
//! sign with [`sign_request_v1`], [`sign_request_v4`], [`presign_v1`] and [`presign_v4`], which go
//! through the same canonicalisation. The RFC 1123 and ISO 8601 basic date helpers live here too.
//!
//! This crate is pure: no I/O, no async, no HTTP types. It works on a [`SignedRequest`], plain
//! data the router fills in (bucket and key already resolved and decoded). It does not look up
//! secrets, check STS tokens, read the body (a real `x-oss-content-sha256` must be checked by the
//! caller, or refused with [`require_unsigned_payload`] as OSS does) or map errors to OSS codes;
//! those belong to `iam` and `oss`. The one piece of state, [`replay::ReplayGuard`], remembers
//! nonces for the APIs whose signatures carry one (KMS, admin).

#![warn(missing_docs)]

mod authorization;
mod client;
mod date;
mod error;
mod presented;
pub mod replay;
mod request;
mod v1;
mod v4;
mod verify;

pub use authorization::{AuthHeader, Credential, parse_authorization};
pub use client::{Credentials, presign_v1, presign_v4, sign_request_v1, sign_request_v4};
pub use date::{
    format_iso8601_basic, format_rfc1123, parse_iso8601_basic, parse_request_date, parse_rfc1123,
};
pub use error::{Error, Result};
pub use presented::{MAX_PRESIGNED_EXPIRY, Presented, Scheme, detect};
pub use request::SignedRequest;
pub use v1::{SUB_RESOURCES, is_sub_resource, sign_v1, string_to_sign_v1};
pub use v4::{
    ALGORITHM_V4, PRODUCT, SCOPE_TERMINATOR, SigningKey, UNSIGNED_PAYLOAD, canonical_request_v4,
    scope_v4, sign_v4, signing_key_v4, string_to_sign_v4, uri_encode, uri_encode_path,
};
pub use verify::{MAX_SKEW, require_unsigned_payload, verify};
