//! The network edge's settings: one section of `coffer server`'s configuration, as flags,
//! `COFFER_*` variables and the `[http]` table of the TOML file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::tls::TlsError;

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
    /// PEM private key for --tls-cert. Both files are read again on SIGHUP.
    #[arg(long, env = "COFFER_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Serve TLS with a self-signed certificate for the listen names, generated into the data
    /// directory on first start (its SHA-256 fingerprint is printed), unless --tls-cert is given.
    // `Option` so that an absent flag leaves a `true` from the TOML file alone: clap gives a plain
    // `bool` flag a default of `false`, which would override the file.
    #[arg(long, env = "COFFER_TLS_SELF_SIGNED", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub tls_self_signed: Option<bool>,
    /// Allow the KMS and admin APIs to listen on a non-loopback address without TLS (their
    /// requests carry key material and credentials in the clear).
    #[arg(long, env = "COFFER_ALLOW_INSECURE_NETWORK", num_args = 0..=1, require_equals = true,
          default_missing_value = "true")]
    pub allow_insecure_network: Option<bool>,
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
            tls_self_signed: self.tls_self_signed.or(other.tls_self_signed),
            allow_insecure_network: self.allow_insecure_network.or(other.allow_insecure_network),
        }
    }

    /// Whether `--tls-self-signed` is on.
    pub fn self_signed(&self) -> bool {
        self.tls_self_signed.unwrap_or(false)
    }

    /// Whether plain HTTP is allowed on the KMS and admin APIs off loopback.
    pub fn insecure_network_allowed(&self) -> bool {
        self.allow_insecure_network.unwrap_or(false)
    }

    /// Whether the listeners will speak TLS.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() || self.self_signed()
    }

    /// Settles the TLS files: with `--tls-self-signed` and no `--tls-cert`, creates (once) a
    /// self-signed pair in `data_dir` naming the `listeners`' addresses and returns its SHA-256
    /// fingerprint.
    pub fn prepare_tls(
        &mut self,
        data_dir: &Path,
        listeners: &[SocketAddr],
    ) -> Result<Option<String>, TlsError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(TlsError::SelfSigned(
                "--tls-cert and --tls-key go together".to_owned(),
            ));
        }
        if !self.self_signed() || self.tls_cert.is_some() {
            return Ok(None);
        }
        let (cert, key, fingerprint) =
            crate::tls::self_signed(data_dir, &crate::tls::names_for(listeners))?;
        self.tls_cert = Some(cert);
        self.tls_key = Some(key);
        Ok(Some(fingerprint))
    }

    /// Refuses to serve `api` (whose requests carry keys or credentials) in the clear on an
    /// address other hosts can reach, unless `--allow-insecure-network` says so.
    pub fn check_exposure(&self, api: &str, addr: SocketAddr) -> Result<(), String> {
        if addr.ip().is_loopback() || self.tls() || self.insecure_network_allowed() {
            return Ok(());
        }
        Err(format!(
            "the {api} API would listen on {addr} without TLS: its requests carry key material \
             and credentials that anyone on the network could read. Give --tls-cert/--tls-key \
             (or --tls-self-signed), listen on a loopback address, or pass \
             --allow-insecure-network if the network is trusted"
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_the_file_setting_by_setting() {
        let flags = Config {
            idle_timeout: Some(5),
            ..Config::default()
        };
        let file = Config {
            idle_timeout: Some(99),
            header_read_timeout: Some(3),
            tls_self_signed: Some(true),
            ..Config::default()
        };
        let merged = flags.or(file).resolve();
        assert_eq!(merged.idle_timeout, Duration::from_secs(5));
        assert_eq!(merged.header_read_timeout, Duration::from_secs(3));
        assert_eq!(merged.body_rate_window, Duration::from_secs(20));
    }

    #[test]
    fn key_bearing_apis_are_not_exposed_in_the_clear() {
        let plain = Config::default();
        let public: SocketAddr = "0.0.0.0:9001".parse().unwrap();
        let loopback: SocketAddr = "127.0.0.1:9001".parse().unwrap();
        let e = plain.check_exposure("KMS", public).unwrap_err();
        assert!(
            e.contains("without TLS") && e.contains("--allow-insecure-network"),
            "{e}"
        );
        assert!(plain.check_exposure("KMS", loopback).is_ok());
        let allowed = Config {
            allow_insecure_network: Some(true),
            ..Config::default()
        };
        assert!(allowed.check_exposure("KMS", public).is_ok());
        let tls = Config {
            tls_self_signed: Some(true),
            ..Config::default()
        };
        assert!(tls.check_exposure("admin", public).is_ok());
    }

    #[test]
    fn a_self_signed_pair_is_made_once_with_a_private_key_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            tls_self_signed: Some(true),
            ..Config::default()
        };
        let addrs = ["127.0.0.1:0".parse().unwrap()];
        let fingerprint = config.prepare_tls(dir.path(), &addrs).unwrap().unwrap();
        assert_eq!(fingerprint.len(), 32 * 3 - 1);
        let key = config.tls_key.clone().unwrap();
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        crate::tls::Tls::load(config.tls_cert.as_ref().unwrap(), &key).unwrap();
        let mut again = Config {
            tls_self_signed: Some(true),
            ..Config::default()
        };
        assert_eq!(
            again.prepare_tls(dir.path(), &addrs).unwrap(),
            Some(fingerprint)
        );
    }
}
