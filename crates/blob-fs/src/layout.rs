//! Where blobs live under the root directory, and the directory fsyncs that make renames durable.

use std::fs::{self, DirBuilder, File};
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use coffer_blob::BlobId;

/// The directory tree of one store:
///
/// ```text
/// <root>/tmp/<id>          blobs being written (never read back)
/// <root>/blobs/<xy>/<id>   committed blobs; <xy> is the first two hex digits of <id>
/// ```
///
/// Every path below the root is built from a [`BlobId`] (32 upper-case hex digits, validated when
/// it was made), so no caller-supplied string ever reaches the filesystem.
pub(crate) struct Layout {
    tmp: PathBuf,
    blobs: PathBuf,
    /// Whether fan-out directory `i` is known to be durable in `blobs/`: this process has fsynced
    /// `blobs/` after seeing the directory exist. Until then every commit into it fsyncs `blobs/`,
    /// because a directory created by a concurrent commit may not be durable yet when this one
    /// finds it already there.
    fanout_durable: [AtomicBool; 256],
}

impl Layout {
    /// Creates (if needed) `root/tmp` and `root/blobs`, readable by the owner only, and makes their
    /// entries durable.
    pub(crate) fn create(root: &Path) -> io::Result<Self> {
        let root_existed = root.exists();
        let tmp = root.join("tmp");
        let blobs = root.join("blobs");
        let mut builder = DirBuilder::new();
        builder.recursive(true).mode(0o700);
        builder.create(&tmp)?;
        builder.create(&blobs)?;
        sync_dir(root)?;
        // A root created just now must itself survive a crash.
        if !root_existed && let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
        Ok(Self {
            tmp,
            blobs,
            fanout_durable: std::array::from_fn(|_| AtomicBool::new(false)),
        })
    }

    pub(crate) fn tmp_dir(&self) -> &Path {
        &self.tmp
    }

    pub(crate) fn blobs_dir(&self) -> &Path {
        &self.blobs
    }

    pub(crate) fn tmp_path(&self, id: &BlobId) -> PathBuf {
        self.tmp.join(id.as_str())
    }

    pub(crate) fn blob_path(&self, id: &BlobId) -> PathBuf {
        self.blobs.join(fanout_name(id)).join(id.as_str())
    }

    /// Moves a fully written and fsynced temporary file to its committed place, durably: when this
    /// returns `Ok`, the blob is reachable by its name after a crash.
    pub(crate) fn publish(&self, tmp_path: &Path, id: &BlobId) -> io::Result<()> {
        let index = fanout_index(id);
        let fanout = self.blobs.join(fanout_name(id));
        let known_durable = self.fanout_durable[index].load(Ordering::Acquire);
        if !known_durable {
            match fs::create_dir(&fanout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        let blob_path = fanout.join(id.as_str());
        fs::rename(tmp_path, &blob_path)?;
        let synced = sync_dir(&fanout).and_then(|()| {
            if known_durable {
                return Ok(());
            }
            sync_dir(&self.blobs)?;
            self.fanout_durable[index].store(true, Ordering::Release);
            Ok(())
        });
        if let Err(e) = synced {
            // The caller will hear that the commit failed, so take the blob back rather than leave
            // a blob nobody will reference; if even that fails, the orphan sweep will find it.
            if let Err(remove) = fs::remove_file(&blob_path) {
                tracing::warn!(blob = %id, error = %remove, "could not remove blob after failed commit");
            }
            return Err(e);
        }
        Ok(())
    }
}

/// The fan-out directory of a blob: the first two hex digits of its id.
fn fanout_name(id: &BlobId) -> &str {
    // A BlobId is 32 ASCII hex digits, so this slice is in bounds and on char boundaries.
    &id.as_str()[..2]
}

fn fanout_index(id: &BlobId) -> usize {
    usize::from_str_radix(fanout_name(id), 16).expect("a BlobId starts with two hex digits")
}

/// Whether `name` can be a fan-out directory: two upper-case hex digits.
pub(crate) fn is_fanout_name(name: &str) -> bool {
    name.len() == 2
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
}

/// Whether `id` belongs in the fan-out directory called `dir`.
pub(crate) fn is_in_fanout(id: &BlobId, dir: &str) -> bool {
    fanout_name(id) == dir
}

/// Makes the entries of a directory (creations, renames into it) durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fanout_is_the_first_two_hex_digits() {
        let id = BlobId::parse("AB0123456789ABCDEF0123456789ABCD").unwrap();
        assert_eq!(fanout_name(&id), "AB");
        assert_eq!(fanout_index(&id), 0xAB);
        assert!(is_in_fanout(&id, "AB"));
        assert!(!is_in_fanout(&id, "ab"));
        for (name, expected) in [
            ("AB", true),
            ("09", true),
            ("ab", false),
            ("A", false),
            ("ABC", false),
            ("G0", false),
            ("..", false),
        ] {
            assert_eq!(is_fanout_name(name), expected, "{name}");
        }
    }
}
