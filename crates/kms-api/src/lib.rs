//! The Alibaba Cloud KMS API front-end of coffer: RPC-style requests (`Action`/`Version`
//! parameters or `x-acs-*` headers, on `/`, by GET or POST, parameters in the query string and/or
//! a form body), authenticated by either request signature the KMS SDKs send — RPC v1
//! HMAC-SHA1 (`aliyun-python-sdk-core`) or ACS3-HMAC-SHA256 (`alibabacloud_kms20160120`) — and
//! answered in JSON, errors included. The wire contract is the Alibaba Cloud KMS API reference
//! (version 2016-01-20) as those SDKs speak it.
//!
//! A request flows: [`serve`] accepts it and opens its span → `params` decodes and merges the
//! parameters → `auth` verifies the signature, the request time and the nonce, and yields a
//! principal → `action` picks the `Action` and checks the version → the
//! principal is authorized → an operation in `ops` parses its typed request, calls the
//! [`coffer_kms::Kms`] engine in a blocking task and renders the JSON body. Every failure becomes
//! an `ApiError` rendered as the KMS API's JSON error body.
//!
//! This crate owns the wire (parameter names, signatures, JSON field names, the front-end's error
//! codes) and nothing else: keys, blobs, key states and their error codes are the engine's; who
//! may do what is `coffer_iam`'s. It never logs parameters, plaintexts, signatures or tokens.

mod action;
mod auth;
mod error;
mod ops;
mod params;
mod server;
mod signature;

pub use server::{KmsApiService, Refusal, serve};

/// The RPC v1 `Signature` parameter of a request sent with `method` carrying `params` (every
/// parameter but `Signature`), signed with `secret`: the client side of what the server checks,
/// for coffer's own CLI.
pub fn rpc_signature<'a>(
    method: &str,
    params: impl Iterator<Item = (&'a str, &'a str)>,
    secret: &str,
) -> String {
    let canonical = signature::rpc::canonical_query(params);
    signature::rpc::sign(secret, &signature::rpc::string_to_sign(method, &canonical))
}
