//! Key versions and rotation: CreateKeyVersion, ListKeyVersions, DescribeKeyVersion,
//! UpdateRotationPolicy. Automatic rotation itself runs in [`Kms::tick`].

use super::{Kms, guard_service_key, put_key, put_version};
use crate::audit::Operation;
use crate::caller::Caller;
use crate::id::{KeyRef, KeyVersionId};
use crate::key::{
    KeyState, KeyVersion, MAX_ROTATION_INTERVAL, MIN_ROTATION_INTERVAL, Origin, Page, Paged,
    RotationPolicy,
};
use crate::record::KeyRecord;
use crate::record::from_secs;
use crate::{Error, Result};

impl Kms {
    /// CreateKeyVersion: fresh material as a new primary version. Older versions keep decrypting
    /// what they encrypted until the key is deleted.
    pub fn create_key_version(&self, caller: &Caller, key: &KeyRef) -> Result<KeyVersion> {
        self.observe(caller, Operation::CreateKeyVersion, |event| {
            let mut state = self.write();
            let entry = self.resolve(&state, caller, key)?;
            event.key_id = Some(entry.record.key_id);
            guard_service_key(&entry.record)?;
            check_rotatable(&entry.record)?;
            let now = self.now();
            let too_soon = match (
                self.config.min_key_version_interval,
                entry.record.last_rotation,
            ) {
                (Some(min), Some(last)) => now < last.saturating_add(min.as_secs()),
                _ => false,
            };
            if too_soon {
                return Err(Error::LimitExceeded("key versions are created too often"));
            }
            let mut record = entry.record.clone();
            let version = self.new_version(&mut record, entry.versions.len(), now);
            event.key_version_id = Some(version.version_id);
            let key_id = record.key_id;
            let changes = [put_key(&record), put_version(&version)];
            let stored = version.clone();
            self.commit(&mut state, &changes, move |state| {
                if let Some(entry) = state.keys.get_mut(&key_id) {
                    entry.record = record;
                    entry.versions.push(stored);
                }
            })?;
            tracing::info!(key_id = %key_id, version = %version.version_id, "KMS key rotated");
            Ok(KeyVersion {
                key_id,
                key_version_id: version.version_id,
                creation_date: from_secs(version.created),
            })
        })
    }

    /// ListKeyVersions: in creation order.
    pub fn list_key_versions(
        &self,
        caller: &Caller,
        key: &KeyRef,
        page: Page,
    ) -> Result<Paged<KeyVersion>> {
        self.observe(caller, Operation::ListKeyVersions, |event| {
            let state = self.read_finding(|s| self.resolve(s, caller, key).is_err());
            let entry = self.resolve(&state, caller, key)?;
            event.key_id = Some(entry.record.key_id);
            Ok(page.cut(
                entry
                    .versions
                    .iter()
                    .map(|v| entry.to_key_version(v))
                    .collect(),
            ))
        })
    }

    /// DescribeKeyVersion.
    pub fn describe_key_version(
        &self,
        caller: &Caller,
        key: &KeyRef,
        version: &KeyVersionId,
    ) -> Result<KeyVersion> {
        self.observe(caller, Operation::DescribeKeyVersion, |event| {
            let state = self.read_finding(|s| self.resolve(s, caller, key).is_err());
            let entry = self.resolve(&state, caller, key)?;
            event.key_id = Some(entry.record.key_id);
            let v = entry.version(version).ok_or(Error::KeyVersionNotFound)?;
            event.key_version_id = Some(v.version_id);
            Ok(entry.to_key_version(v))
        })
    }

    /// UpdateRotationPolicy: automatic rotation on (every 7 to 730 days) or off. Takes effect at
    /// the next [`Kms::tick`]: a key whose last rotation is older than the new interval rotates
    /// then.
    pub fn update_rotation_policy(
        &self,
        caller: &Caller,
        key: &KeyRef,
        policy: RotationPolicy,
    ) -> Result<()> {
        self.observe(caller, Operation::UpdateRotationPolicy, |event| {
            let out_of_range = matches!(policy, RotationPolicy::Automatic(interval)
                if !(MIN_ROTATION_INTERVAL..=MAX_ROTATION_INTERVAL).contains(&interval));
            if out_of_range {
                return Err(Error::invalid("RotationInterval", "must be 7 to 730 days"));
            }
            self.change_key(caller, key, event, |record, _| {
                guard_service_key(record)?;
                check_rotatable(record)?;
                record.rotation_interval = match policy {
                    RotationPolicy::Disabled => None,
                    RotationPolicy::Automatic(d) => Some(d.as_secs()),
                };
                Ok(())
            })
        })
    }
}

/// Rotation needs a KMS-generated, Enabled key. Keys with imported material do not rotate
/// (Alibaba Cloud KMS documentation on importing key material: make a new key instead); the codes
/// for the other states are coffer's choice.
fn check_rotatable(record: &KeyRecord) -> Result<()> {
    if record.origin == Origin::External {
        return Err(Error::UnsupportedOperation(
            "imported keys do not rotate; create a new key instead",
        ));
    }
    match record.state {
        KeyState::Enabled => Ok(()),
        KeyState::Disabled => Err(Error::Disabled),
        KeyState::PendingDeletion => Err(Error::PendingDeletion),
        KeyState::PendingImport => Err(Error::UnsupportedOperation(
            "the key has no material to rotate",
        )),
    }
}
