//! The root account's identity: its id and key pair, from the environment or generated once and
//! kept 0600 in the data directory (`DataDir::root_credentials`).

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use coffer_types::AccessKeySecret;
use rand::Rng;
use serde::{Deserialize, Serialize};

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
    access_key_id: String,
    access_key_secret: String,
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

/// Loads the stored identity, creating it on first start. Environment credentials, when both
/// are set, replace the stored key pair (the account id stays). `path` is the credentials file.
pub(crate) fn load_or_create(
    path: &Path,
    env_id: Option<String>,
    env_secret: Option<String>,
) -> Result<RootIdentity> {
    let stored: Option<Stored> = if path.exists() {
        coffer_records::private_file::check(path).context("the root credentials file")?;
        let text = fs::read_to_string(path).context("read root credentials")?;
        Some(serde_json::from_str(&text).context("parse root credentials")?)
    } else {
        None
    };
    match (env_id, env_secret) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            let account_id = match stored {
                Some(s) => s.account_id,
                None => {
                    let account_id = random_account_id();
                    write_new(
                        path,
                        &Stored {
                            account_id: account_id.clone(),
                            access_key_id: id.clone(),
                            access_key_secret: secret.clone(),
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
        _ => {
            let stored = match stored {
                Some(s) => s,
                None => {
                    let s = Stored {
                        account_id: random_account_id(),
                        access_key_id: format!("LTAI{}", random_string(20)),
                        access_key_secret: random_string(30),
                    };
                    write_new(path, &s)?;
                    // Printed once, on first start, so the operator can copy them; never logged.
                    println!(
                        "Generated root credentials (stored in {}):\n  COFFER_ROOT_ACCESS_KEY_ID={}\n  COFFER_ROOT_ACCESS_KEY_SECRET={}",
                        path.display(),
                        s.access_key_id,
                        s.access_key_secret
                    );
                    s
                }
            };
            Ok(RootIdentity {
                account_id: stored.account_id,
                access_key_id: stored.access_key_id,
                secret: AccessKeySecret::new(stored.access_key_secret),
            })
        }
    }
}

fn write_new(path: &Path, stored: &Stored) -> Result<()> {
    let text = serde_json::to_string_pretty(stored)?;
    let mut f = coffer_records::private_file::create_new(path)
        .context("create the root credentials file")?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_types::DataDir;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_credentials_are_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let path = DataDir::new(dir.path()).root_credentials();
        let first = load_or_create(&path, None, None).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = load_or_create(&path, None, None).unwrap();
        assert_eq!(first.access_key_id, again.access_key_id);
        assert!(first.secret.ct_eq(again.secret.expose_secret()));
        assert_eq!(first.account_id.len(), 16);
        let env = load_or_create(&path, Some("AK".into()), Some("SK".into())).unwrap();
        assert_eq!(env.account_id, first.account_id);
        assert_eq!(env.access_key_id, "AK");
    }

    #[test]
    fn refuses_a_credentials_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = DataDir::new(dir.path()).root_credentials();
        load_or_create(&path, None, None).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load_or_create(&path, None, None).is_err());
    }
}
