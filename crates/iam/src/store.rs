//! Where identities persist: a small key-value trait, [`IdentityStore`], with two
//! implementations, [`RedbIdentityStore`] (one redb file, `iam.redb`, the default) and
//! [`MemoryIdentityStore`] (tests, and servers that keep no RAM state).
//!
//! The store sees only opaque bytes: records are encoded by iam (a format byte, then postcard;
//! see `record.rs`) and every access key secret in them is already sealed. [`Iam`](crate::Iam)
//! keeps the whole directory in memory and writes through, so `scan` runs only at open.

mod redb;

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use self::redb::RedbIdentityStore;
use crate::Result;

/// The tables of an identity store. The names are part of the on-disk format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Store-wide values: the root-key check.
    Meta,
    /// User name → user record (with its group memberships and attached policies).
    Users,
    /// Group name → group record.
    Groups,
    /// Role name → role record (with its trust policy).
    Roles,
    /// Policy name → custom policy record (with its document).
    Policies,
    /// Access key id → access key record (with the sealed secret).
    AccessKeys,
    /// Bucket name → bucket policy record.
    BucketPolicies,
}

impl Table {
    /// Every table, in a fixed order.
    pub const ALL: [Table; 7] = [
        Table::Meta,
        Table::Users,
        Table::Groups,
        Table::Roles,
        Table::Policies,
        Table::AccessKeys,
        Table::BucketPolicies,
    ];

    /// The table's name in the store. Do not change: it names existing tables.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Users => "users",
            Table::Groups => "groups",
            Table::Roles => "roles",
            Table::Policies => "policies",
            Table::AccessKeys => "access_keys",
            Table::BucketPolicies => "bucket_policies",
        }
    }
}

/// One write in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Insert or replace.
    Put {
        /// Which table.
        table: Table,
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// Remove if present.
    Delete {
        /// Which table.
        table: Table,
        /// The key.
        key: Vec<u8>,
    },
}

/// Durable storage of iam's records.
///
/// Implementations serve one process; [`Iam`](crate::Iam) serialises its own writes, so `apply`
/// is never called concurrently with itself by one `Iam`.
pub trait IdentityStore: Send + Sync {
    /// Every entry of `table`, in key byte order.
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Applies all `changes` atomically (all or none, in order) and durably: once it returns `Ok`
    /// they survive a crash.
    fn apply(&self, changes: &[Change]) -> Result<()>;
}

/// An [`IdentityStore`] in memory; nothing survives the value.
#[derive(Debug, Default)]
pub struct MemoryIdentityStore {
    tables: Mutex<BTreeMap<Table, Entries>>,
}

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

impl MemoryIdentityStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl IdentityStore for MemoryIdentityStore {
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let tables = self.tables.lock().expect("store lock poisoned");
        Ok(tables
            .get(&table)
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default())
    }

    fn apply(&self, changes: &[Change]) -> Result<()> {
        let mut tables = self.tables.lock().expect("store lock poisoned");
        for change in changes {
            match change {
                Change::Put { table, key, value } => {
                    tables
                        .entry(*table)
                        .or_default()
                        .insert(key.clone(), value.clone());
                }
                Change::Delete { table, key } => {
                    if let Some(t) = tables.get_mut(table) {
                        t.remove(key);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What every store must do; run against each implementation.
    pub(crate) fn conformance(store: &dyn IdentityStore) {
        for table in Table::ALL {
            assert!(store.scan(table).unwrap().is_empty());
        }
        let put = |table, key: &[u8], value: &[u8]| Change::Put {
            table,
            key: key.to_vec(),
            value: value.to_vec(),
        };
        store
            .apply(&[
                put(Table::Users, b"b", b"2"),
                put(Table::Users, b"a", b"1"),
                put(Table::Groups, b"a", b"x"),
                put(Table::Users, b"b", b"3"),
            ])
            .unwrap();
        assert_eq!(
            store.scan(Table::Users).unwrap(),
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"3".to_vec())
            ]
        );
        store
            .apply(&[
                Change::Delete {
                    table: Table::Users,
                    key: b"a".to_vec(),
                },
                Change::Delete {
                    table: Table::Users,
                    key: b"zz".to_vec(),
                },
            ])
            .unwrap();
        assert_eq!(store.scan(Table::Users).unwrap().len(), 1);
        assert_eq!(store.scan(Table::Groups).unwrap().len(), 1);
        assert!(store.scan(Table::AccessKeys).unwrap().is_empty());
    }

    #[test]
    fn memory_store_conforms() {
        conformance(&MemoryIdentityStore::new());
    }
}
