//! [`RedbIdentityStore`]: the identity store in one redb file (copy-on-write B-trees, ACID,
//! crash-safe commits).

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use super::{Change, IdentityStore, Table};
use crate::{Error, Result};

fn definition(table: Table) -> TableDefinition<'static, &'static [u8], &'static [u8]> {
    TableDefinition::new(table.name())
}

/// An [`IdentityStore`] in one redb database file, such as `iam.redb` in the data directory.
///
/// Every `apply` is one write transaction with redb's default immediate durability.
pub struct RedbIdentityStore {
    db: Database,
}

impl std::fmt::Debug for RedbIdentityStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbIdentityStore").finish_non_exhaustive()
    }
}

impl RedbIdentityStore {
    /// Opens the database at `path`, creating it (mode 0600 on Unix) and its tables if missing.
    /// Refuses an existing file that group or others may read. Blocks; call it at startup.
    pub fn open(path: &Path) -> Result<Self> {
        create_private_file(path)?;
        let db = Database::create(path).map_err(Error::internal)?;
        let txn = db.begin_write().map_err(Error::internal)?;
        for table in Table::ALL {
            txn.open_table(definition(table)).map_err(Error::internal)?;
        }
        txn.commit().map_err(Error::internal)?;
        Ok(Self { db })
    }
}

/// Creates an empty file readable only by its owner, unless one exists (redb would create it with
/// the process umask); an existing file must not be readable by group or others.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map_err(Error::internal)?
                    .permissions()
                    .mode();
                if mode & 0o077 != 0 {
                    return Err(Error::corrupt(format!(
                        "{} is readable by group or others (mode {:o}); run chmod 600 on it",
                        path.display(),
                        mode & 0o777
                    )));
                }
            }
            Ok(())
        }
        Err(e) => Err(Error::internal(e)),
    }
}

impl IdentityStore for RedbIdentityStore {
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let txn = self.db.begin_read().map_err(Error::internal)?;
        let t = txn.open_table(definition(table)).map_err(Error::internal)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(Error::internal)? {
            let (k, v) = entry.map_err(Error::internal)?;
            out.push((k.value().to_vec(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn apply(&self, changes: &[Change]) -> Result<()> {
        let txn = self.db.begin_write().map_err(Error::internal)?;
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
        txn.commit().map_err(Error::internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redb_store_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbIdentityStore::open(&dir.path().join("iam.redb")).unwrap();
        crate::store::tests::conformance(&store);
    }

    #[test]
    fn redb_store_survives_reopen_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("iam.redb");
        {
            let store = RedbIdentityStore::open(&path).unwrap();
            store
                .apply(&[Change::Put {
                    table: Table::Users,
                    key: b"k".to_vec(),
                    value: b"v".to_vec(),
                }])
                .unwrap();
        }
        let store = RedbIdentityStore::open(&path).unwrap();
        assert_eq!(store.scan(Table::Users).unwrap().len(), 1);
        drop(store);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(RedbIdentityStore::open(&path).is_err());
        }
    }
}
