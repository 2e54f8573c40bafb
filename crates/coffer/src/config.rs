//! Server configuration: CLI flag > `COFFER_*` environment variable > TOML file > default.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use serde::Deserialize;

/// Flags of `coffer server`. Every flag can also come from its environment variable or from the
/// TOML file given by `--config`.
#[derive(Args, Debug)]
pub(crate) struct ServerArgs {
    /// Address of the OSS API listener [default: 127.0.0.1:9000].
    #[arg(long, env = "COFFER_LISTEN")]
    listen: Option<SocketAddr>,
    /// Address of the KMS API listener [default: 127.0.0.1:9001].
    #[arg(long, env = "COFFER_KMS_LISTEN")]
    kms_listen: Option<SocketAddr>,
    /// Address of the admin API listener (RAM users, keys, policies, STS) [default:
    /// 127.0.0.1:9002, or an ephemeral loopback port when --listen asks for port 0].
    #[arg(long, env = "COFFER_ADMIN_LISTEN")]
    admin_listen: Option<SocketAddr>,
    /// Directory holding metadata and object data [default: ./coffer-data].
    #[arg(long, env = "COFFER_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Region served, as clients name it for V4 signatures [default: cn-hangzhou].
    #[arg(long, env = "COFFER_REGION")]
    region: Option<String>,
    /// Extra base domains for virtual-hosted addressing (`bucket.<domain>`), comma-separated.
    #[arg(long, env = "COFFER_VIRTUAL_HOST_DOMAINS", value_delimiter = ',')]
    virtual_host_domains: Option<Vec<String>>,
    /// TOML file with any of the settings above (keys as the flags, with underscores).
    #[arg(long, env = "COFFER_CONFIG")]
    config: Option<PathBuf>,
    /// Once listening, write `{"oss": "ADDR", "admin": "ADDR"}` to this file (for tests and
    /// supervisors).
    #[arg(long, env = "COFFER_READY_FILE")]
    ready_file: Option<PathBuf>,
    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "COFFER_LOG_FORMAT")]
    log_format: Option<LogFormat>,
    #[command(flatten)]
    keys: KeyArgs,
    /// Days between automatic rotations of the SSE-OSS master key [default: 30; 0 = never].
    #[arg(long, env = "COFFER_SSE_ROTATION_DAYS")]
    sse_rotation_days: Option<u32>,
    /// Shortest STS session AssumeRole grants, in seconds [default: 900, as RAM]. Lower it only
    /// to test expiry (0 issues credentials that are already expired).
    #[arg(long, env = "COFFER_STS_MIN_SESSION_SECONDS")]
    sts_min_session_seconds: Option<u32>,
    #[command(flatten)]
    http: coffer_http::Config,
}

/// Where the root key and the data directory are (shared by `server` and `keyring`).
#[derive(Args, Debug, Clone)]
pub(crate) struct KeyArgs {
    /// File holding the 32-byte root key (64 hex digits) that seals every other key. Keep it
    /// outside the data directory [default: `<data-dir>.root-key` beside the data directory;
    /// created 0600 on first start].
    #[arg(long, env = "COFFER_ROOT_KEY_FILE")]
    pub(crate) root_key_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, Deserialize, clap::ValueEnum, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// The TOML file's layout.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    /// See `--listen`.
    listen: Option<SocketAddr>,
    /// See `--kms-listen`.
    kms_listen: Option<SocketAddr>,
    /// See `--admin-listen`.
    admin_listen: Option<SocketAddr>,
    /// See `--data-dir`.
    data_dir: Option<PathBuf>,
    /// See `--region`.
    region: Option<String>,
    /// See `--virtual-host-domains`.
    virtual_host_domains: Option<Vec<String>>,
    /// See `--ready-file`.
    ready_file: Option<PathBuf>,
    /// See `--log-format`.
    log_format: Option<LogFormat>,
    /// See `--root-key-file`.
    root_key_file: Option<PathBuf>,
    /// See `--sse-rotation-days`.
    sse_rotation_days: Option<u32>,
    /// See `--sts-min-session-seconds`.
    sts_min_session_seconds: Option<u32>,
    /// The `[http]` table: connection limits and TLS (see `--header-read-timeout` and on).
    http: Option<coffer_http::Config>,
}

/// The resolved configuration of `coffer server`.
#[derive(Debug)]
pub(crate) struct ServerConfig {
    pub(crate) listen: SocketAddr,
    pub(crate) kms_listen: SocketAddr,
    pub(crate) admin_listen: SocketAddr,
    pub(crate) data_dir: PathBuf,
    pub(crate) region: String,
    pub(crate) virtual_host_domains: Vec<String>,
    pub(crate) ready_file: Option<PathBuf>,
    pub(crate) log_format: LogFormat,
    pub(crate) root_key_file: PathBuf,
    pub(crate) sse_rotation_days: u32,
    pub(crate) sts_min_session_seconds: u32,
    pub(crate) http: coffer_http::Config,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            kms_listen: SocketAddr::from(([127, 0, 0, 1], 9001)),
            admin_listen: SocketAddr::from(([127, 0, 0, 1], 9002)),
            data_dir: PathBuf::from("coffer-data"),
            region: "cn-hangzhou".into(),
            virtual_host_domains: vec!["localhost".into()],
            ready_file: None,
            log_format: LogFormat::Text,
            root_key_file: default_root_key_file(Path::new("coffer-data")),
            sse_rotation_days: 30,
            sts_min_session_seconds: 900,
            http: coffer_http::Config::default(),
        }
    }
}

/// `<data-dir>.root-key`, beside (not inside) the data directory.
pub(crate) fn default_root_key_file(data_dir: &Path) -> PathBuf {
    let mut name = data_dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "coffer-data".into());
    name.push(".root-key");
    match data_dir.parent() {
        Some(p) => p.join(name),
        None => PathBuf::from(name),
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parse config file {}", path.display()))
}

impl ServerConfig {
    /// Merges flags and environment (already merged by clap) over the file over the defaults.
    pub(crate) fn load(args: ServerArgs) -> Result<Self> {
        let file = match &args.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let d = Self::default();
        let region = args.region.or(file.region).unwrap_or(d.region);
        anyhow::ensure!(
            !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "region: {region:?} is not a region name"
        );
        let mut domains = d.virtual_host_domains;
        for extra in args
            .virtual_host_domains
            .or(file.virtual_host_domains)
            .unwrap_or_default()
        {
            let extra = extra.trim().to_ascii_lowercase();
            if !extra.is_empty() && !domains.contains(&extra) {
                domains.push(extra);
            }
        }
        let data_dir = args.data_dir.or(file.data_dir).unwrap_or(d.data_dir);
        let listen = args.listen.or(file.listen).unwrap_or(d.listen);
        // Tests start many servers on port 0; their admin APIs must not fight over 9002.
        let admin_default = if listen.port() == 0 {
            SocketAddr::from(([127, 0, 0, 1], 0))
        } else {
            d.admin_listen
        };
        Ok(Self {
            listen,
            kms_listen: args.kms_listen.or(file.kms_listen).unwrap_or(d.kms_listen),
            admin_listen: args
                .admin_listen
                .or(file.admin_listen)
                .unwrap_or(admin_default),
            root_key_file: args
                .keys
                .root_key_file
                .or(file.root_key_file)
                .unwrap_or_else(|| default_root_key_file(&data_dir)),
            sse_rotation_days: args
                .sse_rotation_days
                .or(file.sse_rotation_days)
                .unwrap_or(d.sse_rotation_days),
            sts_min_session_seconds: args
                .sts_min_session_seconds
                .or(file.sts_min_session_seconds)
                .unwrap_or(d.sts_min_session_seconds),
            data_dir,
            region,
            virtual_host_domains: domains,
            ready_file: args.ready_file.or(file.ready_file),
            log_format: args.log_format.or(file.log_format).unwrap_or(d.log_format),
            http: args.http.or(file.http.unwrap_or_default()),
        })
    }
}
