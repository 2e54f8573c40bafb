//! The records the KMS persists, and their encoding: one format byte, then postcard.
//!
//! Do not change a record's fields in place: add a new format byte and decode both (the way
//! `coffer_meta` versions its records), so stores written by older versions still open.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::id::{AccountId, KeyId, KeyVersionId};
use crate::key::{KeySpec, KeyState, KeyUsage, Origin, ProtectionLevel, Tag};
use crate::wrapping::WrappingAlgorithm;
use crate::{Error, Result};

/// Whole seconds since the Unix epoch, as records store time (0 before the epoch).
pub(crate) fn to_secs(t: impl Into<coffer_types::Timestamp>) -> u64 {
    u64::try_from(t.into().unix_seconds()).unwrap_or(0)
}

/// The time `secs` seconds after the Unix epoch.
pub(crate) fn from_secs(secs: u64) -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// Do not change: the first byte of every record written so far.
const FORMAT_1: u8 = 1;

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_1];
    out.extend_from_slice(&postcard::to_stdvec(value).expect("records serialize"));
    out
}

pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&FORMAT_1, rest)) => postcard::from_bytes(rest).map_err(Error::internal),
        _ => Err(Error::internal(std::io::Error::other(
            "unknown KMS record format",
        ))),
    }
}

/// A CMK. Times are seconds since the Unix epoch.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) key_id: KeyId,
    pub(crate) account: AccountId,
    /// Creation order, for listing.
    pub(crate) seq: u64,
    pub(crate) creator: String,
    pub(crate) description: String,
    pub(crate) spec: KeySpec,
    pub(crate) usage: KeyUsage,
    pub(crate) origin: Origin,
    pub(crate) protection: ProtectionLevel,
    pub(crate) created: u64,
    pub(crate) state: KeyState,
    pub(crate) delete_date: Option<u64>,
    pub(crate) primary_version: Option<KeyVersionId>,
    pub(crate) last_rotation: Option<u64>,
    /// Automatic rotation interval in seconds; `None` when off.
    pub(crate) rotation_interval: Option<u64>,
    pub(crate) material_expire: Option<u64>,
    /// HMAC commitment to the material first imported into an EXTERNAL key.
    pub(crate) material_commitment: Option<[u8; 32]>,
    /// Managed by coffer for a service (`alias/acs/...`).
    pub(crate) service: bool,
    pub(crate) tags: Vec<Tag>,
}

/// One version of a key's material, sealed under the root key (bound to key id and version id).
/// `sealed` is `None` while an imported key's material is deleted or expired.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VersionRecord {
    pub(crate) key_id: KeyId,
    pub(crate) version_id: KeyVersionId,
    /// Position among the key's versions (0 for the first), for listing in creation order.
    pub(crate) index: u32,
    pub(crate) created: u64,
    pub(crate) sealed: Option<Vec<u8>>,
}

/// An alias.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AliasRecord {
    pub(crate) key_id: KeyId,
    pub(crate) created: u64,
}

/// An import token: the transport key behind it, sealed under the root key (bound to the token's
/// digest), and what it may be used for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    pub(crate) key_id: KeyId,
    pub(crate) algorithm: WrappingAlgorithm,
    pub(crate) expires: u64,
    pub(crate) sealed_private_key: Vec<u8>,
}

pub(crate) fn key_key(key_id: &KeyId) -> Vec<u8> {
    key_id.to_bytes().to_vec()
}

pub(crate) fn version_key(key_id: &KeyId, version_id: &KeyVersionId) -> Vec<u8> {
    let mut k = key_id.to_bytes().to_vec();
    k.extend_from_slice(&version_id.to_bytes());
    k
}

/// Account ids are digits, so NUL separates unambiguously.
pub(crate) fn alias_key(account: &AccountId, alias: &crate::id::AliasName) -> Vec<u8> {
    let mut k = account.as_str().as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(alias.as_str().as_bytes());
    k
}

pub(crate) fn split_alias_key(k: &[u8]) -> Result<(AccountId, crate::id::AliasName)> {
    let bad = || Error::internal(std::io::Error::other("malformed alias key"));
    let at = k.iter().position(|&b| b == 0).ok_or_else(bad)?;
    let account = std::str::from_utf8(&k[..at]).map_err(|_| bad())?;
    let alias = std::str::from_utf8(&k[at + 1..]).map_err(|_| bad())?;
    Ok((
        AccountId::parse(account).map_err(|_| bad())?,
        crate::id::AliasName::parse(alias).map_err(|_| bad())?,
    ))
}
