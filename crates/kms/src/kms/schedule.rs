//! [`Kms::tick`]: the KMS's scheduled work — automatic rotation, deletion of keys whose pending
//! window has ended, expiry of imported material, removal of expired import tokens, and the
//! usage flush. The server calls it periodically; tests call it with explicit times.

use super::byok::{IMPORT_TOKEN_TTL_SECS, erase_material};
use super::{Kms, State, put_key, put_version};
use crate::Result;
use crate::audit::Operation;
use crate::caller::Caller;
use crate::id::KeyId;
use crate::key::{KeyState, Origin};
use crate::record;
use crate::record::to_secs;
use coffer_records::Change;

/// The audit principal of scheduled work.
const SCHEDULER_PRINCIPAL: &str = "kms:scheduler";

/// What one [`Kms::tick`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Keys that got a new primary version by automatic rotation.
    pub rotated: Vec<KeyId>,
    /// Keys destroyed at the end of their pending window, with all their versions and aliases.
    pub deleted: Vec<KeyId>,
    /// Imported keys whose material expired and was erased.
    pub expired: Vec<KeyId>,
}

enum Due {
    Delete,
    Expire,
    Rotate,
}

impl Kms {
    /// Performs everything due at `now`. Each key's change is its own store transaction, audited
    /// as done by `kms:scheduler`; after material was destroyed the store is scrubbed, so the
    /// destroyed (sealed) material is not left behind in the file.
    pub fn tick(&self, now: impl Into<coffer_types::Timestamp>) -> Result<TickReport> {
        let now = to_secs(now);
        let mut report = TickReport::default();
        let due: Vec<(KeyId, Due)> = {
            let state = self.read();
            state
                .keys
                .values()
                .filter_map(|e| {
                    let r = &e.record;
                    let due = if r.state == KeyState::PendingDeletion
                        && r.delete_date.is_some_and(|d| d <= now)
                    {
                        Due::Delete
                    } else if r.origin == Origin::External
                        && r.material_expire.is_some_and(|t| t <= now)
                    {
                        Due::Expire
                    } else if r.origin == Origin::AliyunKms
                        && r.state == KeyState::Enabled
                        && r.rotation_interval
                            .zip(r.last_rotation)
                            .is_some_and(|(i, last)| last.saturating_add(i) <= now)
                    {
                        Due::Rotate
                    } else {
                        return None;
                    };
                    Some((r.key_id, due))
                })
                .collect()
        };
        for (key_id, due) in due {
            let (account, operation) = {
                let state = self.read();
                let Some(entry) = state.keys.get(&key_id) else {
                    continue;
                };
                let operation = match due {
                    Due::Delete => Operation::KeyDeletion,
                    Due::Expire => Operation::KeyMaterialExpiry,
                    Due::Rotate => Operation::AutomaticRotation,
                };
                (entry.record.account.clone(), operation)
            };
            let caller = Caller::internal(account, SCHEDULER_PRINCIPAL);
            self.observe(&caller, operation, |event| {
                event.key_id = Some(key_id);
                let mut state = self.write();
                match due {
                    Due::Delete => self.delete_key_now(&mut state, key_id),
                    Due::Expire => self.expire_material(&mut state, key_id),
                    Due::Rotate => {
                        event.key_version_id = Some(self.rotate_now(&mut state, key_id, now)?);
                        Ok(())
                    }
                }
            })?;
            match due {
                Due::Delete => report.deleted.push(key_id),
                Due::Expire => report.expired.push(key_id),
                Due::Rotate => report.rotated.push(key_id),
            }
        }
        self.drop_expired_tokens(now)?;
        if !report.deleted.is_empty() || !report.expired.is_empty() {
            self.store.scrub()?;
        }
        self.flush()?;
        Ok(report)
    }

    /// Destroys a key: its record, every version (and so all its material), its aliases and its
    /// import tokens, in one transaction.
    fn delete_key_now(&self, state: &mut State, key_id: KeyId) -> Result<()> {
        let Some(entry) = state.keys.get(&key_id) else {
            return Ok(());
        };
        let mut changes = vec![Change::Delete {
            table: crate::store::KEYS,
            key: record::key_key(&key_id),
        }];
        changes.extend(entry.versions.iter().map(|v| Change::Delete {
            table: crate::store::VERSIONS,
            key: record::version_key(&key_id, &v.version_id),
        }));
        let aliases: Vec<_> = state
            .aliases
            .iter()
            .filter(|(_, a)| a.key_id == key_id)
            .map(|(slot, _)| slot.clone())
            .collect();
        changes.extend(aliases.iter().map(|(account, alias)| Change::Delete {
            table: crate::store::ALIASES,
            key: record::alias_key(account, alias),
        }));
        let tokens: Vec<[u8; 32]> = state
            .tokens
            .iter()
            .filter(|(_, t)| t.key_id == key_id)
            .map(|(d, _)| *d)
            .collect();
        changes.extend(tokens.iter().map(|d| Change::Delete {
            table: crate::store::IMPORT_TOKENS,
            key: d.to_vec(),
        }));
        self.commit(state, &changes, |state| {
            state.keys.remove(&key_id);
            for slot in &aliases {
                state.aliases.remove(slot);
            }
            for d in &tokens {
                state.tokens.remove(d);
            }
        })?;
        tracing::info!(key_id = %key_id, "KMS key deleted; its ciphertexts are now unrecoverable");
        Ok(())
    }

    fn expire_material(&self, state: &mut State, key_id: KeyId) -> Result<()> {
        let Some(entry) = state.keys.get(&key_id) else {
            return Ok(());
        };
        let (record, versions) = erase_material(&entry.record, &entry.versions);
        let mut changes = vec![put_key(&record)];
        changes.extend(versions.iter().map(put_version));
        self.commit(state, &changes, |state| {
            if let Some(entry) = state.keys.get_mut(&key_id) {
                entry.record = record;
                entry.versions = versions;
            }
        })?;
        tracing::info!(key_id = %key_id, "KMS imported key material expired");
        Ok(())
    }

    fn rotate_now(
        &self,
        state: &mut State,
        key_id: KeyId,
        now: u64,
    ) -> Result<crate::id::KeyVersionId> {
        let entry = state.keys.get(&key_id).ok_or(crate::Error::KeyNotFound)?;
        let mut record = entry.record.clone();
        let version = self.new_version(&mut record, entry.versions.len(), now);
        let version_id = version.version_id;
        let changes = [put_key(&record), put_version(&version)];
        self.commit(state, &changes, |state| {
            if let Some(entry) = state.keys.get_mut(&key_id) {
                entry.record = record;
                entry.versions.push(version);
            }
        })?;
        tracing::info!(key_id = %key_id, version = %version_id, "KMS key rotated automatically");
        Ok(version_id)
    }

    fn drop_expired_tokens(&self, now: u64) -> Result<()> {
        let mut state = self.write();
        let expired: Vec<[u8; 32]> = state
            .tokens
            .iter()
            // Kept a day past expiry so a late import hears ExpiredImportToken, not
            // InvalidImportToken.
            .filter(|(_, t)| t.expires.saturating_add(IMPORT_TOKEN_TTL_SECS) <= now)
            .map(|(d, _)| *d)
            .collect();
        if expired.is_empty() {
            return Ok(());
        }
        let changes: Vec<Change> = expired
            .iter()
            .map(|d| Change::Delete {
                table: crate::store::IMPORT_TOKENS,
                key: d.to_vec(),
            })
            .collect();
        self.commit(&mut state, &changes, |state| {
            for d in &expired {
                state.tokens.remove(d);
            }
        })
    }
}
