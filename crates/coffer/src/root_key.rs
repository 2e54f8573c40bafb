//! The root key: 32 bytes from which the keys that seal the SSE keyring, the KMS's key material and
//! iam's secrets are derived. It lives outside the data directory, so a copy of the data directory
//! alone reveals no key.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use coffer_crypto::RootKey;
use tracing::warn;
use zeroize::Zeroizing;

/// Loads the root key from `COFFER_ROOT_KEY` (64 hex digits) if set, else from `path`, creating
/// the file (mode 0600) with a fresh key if it does not exist.
pub(crate) fn load_or_create(path: &Path, env_value: Option<String>) -> Result<RootKey> {
    if let Some(value) = env_value {
        let value = Zeroizing::new(value);
        return parse(value.trim()).context("COFFER_ROOT_KEY must be 64 hex digits");
    }
    if path.exists() {
        coffer_records::private_file::check(path).context("the root key file")?;
        let text = Zeroizing::new(
            fs::read_to_string(path)
                .with_context(|| format!("read root key file {}", path.display()))?,
        );
        return parse(text.trim())
            .with_context(|| format!("root key file {} must hold 64 hex digits", path.display()));
    }
    let key = RootKey::generate();
    let text = Zeroizing::new(hex::encode(key.expose_secret()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let mut f =
        coffer_records::private_file::create_new(path).context("create the root key file")?;
    f.write_all(text.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()?;
    warn!(
        path = %path.display(),
        "generated a new root key; back it up and keep it apart from the data directory: without it no encrypted object can be read"
    );
    Ok(key)
}

/// The preamble of the offline commands, which must create nothing: the data directory `dir`
/// must exist, then its file `file` (called `what` in the error), then the root key, which is
/// loaded. Each missing piece is a one-line error, in that order, before any key is read.
pub(crate) fn for_offline_command(
    dir: &coffer_types::DataDir,
    file: &Path,
    what: &str,
    root_key_file: &Path,
) -> Result<RootKey> {
    anyhow::ensure!(
        dir.exists(),
        "no data directory at {} (set --data-dir or COFFER_DATA_DIR)",
        dir.root().display()
    );
    anyhow::ensure!(
        file.exists(),
        "no {what} at {}: not a coffer data directory, or the server never started on it",
        file.display()
    );
    load_existing(
        root_key_file,
        crate::config::root_key_from_env().map(|mut s| std::mem::take(&mut *s)),
    )
}

/// Like [`load_or_create`], but a missing file is an error: for commands that must create nothing.
pub(crate) fn load_existing(path: &Path, env_value: Option<String>) -> Result<RootKey> {
    if env_value.is_none() && !path.exists() {
        bail!(
            "no root key at {} (set --root-key-file or COFFER_ROOT_KEY)",
            path.display()
        );
    }
    load_or_create(path, env_value)
}

fn parse(hex_text: &str) -> Result<RootKey> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex_text, bytes.as_mut_slice())?;
    Ok(RootKey::from_bytes(*bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generated_once_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        let a = load_or_create(&path, None).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = load_or_create(&path, None).unwrap();
        assert_eq!(a.expose_secret(), b.expose_secret());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(load_or_create(&path, None).is_err());
        let env = load_or_create(&path, Some("11".repeat(32))).unwrap();
        assert_eq!(env.expose_secret(), &[0x11; 32]);
        assert!(load_or_create(&path, Some("xyz".into())).is_err());
    }
}
