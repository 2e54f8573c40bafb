//! The network edge's settings: one section of `coffer server`'s configuration, as flags,
//! `COFFER_*` variables and the `[http]` table of the TOML file.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// Connection limits and TLS of every listener. Unset fields take their defaults (see
/// [`Config::or`] to layer a file under flags).
#[derive(clap::Args, Deserialize, Debug, Clone, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Seconds a client has to send a request's head, from its first byte [default: 10].
    #[arg(long, env = "COFFER_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<u64>,
    /// Seconds an idle keep-alive connection is kept open [default: 60].
    #[arg(long, env = "COFFER_IDLE_TIMEOUT")]
    pub idle_timeout: Option<u64>,
    /// Slowest request body accepted, in bytes per second averaged over --body-rate-window; a
    /// body sent slower is cut [default: 1024; 0 = no minimum].
    #[arg(long, env = "COFFER_MIN_BODY_RATE")]
    pub min_body_rate: Option<u64>,
    /// Seconds of waiting over which --min-body-rate is measured [default: 20].
    #[arg(long, env = "COFFER_BODY_RATE_WINDOW")]
    pub body_rate_window: Option<u64>,
    /// Most connections open at once over all listeners [default: 8192, and never more than the
    /// open-file limit allows].
    #[arg(long, env = "COFFER_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Most connections open at once from one client address [default: 1024].
    #[arg(long, env = "COFFER_MAX_CONNECTIONS_PER_PEER")]
    pub max_connections_per_peer: Option<usize>,
    /// PEM certificate chain for TLS on every listener (with --tls-key).
    #[arg(long, env = "COFFER_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "COFFER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

/// The settings with their defaults applied.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) min_body_rate: u64,
    pub(crate) body_rate_window: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_connections_per_peer: usize,
}

impl Config {
    /// Each setting from `self`, or else from `other` (flags over a file).
    pub fn or(self, other: Config) -> Config {
        Config {
            header_read_timeout: self.header_read_timeout.or(other.header_read_timeout),
            idle_timeout: self.idle_timeout.or(other.idle_timeout),
            min_body_rate: self.min_body_rate.or(other.min_body_rate),
            body_rate_window: self.body_rate_window.or(other.body_rate_window),
            max_connections: self.max_connections.or(other.max_connections),
            max_connections_per_peer: self
                .max_connections_per_peer
                .or(other.max_connections_per_peer),
            tls_cert: self.tls_cert.or(other.tls_cert),
            tls_key: self.tls_key.or(other.tls_key),
        }
    }

    pub(crate) fn resolve(&self) -> Resolved {
        let secs = |v: Option<u64>, d: u64| Duration::from_secs(v.unwrap_or(d).max(1));
        Resolved {
            header_read_timeout: secs(self.header_read_timeout, 10),
            idle_timeout: secs(self.idle_timeout, 60),
            min_body_rate: self.min_body_rate.unwrap_or(1024),
            body_rate_window: secs(self.body_rate_window, 20),
            max_connections: self.max_connections.unwrap_or(8192).max(1),
            max_connections_per_peer: self.max_connections_per_peer.unwrap_or(1024).max(1),
        }
    }
}
