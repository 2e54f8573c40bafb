//! The client side of the `coffer` binary: `config`, `ls`, `mb`, `rb`, `cp`, `sync`, `rm`,
//! `stat`, `cat`, `presign`, `bucket-encryption`, `reencrypt`, `kms key|alias` and
//! `completions`, for coffer and any OSS endpoint.
//!
//! Every remote command takes the connection options of [`profile::ConnArgs`] (a profile of
//! `~/.config/coffer/config.toml`, overridden by `COFFER_*` variables and flags) and
//! `--output text|json` (JSON lines for listings). Exit code 0 means full success; otherwise one
//! line on standard error names the OSS code and request id.

#![warn(missing_docs)]

pub mod client;
pub mod commands;
pub mod kms;
pub mod ops;
pub mod profile;
mod reencrypt;
pub mod transfer;
pub mod uri;

pub use commands::{Command, run};
