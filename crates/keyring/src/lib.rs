//! The service keyring behind SSE-OSS (`x-oss-server-side-encryption: AES256` / `SM4`): versioned
//! master keys that wrap each object's data key, rotated on a schedule or on demand, never
//! deleted (an old version still unwraps the objects written under it), and kept on disk only
//! sealed under the root key, which lives outside the data directory.
//!
//! Rotation changes which version wraps *new* data keys; no object data is ever re-encrypted.
//! Several processes may share the keyring file (the server and `coffer keyring rotate`): every
//! change takes an exclusive lock on the file, re-reads it, and replaces it atomically; a reader
//! that meets an unknown version reloads.
//!
//! Processes on several machines share the keyring through a [`SharedKeyring`] instead of the
//! file ([`Keyring::open_shared`], a database row): the same format-3 bytes, each change written
//! only if the stored generation is still the one it was planned on (a compare-and-swap), so two
//! rotations racing end with one new version each, never one lost. The others see a change at
//! their next [`Keyring::reload`] (or at once when they meet its version in an object).
//!
//! This crate does no network I/O and knows nothing of objects or HTTP.
//!
//! # File format (`keyring.sealed`, mode 0600)
//!
//! ```text
//! offset  size  field
//!      0     8  magic "COFFERKR"
//!      8     1  format version (3; 1 and 2 are read at open and rewritten as 3)
//!      9     8  generation, u64 big-endian: 1 when created, one more at every change
//!     17     4  primary version, u32 big-endian
//!     21     4  number of versions n, u32 big-endian
//!     25        n entries, ascending by version:
//!                 4  version, u32 big-endian
//!                 8  created, seconds since the Unix epoch, i64 big-endian
//!                61  the master key wrapped (coffer_crypto::wrap_key) under
//!                    RootKey::derive(KeyPurpose::Keyring), aad = "coffer keyring v2" ‖ version ‖ created
//!   end-32    32  HMAC-SHA256 of every byte before it, keyed with RootKey::derive(KeyPurpose::KeyringMac)
//!
//! formats 1 and 2 (read only): no generation and no MAC; the header is magic, format, primary
//! (4), n (4), then the entries at offset 17. Format 1 wrapped entries under the root key itself
//! with aad "coffer keyring v1" ‖ version ‖ created.
//! ```
//! Each entry is authenticated by its wrap, and the file as a whole by its MAC: an edited primary,
//! a dropped or reordered version, or a changed generation does not open. A process also refuses a
//! file older than one it has read (a lower generation, or a version missing), so a keyring cannot
//! be rolled back under a running server. What remains (see `docs/encryption.md`): replacing the
//! whole file with an older authentic copy, or with a format-2 file, before the server starts.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aws_lc_rs::hmac;
use coffer_crypto::{
    DataKey, KeyPurpose, MasterKey, RootKey, WRAPPED_KEY_LEN, unwrap_key, wrap_key,
};
use coffer_records::private_file;
use coffer_types::Timestamp;
use tracing::info;

mod config;

pub use config::ConfigSection;

const MAGIC: &[u8; 8] = b"COFFERKR";
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;
const FORMAT_V3: u8 = 3;
const HEADER_V2: usize = 17;
const HEADER_V3: usize = 25;
const MAC_LEN: usize = 32;
const SEAL_LABEL_V1: &[u8] = b"coffer keyring v1";
const SEAL_LABEL_V2: &[u8] = b"coffer keyring v2";
const ENTRY_LEN: usize = 4 + 8 + WRAPPED_KEY_LEN;
/// Separates the keyring's data-key wraps from every other use of a master key.
const DATA_KEY_LABEL: &[u8] = b"coffer sse-oss";

/// What went wrong with the keyring.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The keyring file could not be read or written.
    #[error("keyring I/O on {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The keyring file is damaged, or sealed under another root key.
    #[error("the keyring file {0} is damaged or sealed under another root key")]
    Unseal(PathBuf),
    /// The keyring file may be read by group or others.
    #[error("{0}")]
    NotPrivate(String),
    /// A wrapped data key names a master key version the keyring does not have.
    #[error("master key version {0} is not in the keyring")]
    UnknownVersion(u32),
    /// A wrapped data key failed to unwrap: damaged, or bound to another object.
    #[error("the wrapped data key does not authenticate")]
    Unwrap,
    /// The shared store of the keyring could not be read or written.
    #[error("the shared keyring store failed: {0}")]
    Shared(String),
    /// Every attempt to change the shared keyring met another process's change first.
    #[error("the shared keyring kept changing under this change; try again")]
    Contended,
    /// The file is older than one this process has read: a rollback, refused.
    #[error(
        "the keyring file {path} is older than the one this process read (generation {found} < \
         {seen}, or a version is missing): refusing to roll the keyring back"
    )]
    Rollback {
        /// The file.
        path: PathBuf,
        /// Its generation.
        found: u64,
        /// The generation this process last read or wrote.
        seen: u64,
    },
}

/// Result of a keyring operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Public facts about one master key version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionInfo {
    /// The version number (1, 2, ...).
    pub version: u32,
    /// When it was created (to the second).
    pub created: Timestamp,
    /// Whether it wraps new data keys.
    pub primary: bool,
}

struct State {
    keys: BTreeMap<u32, (i64, MasterKey)>,
    primary: u32,
    /// 0 for a file of format 1 or 2 (which has none).
    generation: u64,
}

impl State {
    /// Refuses `newer` if it is not a successor of `self`: a lower generation or a version gone.
    fn check_successor(&self, newer: &State, path: &Path) -> Result<()> {
        let kept_all = self.keys.keys().all(|v| newer.keys.contains_key(v));
        if newer.generation < self.generation || !kept_all {
            return Err(Error::Rollback {
                path: path.to_owned(),
                found: newer.generation,
                seen: self.generation,
            });
        }
        Ok(())
    }
}

/// The two keys derived from the root key for the keyring file.
struct FileKeys {
    wrapping: MasterKey,
    mac: hmac::Key,
}

impl FileKeys {
    fn new(root: &RootKey) -> Self {
        let mac = root.derive(KeyPurpose::KeyringMac);
        Self {
            wrapping: root.derive(KeyPurpose::Keyring).into_master_key(),
            mac: hmac::Key::new(hmac::HMAC_SHA256, mac.expose_secret()),
        }
    }
}

/// Where a keyring's sealed bytes live when processes on several machines share them (a row of
/// a database). The bytes are authenticated by the keyring itself: the store only keeps them and
/// orders the changes.
pub trait SharedKeyring: Send + Sync {
    /// A name for messages (which store, which row).
    fn name(&self) -> String;

    /// The stored bytes, or `None` before the first [`SharedKeyring::store`].
    fn load(&self) -> std::result::Result<Option<Vec<u8>>, String>;

    /// Stores `bytes`, a keyring of generation `generation`, if the stored one is still of
    /// generation `expected` (0: nothing stored yet). `Ok(false)` if it is not: another process
    /// changed it first, and nothing was written. Atomic and durable when it returns `Ok(true)`.
    fn store(
        &self,
        expected: u64,
        generation: u64,
        bytes: &[u8],
    ) -> std::result::Result<bool, String>;
}

/// How many times a change of the shared keyring is planned again after losing a race.
const SHARED_ATTEMPTS: usize = 10;

/// The keyring. Cheap to share (`Arc` inside).
#[derive(Clone)]
pub struct Keyring {
    /// The file; for a shared keyring, the store's name (in messages only).
    path: PathBuf,
    /// Set when the keyring is in a shared store rather than the file.
    shared: Option<Arc<dyn SharedKeyring>>,
    /// The keys derived from the root key for the file; the root key itself is not kept.
    keys: Arc<FileKeys>,
    state: Arc<RwLock<State>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("versions", &self.versions())
            .finish()
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn seal_aad(label: &[u8], version: u32, created: i64) -> Vec<u8> {
    let mut aad = label.to_vec();
    aad.extend_from_slice(&version.to_be_bytes());
    aad.extend_from_slice(&created.to_be_bytes());
    aad
}

/// How the entries of a file are wrapped: the key, and the label of their aad.
struct Wrapping<'a> {
    key: &'a MasterKey,
    label: &'static [u8],
}

/// Decodes a file of format 3, or of format 1 or 2 if `root` is given (at open: a running
/// server never goes back to a format without a MAC). Returns the state and the file's format.
fn decode(
    path: &Path,
    bytes: &[u8],
    keys: &FileKeys,
    root: Option<&RootKey>,
) -> Result<(State, u8)> {
    let bad = || Error::Unseal(path.to_owned());
    if bytes.len() < HEADER_V2 || &bytes[..8] != MAGIC {
        return Err(bad());
    }
    let format = bytes[8];
    let legacy;
    let (wrapping, header, generation, body) = match (format, root) {
        (FORMAT_V3, _) => {
            if bytes.len() < HEADER_V3 + MAC_LEN {
                return Err(bad());
            }
            let (signed, mac) = bytes.split_at(bytes.len() - MAC_LEN);
            hmac::verify(&keys.mac, signed, mac).map_err(|_| bad())?;
            let mut generation = [0u8; 8];
            generation.copy_from_slice(&signed[9..17]);
            let wrapping = Wrapping {
                key: &keys.wrapping,
                label: SEAL_LABEL_V2,
            };
            let generation = u64::from_be_bytes(generation);
            (
                wrapping,
                &signed[17..HEADER_V3],
                generation,
                &signed[HEADER_V3..],
            )
        }
        (FORMAT_V2, Some(_)) => {
            let wrapping = Wrapping {
                key: &keys.wrapping,
                label: SEAL_LABEL_V2,
            };
            (wrapping, &bytes[9..HEADER_V2], 0, &bytes[HEADER_V2..])
        }
        // Format 1 wrapped entries under the root key itself.
        (FORMAT_V1, Some(root)) => {
            legacy = MasterKey::from_bytes(*root.expose_secret());
            let wrapping = Wrapping {
                key: &legacy,
                label: SEAL_LABEL_V1,
            };
            (wrapping, &bytes[9..HEADER_V2], 0, &bytes[HEADER_V2..])
        }
        _ => return Err(bad()),
    };
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    let primary = be32(&header[..4]);
    let count = be32(&header[4..8]) as usize;
    if body.len() != count.checked_mul(ENTRY_LEN).ok_or_else(bad)? {
        return Err(bad());
    }
    let mut keys = BTreeMap::new();
    for entry in body.chunks_exact(ENTRY_LEN) {
        let version = be32(&entry[..4]);
        let mut created = [0u8; 8];
        created.copy_from_slice(&entry[4..12]);
        let created = i64::from_be_bytes(created);
        let key = unwrap_key(
            wrapping.key,
            &entry[12..],
            &seal_aad(wrapping.label, version, created),
        )
        .map_err(|_| bad())?;
        let key = MasterKey::from_bytes(*key.expose_secret());
        keys.insert(version, (created, key));
    }
    if !keys.contains_key(&primary) {
        return Err(bad());
    }
    let state = State {
        keys,
        primary,
        generation,
    };
    Ok((state, format))
}

/// Encodes `state` in format 3, with its generation as it is (the caller counts changes).
fn encode(state: &State, keys: &FileKeys) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_V3 + state.keys.len() * ENTRY_LEN + MAC_LEN);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_V3);
    out.extend_from_slice(&state.generation.to_be_bytes());
    out.extend_from_slice(&state.primary.to_be_bytes());
    let count = u32::try_from(state.keys.len()).expect("fewer than 2^32 versions");
    out.extend_from_slice(&count.to_be_bytes());
    for (version, (created, key)) in &state.keys {
        out.extend_from_slice(&version.to_be_bytes());
        out.extend_from_slice(&created.to_be_bytes());
        let as_data_key = DataKey::from_bytes(*key.expose_secret());
        out.extend_from_slice(&wrap_key(
            &keys.wrapping,
            &as_data_key,
            &seal_aad(SEAL_LABEL_V2, *version, *created),
        ));
    }
    let mac = hmac::sign(&keys.mac, &out);
    out.extend_from_slice(mac.as_ref());
    out
}

/// Holds the exclusive lock on the keyring's lock file while a change is made.
struct Lock(File);

impl Lock {
    fn take(path: &Path) -> Result<Self> {
        let lock_path = path.with_extension("lock");
        let file = private_file::options()
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io(&lock_path))?;
        file.lock().map_err(io(&lock_path))?;
        Ok(Self(file))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = self.0.unlock();
    }
}

/// Reads the file, refusing one that group or others may read.
fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    match File::open(path) {
        Ok(mut f) => {
            private_file::check(path).map_err(|e| match e {
                coffer_records::Error::Io { source, .. } => io(path)(source),
                other => Error::NotPrivate(other.to_string()),
            })?;
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).map_err(io(path))?;
            Ok(Some(bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(path)(e)),
    }
}

/// Replaces the file atomically and durably: temporary file, fsync, rename, directory fsync.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = private_file::options()
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(())
}

impl Keyring {
    /// Opens the keyring at `path`, sealed under keys derived from `root` (which is not kept),
    /// creating it with one fresh master key (version 1) if absent. A file of format 1 or 2 is
    /// rewritten in format 3.
    pub fn open(path: &Path, root: &RootKey, now: Timestamp) -> Result<Self> {
        let keys = FileKeys::new(root);
        let _lock = Lock::take(path)?;
        let state = match read_file(path)? {
            Some(bytes) => {
                let (mut state, format) = decode(path, &bytes, &keys, Some(root))?;
                if format != FORMAT_V3 {
                    state.generation += 1;
                    write_file(path, &encode(&state, &keys))?;
                    info!(path = %path.display(), from = format, "rewrote the SSE keyring in format 3");
                }
                state
            }
            None => {
                let mut versions = BTreeMap::new();
                versions.insert(1, (now.unix_seconds(), MasterKey::generate()));
                let state = State {
                    keys: versions,
                    primary: 1,
                    generation: 1,
                };
                write_file(path, &encode(&state, &keys))?;
                info!(path = %path.display(), "created the SSE keyring");
                state
            }
        };
        Ok(Self {
            path: path.to_owned(),
            shared: None,
            keys: Arc::new(keys),
            state: Arc::new(RwLock::new(state)),
        })
    }

    /// Opens the keyring kept in `shared`, sealed under keys derived from `root`. When the store
    /// holds none yet, it is given the keyring of the file `seed` if that exists (so objects a
    /// node wrote under its own file stay readable once its keyring is shared), else one fresh
    /// master key; of several processes doing this at once, one's keyring is stored and the
    /// others take it.
    pub fn open_shared(
        shared: Arc<dyn SharedKeyring>,
        seed: Option<&Path>,
        root: &RootKey,
        now: Timestamp,
    ) -> Result<Self> {
        let keys = FileKeys::new(root);
        let name = PathBuf::from(shared.name());
        for _ in 0..SHARED_ATTEMPTS {
            if let Some(bytes) = shared.load().map_err(Error::Shared)? {
                let state = decode(&name, &bytes, &keys, None)?.0;
                return Ok(Self {
                    path: name,
                    shared: Some(shared),
                    keys: Arc::new(keys),
                    state: Arc::new(RwLock::new(state)),
                });
            }
            let seeded = match seed.map(read_file).transpose()?.flatten() {
                Some(bytes) => {
                    let path = seed.unwrap_or(&name);
                    let mut state = decode(path, &bytes, &keys, Some(root))?.0;
                    state.generation = state.generation.max(1);
                    info!(from = %path.display(), "seeding the shared SSE keyring from the file");
                    state
                }
                None => {
                    let mut versions = BTreeMap::new();
                    versions.insert(1, (now.unix_seconds(), MasterKey::generate()));
                    State {
                        keys: versions,
                        primary: 1,
                        generation: 1,
                    }
                }
            };
            if shared
                .store(0, seeded.generation, &encode(&seeded, &keys))
                .map_err(Error::Shared)?
            {
                info!(store = %name.display(), "created the shared SSE keyring");
                return Ok(Self {
                    path: name,
                    shared: Some(shared),
                    keys: Arc::new(keys),
                    state: Arc::new(RwLock::new(seeded)),
                });
            }
        }
        Err(Error::Contended)
    }

    /// Whether the keyring is in a shared store (and so wants a [`Keyring::reload`] on a
    /// schedule to follow the other processes' rotations).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// The newest keyring in the shared store, checked to be a successor of this process's.
    fn load_shared(&self, shared: &dyn SharedKeyring) -> Result<State> {
        let bytes = shared
            .load()
            .map_err(Error::Shared)?
            .ok_or_else(|| Error::Unseal(self.path.clone()))?;
        let newer = decode(&self.path, &bytes, &self.keys, None)?.0;
        self.read().check_successor(&newer, &self.path)?;
        Ok(newer)
    }

    /// [`Keyring::rotate`] on the shared store: planned on its newest keyring, stored only at
    /// that generation, planned again when another process stored first.
    fn rotate_shared(&self, shared: &dyn SharedKeyring, now: Timestamp) -> Result<u32> {
        for _ in 0..SHARED_ATTEMPTS {
            let mut state = self.load_shared(shared)?;
            let expected = state.generation;
            let version = state.keys.keys().next_back().copied().unwrap_or(0) + 1;
            state
                .keys
                .insert(version, (now.unix_seconds(), MasterKey::generate()));
            state.primary = version;
            state.generation += 1;
            if shared
                .store(expected, state.generation, &encode(&state, &self.keys))
                .map_err(Error::Shared)?
            {
                *self.write() = state;
                info!(version, "rotated the shared SSE master key");
                return Ok(version);
            }
        }
        Err(Error::Contended)
    }

    /// The file's generation as this process last read or wrote it.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-changed: changes replace it
        // whole, so a poisoned lock still holds a consistent state.
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Re-reads the file (another process may have rotated); refuses one older than what this
    /// process has read ([`Error::Rollback`]) and keeps the state it has.
    pub fn reload(&self) -> Result<()> {
        if let Some(shared) = &self.shared {
            let newer = self.load_shared(shared.as_ref())?;
            let mut state = self.write();
            // Another thread of this process may have moved on meanwhile.
            if newer.generation >= state.generation {
                *state = newer;
            }
            return Ok(());
        }
        let _lock = Lock::take(&self.path)?;
        if let Some(bytes) = read_file(&self.path)? {
            let newer = decode(&self.path, &bytes, &self.keys, None)?.0;
            let mut state = self.write();
            state.check_successor(&newer, &self.path)?;
            *state = newer;
        }
        Ok(())
    }

    /// Adds a new master key version and makes it primary; returns its number.
    pub fn rotate(&self, now: Timestamp) -> Result<u32> {
        if let Some(shared) = &self.shared {
            return self.rotate_shared(shared.as_ref(), now);
        }
        let _lock = Lock::take(&self.path)?;
        let mut state = match read_file(&self.path)? {
            Some(bytes) => decode(&self.path, &bytes, &self.keys, None)?.0,
            None => return Err(Error::Unseal(self.path.clone())),
        };
        self.read().check_successor(&state, &self.path)?;
        let version = state.keys.keys().next_back().copied().unwrap_or(0) + 1;
        state
            .keys
            .insert(version, (now.unix_seconds(), MasterKey::generate()));
        state.primary = version;
        state.generation += 1;
        write_file(&self.path, &encode(&state, &self.keys))?;
        *self.write() = state;
        info!(version, "rotated the SSE master key");
        Ok(version)
    }

    /// Rotates when the primary version is at least `interval_secs` old.
    pub fn rotate_if_due(&self, now: Timestamp, interval_secs: i64) -> Result<Option<u32>> {
        let now_secs = now.unix_seconds();
        let due = {
            let state = self.read();
            state
                .keys
                .get(&state.primary)
                .is_some_and(|(created, _)| now_secs - created >= interval_secs)
        };
        if !due {
            return Ok(None);
        }
        self.reload()?;
        let still_due = {
            let state = self.read();
            state
                .keys
                .get(&state.primary)
                .is_some_and(|(created, _)| now_secs - created >= interval_secs)
        };
        if still_due {
            self.rotate(now).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Every version, ascending.
    pub fn versions(&self) -> Vec<VersionInfo> {
        let state = self.read();
        state
            .keys
            .iter()
            .map(|(v, (created, _))| VersionInfo {
                version: *v,
                // Every stored time was a Timestamp's seconds, so it converts back.
                created: Timestamp::from_unix_seconds(*created).unwrap_or(Timestamp::UNIX_EPOCH),
                primary: *v == state.primary,
            })
            .collect()
    }

    /// Wraps a data key under the primary version; `aad` binds it to its object. Returns the
    /// version used and the wrapped bytes.
    pub fn wrap(&self, data_key: &DataKey, aad: &[u8]) -> (u32, Vec<u8>) {
        let state = self.read();
        let version = state.primary;
        let (_, key) = &state.keys[&version];
        (version, wrap_key(key, data_key, &full_aad(version, aad)))
    }

    /// Unwraps a data key wrapped by [`Keyring::wrap`] under `version` with the same `aad`.
    pub fn unwrap(&self, version: u32, wrapped: &[u8], aad: &[u8]) -> Result<DataKey> {
        if !self.read().keys.contains_key(&version) {
            self.reload()?;
        }
        let state = self.read();
        let (_, key) = state
            .keys
            .get(&version)
            .ok_or(Error::UnknownVersion(version))?;
        unwrap_key(key, wrapped, &full_aad(version, aad)).map_err(|_| Error::Unwrap)
    }
}

fn full_aad(version: u32, aad: &[u8]) -> Vec<u8> {
    let mut full = DATA_KEY_LABEL.to_vec();
    full.extend_from_slice(&version.to_be_bytes());
    full.extend_from_slice(aad);
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> RootKey {
        RootKey::from_bytes([7u8; 32])
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_unix_seconds(secs).unwrap()
    }

    #[test]
    fn rotation_keeps_old_versions_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        let ring = Keyring::open(&path, &root(), at(100)).unwrap();
        let dk = DataKey::generate();
        let (v1, w1) = ring.wrap(&dk, b"bkt/obj");
        assert_eq!(v1, 1);
        assert_eq!(ring.rotate_if_due(at(150), 100).unwrap(), None);
        assert_eq!(ring.rotate_if_due(at(200), 100).unwrap(), Some(2));
        let (v2, w2) = ring.wrap(&dk, b"bkt/obj");
        assert_eq!(v2, 2);
        let reopened = Keyring::open(&path, &root(), at(300)).unwrap();
        for (v, w) in [(v1, &w1), (v2, &w2)] {
            let got = reopened.unwrap(v, w, b"bkt/obj").unwrap();
            assert_eq!(got.expose_secret(), dk.expose_secret());
        }
        assert!(matches!(
            reopened.unwrap(v1, &w1, b"bkt/other"),
            Err(Error::Unwrap)
        ));
        assert!(matches!(
            reopened.unwrap(v2, &w1, b"bkt/obj"),
            Err(Error::Unwrap)
        ));
        assert!(matches!(
            reopened.unwrap(9, &w1, b"bkt/obj"),
            Err(Error::UnknownVersion(9))
        ));
        let mode = std::os::unix::fs::MetadataExt::mode(&fs::metadata(&path).unwrap());
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn another_process_rotation_is_seen_on_unwrap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        let server = Keyring::open(&path, &root(), at(0)).unwrap();
        let cli = Keyring::open(&path, &root(), at(0)).unwrap();
        assert_eq!(cli.rotate(at(10)).unwrap(), 2);
        let dk = DataKey::generate();
        let (v, w) = cli.wrap(&dk, b"x");
        assert_eq!(
            server.unwrap(v, &w, b"x").unwrap().expose_secret(),
            dk.expose_secret()
        );
        assert!(
            server
                .versions()
                .iter()
                .any(|i| i.version == 2 && i.primary)
        );
    }

    #[test]
    fn the_file_is_useless_without_the_root_key_and_tamper_evident() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        drop(Keyring::open(&path, &root(), at(0)).unwrap());
        let wrong = RootKey::from_bytes([8u8; 32]);
        assert!(matches!(
            Keyring::open(&path, &wrong, at(0)),
            Err(Error::Unseal(_))
        ));
        let bytes = fs::read(&path).unwrap();
        for i in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x01;
            fs::write(&path, &damaged).unwrap();
            assert!(Keyring::open(&path, &root(), at(0)).is_err(), "byte {i}");
        }
    }

    #[test]
    fn header_edits_and_dropped_versions_do_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        let ring = Keyring::open(&path, &root(), at(0)).unwrap();
        ring.rotate(at(10)).unwrap();
        drop(ring);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes[8], FORMAT_V3);
        // The primary moved back to version 1, which is in the file: a silent rotation rollback.
        let mut edited = bytes.clone();
        edited[17..21].copy_from_slice(&1u32.to_be_bytes());
        fs::write(&path, &edited).unwrap();
        assert!(matches!(
            Keyring::open(&path, &root(), at(0)),
            Err(Error::Unseal(_))
        ));
        // Version 2 dropped, the count made to match.
        let mut dropped = bytes[..HEADER_V3 + ENTRY_LEN].to_vec();
        dropped[17..21].copy_from_slice(&1u32.to_be_bytes());
        dropped[21..25].copy_from_slice(&1u32.to_be_bytes());
        dropped.extend_from_slice(&bytes[bytes.len() - MAC_LEN..]);
        fs::write(&path, &dropped).unwrap();
        assert!(matches!(
            Keyring::open(&path, &root(), at(0)),
            Err(Error::Unseal(_))
        ));
        // The same edits in a file claiming format 2 are refused by a running keyring.
        fs::write(&path, &bytes).unwrap();
        let ring = Keyring::open(&path, &root(), at(0)).unwrap();
        let mut downgraded = bytes[..8].to_vec();
        downgraded.push(FORMAT_V2);
        downgraded.extend_from_slice(&bytes[17..bytes.len() - MAC_LEN]);
        fs::write(&path, &downgraded).unwrap();
        assert!(matches!(ring.reload(), Err(Error::Unseal(_))));
        assert_eq!(ring.versions().len(), 2, "a refused reload keeps the state");
    }

    #[test]
    fn an_older_authentic_file_is_refused_as_a_rollback() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.sealed");
        let ring = Keyring::open(&path, &root(), at(0)).unwrap();
        assert_eq!(ring.generation(), 1);
        let old = fs::read(&path).unwrap();
        ring.rotate(at(10)).unwrap();
        assert_eq!(ring.generation(), 2);
        fs::write(&path, &old).unwrap();
        let e = ring.reload().unwrap_err();
        assert!(
            matches!(
                e,
                Error::Rollback {
                    found: 1,
                    seen: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(matches!(ring.rotate(at(20)), Err(Error::Rollback { .. })));
        assert_eq!(ring.versions().len(), 2);
        assert!(ring.versions()[1].primary);
    }

    #[test]
    fn debug_shows_no_key_material() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::open(&dir.path().join("k"), &root(), at(0)).unwrap();
        let text = format!("{ring:?}");
        assert!(text.contains("versions"));
        assert!(!text.contains("[7, 7"));
    }
}
