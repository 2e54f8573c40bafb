//! [`Kms`], the engine: state in memory, written through to a [`coffer_records::RecordStore`]; every operation metered
//! and audited.
//!
//! Operations are grouped by family in the child modules: `lifecycle` (keys, tags), `alias`,
//! `cryptography` (data keys, Encrypt, Decrypt, ReEncrypt), `rotation` (versions and policies),
//! `byok` (import), `schedule` (`tick`: rotation, deletion, expiry).
//!
//! Concurrency: one `RwLock` over the state. Cryptographic operations take it shared, long enough
//! to unseal one version's material; changes take it exclusively and hold it across the store
//! write, so memory and store change in the same order and a failed write changes neither.

mod alias;
mod byok;
mod cryptography;
mod lifecycle;
mod rotation;
mod schedule;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

pub use alias::{AliasEntry, OSS_DEFAULT_ALIAS};
pub use byok::{IMPORT_TOKEN_TTL_SECS, ImportKeyMaterial, ImportParameters};
pub use cryptography::{
    Decrypt, Decrypted, Encrypt, Encrypted, GenerateDataKey, GeneratedDataKey,
    MAX_ENCRYPT_PLAINTEXT_LEN, ReEncrypt, ReEncrypted,
};
pub use schedule::TickReport;

use crate::audit::{
    AuditFilter, AuditPage, AuditRecord, AuditSink, JsonlAuditLog, Operation, RESULT_SUCCESS,
};
use crate::caller::Caller;
use crate::config::Config;
use crate::context::EncryptionContext;
use crate::id::{AccountId, AliasName, KeyId, KeyRef, KeyVersionId, key_arn};
use crate::key::{AutomaticRotation, KeyMetadata, KeyState, KeyVersion};
use crate::metering::{Meter, UsageRow, UsageStore};
use crate::record::{self, AliasRecord, KeyRecord, TokenRecord, VersionRecord};
use crate::record::{from_secs, to_secs};
use crate::seal::{Keyring, Purpose};
use crate::secret::Material;
use crate::{Error, Result};
use coffer_crypto::RootKey;
use coffer_records::{Change, RecordStore};
use coffer_types::Clock;

/// Do not change: sealed once into every store, to recognise the wrong root key at open.
const ROOT_CHECK: &[u8] = b"coffer-kms root check v1";
const ROOT_CHECK_KEY: &[u8] = b"root_check";

/// The key management service: CMKs and their versions, aliases, BYOK import, data keys and
/// ciphertext blobs, rotation and deletion, metering and audit.
///
/// Every method that acts for someone takes a [`Caller`]; keys and aliases are scoped to its
/// account. Methods block on disk I/O when they change state (one store transaction) and append
/// one audit record each; call them from a blocking context in async code.
pub struct Kms {
    config: Config,
    clock: Arc<dyn Clock>,
    keyring: Keyring,
    store: Box<dyn RecordStore>,
    audit: Box<dyn AuditSink>,
    state: RwLock<State>,
    meter: Mutex<Meter>,
    /// Where the counters go when several processes count (else the store's `usage` table).
    usage: Option<Box<dyn UsageStore>>,
}

impl std::fmt::Debug for Kms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kms")
            .field("region", &self.config.region)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    keys: HashMap<KeyId, KeyEntry>,
    aliases: BTreeMap<(AccountId, AliasName), AliasRecord>,
    /// By SHA-256 of the token text.
    tokens: HashMap<[u8; 32], TokenRecord>,
    next_seq: u64,
    /// The store's generation this was read at (`None`: a store only this process writes).
    generation: Option<u64>,
}

#[derive(Clone)]
struct KeyEntry {
    record: KeyRecord,
    /// In creation order.
    versions: Vec<VersionRecord>,
}

/// What an operation touched, for its audit record and usage row.
#[derive(Default)]
struct Event {
    key_id: Option<KeyId>,
    key_version_id: Option<KeyVersionId>,
    context: Option<EncryptionContext>,
}

impl Kms {
    /// Opens (creating if missing) the store at `path` (e.g. `<data dir>/kms.redb`) and the audit
    /// log beside it ([`Kms::audit_log_path`]). Fails with [`Error::WrongRootKey`] if the store was
    /// created under another root key.
    pub fn open(
        path: &Path,
        root: &RootKey,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let store = crate::store::open_redb_store(path)?;
        let audit = JsonlAuditLog::open(&Self::audit_log_path(path))?;
        Self::with_store(Box::new(store), Box::new(audit), root, config, clock)
    }

    /// Where [`Kms::open`] keeps the audit log for a store at `store_path`: the same name with
    /// the extension `audit.jsonl` (`kms.redb` → `kms.audit.jsonl`).
    pub fn audit_log_path(store_path: &Path) -> PathBuf {
        store_path.with_extension("audit.jsonl")
    }

    /// Builds a KMS over any store and audit sink. The root key is consumed: only keys derived
    /// from it are kept.
    pub fn with_store(
        store: Box<dyn RecordStore>,
        audit: Box<dyn AuditSink>,
        root: &RootKey,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        let keyring = Keyring::new(root);
        check_root_key(store.as_ref(), &keyring)?;
        let state = load_state(store.as_ref())?;
        let meter = Meter::load(store.scan(crate::store::USAGE)?)?;
        Ok(Self {
            config,
            clock,
            keyring,
            store,
            audit,
            state: RwLock::new(state),
            meter: Mutex::new(meter),
            usage: None,
        })
    }

    /// Counts usage into `usage`, a store several processes add to, instead of the record
    /// store's `usage` table (whose rows, one process's counts, are then no longer read or
    /// written). [`Kms::usage`] then shows every process's calls as of their last
    /// [`Kms::flush`], and this process's own at once.
    #[must_use]
    pub fn with_usage_store(mut self, usage: Box<dyn UsageStore>) -> Self {
        self.usage = Some(usage);
        *self.meter.get_mut().expect("meter lock poisoned") = Meter::shared();
        self
    }

    /// Whether usage goes to a store several processes share, which then wants a frequent
    /// [`Kms::flush`] on every process.
    pub fn has_shared_usage(&self) -> bool {
        self.usage.is_some()
    }

    /// The region this KMS serves.
    pub fn region(&self) -> &str {
        &self.config.region
    }

    /// Usage counters of `account`, by key and operation.
    pub fn usage(&self, account: &AccountId) -> Result<Vec<UsageRow>> {
        match &self.usage {
            None => Ok(self
                .meter
                .lock()
                .expect("meter lock poisoned")
                .rows(account)),
            Some(store) => {
                let stored = store.rows(account)?;
                Ok(self
                    .meter
                    .lock()
                    .expect("meter lock poisoned")
                    .merge_pending(account, stored))
            }
        }
    }

    /// Audit records matching `filter`, oldest first.
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        self.audit.records(filter)
    }

    /// At most `limit` audit records matching `filter` (its own `limit` ignored) that come after
    /// `after`, a marker from an earlier page (`None`: from the oldest). See [`AuditSink::page`].
    pub fn audit_page(
        &self,
        filter: &AuditFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AuditPage> {
        self.audit.page(filter, after, limit)
    }

    /// The last `n` audit records matching `filter`, oldest first.
    pub fn audit_tail(&self, filter: &AuditFilter, n: usize) -> Result<Vec<AuditRecord>> {
        self.audit.tail(filter, n)
    }

    /// Writes usage counters changed since the last flush to the store. [`Kms::tick`] and dropping
    /// the `Kms` call it.
    pub fn flush(&self) -> Result<()> {
        let mut meter = self.meter.lock().expect("meter lock poisoned");
        if let Some(store) = &self.usage {
            let deltas = meter.take_pending();
            if deltas.is_empty() {
                return Ok(());
            }
            // Not under the lock: requests keep counting while the store answers.
            drop(meter);
            return store.add(&deltas).inspect_err(|_| {
                self.meter
                    .lock()
                    .expect("meter lock poisoned")
                    .restore_pending(deltas.clone());
            });
        }
        let changes = meter.take_dirty();
        if changes.is_empty() {
            return Ok(());
        }
        self.store
            .apply(&changes)
            .inspect_err(|_| meter.mark_all_dirty())
            .map_err(Error::from)
    }

    // ---- shared machinery of the operation modules ----

    fn now(&self) -> u64 {
        to_secs(self.clock.now())
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().expect("state lock poisoned")
    }

    /// The state, read again first if another node changed the store since it was loaded, so
    /// that a change is planned on what the store holds (and [`Kms::commit`] refuses it if
    /// another node writes in between).
    fn write(&self) -> RwLockWriteGuard<'_, State> {
        let mut state = self.state.write().expect("state lock poisoned");
        let current = match self.store.generation() {
            Ok(current) => current,
            Err(e) => {
                // The commit that follows will fail on the same store; nothing to do here.
                tracing::warn!(error = %e, "could not check the KMS store for changes");
                return state;
            }
        };
        if current.is_some() && current != state.generation {
            match load_state(self.store.as_ref()) {
                Ok(fresh) => *state = fresh,
                Err(e) => tracing::warn!(error = %e, "could not read the KMS store again"),
            }
        }
        state
    }

    /// The state for a lookup, read again first if `missing` finds what it looks for absent and
    /// another node changed the store: a key, alias or version another node just made is found
    /// at once.
    fn read_finding(&self, missing: impl Fn(&State) -> bool) -> RwLockReadGuard<'_, State> {
        let state = self.read();
        if !missing(&state) {
            return state;
        }
        drop(state);
        if let Err(e) = self.refresh() {
            tracing::warn!(error = %e, "could not check the KMS store for changes");
        }
        self.read()
    }

    /// Loads the state again if another node changed the store since it was read. Returns
    /// whether it did. The server calls it on a schedule (the bound on how stale a node's view of
    /// keys can be), and lookups call it before answering "not found".
    pub fn refresh(&self) -> Result<bool> {
        let Some(current) = self.store.generation()? else {
            return Ok(false);
        };
        if self.read().generation == Some(current) {
            return Ok(false);
        }
        let fresh = load_state(self.store.as_ref())?;
        let mut state = self.write_unsynced();
        // A change of this process may have moved past what was just read.
        if fresh.generation > state.generation || state.generation.is_none() {
            *state = fresh;
        }
        Ok(true)
    }

    fn write_unsynced(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().expect("state lock poisoned")
    }

    /// Runs one operation: meters it and appends its audit record, whatever its outcome. If the
    /// audit record cannot be written the operation fails (no unaudited use of a key).
    fn observe<T>(
        &self,
        caller: &Caller,
        operation: Operation,
        body: impl FnOnce(&mut Event) -> Result<T>,
    ) -> Result<T> {
        let mut event = Event::default();
        let result = body(&mut event);
        self.meter.lock().expect("meter lock poisoned").record(
            &caller.account_id,
            event.key_id,
            operation,
            result.is_ok(),
            self.now(),
        );
        let record = AuditRecord {
            time: self.clock.now().into(),
            account: caller.account_id.clone(),
            principal: caller.principal.clone(),
            via: caller.via.as_str().to_owned(),
            resource: caller.via.resource().map(str::to_owned),
            operation,
            key_id: event.key_id,
            key_version_id: event.key_version_id,
            encryption_context: event.context,
            result: match &result {
                Ok(_) => RESULT_SUCCESS.to_owned(),
                Err(e) => e.code().to_owned(),
            },
        };
        if let Err(e) = self.audit.append(&record) {
            tracing::error!(error = %e, op = operation.as_str(), "cannot write the KMS audit log");
            return Err(e);
        }
        result
    }

    /// The id of the key that `key` (an id, alias or ARN) names in the caller's account, without
    /// using it: a lookup for permission checks made before an operation, so it is neither metered
    /// nor audited (the operation that follows is).
    pub fn resolve_key_id(&self, caller: &Caller, key: &KeyRef) -> Result<KeyId> {
        let state = self.read_finding(|s| self.resolve(s, caller, key).is_err());
        self.resolve(&state, caller, key)
            .map(|entry| entry.record.key_id)
    }

    /// Finds the key `key` names in the caller's account. Keys of other accounts and ARNs of other
    /// regions are not found: cross-account use needs key policies, which coffer does not have.
    fn resolve<'s>(&self, state: &'s State, caller: &Caller, key: &KeyRef) -> Result<&'s KeyEntry> {
        let account = &caller.account_id;
        let key_id = match key {
            KeyRef::Id(id) => *id,
            KeyRef::KeyArn {
                region,
                account: a,
                key_id,
            } => {
                if *region != self.config.region || a != account {
                    return Err(Error::KeyNotFound);
                }
                *key_id
            }
            KeyRef::Alias(alias) => self.alias_target(state, account, alias)?,
            KeyRef::AliasArn {
                region,
                account: a,
                alias,
            } => {
                if *region != self.config.region || a != account {
                    return Err(Error::AliasNotFound);
                }
                self.alias_target(state, account, alias)?
            }
        };
        state
            .keys
            .get(&key_id)
            .filter(|e| &e.record.account == account)
            .ok_or(Error::KeyNotFound)
    }

    fn alias_target(&self, state: &State, account: &AccountId, alias: &AliasName) -> Result<KeyId> {
        state
            .aliases
            .get(&(account.clone(), alias.clone()))
            .map(|a| a.key_id)
            .ok_or(Error::AliasNotFound)
    }

    fn arn(&self, record: &KeyRecord) -> String {
        key_arn(&self.config.region, &record.account, &record.key_id)
    }

    fn metadata(&self, record: &KeyRecord, now: u64) -> KeyMetadata {
        let rotation_interval = record.rotation_interval;
        KeyMetadata {
            key_id: record.key_id,
            arn: self.arn(record),
            account_id: record.account.clone(),
            key_state: effective_state(record, now),
            key_spec: record.spec,
            key_usage: record.usage,
            origin: record.origin,
            protection_level: record.protection,
            creation_date: from_secs(record.created),
            creator: record.creator.clone(),
            description: record.description.clone(),
            primary_key_version: record.primary_version,
            last_rotation_date: record.last_rotation.map(from_secs),
            automatic_rotation: if rotation_interval.is_some() {
                AutomaticRotation::Enabled
            } else {
                AutomaticRotation::Disabled
            },
            rotation_interval: rotation_interval.map(Duration::from_secs),
            next_rotation_date: rotation_interval
                .zip(record.last_rotation)
                .map(|(i, last)| from_secs(last.saturating_add(i))),
            material_expire_time: record.material_expire.map(from_secs),
            delete_date: record.delete_date.map(from_secs),
            is_service_key: record.service,
        }
    }

    /// A new version with fresh material, made primary. Returns the record to store.
    fn new_version(&self, record: &mut KeyRecord, index: usize, now: u64) -> VersionRecord {
        let version_id = KeyVersionId::random();
        let material = Material::generate(record.spec.material_len());
        let version = VersionRecord {
            key_id: record.key_id,
            version_id,
            index: u32::try_from(index).unwrap_or(u32::MAX),
            created: now,
            sealed: Some(self.seal_material(&record.key_id, &version_id, &material)),
        };
        record.primary_version = Some(version_id);
        record.last_rotation = Some(now);
        version
    }

    fn seal_material(&self, key_id: &KeyId, version_id: &KeyVersionId, m: &Material) -> Vec<u8> {
        let (k, v) = (key_id.to_bytes(), version_id.to_bytes());
        self.keyring
            .seal(Purpose::KeyMaterial, &[&k, &v], m.expose_secret())
    }

    fn open_material(&self, version: &VersionRecord) -> Result<Material> {
        let sealed = version.sealed.as_ref().ok_or(Error::PendingImport)?;
        let (k, v) = (version.key_id.to_bytes(), version.version_id.to_bytes());
        self.keyring
            .open(Purpose::KeyMaterial, &[&k, &v], sealed)
            .map(Material::from_vec)
    }

    /// Writes `changes` to the store, then applies `update` to memory; on a store error neither
    /// changes.
    fn commit(
        &self,
        state: &mut State,
        changes: &[Change],
        update: impl FnOnce(&mut State),
    ) -> Result<()> {
        let generation = self.store.apply_at(state.generation, changes)?;
        update(state);
        state.generation = generation;
        Ok(())
    }
}

impl Drop for Kms {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(error = %e, "cannot persist KMS usage counters");
        }
    }
}

impl KeyEntry {
    fn version(&self, id: &KeyVersionId) -> Option<&VersionRecord> {
        self.versions.iter().find(|v| v.version_id == *id)
    }

    fn to_key_version(&self, v: &VersionRecord) -> KeyVersion {
        KeyVersion {
            key_id: self.record.key_id,
            key_version_id: v.version_id,
            creation_date: from_secs(v.created),
        }
    }
}

/// The state clients see: imported material past its expiry makes the key PendingImport even
/// before `tick` erases it.
fn effective_state(record: &KeyRecord, now: u64) -> KeyState {
    match record.state {
        KeyState::Enabled | KeyState::Disabled if material_expired(record, now) => {
            KeyState::PendingImport
        }
        s => s,
    }
}

fn material_expired(record: &KeyRecord, now: u64) -> bool {
    record.material_expire.is_some_and(|t| t <= now)
}

/// The state check of every cryptographic operation: only an Enabled key is usable, the others
/// answer `Rejected.Disabled`, `Rejected.PendingDeletion` or `Rejected.PendingImport`, as the
/// Alibaba Cloud KMS API reference lists for "Encrypt", "Decrypt" and "GenerateDataKey".
fn check_usable(record: &KeyRecord, now: u64) -> Result<()> {
    match effective_state(record, now) {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(Error::Disabled),
        KeyState::PendingDeletion => Err(Error::PendingDeletion),
        KeyState::PendingImport => Err(Error::PendingImport),
    }
}

/// Refuses changes to a service key. The KMS's own paths (rotation in `tick`) do not go through
/// the guarded operations.
fn guard_service_key(record: &KeyRecord) -> Result<()> {
    if record.service {
        return Err(Error::UnsupportedOperation(
            "the key is managed by coffer for a service",
        ));
    }
    Ok(())
}

fn put_key(record: &KeyRecord) -> Change {
    Change::Put {
        table: crate::store::KEYS,
        key: record::key_key(&record.key_id),
        value: record::encode(record),
    }
}

fn put_version(version: &VersionRecord) -> Change {
    Change::Put {
        table: crate::store::VERSIONS,
        key: record::version_key(&version.key_id, &version.version_id),
        value: record::encode(version),
    }
}

fn check_root_key(store: &dyn RecordStore, keyring: &Keyring) -> Result<()> {
    let meta = store.scan(crate::store::META)?;
    match meta.iter().find(|(k, _)| k == ROOT_CHECK_KEY) {
        Some((_, sealed)) => match keyring.open(Purpose::RootCheck, &[], sealed) {
            Ok(opened) if opened.as_slice() == ROOT_CHECK => Ok(()),
            _ => Err(Error::WrongRootKey),
        },
        None => Ok(store.apply(&[Change::Put {
            table: crate::store::META,
            key: ROOT_CHECK_KEY.to_vec(),
            value: keyring.seal(Purpose::RootCheck, &[], ROOT_CHECK),
        }])?),
    }
}

/// Reads the whole state. Each table is its own scan: on a store other processes write, reads
/// again until no batch landed between the first scan and the last, so the tables agree.
fn load_state(store: &dyn RecordStore) -> Result<State> {
    let mut attempts = 0;
    loop {
        let before = store.generation()?;
        let mut state = load_tables(store)?;
        let after = store.generation()?;
        attempts += 1;
        if before == after || attempts >= 20 {
            state.generation = before.filter(|_| before == after);
            return Ok(state);
        }
    }
}

fn load_tables(store: &dyn RecordStore) -> Result<State> {
    let mut state = State::default();
    for (_, v) in store.scan(crate::store::KEYS)? {
        let record: KeyRecord = record::decode(&v)?;
        state.next_seq = state.next_seq.max(record.seq + 1);
        state.keys.insert(
            record.key_id,
            KeyEntry {
                record,
                versions: Vec::new(),
            },
        );
    }
    for (_, v) in store.scan(crate::store::VERSIONS)? {
        let version: VersionRecord = record::decode(&v)?;
        match state.keys.get_mut(&version.key_id) {
            Some(entry) => entry.versions.push(version),
            None => {
                tracing::warn!(key_id = %version.key_id, "KMS store has a version without its key")
            }
        }
    }
    for entry in state.keys.values_mut() {
        // Table order is by version id; restore creation order.
        entry.versions.sort_by_key(|v| v.index);
    }
    for (k, v) in store.scan(crate::store::ALIASES)? {
        let (account, alias) = record::split_alias_key(&k)?;
        state.aliases.insert((account, alias), record::decode(&v)?);
    }
    for (k, v) in store.scan(crate::store::IMPORT_TOKENS)? {
        let digest: [u8; 32] = k
            .as_slice()
            .try_into()
            .map_err(|_| Error::internal(std::io::Error::other("malformed token key")))?;
        state.tokens.insert(digest, record::decode(&v)?);
    }
    Ok(state)
}
