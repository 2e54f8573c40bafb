//! The Amazon S3 REST front-end of coffer: a second dialect over the same store, access layer
//! and data as the OSS one.
//!
//! A request flows: [`server`] (a `coffer_http::Dialect`) resolves bucket and key (path-style or
//! virtual-hosted) and the [`actions::Op`] → [`sigv4`] verifies the AWS Signature Version 4
//! (header or presigned) and `Iam::credentials` yields the principal → `coffer_access::Access`
//! authorizes the op's RAM action (the one table in [`actions`]) → the handler calls
//! `coffer_core`. Every failure is an [`error::S3Error`], whose code and status come from the one
//! table in [`error`].

// Errors are the cold path; boxing them would add an allocation for nothing measurable.
#![allow(clippy::result_large_err)]

pub mod actions;
mod checksum;
mod chunked;
mod config;
pub mod error;
mod ops;
pub mod server;
pub mod sigv4;
mod xml;

pub use config::ConfigSection;
pub use server::{Config, S3Service, serve};
