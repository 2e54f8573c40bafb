//! The data directory's layout: the one place that names the files coffer keeps there.
//!
//! Only paths are computed here (no I/O beyond [`DataDir::exists`]); the crates that own each file
//! open it at the path they are handed. The layout is described in `docs/format.md`.

use std::path::{Path, PathBuf};

/// A data directory (`--data-dir`, default `./coffer-data`) and the paths of everything in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// The directory `root`; nothing is created.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether the directory exists (a file at that path does not count).
    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    /// The root account's id and key pair (mode 0600).
    pub fn root_credentials(&self) -> PathBuf {
        self.root.join("root-credentials.json")
    }

    /// The embedded metadata store (buckets, objects, uploads, parts, blob tracking).
    pub fn meta(&self) -> PathBuf {
        self.root.join("meta.redb")
    }

    /// The local blob store's root; its inner layout belongs to `coffer-blob-fs`.
    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// The SSE-OSS master key versions, sealed under the root key.
    pub fn keyring(&self) -> PathBuf {
        self.root.join("keyring.sealed")
    }

    /// The KMS's keys, aliases and usage counters, key material sealed under the root key.
    pub fn kms(&self) -> PathBuf {
        self.root.join("kms.redb")
    }

    /// The KMS's append-only audit trail (one JSON record per operation, no key material).
    pub fn kms_audit_log(&self) -> PathBuf {
        self.root.join("kms.audit.jsonl")
    }

    /// RAM users, groups, access keys, policies, roles and bucket policies.
    pub fn iam(&self) -> PathBuf {
        self.root.join("iam.redb")
    }

    /// Where the root key file is unless configured: `<data-dir>.root-key` beside, not inside,
    /// the directory, so a copy of the directory alone reveals no key.
    pub fn default_root_key_file(&self) -> PathBuf {
        let mut name = self
            .root
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_else(|| "coffer-data".into());
        name.push(".root-key");
        match self.root.parent() {
            Some(p) => p.join(name),
            None => PathBuf::from(name),
        }
    }
}

impl Default for DataDir {
    fn default() -> Self {
        Self::new("coffer-data")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_key_lives_beside_the_directory() {
        assert_eq!(
            DataDir::new("/srv/coffer-data").default_root_key_file(),
            PathBuf::from("/srv/coffer-data.root-key")
        );
        assert_eq!(
            DataDir::new("data").default_root_key_file(),
            PathBuf::from("data.root-key")
        );
        assert!(
            !DataDir::new("/srv/d")
                .default_root_key_file()
                .starts_with("/srv/d/")
        );
    }

    #[test]
    fn every_file_is_inside_the_directory_and_distinct() {
        let d = DataDir::new("/srv/d");
        let files = [
            d.root_credentials(),
            d.meta(),
            d.blobs(),
            d.keyring(),
            d.kms(),
            d.kms_audit_log(),
            d.iam(),
        ];
        for f in &files {
            assert_eq!(f.parent(), Some(d.root()));
        }
        let distinct: std::collections::BTreeSet<_> = files.iter().collect();
        assert_eq!(distinct.len(), files.len());
    }
}
