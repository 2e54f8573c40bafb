//! [`RedbStore`]: the KMS store in one redb file (copy-on-write B-trees, ACID, crash-safe commits).

use std::path::Path;
use std::sync::Mutex;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Change, KmsStore, Table};
use crate::{Error, Result};

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

/// A [`KmsStore`] in one redb database file, such as `kms.redb`.
///
/// Every `apply` is one write transaction with redb's default immediate durability. The database
/// sits behind a mutex because [`KmsStore::scrub`] compacts it, which needs exclusive access.
pub struct RedbStore {
    db: Mutex<Database>,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore").finish_non_exhaustive()
    }
}

impl RedbStore {
    /// Opens the database at `path`, creating it (mode 0600 on Unix) and its tables if missing.
    /// Blocks; call it at startup.
    pub fn open(path: &Path) -> Result<Self> {
        create_private_file(path)?;
        let db = Database::create(path).map_err(Error::internal)?;
        let txn = db.begin_write().map_err(Error::internal)?;
        for table in Table::ALL {
            txn.open_table(definition(table)).map_err(Error::internal)?;
        }
        txn.commit().map_err(Error::internal)?;
        Ok(Self { db: Mutex::new(db) })
    }
}

/// Creates an empty file readable only by its owner, unless one exists (redb would create it with
/// the process umask).
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::internal(e)),
    }
}

impl KmsStore for RedbStore {
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let db = self.db.lock().expect("store lock poisoned");
        let txn = db.begin_read().map_err(Error::internal)?;
        let t = txn.open_table(definition(table)).map_err(Error::internal)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(Error::internal)? {
            let (k, v) = entry.map_err(Error::internal)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn apply(&self, changes: &[Change]) -> Result<()> {
        let db = self.db.lock().expect("store lock poisoned");
        let txn = db.begin_write().map_err(Error::internal)?;
        {
            for change in changes {
                match change {
                    Change::Put { table, key, value } => {
                        let mut t = txn
                            .open_table(definition(*table))
                            .map_err(Error::internal)?;
                        t.insert(key.as_slice(), value.as_slice())
                            .map_err(Error::internal)?;
                    }
                    Change::Delete { table, key } => {
                        let mut t = txn
                            .open_table(definition(*table))
                            .map_err(Error::internal)?;
                        t.remove(key.as_slice()).map_err(Error::internal)?;
                    }
                }
            }
        }
        txn.commit().map_err(Error::internal)
    }

    /// Compacts the file: live pages move down over the freed ones and the tail is truncated, so
    /// pages that held deleted records are overwritten or cut off. (Copies the filesystem or the
    /// device may keep elsewhere are beyond the reach of any file format.)
    fn scrub(&self) -> Result<()> {
        let mut db = self.db.lock().expect("store lock poisoned");
        // Each call makes progress; redb documents that it returns false once nothing is left.
        for _ in 0..16 {
            if !db.compact().map_err(Error::internal)? {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redb_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("kms.redb")).unwrap();
        crate::store::tests::conformance(&store);
    }

    #[test]
    fn redb_store_survives_reopen_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms.redb");
        {
            let store = RedbStore::open(&path).unwrap();
            store
                .apply(&[Change::Put {
                    table: Table::Keys,
                    key: b"k".to_vec(),
                    value: b"v".to_vec(),
                }])
                .unwrap();
        }
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.scan(Table::Keys).unwrap().len(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    /// Crypto-shredding at rest: once an entry is deleted and the store scrubbed, its bytes are
    /// nowhere in the file.
    #[test]
    fn scrub_leaves_no_copy_of_deleted_values_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kms.redb");
        let store = RedbStore::open(&path).unwrap();
        let secret: Vec<u8> = (0..61u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        let filler = vec![7u8; 300];
        let mut batch = Vec::new();
        for i in 0..50u8 {
            batch.push(Change::Put {
                table: Table::Versions,
                key: vec![i],
                value: filler.clone(),
            });
        }
        batch.push(Change::Put {
            table: Table::Versions,
            key: b"victim".to_vec(),
            value: secret.clone(),
        });
        store.apply(&batch).unwrap();
        // Churn so that the victim's pages are not simply the last ones in the file.
        for i in 0..20u8 {
            store
                .apply(&[Change::Put {
                    table: Table::Keys,
                    key: vec![i],
                    value: vec![i; 200],
                }])
                .unwrap();
        }
        let contains = |path: &Path| {
            let bytes = std::fs::read(path).unwrap();
            bytes.windows(secret.len()).any(|w| w == secret.as_slice())
        };
        assert!(contains(&path));
        store
            .apply(&[Change::Delete {
                table: Table::Versions,
                key: b"victim".to_vec(),
            }])
            .unwrap();
        store.scrub().unwrap();
        drop(store);
        assert!(!contains(&path), "deleted value still in the file");
    }
}
