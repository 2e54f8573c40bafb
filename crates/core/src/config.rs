//! The object store's settings: the `Config` section of `coffer server` (flags, `COFFER_*`
//! environment variables and TOML keys are generated from these fields).

use clap::Args;
use serde::Deserialize;

/// Limits and identity of the store.
#[derive(Debug, Clone, Args, Deserialize)]
// Sections sit side by side in one command; clap's per-struct group would collide.
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The account id that owns every bucket (the root account's; not a setting).
    #[arg(skip)]
    #[serde(skip)]
    pub owner_id: String,
    /// Largest object a single PutObject, AppendObject total or UploadPart may hold, in bytes
    /// [default: 5368709120, 5 GiB as OSS].
    #[arg(long, env = "COFFER_MAX_OBJECT_SIZE", required = false)]
    pub max_object_size: u64,
    /// Smallest size of a multipart part other than the last, in bytes [default: 102400, as OSS].
    #[arg(long, env = "COFFER_MIN_PART_SIZE", required = false)]
    pub min_part_size: u64,
    /// PutObject and CopyObject results up to this many bytes are kept inside their metadata
    /// record (encrypted exactly as a blob would be) instead of a blob file of their own, which
    /// saves a file write and sync per small PUT; 0 keeps every object in a blob [default: 16384].
    #[arg(long, env = "COFFER_INLINE_LIMIT", required = false)]
    pub inline_limit: u64,
}

/// The default of [`Config::inline_limit`], chosen from measurements: see `bench/README.md`.
const DEFAULT_INLINE_LIMIT: u64 = 16 * 1024;

impl Default for Config {
    fn default() -> Self {
        Self {
            owner_id: String::new(),
            max_object_size: 5 * 1024 * 1024 * 1024,
            min_part_size: 100 * 1024,
            inline_limit: DEFAULT_INLINE_LIMIT,
        }
    }
}
