//! `coffer server`'s configuration: CLI flag > `COFFER_*` environment variable > TOML file >
//! default.
//!
//! Each setting is defined once, as a field of a section struct owned by the crate that uses it
//! (`coffer_oss::ConfigSection`, `coffer_core::Config`, ...; the binary's own below). Its flag and
//! environment variable come from the field's `#[arg]`, its TOML key is the field's name, its
//! default is the struct's `Default`. The TOML file is one flat table of every section's keys, so
//! a key belongs to the section that defines it and a key no section defines is refused.

use std::collections::BTreeSet;
use std::fmt;
use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use clap::{ArgMatches, Args, FromArgMatches};
use coffer_types::DataDir;
use serde::Deserialize;
use zeroize::Zeroizing;

/// Flags of `coffer server`.
#[derive(Args, Debug)]
pub(crate) struct ServerArgs {
    /// TOML file with any of the settings below (keys as the flags, with underscores).
    #[arg(long, env = "COFFER_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    given: Given<Sections>,
}

/// Declares the sections of `coffer server`'s configuration: one line per section, naming the
/// field it is kept in and its type (which derives `clap::Args`, `Deserialize` and `Default`).
macro_rules! sections {
    ($($(#[$doc:meta])* $field:ident: $ty:ty,)*) => {
        /// Every section of `coffer server`'s configuration, resolved.
        #[derive(Debug, Default)]
        pub(crate) struct Sections {
            $($(#[$doc])* pub(crate) $field: $ty,)*
        }

        impl Section for Sections {
            fn augment(cmd: clap::Command) -> clap::Command {
                $(let cmd = <$ty as Args>::augment_args(cmd);)*
                cmd
            }

            fn resolve(file: &mut toml::Table, given: &ArgMatches) -> Result<Self> {
                Ok(Self { $($field: resolve_section::<$ty>(file, given)?,)* })
            }
        }
    };
}

sections! {
    /// Where the data directory is.
    data_dir: DataDirSection,
    /// Where the root key is.
    root_key: RootKeySection,
    /// Listeners, region, backends, logging.
    server: ServerSection,
    /// The OSS front-end.
    oss: coffer_oss::ConfigSection,
    /// The S3 front-end.
    s3: coffer_s3::ConfigSection,
    /// The web console.
    console: coffer_console::ConfigSection,
    /// The object store's limits.
    core: coffer_core::Config,
    /// RAM and STS.
    iam: coffer_iam::ConfigSection,
    /// SSE-OSS master key rotation.
    keyring: coffer_keyring::ConfigSection,
    /// Connection limits and TLS of every listener.
    http: coffer_http::Config,
}

/// Something that can be resolved from the command line and environment over a TOML table.
pub(crate) trait Section: Sized {
    fn augment(cmd: clap::Command) -> clap::Command;
    /// Takes the keys it knows out of `file`, then lets `given` (flags and environment) override.
    fn resolve(file: &mut toml::Table, given: &ArgMatches) -> Result<Self>;
}

/// One section resolved: its keys taken out of `file` (missing ones from `Default`), then flags
/// and environment variables on top.
fn resolve_section<T>(file: &mut toml::Table, given: &ArgMatches) -> Result<T>
where
    T: Args + FromArgMatches + for<'de> Deserialize<'de> + Default,
{
    let keys: BTreeSet<String> = T::augment_args(clap::Command::new("section"))
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    let mut mine = toml::Table::new();
    for key in keys {
        if let Some(value) = file.remove(&key) {
            mine.insert(key, value);
        }
    }
    let mut section: T = toml::Value::Table(mine)
        .try_into()
        .map_err(|e| anyhow::anyhow!("{}", one_line(&e.to_string())))?;
    section.update_from_arg_matches(given)?;
    Ok(section)
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Makes a section usable alone, by a subcommand that takes just it (flags and environment).
macro_rules! single_section {
    ($($ty:ty),*) => {$(
        impl Section for $ty {
            fn augment(cmd: clap::Command) -> clap::Command {
                <$ty as Args>::augment_args(cmd)
            }
            fn resolve(file: &mut toml::Table, given: &ArgMatches) -> Result<Self> {
                resolve_section(file, given)
            }
        }
    )*};
}

single_section!(DataDirSection, RootKeySection);

/// A section's flags and environment variables as clap parsed them, resolved later over a TOML
/// file (clap alone cannot put the file between the environment and the defaults).
pub(crate) struct Given<T> {
    matches: ArgMatches,
    section: PhantomData<T>,
}

impl<T> fmt::Debug for Given<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Given(..)")
    }
}

impl<T: Section> Given<T> {
    /// The section over `file`'s keys (taken out of it) and the defaults.
    pub(crate) fn resolve(&self, file: &mut toml::Table) -> Result<T> {
        T::resolve(file, &self.matches)
    }

    /// The section from flags and environment over the defaults (for commands without a file).
    pub(crate) fn get(&self) -> Result<T> {
        self.resolve(&mut toml::Table::new())
    }
}

impl<T> FromArgMatches for Given<T> {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        Ok(Self {
            matches: matches.clone(),
            section: PhantomData,
        })
    }
    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        self.matches = matches.clone();
        Ok(())
    }
}

impl<T: Section> Args for Given<T> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        T::augment(cmd)
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        T::augment(cmd)
    }
}

/// The data directory (shared by `server`, `keyring` and `kms`).
#[derive(Args, Debug, Deserialize)]
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DataDirSection {
    /// Directory holding metadata and object data [default: ./coffer-data].
    #[arg(long, env = "COFFER_DATA_DIR", required = false, global = true)]
    pub(crate) data_dir: PathBuf,
}

impl Default for DataDirSection {
    fn default() -> Self {
        Self {
            data_dir: DataDir::default().root().to_owned(),
        }
    }
}

impl DataDirSection {
    pub(crate) fn data_dir(&self) -> DataDir {
        DataDir::new(&self.data_dir)
    }
}

/// Where the root key is (shared by `server` and `keyring`).
#[derive(Args, Debug, Default, Deserialize)]
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RootKeySection {
    /// File holding the 32-byte root key (64 hex digits) that seals every other key. Keep it
    /// outside the data directory [default: `<data-dir>.root-key` beside the data directory;
    /// created 0600 on first start]. `COFFER_ROOT_KEY` (64 hex digits) replaces the file.
    #[arg(long, env = "COFFER_ROOT_KEY_FILE", global = true)]
    pub(crate) root_key_file: Option<PathBuf>,
}

impl RootKeySection {
    pub(crate) fn root_key_file(&self, data_dir: &DataDir) -> PathBuf {
        self.root_key_file
            .clone()
            .unwrap_or_else(|| data_dir.default_root_key_file())
    }
}

/// The binary's own settings: listeners, region, backends, logging.
#[derive(Args, Debug, Deserialize)]
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ServerSection {
    /// Address of the OSS API listener [default: 127.0.0.1:9000].
    #[arg(long, env = "COFFER_LISTEN", required = false)]
    pub(crate) listen: SocketAddr,
    /// Address of the KMS API listener [default: 127.0.0.1:9001].
    #[arg(long, env = "COFFER_KMS_LISTEN", required = false)]
    pub(crate) kms_listen: SocketAddr,
    /// Address of the admin API listener (RAM users, keys, policies, STS) [default:
    /// 127.0.0.1:9002, or an ephemeral loopback port when --listen asks for port 0].
    #[arg(long, env = "COFFER_ADMIN_LISTEN")]
    pub(crate) admin_listen: Option<SocketAddr>,
    /// Region served, as clients name it for V4 signatures [default: cn-hangzhou].
    #[arg(long, env = "COFFER_REGION", required = false)]
    pub(crate) region: String,
    /// State backend: `embedded` (redb files in the data directory) or a PostgreSQL URL
    /// `postgres://user:password@host:port/db` (metadata, identities and KMS keys in that
    /// database, sealed) [default: embedded].
    #[arg(long, env = "COFFER_META", required = false)]
    pub(crate) meta: MetaBackend,
    /// Object data backend: `local` (files under `blobs/` in the data directory) or
    /// `s3://bucket[/root]?endpoint=URL[&region=R]` (keys from COFFER_S3_ACCESS_KEY_ID and
    /// COFFER_S3_SECRET_ACCESS_KEY) [default: local].
    #[arg(long, env = "COFFER_BLOB", required = false)]
    pub(crate) blob: BlobBackend,
    /// Once listening, write `{"oss": "ADDR", "s3": "ADDR", "kms": "ADDR", "admin": "ADDR", "console": "ADDR"}` to this file (for
    /// tests and supervisors).
    #[arg(long, env = "COFFER_READY_FILE")]
    pub(crate) ready_file: Option<PathBuf>,
    /// Log format: `text` or `json` [default: text].
    #[arg(long, env = "COFFER_LOG_FORMAT", required = false)]
    pub(crate) log_format: LogFormat,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 9000)),
            kms_listen: SocketAddr::from(([127, 0, 0, 1], 9001)),
            admin_listen: None,
            region: "cn-hangzhou".into(),
            meta: MetaBackend::Embedded,
            blob: BlobBackend::Local,
            ready_file: None,
            log_format: LogFormat::Text,
        }
    }
}

impl ServerSection {
    /// The admin listener: as configured, else 9002 — except that tests start many servers on
    /// port 0, whose admin APIs must not fight over 9002.
    pub(crate) fn admin_listen(&self) -> SocketAddr {
        self.admin_listen.unwrap_or_else(|| {
            let port = if self.listen.port() == 0 { 0 } else { 9002 };
            SocketAddr::from(([127, 0, 0, 1], port))
        })
    }
}

#[derive(Clone, Copy, Debug, Deserialize, clap::ValueEnum, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogFormat {
    Text,
    Json,
}

/// Where state is kept: a URL-like setting so that a database server can be named by its URL.
/// With `embedded`, metadata, identities and KMS keys are redb files in the data directory; with a
/// PostgreSQL URL, all three live in that database (sealed as in the files), so that several nodes
/// can share them.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) enum MetaBackend {
    /// The embedded redb database in the data directory.
    Embedded,
    /// A PostgreSQL (or PostgreSQL-compatible) database.
    Postgres(DatabaseUrl),
}

impl FromStr for MetaBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "embedded" | "redb" => Ok(Self::Embedded),
            url if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres(DatabaseUrl(Zeroizing::new(url.to_owned()))))
            }
            other => Err(format!(
                "{:?} is not a metadata backend (this build has: embedded, postgres://...)",
                DatabaseUrl::redact(other)
            )),
        }
    }
}

impl TryFrom<String> for MetaBackend {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// A database connection URL. It may carry a password, so `Debug` shows it without one, and the
/// text is zeroized when dropped.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct DatabaseUrl(Zeroizing<String>);

impl DatabaseUrl {
    /// The URL, password included, for the driver only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// `scheme://user:secret@host/db` as `scheme://user:***@host/db`.
    fn redact(url: &str) -> String {
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        match rest.rsplit_once('@') {
            Some((user_info, host)) => {
                let user = user_info.split_once(':').map_or(user_info, |(u, _)| u);
                format!("{scheme}://{user}:***@{host}")
            }
            None => url.to_owned(),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({})", Self::redact(&self.0))
    }
}

/// Where object data is kept.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub(crate) enum BlobBackend {
    /// Files under `blobs/` in the data directory.
    Local,
    /// A bucket of an S3-compatible service, shared by every node that names it.
    S3(S3Location),
}

/// `s3://bucket[/root]?endpoint=URL[&region=REGION]`; the keys come from the environment
/// (`COFFER_S3_ACCESS_KEY_ID`, `COFFER_S3_SECRET_ACCESS_KEY`), never from the URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct S3Location {
    pub(crate) bucket: String,
    pub(crate) root: String,
    pub(crate) endpoint: String,
    pub(crate) region: String,
}

impl FromStr for S3Location {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("s3://")
            .ok_or("an S3 location starts with s3://")?;
        let (place, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, root) = place.split_once('/').unwrap_or((place, ""));
        if bucket.is_empty() {
            return Err(format!("{s:?} names no bucket"));
        }
        let (mut endpoint, mut region) = (None, "us-east-1".to_owned());
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("endpoint", v)) => endpoint = Some(v.to_owned()),
                Some(("region", v)) => region = v.to_owned(),
                _ => {
                    return Err(format!(
                        "{pair:?} is not an S3 setting (endpoint=, region=)"
                    ));
                }
            }
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            root: root.trim_matches('/').to_owned(),
            endpoint: endpoint.ok_or_else(|| format!("{s:?} has no endpoint=URL"))?,
            region,
        })
    }
}

impl FromStr for BlobBackend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" | "fs" => Ok(Self::Local),
            s3 if s3.starts_with("s3://") => Ok(Self::S3(s3.parse()?)),
            other => Err(format!(
                "{other:?} is not an object data backend (this build has: local, s3://...)"
            )),
        }
    }
}

impl TryFrom<String> for BlobBackend {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

/// The secrets `coffer server` takes from the environment only (never from flags, which other
/// users can see, nor from the TOML file). Read once, while the configuration loads.
#[derive(Default)]
pub(crate) struct EnvSecrets {
    /// `COFFER_ROOT_ACCESS_KEY_ID`.
    pub(crate) root_access_key_id: Option<String>,
    /// `COFFER_ROOT_ACCESS_KEY_SECRET`.
    pub(crate) root_access_key_secret: Option<Zeroizing<String>>,
    /// `COFFER_ROOT_KEY`.
    pub(crate) root_key: Option<Zeroizing<String>>,
    /// `COFFER_S3_ACCESS_KEY_ID` and `COFFER_S3_SECRET_ACCESS_KEY`, for `--blob s3://…`.
    pub(crate) s3_keys: Option<(String, Zeroizing<String>)>,
}

impl fmt::Debug for EnvSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvSecrets")
            .field("root_access_key_id", &self.root_access_key_id)
            .finish_non_exhaustive()
    }
}

impl EnvSecrets {
    pub(crate) fn from_env() -> Self {
        Self {
            root_access_key_id: std::env::var("COFFER_ROOT_ACCESS_KEY_ID").ok(),
            root_access_key_secret: std::env::var("COFFER_ROOT_ACCESS_KEY_SECRET")
                .ok()
                .map(Zeroizing::new),
            root_key: root_key_from_env(),
            s3_keys: std::env::var("COFFER_S3_ACCESS_KEY_ID").ok().zip(
                std::env::var("COFFER_S3_SECRET_ACCESS_KEY")
                    .ok()
                    .map(Zeroizing::new),
            ),
        }
    }
}

/// `COFFER_ROOT_KEY`, which replaces the root key file when set.
pub(crate) fn root_key_from_env() -> Option<Zeroizing<String>> {
    std::env::var("COFFER_ROOT_KEY").ok().map(Zeroizing::new)
}

/// The resolved configuration of `coffer server`.
#[derive(Debug)]
pub(crate) struct ServerConfig {
    pub(crate) sections: Sections,
    pub(crate) data_dir: DataDir,
    pub(crate) root_key_file: PathBuf,
    pub(crate) secrets: EnvSecrets,
    /// `COFFER_TEST_KMS_CLOCK_FILE`: a file the tests write the KMS's clock offset to.
    #[cfg(feature = "testing")]
    pub(crate) test_kms_clock_file: Option<PathBuf>,
}

fn read_file(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read config file {}", path.display()))?;
    toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "parse config file {}: {}",
            path.display(),
            one_line(&e.to_string())
        )
    })
}

impl ServerConfig {
    /// Resolves every section: flags and environment over the file over the defaults.
    pub(crate) fn load(args: ServerArgs) -> Result<Self> {
        let mut file = match &args.config {
            Some(p) => read_file(p)?,
            None => toml::Table::new(),
        };
        let sections = args
            .given
            .resolve(&mut file)
            .with_context(|| match &args.config {
                Some(p) => format!("config file {}", p.display()),
                None => "configuration".into(),
            })?;
        if let Some(key) = file.keys().next() {
            bail!(
                "config file {}: unknown key {key:?}",
                args.config.as_deref().unwrap_or(Path::new("")).display()
            );
        }
        let region = &sections.server.region;
        anyhow::ensure!(
            !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "region: {region:?} is not a region name"
        );
        let data_dir = sections.data_dir.data_dir();
        Ok(Self {
            root_key_file: sections.root_key.root_key_file(&data_dir),
            data_dir,
            sections,
            secrets: EnvSecrets::from_env(),
            #[cfg(feature = "testing")]
            test_kms_clock_file: std::env::var_os("COFFER_TEST_KMS_CLOCK_FILE").map(PathBuf::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        server: ServerArgs,
    }

    fn load(args: &[&str], toml: &str) -> Result<ServerConfig> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("coffer.toml");
        std::fs::write(&file, toml).unwrap();
        let file = file.to_str().unwrap().to_owned();
        let mut argv = vec!["coffer", "--config", &file];
        argv.extend_from_slice(args);
        ServerConfig::load(Cli::try_parse_from(argv)?.server)
    }

    #[test]
    fn a_true_in_the_file_is_not_reset_by_an_absent_flag() {
        let c = load(&[], "tls_self_signed = true\n").unwrap();
        assert!(c.sections.http.self_signed());
        let c = load(&["--tls-self-signed=false"], "tls_self_signed = true\n").unwrap();
        assert!(!c.sections.http.self_signed());
        let c = load(&["--tls-self-signed"], "").unwrap();
        assert!(c.sections.http.self_signed());
    }

    #[test]
    fn a_listener_tls_pair_comes_from_flags_and_the_file_alike() {
        let c = load(
            &["--kms-tls-cert", "kms.crt"],
            "kms_tls_key = \"kms.key\"\ntls_cert = \"all.crt\"\ntls_key = \"all.key\"\n",
        )
        .unwrap();
        let http = &c.sections.http;
        assert_eq!(http.kms_tls_cert, Some(PathBuf::from("kms.crt")));
        assert_eq!(http.kms_tls_key, Some(PathBuf::from("kms.key")));
        assert_eq!(http.oss_tls_cert, None);
        assert!(http.tls_for("OSS"));
    }

    #[test]
    fn flag_beats_file_beats_default() {
        let c = load(
            &["--region", "cn-beijing", "--min-part-size", "5"],
            "region = \"cn-shanghai\"\nlisten = \"127.0.0.1:0\"\nsse_rotation_days = 0\n\
             virtual_host_domains = [\"oss.example\"]\nmin_part_size = 7\n",
        )
        .unwrap();
        let s = &c.sections;
        assert_eq!(s.server.region, "cn-beijing");
        assert_eq!(s.core.min_part_size, 5);
        assert_eq!(s.server.listen, SocketAddr::from(([127, 0, 0, 1], 0)));
        assert_eq!(s.server.admin_listen().port(), 0);
        assert_eq!(s.keyring.sse_rotation_days, 0);
        assert_eq!(
            s.oss.host_config().base_domains,
            ["localhost", "oss.example"]
        );
        // Untouched keys keep their defaults.
        assert_eq!(s.iam.sts_min_session_seconds, 900);
        assert_eq!(
            s.server.kms_listen,
            SocketAddr::from(([127, 0, 0, 1], 9001))
        );
        assert_eq!(s.server.meta, MetaBackend::Embedded);
        let c = load(&["--meta", "postgres://coffer:hunter2@db:5432/coffer"], "").unwrap();
        let s = &c.sections;
        let MetaBackend::Postgres(url) = &s.server.meta else {
            panic!("a postgres URL selects PostgreSQL: {:?}", s.server.meta);
        };
        assert_eq!(url.expose(), "postgres://coffer:hunter2@db:5432/coffer");
        assert!(
            !format!("{s:?}").contains("hunter2"),
            "Debug hides the password"
        );
        let c = load(
            &[
                "--blob",
                "s3://coffer/node-data/?endpoint=http://127.0.0.1:8333",
            ],
            "",
        )
        .unwrap();
        assert_eq!(
            c.sections.server.blob,
            BlobBackend::S3(S3Location {
                bucket: "coffer".into(),
                root: "node-data".into(),
                endpoint: "http://127.0.0.1:8333".into(),
                region: "us-east-1".into(),
            })
        );
        assert_eq!(c.data_dir, DataDir::new("coffer-data"));
        assert_eq!(c.root_key_file, PathBuf::from("coffer-data.root-key"));
    }

    #[test]
    fn every_pre_section_toml_key_is_still_accepted() {
        let c = load(
            &[],
            "listen = \"127.0.0.1:9100\"\nkms_listen = \"127.0.0.1:9101\"\n\
             admin_listen = \"127.0.0.1:9102\"\ndata_dir = \"d\"\nregion = \"cn-hangzhou\"\n\
             virtual_host_domains = []\nready_file = \"r\"\nlog_format = \"json\"\n\
             root_key_file = \"k\"\nsse_rotation_days = 1\nsts_min_session_seconds = 0\n",
        )
        .unwrap();
        assert_eq!(c.sections.server.admin_listen().port(), 9102);
        assert_eq!(c.sections.server.log_format, LogFormat::Json);
        assert_eq!(c.root_key_file, PathBuf::from("k"));
        assert_eq!(c.data_dir, DataDir::new("d"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused_in_one_line() {
        let e = load(&[], "listen = \"127.0.0.1:0\"\nno_such_key = 1\n").unwrap_err();
        assert!(
            format!("{e:#}").contains("unknown key \"no_such_key\""),
            "{e:#}"
        );
        let e = load(&[], "sse_rotation_days = \"soon\"\n").unwrap_err();
        assert!(!format!("{e:#}").contains('\n'), "{e:#}");
        let e = load(&[], "meta = \"mysql://u:hunter2@db\"\n").unwrap_err();
        assert!(format!("{e:#}").contains("not a metadata backend"), "{e:#}");
        assert!(!format!("{e:#}").contains("hunter2"), "{e:#}");
        assert!(load(&["--region", "cn hangzhou"], "").is_err());
        let e = load(&["--blob", "s3://bucket/root"], "").unwrap_err();
        assert!(format!("{e:#}").contains("no endpoint"), "{e:#}");
        let e = load(&["--blob", "s3://b?endpoint=http://x&secret=1"], "").unwrap_err();
        assert!(format!("{e:#}").contains("not an S3 setting"), "{e:#}");
    }
}
