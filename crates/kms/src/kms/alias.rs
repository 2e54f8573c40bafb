//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases, ListAliasesByKeyId, and the
//! service path that owns the reserved `alias/acs/` names ([`Kms::default_oss_key`]).

use std::time::Duration;

use super::{Event, Kms, State};
use crate::audit::Operation;
use crate::caller::Caller;
use crate::id::{AccountId, AliasName, KeyId, KeyRef, alias_arn};
use crate::key::{CreateKey, KeyMetadata, KeyState, Page, Paged, RotationPolicy};
use crate::record::{self, AliasRecord};
use crate::{Error, Result};
use coffer_records::Change;

/// Most aliases one key may have.
const MAX_ALIASES_PER_KEY: usize = 50;
/// The alias of the key that protects an account's SSE-KMS objects when no key is named.
pub const OSS_DEFAULT_ALIAS: &str = "alias/acs/oss";
/// The audit principal of the service path.
const OSS_SERVICE_PRINCIPAL: &str = "service:oss";
/// Service keys rotate yearly (as cloud-managed keys do elsewhere).
const SERVICE_KEY_ROTATION: Duration = Duration::from_secs(365 * 86_400);

/// A ListAliases entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasEntry {
    /// `alias/...`.
    pub alias_name: AliasName,
    /// `acs:kms:<region>:<account>:alias/...`.
    pub alias_arn: String,
    /// The key it names.
    pub key_id: KeyId,
}

/// Attempts at the default key before a refused batch is an error: each refusal means another
/// node just wrote, so a handful covers any number of nodes starting together.
const DEFAULT_KEY_ATTEMPTS: usize = 8;

impl Kms {
    /// CreateAlias: `key` must be a key id or key ARN. Names under `alias/acs/` are refused
    /// ([`Error::UnsupportedAlias`]): only coffer's service path creates those.
    pub fn create_alias(&self, caller: &Caller, alias: &AliasName, key: &KeyRef) -> Result<()> {
        self.observe(caller, Operation::CreateAlias, |event| {
            refuse_reserved(alias)?;
            refuse_alias_target(key)?;
            let mut state = self.write();
            let target = self.resolve(&state, caller, key)?;
            let key_id = target.record.key_id;
            event.key_id = Some(key_id);
            if target.record.state == KeyState::PendingDeletion {
                return Err(Error::StateModifiedFailed);
            }
            let slot = (caller.account_id.clone(), alias.clone());
            if state.aliases.contains_key(&slot) {
                return Err(Error::AliasAlreadyExists);
            }
            check_alias_limit(&state, key_id)?;
            self.put_alias(&mut state, &caller.account_id, alias, key_id)
        })
    }

    /// UpdateAlias: points an existing alias at another key of the account.
    pub fn update_alias(&self, caller: &Caller, alias: &AliasName, key: &KeyRef) -> Result<()> {
        self.observe(caller, Operation::UpdateAlias, |event| {
            refuse_reserved(alias)?;
            refuse_alias_target(key)?;
            let mut state = self.write();
            let slot = (caller.account_id.clone(), alias.clone());
            if !state.aliases.contains_key(&slot) {
                return Err(Error::AliasNotFound);
            }
            let target = self.resolve(&state, caller, key)?;
            let key_id = target.record.key_id;
            event.key_id = Some(key_id);
            if target.record.state == KeyState::PendingDeletion {
                return Err(Error::PendingDeletion);
            }
            if state.aliases[&slot].key_id != key_id {
                check_alias_limit(&state, key_id)?;
            }
            self.put_alias(&mut state, &caller.account_id, alias, key_id)
        })
    }

    /// DeleteAlias: the key stays.
    pub fn delete_alias(&self, caller: &Caller, alias: &AliasName) -> Result<()> {
        self.observe(caller, Operation::DeleteAlias, |event| {
            refuse_reserved(alias)?;
            let mut state = self.write();
            let slot = (caller.account_id.clone(), alias.clone());
            let existing = state.aliases.get(&slot).ok_or(Error::AliasNotFound)?;
            event.key_id = Some(existing.key_id);
            let change = Change::Delete {
                table: crate::store::ALIASES,
                key: record::alias_key(&caller.account_id, alias),
            };
            self.commit(&mut state, &[change], |state| {
                state.aliases.remove(&slot);
            })
        })
    }

    /// ListAliases: the account's aliases (service aliases included) by name.
    pub fn list_aliases(&self, caller: &Caller, page: Page) -> Result<Paged<AliasEntry>> {
        self.observe(caller, Operation::ListAliases, |_| {
            // A listing shows what other nodes just made.
            let state = self.read_finding(|_| true);
            Ok(page.cut(self.aliases_of(&state, &caller.account_id, None)))
        })
    }

    /// ListAliasesByKeyId: the aliases naming one key.
    pub fn list_aliases_by_key_id(
        &self,
        caller: &Caller,
        key: &KeyRef,
        page: Page,
    ) -> Result<Paged<AliasEntry>> {
        self.observe(caller, Operation::ListAliasesByKeyId, |event| {
            let state = self.read_finding(|s| self.resolve(s, caller, key).is_err());
            let key_id = self.resolve(&state, caller, key)?.record.key_id;
            event.key_id = Some(key_id);
            Ok(page.cut(self.aliases_of(&state, &caller.account_id, Some(key_id))))
        })
    }

    /// The CMK behind `alias/acs/oss` in `account`: the key SSE-KMS uses when no key is named.
    /// Created (Enabled, AES-256, rotating yearly, creator `Oss`) on first use; concurrent first
    /// calls create exactly one. Users can use it but not disable, delete or reconfigure it.
    ///
    /// Several nodes on one store may make their first SSE-KMS request at once: the one whose
    /// batch lands first makes the key, the others' batches are refused as planned on an older
    /// generation, and they find its alias on their next attempt (which reads the store again).
    /// Such a refused attempt can leave one unused key behind (made before its alias was
    /// refused); never a second alias.
    pub fn default_oss_key(&self, account: &AccountId) -> Result<KeyMetadata> {
        for _ in 1..DEFAULT_KEY_ATTEMPTS {
            match self.make_default_oss_key(account) {
                Err(e) if e.is_stale() => continue,
                other => return other,
            }
        }
        self.make_default_oss_key(account)
    }

    fn make_default_oss_key(&self, account: &AccountId) -> Result<KeyMetadata> {
        let alias = AliasName::parse(OSS_DEFAULT_ALIAS).expect("a valid alias name");
        let slot = (account.clone(), alias.clone());
        {
            let state = self.read();
            if let Some(entry) = state
                .aliases
                .get(&slot)
                .and_then(|a| state.keys.get(&a.key_id))
            {
                return Ok(self.metadata(&entry.record, self.now()));
            }
        }
        let service = Caller::internal(account.clone(), OSS_SERVICE_PRINCIPAL);
        let mut state = self.write();
        // Another caller may have created it between the two locks.
        if let Some(entry) = state
            .aliases
            .get(&slot)
            .and_then(|a| state.keys.get(&a.key_id))
        {
            return Ok(self.metadata(&entry.record, self.now()));
        }
        let request = CreateKey {
            description: "Default key that protects OSS data when no other key is named".into(),
            rotation: RotationPolicy::Automatic(SERVICE_KEY_ROTATION),
            ..CreateKey::default()
        };
        let entry = self.observe(&service, Operation::CreateKey, |event: &mut Event| {
            let entry = self.insert_key(&mut state, account, request, "Oss".into(), true)?;
            event.key_id = Some(entry.record.key_id);
            event.key_version_id = entry.record.primary_version;
            Ok(entry)
        })?;
        let key_id = entry.record.key_id;
        self.observe(&service, Operation::CreateAlias, |event| {
            event.key_id = Some(key_id);
            self.put_alias(&mut state, account, &alias, key_id)
        })?;
        Ok(self.metadata(&entry.record, self.now()))
    }

    fn put_alias(
        &self,
        state: &mut State,
        account: &AccountId,
        alias: &AliasName,
        key_id: KeyId,
    ) -> Result<()> {
        let record = AliasRecord {
            key_id,
            created: self.now(),
        };
        let change = Change::Put {
            table: crate::store::ALIASES,
            key: record::alias_key(account, alias),
            value: record::encode(&record),
        };
        self.commit(state, &[change], |state| {
            state
                .aliases
                .insert((account.clone(), alias.clone()), record);
        })
    }

    fn aliases_of(
        &self,
        state: &State,
        account: &AccountId,
        key_id: Option<KeyId>,
    ) -> Vec<AliasEntry> {
        state
            .aliases
            .iter()
            .filter(|((a, _), r)| a == account && key_id.is_none_or(|k| k == r.key_id))
            .map(|((a, name), r)| AliasEntry {
                alias_name: name.clone(),
                alias_arn: alias_arn(&self.config.region, a, name),
                key_id: r.key_id,
            })
            .collect()
    }
}

fn refuse_reserved(alias: &AliasName) -> Result<()> {
    if alias.is_reserved() {
        return Err(Error::UnsupportedAlias(
            "alias/acs/ is reserved for keys coffer manages for services",
        ));
    }
    Ok(())
}

fn refuse_alias_target(key: &KeyRef) -> Result<()> {
    match key {
        KeyRef::Id(_) | KeyRef::KeyArn { .. } => Ok(()),
        KeyRef::Alias(_) | KeyRef::AliasArn { .. } => Err(Error::invalid(
            "KeyId",
            "an alias must name a key id or key ARN, not another alias",
        )),
    }
}

fn check_alias_limit(state: &State, key_id: KeyId) -> Result<()> {
    let count = state
        .aliases
        .values()
        .filter(|a| a.key_id == key_id)
        .count();
    if count >= MAX_ALIASES_PER_KEY {
        return Err(Error::LimitExceeded("at most 50 aliases per key"));
    }
    Ok(())
}
