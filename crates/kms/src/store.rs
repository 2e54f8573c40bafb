//! Where the KMS keeps its state: a small key-value trait, [`KmsStore`], with two implementations,
//! [`RedbStore`] (one redb file, the default) and [`MemoryStore`] (tests).
//!
//! The store sees only opaque bytes: records are encoded by the KMS (a format byte, then postcard)
//! and every secret in them is already sealed under the root key. The KMS keeps a copy of the whole
//! state in memory and writes through, so `scan` runs only at open.

mod redb;

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use self::redb::RedbStore;
use crate::Result;

/// The tables of a KMS store. The names are part of the on-disk format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Store-wide values: the root-key check.
    Meta,
    /// Key id (16 bytes) → key record.
    Keys,
    /// Key id (16) ‖ version id (16) → version record (with the sealed material).
    Versions,
    /// Account ‖ 0x00 ‖ alias name → alias record.
    Aliases,
    /// SHA-256 of an import token → token record (with the sealed RSA private key).
    ImportTokens,
    /// (account, key id, operation) → usage counters.
    Usage,
}

impl Table {
    /// Every table, in a fixed order.
    pub const ALL: [Table; 6] = [
        Table::Meta,
        Table::Keys,
        Table::Versions,
        Table::Aliases,
        Table::ImportTokens,
        Table::Usage,
    ];

    /// The table's name in the store. Do not change: it names existing tables.
    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::Keys => "keys",
            Table::Versions => "versions",
            Table::Aliases => "aliases",
            Table::ImportTokens => "import_tokens",
            Table::Usage => "usage",
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

/// Durable storage of the KMS's records.
///
/// Implementations serve one process; the KMS serialises its own writes, so `apply` is never
/// called concurrently with itself by one `Kms`.
pub trait KmsStore: Send + Sync {
    /// Every entry of `table`, in key byte order.
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Applies all `changes` atomically (all or none, in order) and durably: once it returns `Ok`
    /// they survive a crash.
    fn apply(&self, changes: &[Change]) -> Result<()>;

    /// Called after key material has been destroyed (key deletion, DeleteKeyMaterial, material
    /// expiry): reclaims the space of deleted and replaced entries so that no stale copy of them
    /// stays readable in the underlying storage, as far as the backend can ensure it.
    fn scrub(&self) -> Result<()>;
}

/// A [`KmsStore`] in memory, for tests; nothing survives the value.
#[derive(Debug, Default)]
pub struct MemoryStore {
    tables: Mutex<BTreeMap<Table, Entries>>,
}

type Entries = BTreeMap<Vec<u8>, Vec<u8>>;

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl KmsStore for MemoryStore {
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

    fn scrub(&self) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// What every store must do; run against each implementation.
    pub(crate) fn conformance(store: &dyn KmsStore) {
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
                put(Table::Keys, b"b", b"2"),
                put(Table::Keys, b"a", b"1"),
                put(Table::Aliases, b"a", b"x"),
                put(Table::Keys, b"b", b"3"),
            ])
            .unwrap();
        assert_eq!(
            store.scan(Table::Keys).unwrap(),
            vec![
                (b"a".to_vec(), b"1".to_vec()),
                (b"b".to_vec(), b"3".to_vec())
            ]
        );
        store
            .apply(&[
                Change::Delete {
                    table: Table::Keys,
                    key: b"a".to_vec(),
                },
                Change::Delete {
                    table: Table::Keys,
                    key: b"zz".to_vec(),
                },
            ])
            .unwrap();
        assert_eq!(store.scan(Table::Keys).unwrap().len(), 1);
        assert_eq!(store.scan(Table::Aliases).unwrap().len(), 1);
        assert!(store.scan(Table::Versions).unwrap().is_empty());
        store.scrub().unwrap();
        assert_eq!(store.scan(Table::Keys).unwrap().len(), 1);
    }

    #[test]
    fn memory_store_conforms() {
        conformance(&MemoryStore::new());
    }
}
