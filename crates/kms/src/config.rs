//! The KMS's section of the server configuration.

use std::time::Duration;

/// Settings of the KMS engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The region this KMS serves; part of ARNs and bound into every ciphertext blob.
    pub region: String,
    /// Smallest gap between two manual CreateKeyVersion calls on one key (Alibaba limits it; by
    /// default coffer does not).
    pub min_key_version_interval: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: "cn-hangzhou".into(),
            min_key_version_interval: None,
        }
    }
}
