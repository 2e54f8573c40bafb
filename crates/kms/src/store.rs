//! Where the KMS keeps its state: its tables in a [`coffer_records::RecordStore`] (a
//! [`RedbRecordStore`] in `kms.redb`, the default, or a [`MemoryRecordStore`] for tests).
//!
//! Records are encoded by the KMS (a format byte, then postcard) and every secret in them is
//! already sealed under the root key. The KMS keeps a copy of the whole state in memory and writes
//! through, so `scan` runs only at open.

use std::path::Path;

use coffer_records::{MemoryRecordStore, RedbRecordStore, Table};

use crate::Result;

/// Store-wide values: the root-key check. The names are part of the on-disk format.
pub(crate) const META: Table = Table::new("meta");
/// Key id (16 bytes) → key record.
pub(crate) const KEYS: Table = Table::new("keys");
/// Key id (16) ‖ version id (16) → version record (with the sealed material).
pub(crate) const VERSIONS: Table = Table::new("versions");
/// Account ‖ 0x00 ‖ alias name → alias record.
pub(crate) const ALIASES: Table = Table::new("aliases");
/// SHA-256 of an import token → token record (with the sealed RSA private key).
pub(crate) const IMPORT_TOKENS: Table = Table::new("import_tokens");
/// (account, key id, operation) → usage counters.
pub(crate) const USAGE: Table = Table::new("usage");

/// Every table of a KMS store: open a [`coffer_records::RecordStore`] with these.
pub const TABLES: [Table; 6] = [META, KEYS, VERSIONS, ALIASES, IMPORT_TOKENS, USAGE];

/// Opens (creating if missing, mode 0600) the KMS store file at `path`, such as `kms.redb`.
/// Refuses a file that group or others may read. Blocks; call it at startup.
pub fn open_redb_store(path: &Path) -> Result<RedbRecordStore> {
    Ok(RedbRecordStore::open(path, &TABLES)?)
}

/// An empty KMS store in memory.
pub fn memory_store() -> MemoryRecordStore {
    MemoryRecordStore::new(&TABLES)
}
