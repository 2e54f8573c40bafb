//! The root account's identity: its id and key pair, from the environment or generated once and
//! kept in the data directory (`DataDir::root_credentials`, mode 0600) with the secret sealed
//! under the root key, like every other secret there.
//!
//! ```text
//! {"account_id": "...", "access_key_id": "LTAI...", "sealed_secret": "<hex of the sealed secret>"}
//! ```
//!
//! A secret given in the environment is never written: the file then holds only the account id,
//! and the next start needs the environment again (or `coffer root-credentials rotate`). Files of
//! earlier releases held the secret in clear (`access_key_secret`); the first start of this one
//! seals it and replaces the file.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use coffer_crypto::RootKey;
use coffer_types::AccessKeySecret;
use rand::Rng;
use serde::{Deserialize, Serialize};
use tracing::info;
use zeroize::Zeroizing;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The root identity.
pub(crate) struct RootIdentity {
    pub(crate) account_id: String,
    pub(crate) access_key_id: String,
    pub(crate) secret: AccessKeySecret,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    account_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed_secret: Option<String>,
    /// Earlier releases' clear secret: read to be sealed, never written.
    #[serde(default, skip_serializing)]
    access_key_secret: Option<Zeroizing<String>>,
}

fn random_string(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(ALPHANUMERIC[rng.random_range(0..ALPHANUMERIC.len())]))
        .collect()
}

fn random_account_id() -> String {
    let mut rng = rand::rng();
    (0..16)
        .map(|i| char::from(b'0' + rng.random_range(u8::from(i == 0)..10)))
        .collect()
}

fn read(path: &Path) -> Result<Option<Stored>> {
    if !path.exists() {
        return Ok(None);
    }
    coffer_records::private_file::check(path).context("the root credentials file")?;
    let text = Zeroizing::new(fs::read_to_string(path).context("read root credentials")?);
    Ok(Some(
        serde_json::from_str(&text).context("parse root credentials")?,
    ))
}

fn write(path: &Path, stored: &Stored) -> Result<()> {
    let text = serde_json::to_string_pretty(stored)?;
    coffer_records::private_file::replace(path, text.as_bytes())
        .context("write the root credentials file")
}

/// A stored record with `access_key_id` and `secret` sealed under `root`.
fn sealed(root: &RootKey, account_id: String, access_key_id: String, secret: &str) -> Stored {
    let sealed = coffer_iam::seal_root_secret(root, &account_id, &access_key_id, secret.as_bytes());
    Stored {
        account_id,
        access_key_id: Some(access_key_id),
        sealed_secret: Some(hex::encode(sealed)),
        access_key_secret: None,
    }
}

/// Seals an earlier release's clear secret in place.
fn seal_legacy(path: &Path, root: &RootKey, stored: Stored) -> Result<Stored> {
    let (Some(id), Some(secret)) = (&stored.access_key_id, &stored.access_key_secret) else {
        return Ok(stored);
    };
    let new = sealed(root, stored.account_id.clone(), id.clone(), secret);
    write(path, &new)?;
    info!(path = %path.display(), "sealed the root secret of an earlier release's credentials file");
    Ok(new)
}

fn open(path: &Path, root: &RootKey, stored: Stored) -> Result<RootIdentity> {
    let (Some(access_key_id), Some(sealed)) = (stored.access_key_id, stored.sealed_secret) else {
        bail!(
            "{} holds no root key pair (it came from the environment): set \
             COFFER_ROOT_ACCESS_KEY_ID and COFFER_ROOT_ACCESS_KEY_SECRET, or run \
             `coffer root-credentials rotate` to generate one",
            path.display()
        );
    };
    let bytes = hex::decode(&sealed).context("parse root credentials: sealed_secret")?;
    let secret = coffer_iam::open_root_secret(root, &stored.account_id, &access_key_id, &bytes)
        .with_context(|| {
            format!(
                "the root secret in {} does not open with this root key (another server's \
                 file, or a damaged one)",
                path.display()
            )
        })?;
    let secret = String::from_utf8(secret.to_vec()).context("root secret is not text")?;
    Ok(RootIdentity {
        account_id: stored.account_id,
        access_key_id,
        secret: AccessKeySecret::new(secret),
    })
}

/// Loads the stored identity, creating it on first start. Environment credentials, when both
/// are set, replace the stored key pair (the account id stays) and are not written. `path` is
/// the credentials file; `root` seals the stored secret.
pub(crate) fn load_or_create(
    path: &Path,
    root: &RootKey,
    env_id: Option<String>,
    env_secret: Option<String>,
) -> Result<RootIdentity> {
    let stored = read(path)?
        .map(|s| seal_legacy(path, root, s))
        .transpose()?;
    match (env_id, env_secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            let account_id = match stored {
                Some(s) => s.account_id,
                None => {
                    let account_id = random_account_id();
                    write(
                        path,
                        &Stored {
                            account_id: account_id.clone(),
                            access_key_id: None,
                            sealed_secret: None,
                            access_key_secret: None,
                        },
                    )?;
                    account_id
                }
            };
            Ok(RootIdentity {
                account_id,
                access_key_id: id,
                secret: AccessKeySecret::new(secret),
            })
        }
        (Some(_), None) | (None, Some(_)) => bail!(
            "set both COFFER_ROOT_ACCESS_KEY_ID and COFFER_ROOT_ACCESS_KEY_SECRET, or neither"
        ),
        _ => match stored {
            Some(s) => open(path, root, s),
            None => {
                let identity = generate(path, root, random_account_id())?;
                // Printed once, on first start, so the operator can copy them; never logged.
                print_new("Generated root credentials", path, &identity);
                Ok(identity)
            }
        },
    }
}

/// A new root key pair for the account in `path` (which must exist), replacing the stored one.
/// The running server keeps the old pair until it restarts.
pub(crate) fn rotate(path: &Path, root: &RootKey) -> Result<RootIdentity> {
    let Some(stored) = read(path)? else {
        bail!(
            "no root credentials at {}: not a coffer data directory, or the server never started \
             on it",
            path.display()
        );
    };
    if let Some(id) = &stored.access_key_id {
        // Proves the root key is this server's before the old pair is thrown away.
        if stored.sealed_secret.is_some() {
            open(path, root, stored.clone_ids())?;
        } else if stored.access_key_secret.is_none() {
            bail!("{}: key id {id} without a secret", path.display());
        }
    }
    generate(path, root, stored.account_id)
}

impl Stored {
    fn clone_ids(&self) -> Stored {
        Stored {
            account_id: self.account_id.clone(),
            access_key_id: self.access_key_id.clone(),
            sealed_secret: self.sealed_secret.clone(),
            access_key_secret: None,
        }
    }
}

fn generate(path: &Path, root: &RootKey, account_id: String) -> Result<RootIdentity> {
    let access_key_id = format!("LTAI{}", random_string(20));
    let secret = Zeroizing::new(random_string(30));
    write(
        path,
        &sealed(root, account_id.clone(), access_key_id.clone(), &secret),
    )?;
    Ok(RootIdentity {
        account_id,
        access_key_id,
        secret: AccessKeySecret::new(secret.to_string()),
    })
}

/// Prints a new pair on stdout, once, for the operator to copy; never logged.
pub(crate) fn print_new(what: &str, path: &Path, identity: &RootIdentity) {
    println!(
        "{what} (stored sealed in {}):\n  COFFER_ROOT_ACCESS_KEY_ID={}\n  COFFER_ROOT_ACCESS_KEY_SECRET={}",
        path.display(),
        identity.access_key_id,
        identity.secret.expose_secret()
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_types::DataDir;
    use std::os::unix::fs::PermissionsExt;

    fn root() -> RootKey {
        RootKey::from_bytes([7; 32])
    }

    #[test]
    fn generated_credentials_are_private_sealed_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = DataDir::new(dir.path()).root_credentials();
        let first = load_or_create(&path, &root(), None, None).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = fs::read_to_string(&path).unwrap();
        assert!(!text.contains(first.secret.expose_secret()), "{text}");
        let again = load_or_create(&path, &root(), None, None).unwrap();
        assert_eq!(first.access_key_id, again.access_key_id);
        assert!(first.secret.ct_eq(again.secret.expose_secret()));
        assert_eq!(first.account_id.len(), 16);
        let env = load_or_create(&path, &root(), Some("AK".into()), Some("SK".into())).unwrap();
        assert_eq!(env.account_id, first.account_id);
        assert_eq!(env.access_key_id, "AK");
        let other = RootKey::from_bytes([8; 32]);
        let e = load_or_create(&path, &other, None, None).err().unwrap();
        assert!(format!("{e:#}").contains("does not open"), "{e:#}");
    }

    #[test]
    fn a_secret_from_the_environment_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = DataDir::new(dir.path()).root_credentials();
        let env = load_or_create(
            &path,
            &root(),
            Some("LTAIenv".into()),
            Some("env-secret-value".into()),
        )
        .unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("env-secret-value") && !text.contains("LTAIenv"),
            "{text}"
        );
        let e = load_or_create(&path, &root(), None, None).err().unwrap();
        assert!(format!("{e:#}").contains("holds no root key pair"), "{e:#}");
        let rotated = rotate(&path, &root()).unwrap();
        assert_eq!(rotated.account_id, env.account_id);
        let loaded = load_or_create(&path, &root(), None, None).unwrap();
        assert_eq!(loaded.access_key_id, rotated.access_key_id);
    }

    #[test]
    fn an_earlier_release_clear_secret_is_sealed_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = DataDir::new(dir.path()).root_credentials();
        let legacy = r#"{"account_id":"1234567890123456","access_key_id":"LTAIold","access_key_secret":"old-clear-secret"}"#;
        fs::write(&path, legacy).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        let loaded = load_or_create(&path, &root(), None, None).unwrap();
        assert_eq!(loaded.access_key_id, "LTAIold");
        assert!(loaded.secret.ct_eq("old-clear-secret"));
        let text = fs::read_to_string(&path).unwrap();
        assert!(
            !text.contains("old-clear-secret") && text.contains("sealed_secret"),
            "{text}"
        );
        let again = load_or_create(&path, &root(), None, None).unwrap();
        assert!(again.secret.ct_eq("old-clear-secret"));
    }

    #[test]
    fn rotation_replaces_the_pair_and_keeps_the_account() {
        let dir = tempfile::tempdir().unwrap();
        let path = DataDir::new(dir.path()).root_credentials();
        let first = load_or_create(&path, &root(), None, None).unwrap();
        let other = RootKey::from_bytes([9; 32]);
        assert!(
            rotate(&path, &other).is_err(),
            "a wrong root key must not rotate"
        );
        let rotated = rotate(&path, &root()).unwrap();
        assert_eq!(rotated.account_id, first.account_id);
        assert_ne!(rotated.access_key_id, first.access_key_id);
        let loaded = load_or_create(&path, &root(), None, None).unwrap();
        assert!(loaded.secret.ct_eq(rotated.secret.expose_secret()));
        assert!(rotate(&dir.path().join("missing.json"), &root()).is_err());
    }

    #[test]
    fn refuses_a_credentials_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = DataDir::new(dir.path()).root_credentials();
        load_or_create(&path, &root(), None, None).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path, &root(), None, None).is_err());
    }
}
