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
    /// Seconds a client has to send a request's head, from its first byte (on HTTP/2, from the
    /// first frame of a header block to its END_HEADERS) [default: 10].
    #[arg(long, env = "COFFER_HEADER_READ_TIMEOUT")]
    pub header_read_timeout: Option<u64>,
    /// Seconds an idle keep-alive connection is kept open; HTTP/2 PINGs do not make a connection
    /// busy [default: 60].
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
    /// PEM certificate chain for the OSS API listener (--listen) alone, with --oss-tls-key
    /// [default: --tls-cert].
    #[arg(long, env = "COFFER_OSS_TLS_CERT")]
    pub oss_tls_cert: Option<PathBuf>,
    /// PEM private key for --oss-tls-cert; both read again on SIGHUP.
    #[arg(long, env = "COFFER_OSS_TLS_KEY")]
    pub oss_tls_key: Option<PathBuf>,
    /// PEM certificate chain for the S3 API listener (--s3-listen) alone, with --s3-tls-key
    /// [default: --tls-cert].
    #[arg(long, env = "COFFER_S3_TLS_CERT")]
    pub s3_tls_cert: Option<PathBuf>,
    /// PEM private key for --s3-tls-cert; both read again on SIGHUP.
    #[arg(long, env = "COFFER_S3_TLS_KEY")]
    pub s3_tls_key: Option<PathBuf>,
    /// PEM certificate chain for the KMS API listener (--kms-listen) alone, with --kms-tls-key
    /// [default: --tls-cert].
    #[arg(long, env = "COFFER_KMS_TLS_CERT")]
    pub kms_tls_cert: Option<PathBuf>,
    /// PEM private key for --kms-tls-cert; both read again on SIGHUP.
    #[arg(long, env = "COFFER_KMS_TLS_KEY")]
    pub kms_tls_key: Option<PathBuf>,
    /// PEM certificate chain for the admin API listener (--admin-listen) alone, with --admin-tls-key
    /// [default: --tls-cert].
    #[arg(long, env = "COFFER_ADMIN_TLS_CERT")]
    pub admin_tls_cert: Option<PathBuf>,
    /// PEM private key for --admin-tls-cert; both read again on SIGHUP.
    #[arg(long, env = "COFFER_ADMIN_TLS_KEY")]
    pub admin_tls_key: Option<PathBuf>,
    /// PEM certificate chain for the web console (--console-listen) alone, with --console-tls-key
    /// [default: --tls-cert].
    #[arg(long, env = "COFFER_CONSOLE_TLS_CERT")]
    pub console_tls_cert: Option<PathBuf>,
    /// PEM private key for --console-tls-cert; both read again on SIGHUP.
    #[arg(long, env = "COFFER_CONSOLE_TLS_KEY")]
    pub console_tls_key: Option<PathBuf>,
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

/// The listeners that may have a certificate pair of their own, by their dialect's
/// [`Dialect::API`](crate::Dialect::API) name.
pub const LISTENERS: [&str; 5] = ["OSS", "S3", "KMS", "admin", "console"];

/// One listener's `--<flag>-tls-cert` and `--<flag>-tls-key`.
struct OwnPair<'a> {
    flag: &'static str,
    cert: Option<&'a Path>,
    key: Option<&'a Path>,
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
            oss_tls_cert: self.oss_tls_cert.or(other.oss_tls_cert),
            oss_tls_key: self.oss_tls_key.or(other.oss_tls_key),
            s3_tls_cert: self.s3_tls_cert.or(other.s3_tls_cert),
            s3_tls_key: self.s3_tls_key.or(other.s3_tls_key),
            kms_tls_cert: self.kms_tls_cert.or(other.kms_tls_cert),
            kms_tls_key: self.kms_tls_key.or(other.kms_tls_key),
            admin_tls_cert: self.admin_tls_cert.or(other.admin_tls_cert),
            admin_tls_key: self.admin_tls_key.or(other.admin_tls_key),
            console_tls_cert: self.console_tls_cert.or(other.console_tls_cert),
            console_tls_key: self.console_tls_key.or(other.console_tls_key),
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

    /// Whether the listeners without a pair of their own will speak TLS.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() || self.self_signed()
    }

    /// Whether the listener of `api` (a [`LISTENERS`] name) will speak TLS.
    pub fn tls_for(&self, api: &str) -> bool {
        self.own_pair(api).is_some_and(|p| p.cert.is_some()) || self.tls()
    }

    /// The listener-specific pair of `api` (a [`LISTENERS`] name), as given.
    fn own_pair(&self, api: &str) -> Option<OwnPair<'_>> {
        let (flag, cert, key) = match api {
            "OSS" => ("oss", &self.oss_tls_cert, &self.oss_tls_key),
            "S3" => ("s3", &self.s3_tls_cert, &self.s3_tls_key),
            "KMS" => ("kms", &self.kms_tls_cert, &self.kms_tls_key),
            "admin" => ("admin", &self.admin_tls_cert, &self.admin_tls_key),
            "console" => ("console", &self.console_tls_cert, &self.console_tls_key),
            _ => return None,
        };
        Some(OwnPair {
            flag,
            cert: cert.as_deref(),
            key: key.as_deref(),
        })
    }

    /// The listeners' own certificate pairs, for those that have one.
    pub(crate) fn own_pairs(&self) -> impl Iterator<Item = (&'static str, &Path, &Path)> {
        LISTENERS.into_iter().filter_map(|api| {
            let pair = self.own_pair(api)?;
            Some((api, pair.cert?, pair.key?))
        })
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
            return Err(TlsError::HalfPair(
                "--tls-cert and --tls-key go together".to_owned(),
            ));
        }
        for api in LISTENERS {
            if let Some(pair) = self.own_pair(api)
                && pair.cert.is_some() != pair.key.is_some()
            {
                let flag = pair.flag;
                return Err(TlsError::HalfPair(format!(
                    "--{flag}-tls-cert and --{flag}-tls-key go together"
                )));
            }
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
        if addr.ip().is_loopback() || self.tls_for(api) || self.insecure_network_allowed() {
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
    fn a_listener_pair_overrides_the_shared_one_and_goes_whole() {
        let dir = tempfile::tempdir().unwrap();
        let addrs = ["127.0.0.1:0".parse().unwrap()];
        let mut half = Config {
            kms_tls_cert: Some("kms.crt".into()),
            ..Config::default()
        };
        let e = half.prepare_tls(dir.path(), &addrs).unwrap_err();
        assert_eq!(
            e.to_string(),
            "--kms-tls-cert and --kms-tls-key go together"
        );
        let own = Config {
            kms_tls_cert: Some("kms.crt".into()),
            kms_tls_key: Some("kms.key".into()),
            ..Config::default()
        };
        assert!(own.tls_for("KMS") && !own.tls_for("OSS") && !own.tls());
        let pairs: Vec<_> = own.own_pairs().map(|(api, ..)| api).collect();
        assert_eq!(pairs, ["KMS"]);
        let public: SocketAddr = "0.0.0.0:9001".parse().unwrap();
        assert!(own.check_exposure("KMS", public).is_ok());
        assert!(own.check_exposure("admin", public).is_err());
        // A file's pair stays under flags that name none.
        let merged = Config::default().or(own);
        assert_eq!(merged.kms_tls_key, Some("kms.key".into()));
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
