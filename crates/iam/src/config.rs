//! The identity layer's settings an operator chooses: a section of `coffer server`'s
//! configuration (flags, `COFFER_*` environment variables and TOML keys are generated from these
//! fields).

use clap::Args;
use serde::Deserialize;

use crate::MIN_SESSION_DURATION;

/// The identity layer's section of `coffer server`'s configuration.
#[derive(Debug, Clone, Args, Deserialize)]
// Sections sit side by side in one command; clap's per-struct group would collide.
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigSection {
    /// Shortest STS session AssumeRole grants, in seconds [default: 900, as RAM]. Lower it only
    /// to test expiry (0 issues credentials that are already expired).
    #[arg(long, env = "COFFER_STS_MIN_SESSION_SECONDS", required = false)]
    pub sts_min_session_seconds: u32,
}

impl Default for ConfigSection {
    fn default() -> Self {
        Self {
            sts_min_session_seconds: u32::try_from(MIN_SESSION_DURATION.whole_seconds())
                .unwrap_or(u32::MAX),
        }
    }
}

impl ConfigSection {
    /// The shortest session, for [`crate::Iam::with_min_session_duration`].
    pub fn min_session_duration(&self) -> time::Duration {
        time::Duration::seconds(i64::from(self.sts_min_session_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_rams_shortest_session() {
        assert_eq!(
            ConfigSection::default().min_session_duration(),
            MIN_SESSION_DURATION
        );
    }
}
