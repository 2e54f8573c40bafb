//! The S3 front-end's settings: a section of `coffer server`'s configuration.

use std::net::SocketAddr;

use clap::Args;
use serde::Deserialize;

/// The S3 front-end's section of `coffer server`'s configuration.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigSection {
    /// Address of the S3 API listener [default: 127.0.0.1:9004, or an ephemeral loopback port
    /// when --listen asks for port 0].
    #[arg(long, env = "COFFER_S3_LISTEN")]
    pub s3_listen: Option<SocketAddr>,
    /// The region S3 clients sign for (SigV4 credential scopes must name it) [default: us-east-1].
    #[arg(long, env = "COFFER_S3_REGION")]
    pub s3_region: Option<String>,
    /// Base domains for virtual-hosted S3 addressing (`bucket.<domain>`), comma-separated;
    /// `localhost` is always one.
    #[arg(long, env = "COFFER_S3_VIRTUAL_HOST_DOMAINS", value_delimiter = ',')]
    pub s3_virtual_host_domains: Vec<String>,
    /// Accept customer-provided encryption keys (SSE-C) on plain-HTTP requests. S3 refuses them
    /// without TLS, since the key would cross the network in the clear; this is for tests and
    /// for a TLS-terminating proxy on the same host.
    #[arg(long, env = "COFFER_S3_ALLOW_SSE_C_OVER_HTTP")]
    pub s3_allow_sse_c_over_http: bool,
}

impl ConfigSection {
    /// The listen address: as configured, else 9004, except that `ephemeral` (the OSS listener
    /// asked for port 0, as tests starting many servers do) picks a free port.
    pub fn listen(&self, ephemeral: bool) -> SocketAddr {
        self.s3_listen.unwrap_or_else(|| {
            let port = if ephemeral { 0 } else { 9004 };
            SocketAddr::from(([127, 0, 0, 1], port))
        })
    }

    /// The front-end's settings.
    pub fn config(&self) -> crate::Config {
        let mut domains = vec!["localhost".to_owned()];
        for d in &self.s3_virtual_host_domains {
            let d = d.trim().to_ascii_lowercase();
            if !d.is_empty() && !domains.contains(&d) {
                domains.push(d);
            }
        }
        crate::Config {
            region: self.s3_region.clone().unwrap_or_else(|| "us-east-1".into()),
            base_domains: domains,
            allow_sse_c_over_http: self.s3_allow_sse_c_over_http,
        }
    }
}
