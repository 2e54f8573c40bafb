//! The in-memory copy of the identity store, and the writes that change both.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::policy::{PolicyDocument, PolicyKind};
use crate::record::{
    self, AccessKeyRecord, BucketPolicyRecord, GroupRecord, PolicyRecord, RoleRecord, UserRecord,
};
use coffer_records::{Change, RecordStore, Table};

use crate::store::{ACCESS_KEYS, BUCKET_POLICIES, GROUPS, POLICIES, ROLES, USERS};
use crate::{Error, Principal, Result};

/// A custom policy with its parsed document.
#[derive(Debug, Clone)]
pub(crate) struct StoredPolicy {
    pub(crate) record: PolicyRecord,
    pub(crate) document: Arc<PolicyDocument>,
}

/// A role with its parsed trust policy.
#[derive(Debug, Clone)]
pub(crate) struct StoredRole {
    pub(crate) record: RoleRecord,
    pub(crate) trust: Arc<PolicyDocument>,
}

/// A bucket policy older versions kept here, waiting to move to its bucket in the metadata store.
#[derive(Debug, Clone)]
pub(crate) struct StoredBucketPolicy {
    pub(crate) record: BucketPolicyRecord,
    /// Parsed at load only so that a store holding a policy this version cannot read is refused
    /// at startup, as before; decisions take bucket policies from the metadata store.
    #[allow(dead_code)]
    pub(crate) document: Arc<PolicyDocument>,
}

/// Everything the identity store holds, decoded; documents parsed once.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub(crate) users: BTreeMap<String, UserRecord>,
    pub(crate) groups: BTreeMap<String, GroupRecord>,
    pub(crate) roles: BTreeMap<String, StoredRole>,
    pub(crate) policies: BTreeMap<String, StoredPolicy>,
    pub(crate) access_keys: BTreeMap<String, AccessKeyRecord>,
    pub(crate) bucket_policies: BTreeMap<String, StoredBucketPolicy>,
    /// The store's generation this was read at (`None`: a store only this process writes).
    pub(crate) generation: Option<u64>,
}

/// One write, as iam sees it; becomes a [`Change`] for the store and then updates the directory.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    PutUser(UserRecord),
    DeleteUser(String),
    PutGroup(GroupRecord),
    DeleteGroup(String),
    PutRole(StoredRole),
    DeleteRole(String),
    PutPolicy(StoredPolicy),
    DeletePolicy(String),
    PutKey(AccessKeyRecord),
    DeleteKey(String),
    /// Only tests write bucket policies here now (the layout older versions left behind).
    #[cfg_attr(not(any(test, feature = "testing")), allow(dead_code))]
    PutBucketPolicy(StoredBucketPolicy),
    DeleteBucketPolicy(String),
}

fn put(table: Table, key: &str, value: Vec<u8>) -> Change {
    Change::Put {
        table,
        key: key.as_bytes().to_vec(),
        value,
    }
}

fn delete(table: Table, key: &str) -> Change {
    Change::Delete {
        table,
        key: key.as_bytes().to_vec(),
    }
}

impl Op {
    pub(crate) fn change(&self) -> Change {
        match self {
            Op::PutUser(r) => put(USERS, &r.name, record::encode(r)),
            Op::DeleteUser(n) => delete(USERS, n),
            Op::PutGroup(r) => put(GROUPS, &r.name, record::encode(r)),
            Op::DeleteGroup(n) => delete(GROUPS, n),
            Op::PutRole(r) => put(ROLES, &r.record.name, record::encode(&r.record)),
            Op::DeleteRole(n) => delete(ROLES, n),
            Op::PutPolicy(p) => put(POLICIES, &p.record.name, record::encode(&p.record)),
            Op::DeletePolicy(n) => delete(POLICIES, n),
            Op::PutKey(k) => put(ACCESS_KEYS, &k.id, record::encode(k)),
            Op::DeleteKey(id) => delete(ACCESS_KEYS, id),
            Op::PutBucketPolicy(p) => {
                put(BUCKET_POLICIES, &p.record.bucket, record::encode(&p.record))
            }
            Op::DeleteBucketPolicy(b) => delete(BUCKET_POLICIES, b),
        }
    }
}

impl Directory {
    /// Reads and decodes the whole store; a record that does not decode or a stored document that
    /// no longer parses is an error (better refuse to start than silently drop a Deny).
    pub(crate) fn load(store: &dyn RecordStore) -> Result<Self> {
        // Each table is its own scan: on a store other processes write, load again until no
        // batch landed between the first scan and the last, so the tables agree.
        let mut attempts = 0;
        loop {
            let before = store.generation()?;
            let mut dir = Self::load_tables(store)?;
            let after = store.generation()?;
            attempts += 1;
            if before == after || attempts >= 20 {
                dir.generation = before.filter(|_| before == after);
                return Ok(dir);
            }
        }
    }

    fn load_tables(store: &dyn RecordStore) -> Result<Self> {
        let mut dir = Directory::default();
        for (_, v) in store.scan(USERS)? {
            let r: UserRecord = record::decode(&v)?;
            dir.users.insert(r.name.clone(), r);
        }
        for (_, v) in store.scan(GROUPS)? {
            let r: GroupRecord = record::decode(&v)?;
            dir.groups.insert(r.name.clone(), r);
        }
        for (_, v) in store.scan(ROLES)? {
            let record: RoleRecord = record::decode(&v)?;
            let trust = stored_document(PolicyKind::Trust, &record.trust_policy, &record.name)?;
            dir.roles
                .insert(record.name.clone(), StoredRole { record, trust });
        }
        for (_, v) in store.scan(POLICIES)? {
            let record: PolicyRecord = record::decode(&v)?;
            let document = stored_document(PolicyKind::Identity, &record.document, &record.name)?;
            dir.policies
                .insert(record.name.clone(), StoredPolicy { record, document });
        }
        for (_, v) in store.scan(ACCESS_KEYS)? {
            let r: AccessKeyRecord = record::decode(&v)?;
            dir.access_keys.insert(r.id.clone(), r);
        }
        for (_, v) in store.scan(BUCKET_POLICIES)? {
            let record: BucketPolicyRecord = record::decode(&v)?;
            let document = stored_document(PolicyKind::Bucket, &record.document, &record.bucket)?;
            dir.bucket_policies.insert(
                record.bucket.clone(),
                StoredBucketPolicy { record, document },
            );
        }
        Ok(dir)
    }

    /// Applies one committed write.
    pub(crate) fn apply(&mut self, op: Op) {
        match op {
            Op::PutUser(r) => {
                self.users.insert(r.name.clone(), r);
            }
            Op::DeleteUser(n) => {
                self.users.remove(&n);
            }
            Op::PutGroup(r) => {
                self.groups.insert(r.name.clone(), r);
            }
            Op::DeleteGroup(n) => {
                self.groups.remove(&n);
            }
            Op::PutRole(r) => {
                self.roles.insert(r.record.name.clone(), r);
            }
            Op::DeleteRole(n) => {
                self.roles.remove(&n);
            }
            Op::PutPolicy(p) => {
                self.policies.insert(p.record.name.clone(), p);
            }
            Op::DeletePolicy(n) => {
                self.policies.remove(&n);
            }
            Op::PutKey(k) => {
                self.access_keys.insert(k.id.clone(), k);
            }
            Op::DeleteKey(id) => {
                self.access_keys.remove(&id);
            }
            Op::PutBucketPolicy(p) => {
                self.bucket_policies.insert(p.record.bucket.clone(), p);
            }
            Op::DeleteBucketPolicy(b) => {
                self.bucket_policies.remove(&b);
            }
        }
    }

    /// The role with this UID.
    pub(crate) fn role_by_id(&self, id: &str) -> Option<&StoredRole> {
        self.roles.values().find(|r| r.record.id == id)
    }

    /// The policies that speak for `principal`: those attached to a user and to its groups, or to
    /// a session's role. Root and anonymous callers have none. A user or role deleted since the
    /// request authenticated has none either.
    pub(crate) fn identity_policies(&self, principal: &Principal) -> Vec<Arc<PolicyDocument>> {
        let names: Vec<&String> = match principal {
            Principal::User {
                user_id, user_name, ..
            } => match self.users.get(user_name).filter(|u| &u.id == user_id) {
                Some(user) => user
                    .policies
                    .iter()
                    .chain(
                        user.groups
                            .iter()
                            .filter_map(|g| self.groups.get(g))
                            .flat_map(|g| g.policies.iter()),
                    )
                    .collect(),
                None => Vec::new(),
            },
            Principal::RoleSession { role_id, .. } => match self.role_by_id(role_id) {
                Some(role) => role.record.policies.iter().collect(),
                None => Vec::new(),
            },
            Principal::Root { .. } | Principal::Anonymous => Vec::new(),
        };
        names
            .into_iter()
            .filter_map(|n| self.policies.get(n))
            .map(|p| p.document.clone())
            .collect()
    }
}

fn stored_document(kind: PolicyKind, text: &str, owner: &str) -> Result<Arc<PolicyDocument>> {
    PolicyDocument::parse_as(kind, text)
        .map(Arc::new)
        .map_err(|e| Error::corrupt(format!("stored {kind} of `{owner}` does not parse: {e}")))
}
