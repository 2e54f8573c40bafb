//! The OSS front-end's settings an operator chooses: a section of `coffer server`'s configuration
//! (flags, `COFFER_*` environment variables and TOML keys are generated from these fields).

use clap::Args;
use serde::Deserialize;

use crate::router::HostConfig;

/// The OSS front-end's section of `coffer server`'s configuration.
#[derive(Debug, Clone, Default, Args, Deserialize)]
// Sections sit side by side in one command; clap's per-struct group would collide.
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigSection {
    /// Extra base domains for virtual-hosted addressing (`bucket.<domain>`), comma-separated;
    /// `localhost` is always one.
    #[arg(long, env = "COFFER_VIRTUAL_HOST_DOMAINS", value_delimiter = ',')]
    pub virtual_host_domains: Vec<String>,
}

impl ConfigSection {
    /// The host recognition these settings ask for: `localhost` then each extra domain, trimmed,
    /// lower-cased, once.
    pub fn host_config(&self) -> HostConfig {
        let mut hosts = HostConfig::default();
        for extra in &self.virtual_host_domains {
            let extra = extra.trim().to_ascii_lowercase();
            if !extra.is_empty() && !hosts.base_domains.contains(&extra) {
                hosts.base_domains.push(extra);
            }
        }
        hosts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_domains_follow_localhost_once_and_normalised() {
        let section = ConfigSection {
            virtual_host_domains: vec![" OSS.Example.com".into(), "".into(), "localhost".into()],
        };
        assert_eq!(
            section.host_config().base_domains,
            ["localhost", "oss.example.com"]
        );
    }
}
