//! Where identities persist: iam's tables in a [`coffer_records::RecordStore`] (a
//! [`RedbRecordStore`] in `iam.redb`, the default, or a [`MemoryRecordStore`] for tests and
//! servers that keep no RAM state).
//!
//! Records are encoded by iam (a format byte, then postcard; see `record.rs`) and every access key
//! secret in them is already sealed. [`Iam`](crate::Iam) keeps the whole directory in memory and
//! writes through, so `scan` runs only at open.

use std::path::Path;

use coffer_records::{MemoryRecordStore, RedbRecordStore, Table};

use crate::Result;

/// Store-wide values: the root-key check. The names are part of the on-disk format.
pub(crate) const META: Table = Table::new("meta");
/// User name → user record (with its group memberships and attached policies).
pub(crate) const USERS: Table = Table::new("users");
/// Group name → group record.
pub(crate) const GROUPS: Table = Table::new("groups");
/// Role name → role record (with its trust policy).
pub(crate) const ROLES: Table = Table::new("roles");
/// Policy name → custom policy record (with its document).
pub(crate) const POLICIES: Table = Table::new("policies");
/// Access key id → access key record (with the sealed secret).
pub(crate) const ACCESS_KEYS: Table = Table::new("access_keys");
/// Bucket name → bucket policy record.
pub(crate) const BUCKET_POLICIES: Table = Table::new("bucket_policies");

/// Every table of an identity store: open a [`coffer_records::RecordStore`] with these.
pub const TABLES: [Table; 7] = [
    META,
    USERS,
    GROUPS,
    ROLES,
    POLICIES,
    ACCESS_KEYS,
    BUCKET_POLICIES,
];

/// Opens (creating if missing, mode 0600) the identity store file at `path`, such as `iam.redb`
/// in the data directory. Refuses a file that group or others may read. Blocks; call at startup.
pub fn open_redb_store(path: &Path) -> Result<RedbRecordStore> {
    Ok(RedbRecordStore::open(path, &TABLES)?)
}

/// An empty identity store in memory.
pub fn memory_store() -> MemoryRecordStore {
    MemoryRecordStore::new(&TABLES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_conforms() {
        coffer_records::conformance::run_all(&|| {
            Box::new(coffer_records::MemoryRecordStore::new(
                &coffer_records::conformance::TABLES,
            ))
        });
        let store = memory_store();
        for table in TABLES {
            assert!(
                coffer_records::RecordStore::scan(&store, table)
                    .unwrap()
                    .is_empty()
            );
        }
    }
}
