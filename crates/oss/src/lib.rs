//! The Alibaba Cloud OSS REST front-end of coffer.
//!
//! A request flows: [`server`] accepts it and opens its span → [`router`] resolves bucket, key and
//! [`router::Endpoint`] → [`auth`] verifies the V1/V4 signature (header or presigned) and yields a
//! principal → `coffer_iam` authorizes the endpoint's action and mints a `Grant` → an operation in
//! [`ops`] calls `coffer_core` → [`response`] renders headers and XML. Every failure becomes an
//! [`error::OssError`], whose code and status come from the one table in [`error`].
//!
//! This crate owns everything about the wire (headers, XML, status codes, signatures' inputs) and
//! nothing about storage: it reaches data only through `coffer_core`.

// `OssError` is 128 bytes (code row, message, details, headers, cause). Errors are the cold path
// of a handler that streams megabytes; boxing them would add an allocation for nothing measurable.
#![allow(clippy::result_large_err)]

pub mod auth;
mod config;
pub mod error;
pub mod headers;
mod metrics;
mod ops;
mod request;
mod response;
pub mod router;
pub mod server;
pub mod xml;

pub use config::ConfigSection;
pub use metrics::Metrics;
pub use server::{Config, MetricsSource, OssService, serve};
