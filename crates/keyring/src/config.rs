//! The keyring's settings an operator chooses: a section of `coffer server`'s configuration
//! (flags, `COFFER_*` environment variables and TOML keys are generated from these fields).

use clap::Args;
use serde::Deserialize;

/// The keyring's section of `coffer server`'s configuration.
#[derive(Debug, Clone, Args, Deserialize)]
// Sections sit side by side in one command; clap's per-struct group would collide.
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigSection {
    /// Days between automatic rotations of the SSE-OSS master key [default: 30; 0 = never].
    #[arg(long, env = "COFFER_SSE_ROTATION_DAYS", required = false)]
    pub sse_rotation_days: u32,
}

impl Default for ConfigSection {
    fn default() -> Self {
        Self {
            sse_rotation_days: 30,
        }
    }
}

impl ConfigSection {
    /// The age, in seconds, at which the primary version is rotated, for
    /// [`crate::Keyring::rotate_if_due`]; `None` when automatic rotation is off.
    pub fn rotation_interval_secs(&self) -> Option<i64> {
        (self.sse_rotation_days > 0).then(|| i64::from(self.sse_rotation_days) * 86_400)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_days_turns_rotation_off() {
        assert_eq!(
            ConfigSection::default().rotation_interval_secs(),
            Some(30 * 86_400)
        );
        let off = ConfigSection {
            sse_rotation_days: 0,
        };
        assert_eq!(off.rotation_interval_secs(), None);
    }
}
