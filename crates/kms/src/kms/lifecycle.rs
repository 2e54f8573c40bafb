//! Key lifecycle: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey, DisableKey,
//! ScheduleKeyDeletion, CancelKeyDeletion, and tags.

use std::time::SystemTime;

use super::{
    Event, KeyEntry, Kms, State, guard_service_key, material_expired, put_key, put_version,
};
use crate::audit::Operation;
use crate::caller::Caller;
use crate::id::{AccountId, KeyId, KeyRef};
use crate::key::{
    CreateKey, KeyFilter, KeyListEntry, KeyMetadata, KeyState, MAX_CREATE_ROTATION_INTERVAL,
    MAX_TAGS, MIN_ROTATION_INTERVAL, Origin, Page, Paged, RotationPolicy, Tag,
};
use crate::record::KeyRecord;
use crate::record::from_secs;
use crate::{Error, Result};

/// Longest key description, in characters.
const MAX_DESCRIPTION_CHARS: usize = 8192;
/// Bounds of ScheduleKeyDeletion's pending window, in days.
const MIN_PENDING_WINDOW_DAYS: u32 = 7;
const MAX_PENDING_WINDOW_DAYS: u32 = 366;

impl Kms {
    /// CreateKey: a new CMK in the caller's account. A KMS-generated key is Enabled with one version;
    /// an EXTERNAL key is PendingImport with none until [`Kms::import_key_material`].
    pub fn create_key(&self, caller: &Caller, request: CreateKey) -> Result<KeyMetadata> {
        self.observe(caller, Operation::CreateKey, |event| {
            validate_create(&request)?;
            let mut state = self.write();
            let entry = self.insert_key(
                &mut state,
                &caller.account_id,
                request,
                caller.account_id.to_string(),
                false,
            )?;
            event.key_id = Some(entry.record.key_id);
            event.key_version_id = entry.record.primary_version;
            Ok(self.metadata(&entry.record, self.now()))
        })
    }

    /// Builds and stores a key (and its first version, for a KMS-generated one).
    pub(super) fn insert_key(
        &self,
        state: &mut State,
        account: &AccountId,
        request: CreateKey,
        creator: String,
        service: bool,
    ) -> Result<KeyEntry> {
        let now = self.now();
        let mut key_id = KeyId::random();
        while state.keys.contains_key(&key_id) {
            key_id = KeyId::random();
        }
        let mut record = KeyRecord {
            key_id,
            account: account.clone(),
            seq: state.next_seq,
            creator,
            description: request.description,
            spec: request.key_spec,
            usage: request.key_usage,
            origin: request.origin,
            protection: request.protection_level,
            created: now,
            state: KeyState::PendingImport,
            delete_date: None,
            primary_version: None,
            last_rotation: None,
            rotation_interval: match request.rotation {
                RotationPolicy::Disabled => None,
                RotationPolicy::Automatic(d) => Some(d.as_secs()),
            },
            material_expire: None,
            material_commitment: None,
            service,
            tags: request.tags,
        };
        let mut versions = Vec::new();
        if record.origin == Origin::AliyunKms {
            versions.push(self.new_version(&mut record, 0, now));
            record.state = KeyState::Enabled;
        }
        let mut changes = vec![put_key(&record)];
        changes.extend(versions.iter().map(put_version));
        let entry = KeyEntry { record, versions };
        let stored = entry.clone();
        self.commit(state, &changes, move |state| {
            state.next_seq += 1;
            state.keys.insert(key_id, stored);
        })?;
        tracing::info!(key_id = %key_id, account = %account, "KMS key created");
        Ok(entry)
    }

    /// DescribeKey: works in every state.
    pub fn describe_key(&self, caller: &Caller, key: &KeyRef) -> Result<KeyMetadata> {
        self.observe(caller, Operation::DescribeKey, |event| {
            let state = self.read_finding(|s| self.resolve(s, caller, key).is_err());
            let entry = self.resolve(&state, caller, key)?;
            event.key_id = Some(entry.record.key_id);
            Ok(self.metadata(&entry.record, self.now()))
        })
    }

    /// ListKeys: the caller's keys in creation order, filtered by state and spec.
    pub fn list_keys(
        &self,
        caller: &Caller,
        filter: &KeyFilter,
        page: Page,
    ) -> Result<Paged<KeyListEntry>> {
        self.observe(caller, Operation::ListKeys, |_| {
            // A listing shows what other nodes just made.
            let state = self.read_finding(|_| true);
            let now = self.now();
            let mut keys: Vec<&KeyRecord> = state
                .keys
                .values()
                .map(|e| &e.record)
                .filter(|r| r.account == caller.account_id)
                .filter(|r| {
                    filter.key_states.is_empty()
                        || filter.key_states.contains(&super::effective_state(r, now))
                })
                .filter(|r| filter.key_specs.is_empty() || filter.key_specs.contains(&r.spec))
                .collect();
            keys.sort_by_key(|r| r.seq);
            Ok(page.cut(
                keys.into_iter()
                    .map(|r| KeyListEntry {
                        key_id: r.key_id,
                        key_arn: self.arn(r),
                    })
                    .collect(),
            ))
        })
    }

    /// UpdateKeyDescription.
    pub fn update_key_description(
        &self,
        caller: &Caller,
        key: &KeyRef,
        description: &str,
    ) -> Result<()> {
        self.observe(caller, Operation::UpdateKeyDescription, |event| {
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(Error::invalid("Description", "longer than 8192 characters"));
            }
            self.change_key(caller, key, event, |record, _| {
                record.description = description.to_owned();
                Ok(())
            })
        })
    }

    /// EnableKey: from Enabled or Disabled (idempotent).
    pub fn enable_key(&self, caller: &Caller, key: &KeyRef) -> Result<()> {
        self.observe(caller, Operation::EnableKey, |event| {
            self.set_enabled(caller, key, event, KeyState::Enabled)
        })
    }

    /// DisableKey: from Enabled or Disabled (idempotent). A disabled key refuses every
    /// cryptographic operation until enabled again.
    pub fn disable_key(&self, caller: &Caller, key: &KeyRef) -> Result<()> {
        self.observe(caller, Operation::DisableKey, |event| {
            self.set_enabled(caller, key, event, KeyState::Disabled)
        })
    }

    fn set_enabled(
        &self,
        caller: &Caller,
        key: &KeyRef,
        event: &mut Event,
        to: KeyState,
    ) -> Result<()> {
        self.change_key(caller, key, event, |record, now| {
            guard_service_key(record)?;
            match super::effective_state(record, now) {
                KeyState::Enabled | KeyState::Disabled => {
                    record.state = to;
                    Ok(())
                }
                KeyState::PendingDeletion | KeyState::PendingImport => {
                    Err(Error::StateModifiedFailed)
                }
            }
        })
    }

    /// ScheduleKeyDeletion: the key becomes PendingDeletion and is destroyed, with every version,
    /// by the first [`Kms::tick`] at or after the returned DeleteDate (`now` + 7 to 366 days).
    /// Every ciphertext under it is then unrecoverable.
    pub fn schedule_key_deletion(
        &self,
        caller: &Caller,
        key: &KeyRef,
        pending_window_days: u32,
    ) -> Result<SystemTime> {
        self.observe(caller, Operation::ScheduleKeyDeletion, |event| {
            if !(MIN_PENDING_WINDOW_DAYS..=MAX_PENDING_WINDOW_DAYS).contains(&pending_window_days) {
                return Err(Error::invalid("PendingWindowInDays", "must be 7 to 366"));
            }
            let mut delete_date = 0;
            self.change_key(caller, key, event, |record, now| {
                guard_service_key(record)?;
                if record.state == KeyState::PendingDeletion {
                    return Err(Error::StateModifiedFailed);
                }
                delete_date = now + u64::from(pending_window_days) * 86_400;
                record.state = KeyState::PendingDeletion;
                record.delete_date = Some(delete_date);
                Ok(())
            })?;
            tracing::info!(key = ?event.key_id, "KMS key scheduled for deletion");
            Ok(from_secs(delete_date))
        })
    }

    /// CancelKeyDeletion: only from PendingDeletion; the key comes back Disabled, or PendingImport
    /// if it has no usable material.
    pub fn cancel_key_deletion(&self, caller: &Caller, key: &KeyRef) -> Result<()> {
        self.observe(caller, Operation::CancelKeyDeletion, |event| {
            let mut state = self.write();
            let entry = self.resolve(&state, caller, key)?;
            event.key_id = Some(entry.record.key_id);
            guard_service_key(&entry.record)?;
            if entry.record.state != KeyState::PendingDeletion {
                return Err(Error::StateModifiedFailed);
            }
            let has_material = entry
                .record
                .primary_version
                .and_then(|v| entry.version(&v))
                .is_some_and(|v| v.sealed.is_some())
                && !material_expired(&entry.record, self.now());
            let mut record = entry.record.clone();
            record.state = if has_material {
                KeyState::Disabled
            } else {
                KeyState::PendingImport
            };
            record.delete_date = None;
            self.store_record(&mut state, record)
        })
    }

    /// TagResource: adds tags, replacing the values of existing keys; at most 20 per key.
    pub fn tag_resource(&self, caller: &Caller, key: &KeyRef, tags: Vec<Tag>) -> Result<()> {
        self.observe(caller, Operation::TagResource, |event| {
            for tag in &tags {
                tag.validate()?;
            }
            self.change_key(caller, key, event, |record, _| {
                for tag in tags {
                    match record.tags.iter_mut().find(|t| t.key == tag.key) {
                        Some(existing) => existing.value = tag.value,
                        None => record.tags.push(tag),
                    }
                }
                if record.tags.len() > MAX_TAGS {
                    return Err(Error::LimitExceeded("at most 20 tags per key"));
                }
                Ok(())
            })
        })
    }

    /// UntagResource: removes tags by key; absent keys are ignored.
    pub fn untag_resource(&self, caller: &Caller, key: &KeyRef, tag_keys: &[String]) -> Result<()> {
        self.observe(caller, Operation::UntagResource, |event| {
            self.change_key(caller, key, event, |record, _| {
                record.tags.retain(|t| !tag_keys.contains(&t.key));
                Ok(())
            })
        })
    }

    /// ListResourceTags.
    pub fn list_resource_tags(&self, caller: &Caller, key: &KeyRef) -> Result<Vec<Tag>> {
        self.observe(caller, Operation::ListResourceTags, |event| {
            let state = self.read_finding(|s| self.resolve(s, caller, key).is_err());
            let entry = self.resolve(&state, caller, key)?;
            event.key_id = Some(entry.record.key_id);
            Ok(entry.record.tags.clone())
        })
    }

    /// Resolves `key`, lets `change` modify a copy of its record (given `now`), and stores it.
    pub(super) fn change_key(
        &self,
        caller: &Caller,
        key: &KeyRef,
        event: &mut Event,
        change: impl FnOnce(&mut KeyRecord, u64) -> Result<()>,
    ) -> Result<()> {
        let mut state = self.write();
        let entry = self.resolve(&state, caller, key)?;
        event.key_id = Some(entry.record.key_id);
        let mut record = entry.record.clone();
        change(&mut record, self.now())?;
        self.store_record(&mut state, record)
    }

    /// Stores a changed key record and puts it in memory.
    pub(super) fn store_record(&self, state: &mut State, record: KeyRecord) -> Result<()> {
        let change = put_key(&record);
        self.commit(state, &[change], |state| {
            if let Some(entry) = state.keys.get_mut(&record.key_id) {
                entry.record = record;
            }
        })
    }
}

fn validate_create(request: &CreateKey) -> Result<()> {
    if request.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid("Description", "longer than 8192 characters"));
    }
    if request.tags.len() > MAX_TAGS {
        return Err(Error::LimitExceeded("at most 20 tags per key"));
    }
    for tag in &request.tags {
        tag.validate()?;
    }
    if let RotationPolicy::Automatic(interval) = request.rotation {
        if request.origin == Origin::External {
            return Err(Error::UnsupportedOperation(
                "imported keys do not rotate automatically",
            ));
        }
        if !(MIN_ROTATION_INTERVAL..=MAX_CREATE_ROTATION_INTERVAL).contains(&interval) {
            return Err(Error::invalid("RotationInterval", "must be 7 to 365 days"));
        }
    }
    Ok(())
}
