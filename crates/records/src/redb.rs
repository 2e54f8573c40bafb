//! [`RedbRecordStore`]: a [`RecordStore`] in one redb file (copy-on-write B-trees, ACID,
//! crash-safe commits).

use std::path::Path;
use std::sync::{PoisonError, RwLock};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::{Change, Error, RecordStore, Result, Table, check_tables, private_file};

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

/// A [`RecordStore`] in one redb database file, such as `iam.redb` or `kms.redb` in the data
/// directory; each table is a redb table of that name.
///
/// Every `apply` is one write transaction with redb's default immediate durability (fsync at
/// commit); redb serialises write transactions and gives each read a snapshot. The database sits
/// behind a read-write lock only because [`RecordStore::scrub`] compacts it, which needs it
/// exclusively.
pub struct RedbRecordStore {
    db: RwLock<Database>,
    tables: Vec<Table>,
}

impl std::fmt::Debug for RedbRecordStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbRecordStore")
            .field("tables", &self.tables)
            .finish_non_exhaustive()
    }
}

impl RedbRecordStore {
    /// Opens the database at `path` with `tables`, creating the file (mode 0600) and any missing
    /// table. Refuses an existing file that group or others may read ([`Error::NotPrivate`]).
    /// Blocks; call it at startup.
    pub fn open(path: &Path, tables: &[Table]) -> Result<Self> {
        private_file::create_or_check(path)?;
        let db = Database::create(path).map_err(Error::backend)?;
        let txn = db.begin_write().map_err(Error::backend)?;
        for table in tables {
            txn.open_table(definition(*table)).map_err(Error::backend)?;
        }
        txn.commit().map_err(Error::backend)?;
        Ok(Self {
            db: RwLock::new(db),
            tables: tables.to_vec(),
        })
    }

    fn db(&self) -> std::sync::RwLockReadGuard<'_, Database> {
        // The lock guards no state of ours: redb's own transactions keep the file consistent.
        self.db.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl RecordStore for RedbRecordStore {
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if !self.tables.contains(&table) {
            return Err(Error::UnknownTable(table.name()));
        }
        let db = self.db();
        let txn = db.begin_read().map_err(Error::backend)?;
        let t = txn.open_table(definition(table)).map_err(Error::backend)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(Error::backend)? {
            let (k, v) = entry.map_err(Error::backend)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn apply(&self, changes: &[Change]) -> Result<()> {
        check_tables(&self.tables, changes)?;
        let db = self.db();
        let txn = db.begin_write().map_err(Error::backend)?;
        for change in changes {
            match change {
                Change::Put { table, key, value } => {
                    let mut t = txn.open_table(definition(*table)).map_err(Error::backend)?;
                    t.insert(key.as_slice(), value.as_slice())
                        .map_err(Error::backend)?;
                }
                Change::Delete { table, key } => {
                    let mut t = txn.open_table(definition(*table)).map_err(Error::backend)?;
                    t.remove(key.as_slice()).map_err(Error::backend)?;
                }
            }
        }
        // Dropping an uncommitted transaction (on any error above) aborts it: all or nothing.
        txn.commit().map_err(Error::backend)
    }

    /// Compacts the file: live pages move down over the freed ones and the tail is truncated, so
    /// pages that held deleted records are overwritten or cut off. (Copies the filesystem or the
    /// device may keep elsewhere are beyond the reach of any file format.)
    fn scrub(&self) -> Result<()> {
        let mut db = self.db.write().unwrap_or_else(PoisonError::into_inner);
        // Each call makes progress; redb documents that it returns false once nothing is left.
        for _ in 0..16 {
            if !db.compact().map_err(Error::backend)? {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn redb_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let n = AtomicUsize::new(0);
        conformance::run_all(&|| {
            let path = dir
                .path()
                .join(format!("{}.redb", n.fetch_add(1, Ordering::Relaxed)));
            Box::new(RedbRecordStore::open(&path, &conformance::TABLES).unwrap())
        });
    }

    #[test]
    fn redb_store_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        conformance::survives_reopen(&|| {
            Box::new(RedbRecordStore::open(&path, &conformance::TABLES).unwrap())
        });
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_private_and_a_readable_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        drop(RedbRecordStore::open(&path, &conformance::TABLES).unwrap());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            RedbRecordStore::open(&path, &conformance::TABLES),
            Err(Error::NotPrivate { mode: 0o644, .. })
        ));
    }

    /// Crypto-shredding at rest: once an entry is deleted and the store scrubbed, its bytes are
    /// nowhere in the file.
    #[test]
    fn scrub_leaves_no_copy_of_deleted_values_in_the_file() {
        let [a, b, _] = conformance::TABLES;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.redb");
        let store = RedbRecordStore::open(&path, &conformance::TABLES).unwrap();
        let secret: Vec<u8> = (0..61u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        let mut batch: Vec<Change> = (0..50u8)
            .map(|i| Change::Put {
                table: a,
                key: vec![i],
                value: vec![7u8; 300],
            })
            .collect();
        batch.push(Change::Put {
            table: a,
            key: b"victim".to_vec(),
            value: secret.clone(),
        });
        store.apply(&batch).unwrap();
        // Churn so that the victim's pages are not simply the last ones in the file.
        for i in 0..20u8 {
            store
                .apply(&[Change::Put {
                    table: b,
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
                table: a,
                key: b"victim".to_vec(),
            }])
            .unwrap();
        store.scrub().unwrap();
        assert_eq!(store.scan(a).unwrap().len(), 50);
        drop(store);
        assert!(!contains(&path), "deleted value still in the file");
    }
}
