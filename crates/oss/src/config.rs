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
    /// The endpoint clients reach this server at (`host[:port]`, a scheme is dropped), advertised
    /// as each bucket's ExtranetEndpoint and IntranetEndpoint [default: the OSS listen address].
    #[arg(long, env = "COFFER_PUBLIC_ENDPOINT")]
    pub public_endpoint: Option<String>,
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

    /// The endpoint to advertise: the configured one without scheme or trailing `/`, else
    /// `listening` (the OSS listener's bound address).
    pub fn public_endpoint(&self, listening: impl std::fmt::Display) -> String {
        let configured = self.public_endpoint.as_deref().map(|e| {
            let e = e.trim();
            let e = e
                .strip_prefix("https://")
                .or_else(|| e.strip_prefix("http://"))
                .unwrap_or(e);
            e.trim_end_matches('/').to_owned()
        });
        match configured {
            Some(e) if !e.is_empty() => e,
            _ => listening.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_domains_follow_localhost_once_and_normalised() {
        let section = ConfigSection {
            virtual_host_domains: vec![" OSS.Example.com".into(), "".into(), "localhost".into()],
            public_endpoint: None,
        };
        assert_eq!(
            section.host_config().base_domains,
            ["localhost", "oss.example.com"]
        );
    }

    #[test]
    fn public_endpoint_defaults_to_the_listener_and_drops_a_scheme() {
        let with = |e: Option<&str>| ConfigSection {
            public_endpoint: e.map(str::to_owned),
            ..ConfigSection::default()
        };
        assert_eq!(
            with(None).public_endpoint("127.0.0.1:9000"),
            "127.0.0.1:9000"
        );
        assert_eq!(
            with(Some(" ")).public_endpoint("127.0.0.1:9000"),
            "127.0.0.1:9000"
        );
        assert_eq!(
            with(Some("https://oss.example.com/")).public_endpoint("x"),
            "oss.example.com"
        );
        assert_eq!(
            with(Some("s3.lan:9000")).public_endpoint("x"),
            "s3.lan:9000"
        );
    }
}
