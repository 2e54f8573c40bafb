//! The one check that a file holding sealed keys (the record stores, the keyring, the root key
//! file) is private: created with mode 0600, and refused when group or others may read it.
//!
//! On platforms without Unix permissions these are no-ops beyond creating the file.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::{Error, Result};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// `OpenOptions` for writing that create the file (if they create it) with mode 0600.
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Refuses `path` if group or others have any permission on it ([`Error::NotPrivate`]).
pub fn check(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(io(path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(Error::NotPrivate {
                path: path.to_owned(),
                mode: mode & 0o777,
            });
        }
    }
    #[cfg(not(unix))]
    std::fs::metadata(path).map_err(io(path))?;
    Ok(())
}

/// Creates `path` empty with mode 0600 unless it exists, in which case it must pass [`check`].
/// (A library that creates its own file, such as redb, would use the process umask.)
pub fn create_or_check(path: &Path) -> Result<()> {
    match options().create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check(path),
        Err(e) => Err(io(path)(e)),
    }
}

/// Creates `path`, which must not exist, with mode 0600, for writing.
pub fn create_new(path: &Path) -> Result<File> {
    options().create_new(true).open(path).map_err(io(path))
}

/// Replaces `path`'s contents with `bytes` atomically: a 0600 temporary file beside it, synced,
/// renamed over it, the directory synced. A crash leaves the old contents or the new, never a mix.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(&tmp)(e)),
    }
    let mut file = create_new(&tmp)?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_are_created_private_and_others_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        create_or_check(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
        create_or_check(&path).unwrap();
        for bad in [0o640, 0o604, 0o644, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(bad)).unwrap();
            let e = check(&path).unwrap_err();
            assert!(
                matches!(e, Error::NotPrivate { mode, .. } if mode == bad),
                "{e}"
            );
            assert!(e.to_string().contains("chmod 600"));
            assert!(create_or_check(&path).is_err());
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        check(&path).unwrap();
        let other = dir.path().join("g");
        drop(create_new(&other).unwrap());
        assert_eq!(mode(&other), 0o600);
        assert!(create_new(&other).is_err());
        assert!(matches!(
            check(&dir.path().join("missing")),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn replace_swaps_the_contents_and_keeps_the_file_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        // A temporary file left by a crash is no obstacle.
        std::fs::write(dir.path().join("f.tmp"), b"stale").unwrap();
        replace(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert_eq!(mode(&path), 0o600);
        assert!(!dir.path().join("f.tmp").exists());
    }
}
