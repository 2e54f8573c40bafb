//! Profiles in `~/.config/coffer/config.toml` (0600) and the connection options that override
//! them: flags, then `COFFER_*` variables, then the profile, then defaults.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};

/// The signature a profile signs with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum SignatureVersion {
    /// OSS V1 (HMAC-SHA1).
    V1,
    /// OSS V4 (HMAC-SHA256), the default.
    #[default]
    V4,
}

/// One named profile as stored.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Profile {
    /// OSS endpoint, `http://127.0.0.1:9000` or `https://oss-cn-hangzhou.aliyuncs.com`.
    pub endpoint: Option<String>,
    /// KMS API endpoint (coffer serves it on its own port).
    pub kms_endpoint: Option<String>,
    /// Admin API endpoint.
    pub admin_endpoint: Option<String>,
    /// Region V4 signs for.
    pub region: Option<String>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Access key secret.
    pub access_key_secret: Option<String>,
    /// STS token for temporary credentials.
    pub security_token: Option<String>,
    /// PEM file of CA certificates trusted for HTTPS.
    pub ca_file: Option<PathBuf>,
    /// `v4` (default) or `v1`.
    pub signature_version: Option<SignatureVersion>,
    /// Address buckets as `host/bucket` (default for IP addresses and localhost) rather than
    /// `bucket.host`.
    pub path_style: Option<bool>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The whole file: `[profiles.NAME]` tables.
#[derive(Default, Serialize, Deserialize)]
pub struct ConfigFile {
    /// Profiles by name; `default` is used without `--profile`.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// Where the file lives: `$COFFER_CONFIG`, else `$XDG_CONFIG_HOME/coffer/config.toml`, else
/// `~/.config/coffer/config.toml`.
pub fn config_path() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("COFFER_CONFIG") {
        return Ok(PathBuf::from(p));
    }
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("coffer").join("config.toml"));
    }
    let home = std::env::var_os("HOME").context("HOME is not set; set COFFER_CONFIG")?;
    Ok(PathBuf::from(home).join(".config/coffer/config.toml"))
}

impl ConfigFile {
    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("parse {}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(e).with_context(|| format!("read {}", path.display())),
        }
    }

    /// Writes the file atomically, created 0600 since it holds secrets.
    pub fn save(&self, path: &Path) -> Result<()> {
        let dir = path.parent().context("config path has no directory")?;
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        let text = toml::to_string_pretty(self)?;
        let tmp = path.with_extension("toml.tmp");
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("create {}", tmp.display()))?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
        Ok(())
    }
}

/// Connection options every remote command takes.
#[derive(Args, Clone, Debug, Default)]
pub struct ConnArgs {
    /// Profile of the config file to use.
    #[arg(long, env = "COFFER_PROFILE", default_value = "default")]
    pub profile: String,
    /// OSS endpoint (overrides the profile).
    #[arg(long, env = "COFFER_ENDPOINT")]
    pub endpoint: Option<String>,
    /// KMS API endpoint (overrides the profile).
    #[arg(long, env = "COFFER_KMS_ENDPOINT")]
    pub kms_endpoint: Option<String>,
    /// Admin API endpoint (overrides the profile).
    #[arg(long, env = "COFFER_ADMIN_ENDPOINT")]
    pub admin_endpoint: Option<String>,
    /// Region (overrides the profile) [default: cn-hangzhou].
    #[arg(long, env = "COFFER_REGION")]
    pub region: Option<String>,
    /// Access key id (overrides the profile).
    #[arg(long, env = "COFFER_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,
    /// Access key secret (overrides the profile).
    #[arg(long, env = "COFFER_ACCESS_KEY_SECRET", hide_env_values = true)]
    pub access_key_secret: Option<String>,
    /// STS security token (overrides the profile).
    #[arg(long, env = "COFFER_SECURITY_TOKEN", hide_env_values = true)]
    pub security_token: Option<String>,
    /// PEM CA certificates to trust for HTTPS (besides the system's roots).
    #[arg(long, env = "COFFER_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Signature version.
    #[arg(long, value_enum)]
    pub signature_version: Option<SignatureVersion>,
}

/// Everything a client needs, resolved.
#[derive(Clone)]
pub struct Resolved {
    /// OSS endpoint, without a trailing slash.
    pub endpoint: String,
    /// KMS endpoint, when known.
    pub kms_endpoint: Option<String>,
    /// Admin endpoint, when known.
    pub admin_endpoint: Option<String>,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret.
    pub secret: coffer_types::AccessKeySecret,
    /// STS token.
    pub security_token: Option<String>,
    /// CA file.
    pub ca_file: Option<PathBuf>,
    /// Signature version.
    pub signature_version: SignatureVersion,
    /// Path-style addressing.
    pub path_style: bool,
}

/// What the admin API needs: its endpoint and the credentials.
#[derive(Clone)]
pub struct AdminTarget {
    /// Admin endpoint, without a trailing slash.
    pub endpoint: String,
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret.
    pub secret: coffer_types::AccessKeySecret,
    /// STS token.
    pub security_token: Option<String>,
    /// Also trusted for an `https://` admin endpoint.
    pub ca_file: Option<PathBuf>,
}

impl AdminTarget {
    /// A client of the admin API signing with these credentials.
    pub fn client(&self) -> Result<coffer_admin::client::AdminClient> {
        let client = coffer_admin::client::AdminClient::new(
            &self.endpoint,
            self.access_key_id.clone(),
            self.secret.clone(),
            self.region.clone(),
        )?;
        let client = match &self.ca_file {
            Some(ca) => client.with_ca_file(ca)?,
            None => client,
        };
        Ok(match &self.security_token {
            Some(t) => client.with_security_token(t.clone()),
            None => client,
        })
    }
}

impl ConnArgs {
    /// The profile `--profile` names (an absent `default` is empty).
    fn profile(&self) -> Result<Profile> {
        let file = ConfigFile::load(&config_path()?)?;
        match file.profiles.get(&self.profile) {
            Some(p) => Ok(p.clone()),
            None if self.profile == "default" => Ok(Profile::default()),
            None => bail!("no profile `{}` in the config file", self.profile),
        }
    }

    /// The key pair and token: flags and variables over the profile.
    fn credentials(&self, p: &Profile) -> Result<(String, String, Option<String>)> {
        let access_key_id = self
            .access_key_id
            .clone()
            .or_else(|| p.access_key_id.clone())
            .context("no access key id: run `coffer config` or set COFFER_ACCESS_KEY_ID")?;
        let secret = self
            .access_key_secret
            .clone()
            .or_else(|| p.access_key_secret.clone())
            .context("no access key secret: run `coffer config` or set COFFER_ACCESS_KEY_SECRET")?;
        let token = self
            .security_token
            .clone()
            .or_else(|| p.security_token.clone());
        Ok((access_key_id, secret, token))
    }

    fn region(&self, p: &Profile) -> String {
        self.region
            .clone()
            .or_else(|| p.region.clone())
            .unwrap_or_else(|| "cn-hangzhou".to_owned())
    }

    /// The admin API of the profile, overridden by flags and variables (no OSS endpoint needed).
    pub fn resolve_admin(&self) -> Result<AdminTarget> {
        let p = self.profile()?;
        let endpoint = self
            .admin_endpoint
            .clone()
            .or_else(|| p.admin_endpoint.clone())
            .context(
                "no admin endpoint: set admin-endpoint in the profile (`coffer config \
                 --admin-endpoint`), --admin-endpoint or COFFER_ADMIN_ENDPOINT",
            )?;
        let (access_key_id, secret, security_token) = self.credentials(&p)?;
        Ok(AdminTarget {
            endpoint: normalise_endpoint(&endpoint),
            region: self.region(&p),
            access_key_id,
            secret: coffer_types::AccessKeySecret::new(secret),
            security_token,
            ca_file: self.ca_file.clone().or(p.ca_file),
        })
    }

    /// The profile named by `--profile`, overridden by flags and variables.
    pub fn resolve(&self) -> Result<Resolved> {
        let p = self.profile()?;
        let endpoint = self
            .endpoint
            .clone()
            .or_else(|| p.endpoint.clone())
            .context("no endpoint: run `coffer config`, or set --endpoint / COFFER_ENDPOINT")?;
        let endpoint = normalise_endpoint(&endpoint);
        let (access_key_id, secret, security_token) = self.credentials(&p)?;
        let path_style = p.path_style.unwrap_or_else(|| host_is_literal(&endpoint));
        Ok(Resolved {
            kms_endpoint: self
                .kms_endpoint
                .clone()
                .or_else(|| p.kms_endpoint.clone())
                .map(|e| normalise_endpoint(&e)),
            admin_endpoint: self
                .admin_endpoint
                .clone()
                .or_else(|| p.admin_endpoint.clone())
                .map(|e| normalise_endpoint(&e)),
            region: self.region(&p),
            endpoint,
            access_key_id,
            secret: coffer_types::AccessKeySecret::new(secret),
            security_token,
            ca_file: self.ca_file.clone().or(p.ca_file),
            signature_version: self
                .signature_version
                .or(p.signature_version)
                .unwrap_or_default(),
            path_style,
        })
    }
}

fn normalise_endpoint(e: &str) -> String {
    let e = e.trim_end_matches('/');
    if e.contains("://") {
        e.to_owned()
    } else {
        format!("http://{e}")
    }
}

/// IP literals and `localhost` cannot carry a bucket subdomain.
fn host_is_literal(endpoint: &str) -> bool {
    let host = endpoint.split("://").nth(1).unwrap_or(endpoint);
    let host = host.split('/').next().unwrap_or(host);
    let host = match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !host.ends_with(']') => h,
        _ => host,
    };
    host == "localhost" || host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_hosts_use_path_style() {
        assert!(host_is_literal("http://127.0.0.1:9000"));
        assert!(host_is_literal("http://localhost:9000"));
        assert!(host_is_literal("http://[::1]:9000"));
        assert!(!host_is_literal("https://oss-cn-hangzhou.aliyuncs.com"));
        assert_eq!(
            normalise_endpoint("127.0.0.1:9000/"),
            "http://127.0.0.1:9000"
        );
    }

    #[test]
    fn saved_file_is_private_and_round_trips() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c/config.toml");
        let mut f = ConfigFile::default();
        f.profiles.insert(
            "default".into(),
            Profile {
                endpoint: Some("http://h:1".into()),
                access_key_secret: Some("s3cret".into()),
                ..Profile::default()
            },
        );
        f.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = ConfigFile::load(&path).unwrap();
        assert_eq!(
            back.profiles["default"].endpoint.as_deref(),
            Some("http://h:1")
        );
        assert!(!format!("{:?}", back.profiles["default"]).contains("s3cret"));
    }
}
