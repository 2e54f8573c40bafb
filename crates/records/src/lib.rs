//! Where iam and the KMS keep their records: a small, backend-neutral key-value trait,
//! [`RecordStore`], with two implementations, [`RedbRecordStore`] (one redb file, the default) and
//! [`MemoryRecordStore`] (tests, and servers that keep no state), and a [`conformance`] suite that
//! every implementation's tests run. A later PostgreSQL backend implements the same trait.
//!
//! The store sees only opaque bytes: its users encode records (a format byte, then postcard) and
//! seal every secret in them (`coffer_crypto::Sealer`) before handing them over. Both users keep
//! their whole state in memory and write through, so [`RecordStore::scan`] runs only at open.
//!
//! [`private_file`] holds the one check that files holding sealed keys are private (mode 0600).

#![warn(missing_docs)]

pub mod conformance;
mod memory;
pub mod private_file;
mod redb;

use std::fmt;

pub use self::memory::MemoryRecordStore;
pub use self::redb::RedbRecordStore;

/// What went wrong in a record store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be created, read or checked.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file that holds sealed keys may be read by group or others.
    #[error("{path} is readable by group or others (mode {mode:o}); run chmod 600 on it")]
    NotPrivate {
        /// The file.
        path: std::path::PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A table that the store was not opened with: a bug in the caller.
    #[error("table {0} is not one of the store's tables")]
    UnknownTable(&'static str),
    /// The backend failed (I/O, a damaged file, a lost connection).
    #[error("record store: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// [`RecordStore::apply_at`]: another writer changed the store since the generation the batch
    /// was planned at. Nothing was applied; read again and plan again.
    #[error("the record store changed since the batch was planned")]
    Stale,
}

impl Error {
    fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Backend(Box::new(e))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A table of a record store, named by its user. The name is part of the persisted format: it
/// names the table in the file (or the database), so never rename one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Table(&'static str);

impl Table {
    /// A table called `name`: 1 to 63 characters of `[a-z0-9_]`, so that it is a valid name in
    /// every backend. Checked at compile time when used in a `const`.
    ///
    /// # Panics
    /// On any other name.
    pub const fn new(name: &'static str) -> Self {
        let bytes = name.as_bytes();
        assert!(!bytes.is_empty() && bytes.len() < 64, "table name length");
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            assert!(
                b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_',
                "table names are [a-z0-9_]"
            );
            i += 1;
        }
        Self(name)
    }

    /// The table's name.
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Table({})", self.0)
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

impl Change {
    fn table(&self) -> Table {
        match self {
            Change::Put { table, .. } | Change::Delete { table, .. } => *table,
        }
    }
}

/// Durable storage of opaque records, in named tables fixed when the store is opened.
///
/// Every method may be called from several threads at once. The store offers no read-modify-write
/// primitive: a user that computes a batch from what it read (iam, the KMS) serialises its own
/// writers. Methods block; call them where blocking is allowed (at startup, or on a blocking
/// thread).
pub trait RecordStore: Send + Sync + fmt::Debug {
    /// Every entry of `table`, in ascending key byte order.
    ///
    /// Consistent: the result reflects every [`RecordStore::apply`] that returned before the call
    /// began, and of any running concurrently either all of its changes or none.
    /// [`Error::UnknownTable`] for a table the store was not opened with.
    fn scan(&self, table: Table) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;

    /// Applies all `changes`, in order (a later change to the same key wins), atomically and
    /// durably.
    ///
    /// - Atomic: on `Err` none of them is applied, and no reader ever sees part of the batch.
    /// - Durable: once it returns `Ok` the changes survive a crash of the process or the machine
    ///   (for a backend that persists at all; [`MemoryRecordStore`] keeps nothing past its value).
    /// - Concurrent writers: batches from several threads are serialised, each applied whole
    ///   before or after another, never interleaved.
    ///
    /// A change naming a table the store was not opened with fails the whole batch with
    /// [`Error::UnknownTable`].
    fn apply(&self, changes: &[Change]) -> Result<()>;

    /// Called after secret material has been deleted (KMS key deletion, DeleteKeyMaterial):
    /// reclaims the space of deleted and replaced entries so that no stale copy of them stays
    /// readable in the underlying storage, as far as the backend can ensure it. Changes no entry.
    /// May wait for, and hold up, other calls.
    fn scrub(&self) -> Result<()>;

    /// The store's generation, for stores that other processes write too (several nodes on one
    /// database): a number that grows with every batch any writer applies, read in one cheap
    /// query. A user that keeps the store's contents in memory compares it with the generation it
    /// loaded at to know whether to load again. `None` for a store only this process writes
    /// (a file it holds open, memory): what it holds in memory is always current.
    fn generation(&self) -> Result<Option<u64>> {
        Ok(None)
    }

    /// [`RecordStore::apply`] if the generation is still `expected`, in the same transaction:
    /// [`Error::Stale`] (and nothing applied) if another writer applied a batch since. Returns
    /// the generation after the batch. `expected` is what [`RecordStore::generation`] returned
    /// when the batch was planned; on a store without generations (`None`) this is `apply`.
    fn apply_at(&self, expected: Option<u64>, changes: &[Change]) -> Result<Option<u64>> {
        let _ = expected;
        self.apply(changes).map(|()| None)
    }
}

/// [`Error::UnknownTable`] for the first change naming a table not in `declared`: the check every
/// backend's [`RecordStore::apply`] makes before it changes anything.
pub fn check_tables(declared: &[Table], changes: &[Change]) -> Result<()> {
    match changes.iter().find(|c| !declared.contains(&c.table())) {
        Some(c) => Err(Error::UnknownTable(c.table().name())),
        None => Ok(()),
    }
}
