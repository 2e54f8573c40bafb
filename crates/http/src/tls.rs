//! TLS for every listener (rustls over aws-lc-rs): the certificate and key from PEM files,
//! reloaded on SIGHUP (connections already open keep the certificate they were made with), and a
//! self-signed pair for a first start.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or holds nothing usable.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refused the pair (the key does not match the certificate, ...).
    #[error("the TLS certificate and key cannot be used: {0}")]
    Rustls(#[from] rustls::Error),
    /// A certificate was given without its key, or a key without its certificate.
    #[error("{0}")]
    HalfPair(String),
    /// Generating or writing the self-signed pair failed.
    #[error("self-signed certificate: {0}")]
    SelfSigned(String),
}

/// The current TLS settings of the edge; [`Tls::reload`] swaps them for new connections.
#[derive(Debug)]
pub(crate) struct Tls {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<ServerConfig>>,
}

impl Tls {
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        Ok(Self {
            current: RwLock::new(Arc::new(server_config(cert, key)?)),
            cert: cert.to_owned(),
            key: key.to_owned(),
        })
    }

    /// Reads the files again; on failure the previous pair stays in use.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let fresh = Arc::new(server_config(&self.cert, &self.key)?);
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

/// The certificates of the edge: the shared pair, and the pairs of listeners that have their own
/// (by [`Dialect::API`](crate::Dialect::API) name), each reloaded on SIGHUP.
#[derive(Debug, Default)]
pub(crate) struct Certificates {
    shared: Option<Tls>,
    own: Vec<(&'static str, Tls)>,
}

impl Certificates {
    /// Loads the pairs `config` names (after [`Config::prepare_tls`](crate::Config::prepare_tls)).
    pub(crate) fn load(config: &crate::Config) -> Result<Self, TlsError> {
        let shared = match (&config.tls_cert, &config.tls_key) {
            (Some(cert), Some(key)) => Some(Tls::load(cert, key)?),
            _ => None,
        };
        let own = config
            .own_pairs()
            .map(|(api, cert, key)| Ok((api, Tls::load(cert, key)?)))
            .collect::<Result<_, TlsError>>()?;
        Ok(Self { shared, own })
    }

    /// Whether any listener speaks TLS.
    pub(crate) fn any(&self) -> bool {
        self.shared.is_some() || !self.own.is_empty()
    }

    /// The TLS settings of the listener of `api`: its own pair, else the shared one, else none.
    pub(crate) fn for_api(&self, api: &str) -> Option<&Tls> {
        self.own
            .iter()
            .find(|(name, _)| *name == api)
            .map(|(_, tls)| tls)
            .or(self.shared.as_ref())
    }

    /// Reads every pair again; a pair that fails keeps its previous certificate, and the others
    /// are still reloaded. Returns the failures, each with the listener it belongs to (`None`
    /// for the shared pair).
    pub(crate) fn reload(&self) -> Vec<(Option<&'static str>, TlsError)> {
        let shared = self.shared.iter().map(|tls| (None, tls));
        let own = self.own.iter().map(|(api, tls)| (Some(*api), tls));
        shared
            .chain(own)
            .filter_map(|(api, tls)| tls.reload().err().map(|e| (api, e)))
            .collect()
    }
}

fn server_config(cert: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let bad = |path: &Path, e: &dyn std::fmt::Display| TlsError::File {
        path: path.to_owned(),
        message: e.to_string(),
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, &e))?;
    if chain.is_empty() {
        return Err(bad(cert, &"no CERTIFICATE block"));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The self-signed pair's files in `dir`.
pub(crate) const SELF_SIGNED_CERT: &str = "tls-self-signed.crt";
pub(crate) const SELF_SIGNED_KEY: &str = "tls-self-signed.key";

/// Creates (once) a self-signed certificate for `names` in `dir`, the key file 0600, and returns
/// the two paths and the certificate's SHA-256 fingerprint (colon-separated hex).
pub(crate) fn self_signed(
    dir: &Path,
    names: &[String],
) -> Result<(PathBuf, PathBuf, String), TlsError> {
    let cert_path = dir.join(SELF_SIGNED_CERT);
    let key_path = dir.join(SELF_SIGNED_KEY);
    let failed = |e: &dyn std::fmt::Display| TlsError::SelfSigned(e.to_string());
    if !cert_path.exists() || !key_path.exists() {
        let certified =
            rcgen::generate_simple_self_signed(names.to_vec()).map_err(|e| failed(&e))?;
        write_private(&key_path, certified.signing_key.serialize_pem().as_bytes())
            .map_err(|e| failed(&e))?;
        std::fs::write(&cert_path, certified.cert.pem()).map_err(|e| failed(&e))?;
    }
    let der = CertificateDer::from_pem_file(&cert_path).map_err(|e| failed(&e))?;
    let digest = sha2::Sha256::digest(der.as_ref());
    let fingerprint = digest
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":");
    Ok((cert_path, key_path, fingerprint))
}

fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// The names a self-signed certificate covers for listeners on `addrs`: `localhost`, the
/// loopback addresses, and each listener's own address when it is a specific one.
pub(crate) fn names_for(addrs: &[SocketAddr]) -> Vec<String> {
    let mut names = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
    ];
    for a in addrs {
        let ip = a.ip();
        if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
            names.push(ip.to_string());
        }
    }
    if let Ok(host) = rustix::system::uname().nodename().to_str()
        && !host.is_empty()
        && !names.iter().any(|n| n == host)
    {
        names.push(host.to_owned());
    }
    names
}
