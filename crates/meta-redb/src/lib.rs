//! The embedded metadata backend of coffer, and its default: [`RedbMetaStore`] implements
//! [`coffer_meta::MetaStore`] in one [redb](https://docs.rs/redb) file (copy-on-write B-trees,
//! ACID transactions, crash-safe commits).
//!
//! Each read runs as one redb read transaction on Tokio's blocking pool, except a bucket read that
//! finds its record in the bucket cache (`cache` module: exact, because every bucket write
//! invalidates it once committed) and an object record read, a point read run on the calling
//! thread (`RedbMetaStore::run_here`). Writes go through a group
//! committer (one thread owning every write transaction): the writes that are waiting together are
//! applied one after another in one transaction, committed with redb's default
//! `Durability::Immediate` (one fsync for the batch), and each returns `Ok` only after that commit.
//! A write that fails is taken out and the batch applied again without it, so each write is still
//! atomic and durable once it returns `Ok`; readers see only committed, hence durable, state.
//!
//! This crate does not decide anything: conditions, blob tracking and errors are exactly what the
//! trait specifies, and record layouts belong to `coffer_meta::encode_record`. It serves one
//! process; it is not a replicated or shared store, and it never touches blob data.
//!
//! # Tables
//!
//! Bucket names and object keys never contain NUL (both are validated in `coffer_types`), so NUL
//! separates the parts of composite keys and sorts below every byte that can follow a name: the
//! byte order of a composite key is the order of its parts.
//!
//! | table | key | value |
//! |---|---|---|
//! | `buckets` | bucket name | `BucketRecord` (with the bucket policy: `encode_bucket`) |
//! | `objects` | bucket `0x00` object key | `ObjectRecord` |
//! | `uploads` | bucket `0x00` object key `0x00` upload id | `UploadRecord` |
//! | `upload_keys` | bucket `0x00` upload id | object key of the upload (UTF-8) |
//! | `parts` | bucket `0x00` upload id, part number as 4 bytes big-endian | `PartRecord` |
//! | `live_blobs` | blob id | `()` |
//! | `garbage` | blob id | `()` |
//!
//! Records are stored with `coffer_meta::encode_record` (a format byte, then postcard). A bucket's
//! objects are the range `[bucket 0x00, bucket 0x01)` of `objects`, in key byte order, so
//! `scan_objects` is one range scan; `uploads` sorts by (key, upload id) the same way.
//! `upload_keys` finds an upload's key from its id. Upload ids have a fixed length, so
//! `bucket 0x00 upload id` is a prefix of exactly that upload's parts, and big-endian part numbers
//! sort numerically.

mod cache;

use std::collections::HashSet;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use crate::cache::BucketCache;
use async_trait::async_trait;
use coffer_meta::{
    BucketRecord, Error, MetaStore, ObjectRecord, PartRecord, PutCondition, Result, UploadCursor,
    UploadRecord, decode_bucket, decode_record, encode_bucket, encode_record,
};
use coffer_types::{BlobId, BucketName, ObjectKey, UploadId};
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};

const BUCKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("buckets");
const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const UPLOADS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("uploads");
const UPLOAD_KEYS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("upload_keys");
const PARTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("parts");
const LIVE_BLOBS: TableDefinition<&str, ()> = TableDefinition::new("live_blobs");
const GARBAGE: TableDefinition<&str, ()> = TableDefinition::new("garbage");

/// Separates the parts of a composite key; never part of a bucket name, object key or upload id.
const SEP: u8 = 0x00;

/// A [`MetaStore`] in one redb database file.
#[derive(Clone)]
pub struct RedbMetaStore {
    db: Arc<Database>,
    committer: Arc<Committer>,
    buckets: Arc<BucketCache>,
}

impl std::fmt::Debug for RedbMetaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbMetaStore").finish_non_exhaustive()
    }
}

impl RedbMetaStore {
    /// Opens the database at `path`, creating it (mode 0600 on Unix) if it does not exist, and
    /// creating any missing tables. Blocks: call it at startup, not from a busy async task.
    pub fn open(path: &Path) -> Result<Self> {
        create_private_file(path)?;
        let db = Arc::new(create_tables(path)?);
        let committer = Arc::new(Committer::start(Arc::clone(&db))?);
        Ok(Self {
            db,
            committer,
            buckets: Arc::default(),
        })
    }

    /// Runs `op` on the blocking pool, where redb's synchronous I/O belongs.
    async fn run<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, Fail> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        match tokio::task::spawn_blocking(move || op(&db)).await {
            Ok(result) => result.map_err(Error::from),
            // The operation panicked (or the runtime is shutting down); its transaction was
            // dropped uncommitted, so nothing of it is stored.
            Err(join) => Err(Error::Internal(Box::new(join))),
        }
    }

    /// Runs the one-record read `op` on the calling thread. A point read is a B-tree descent of
    /// a few pages, almost always in redb's page cache; handing it to the blocking pool and
    /// back cost more than the read itself (measured in `bench/README.md`, "Small GETs"). A page
    /// that is not cached is read from the file on the async worker: a short positioned read.
    fn run_here<T, F>(&self, op: F) -> Result<T>
    where
        F: FnOnce(&Database) -> Result<T, Fail>,
    {
        op(&self.db).map_err(Error::from)
    }

    /// Runs `op` in a write transaction, together with the other writes that are waiting at the
    /// time (see [`Committer`]), and returns once that transaction is durably committed. If `op`
    /// fails, nothing it did is committed and the other writes are unaffected.
    async fn write<T, F>(&self, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> Result<T, Fail> + Send + 'static,
    {
        self.submit(op, None).await
    }

    /// [`Self::write`] for a write of bucket `name`'s record: the committer drops the record from
    /// the bucket cache after the commit and before answering, also if the caller has gone away.
    async fn write_bucket<T, F>(&self, name: &BucketName, op: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> Result<T, Fail> + Send + 'static,
    {
        let invalidates = (Arc::clone(&self.buckets), name.clone());
        self.submit(op, Some(invalidates)).await
    }

    async fn submit<T, F>(
        &self,
        op: F,
        invalidates: Option<(Arc<BucketCache>, BucketName)>,
    ) -> Result<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> Result<T, Fail> + Send + 'static,
    {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.committer.submit(Box::new(Write {
            op,
            outcome: None,
            invalidates,
            reply,
        }))?;
        match answer.await {
            Ok(result) => result,
            // The committer dropped the write without answering: it stopped (a panic in redb).
            Err(_) => Err(internal("the metadata committer stopped")),
        }
    }
}

fn internal(message: &str) -> Error {
    Error::Internal(Box::new(std::io::Error::other(message.to_owned())))
}

// ---------------------------------------------------------------------------------------------
// Group commit.

/// Most writes in one transaction. A write that fails makes the committer run the batch's
/// transaction again without it, so the batch is bounded to keep that retry cheap.
const MAX_BATCH: usize = 64;

/// Group commit: one thread owns every write transaction. It takes all the writes waiting when it
/// is free (at most [`MAX_BATCH`]), applies them one after another in one transaction, commits it
/// with redb's `Durability::Immediate` (one fsync for all of them), and only then answers each
/// of them. While it commits, new writes queue up and form the next batch, so the batch grows by
/// itself with the load and a lone write waits for no timer.
///
/// Each write stays atomic: a write that fails (a refused condition, a missing bucket, a storage
/// error, a panic) may have changed the transaction half-way, so the transaction is dropped
/// (aborted) and the batch is applied again from the start without it. Writes are plain
/// functions of the transaction's state, so applying one again gives the same result. Readers
/// never see a batch before it is durable, because redb shows them only committed transactions.
struct Committer {
    queue: Option<std::sync::mpsc::Sender<Box<dyn Pending>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Committer {
    fn start(db: Arc<Database>) -> Result<Self> {
        let (queue, pending) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("meta-commit".into())
            .spawn(move || {
                while let Ok(first) = pending.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match pending.try_recv() {
                            Ok(next) => batch.push(next),
                            Err(_) => break,
                        }
                    }
                    commit_batch(&db, batch);
                }
            })
            .map_err(|e| Error::Internal(Box::new(e)))?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    fn submit(&self, write: Box<dyn Pending>) -> Result<()> {
        match &self.queue {
            Some(queue) => queue
                .send(write)
                .map_err(|_| internal("the metadata committer stopped")),
            None => Err(internal("the metadata committer stopped")),
        }
    }
}

impl Drop for Committer {
    /// Closes the queue and waits for the thread to finish what it took, so that the database
    /// is closed (and can be opened again) once the last handle is gone.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A queued write, with its type erased.
trait Pending: Send {
    /// Applies the write to `txn`, keeping its outcome for [`Pending::answer`]; `false` if it
    /// failed, and then the transaction may hold part of it and must not be committed.
    fn apply(&mut self, txn: &WriteTransaction) -> bool;
    /// Answers the caller; `commit` is why the batch was not committed, if it was not.
    fn answer(self: Box<Self>, commit: Option<&dyn std::fmt::Display>);
}

struct Write<T, F> {
    op: F,
    outcome: Option<Result<T>>,
    /// The bucket cache entry this write may change, dropped before the caller is answered.
    invalidates: Option<(Arc<BucketCache>, BucketName)>,
    reply: tokio::sync::oneshot::Sender<Result<T>>,
}

impl<T, F> Pending for Write<T, F>
where
    T: Send + 'static,
    F: FnMut(&WriteTransaction) -> Result<T, Fail> + Send + 'static,
{
    fn apply(&mut self, txn: &WriteTransaction) -> bool {
        let op = &mut self.op;
        let outcome = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(txn))) {
            Ok(result) => result.map_err(Error::from),
            // The panic is printed by the hook; the write fails, and the others go on.
            Err(_) => Err(internal("a metadata write panicked")),
        };
        let applied = outcome.is_ok();
        self.outcome = Some(outcome);
        applied
    }

    fn answer(self: Box<Self>, commit: Option<&dyn std::fmt::Display>) {
        // Whatever the outcome (a failed commit may still have reached the disk), the cached
        // record can no longer be trusted; this runs after the commit, so a read that starts
        // later sees the new state.
        if let Some((cache, name)) = &self.invalidates {
            cache.invalidate(name);
        }
        let result = match (self.outcome, commit) {
            (Some(Ok(_)), Some(e)) => Err(internal(&format!("commit metadata: {e}"))),
            (Some(outcome), _) => outcome,
            (None, _) => Err(internal("a metadata write was not applied")),
        };
        // The caller may have gone away (a dropped request); the write stands regardless.
        let _ = self.reply.send(result);
    }
}

/// Applies `batch` in one transaction and commits it; see [`Committer`].
fn commit_batch(db: &Database, mut batch: Vec<Box<dyn Pending>>) {
    let mut failed: Vec<Box<dyn Pending>> = Vec::new();
    loop {
        if batch.is_empty() {
            break;
        }
        let txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(e) => {
                for write in batch {
                    write.answer(Some(&e));
                }
                break;
            }
        };
        match batch.iter_mut().position(|write| !write.apply(&txn)) {
            Some(bad) => {
                // Dropping the transaction aborts it; the writes before `bad` are applied again.
                drop(txn);
                failed.push(batch.remove(bad));
            }
            None => {
                let commit = txn.commit();
                for write in batch {
                    write.answer(commit.as_ref().err().map(|e| e as &dyn std::fmt::Display));
                }
                break;
            }
        }
    }
    // Answered last: their errors were found against writes that are now committed.
    for write in failed {
        write.answer(None);
    }
}

/// Creates an empty database file readable only by its owner, unless one exists. redb's own
/// `Database::create` would create it with the process umask.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::Internal(Box::new(e))),
    }
}

/// Opens the database and creates any missing table, so that read transactions find them all.
fn create_tables(path: &Path) -> Result<Database, Fail> {
    let db = Database::create(path)?;
    let txn = db.begin_write()?;
    txn.open_table(BUCKETS)?;
    txn.open_table(OBJECTS)?;
    txn.open_table(UPLOADS)?;
    txn.open_table(UPLOAD_KEYS)?;
    txn.open_table(PARTS)?;
    txn.open_table(LIVE_BLOBS)?;
    txn.open_table(GARBAGE)?;
    txn.commit()?;
    Ok(db)
}

/// Failure inside a transaction: a metadata error to return as is, or a redb error (which becomes
/// `Error::Internal`). Lets the operations use `?` on both.
enum Fail {
    Meta(Error),
    Db(redb::Error),
}

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail::Meta(e)
    }
}

impl From<Fail> for Error {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Meta(e) => e,
            Fail::Db(e) => Error::Internal(Box::new(e)),
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for Fail {
            fn from(e: $t) -> Self {
                Fail::Db(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

// ---------------------------------------------------------------------------------------------
// Composite keys.

/// `bucket 0x00 rest`.
fn bucket_key(bucket: &BucketName, rest: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(bucket.as_str().len() + 1 + rest.len());
    k.extend_from_slice(bucket.as_str().as_bytes());
    k.push(SEP);
    k.extend_from_slice(rest);
    k
}

/// The first key after every key that starts with `bucket 0x00`.
fn bucket_end(bucket: &BucketName) -> Vec<u8> {
    let mut k = bucket_key(bucket, &[]);
    if let Some(last) = k.last_mut() {
        *last = SEP + 1;
    }
    k
}

fn object_key(bucket: &BucketName, key: &ObjectKey) -> Vec<u8> {
    bucket_key(bucket, key.as_str().as_bytes())
}

fn upload_key(bucket: &BucketName, key: &ObjectKey, id: &UploadId) -> Vec<u8> {
    let mut k = object_key(bucket, key);
    k.push(SEP);
    k.extend_from_slice(id.as_str().as_bytes());
    k
}

fn upload_index_key(bucket: &BucketName, id: &UploadId) -> Vec<u8> {
    bucket_key(bucket, id.as_str().as_bytes())
}

/// `parts` key of part `number`; with `number` 0 (no part has it), the start of the upload's parts.
fn part_key(bucket: &BucketName, id: &UploadId, number: u32) -> Vec<u8> {
    let mut k = upload_index_key(bucket, id);
    k.extend_from_slice(&number.to_be_bytes());
    k
}

// ---------------------------------------------------------------------------------------------
// Steps of a transaction.

/// Whether `bucket` exists.
fn has_bucket(
    buckets: &impl ReadableTable<&'static str, &'static [u8]>,
    bucket: &BucketName,
) -> Result<bool, Fail> {
    Ok(buckets.get(bucket.as_str())?.is_some())
}

/// Fails with `NoSuchBucket` unless `bucket` exists.
fn require_bucket(
    buckets: &impl ReadableTable<&'static str, &'static [u8]>,
    bucket: &BucketName,
) -> Result<(), Fail> {
    if has_bucket(buckets, bucket)? {
        Ok(())
    } else {
        Err(Error::NoSuchBucket.into())
    }
}

/// The stored record of `bucket`, or `NoSuchBucket`.
fn stored_bucket(
    buckets: &impl ReadableTable<&'static str, &'static [u8]>,
    bucket: &BucketName,
) -> Result<BucketRecord, Fail> {
    match buckets.get(bucket.as_str())? {
        Some(v) => Ok(decode_bucket(v.value())?),
        None => Err(Error::NoSuchBucket.into()),
    }
}

/// Whether any key of `table` starts with `bucket 0x00`.
fn bucket_has_entries(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &BucketName,
) -> Result<bool, Fail> {
    let start = bucket_key(bucket, &[]);
    let end = bucket_end(bucket);
    Ok(table
        .range(start.as_slice()..end.as_slice())?
        .next()
        .transpose()?
        .is_some())
}

/// The `uploads` key of upload `id`, read from `upload_keys`; `None` if there is no such upload.
fn find_upload(
    upload_keys: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &BucketName,
    id: &UploadId,
) -> Result<Option<Vec<u8>>, Fail> {
    let Some(key) = upload_keys.get(upload_index_key(bucket, id).as_slice())? else {
        return Ok(None);
    };
    let mut k = bucket_key(bucket, key.value());
    k.push(SEP);
    k.extend_from_slice(id.as_str().as_bytes());
    Ok(Some(k))
}

/// Fails with `NoSuchUpload` unless upload `id` exists in `bucket`.
fn require_upload(
    upload_keys: &impl ReadableTable<&'static [u8], &'static [u8]>,
    bucket: &BucketName,
    id: &UploadId,
) -> Result<Vec<u8>, Fail> {
    find_upload(upload_keys, bucket, id)?.ok_or(Fail::Meta(Error::NoSuchUpload))
}

/// Removes upload `id` (its record and its index entry); `NoSuchUpload` if it is gone.
fn take_upload(txn: &WriteTransaction, bucket: &BucketName, id: &UploadId) -> Result<(), Fail> {
    let mut upload_keys = txn.open_table(UPLOAD_KEYS)?;
    let key = require_upload(&upload_keys, bucket, id)?;
    upload_keys.remove(upload_index_key(bucket, id).as_slice())?;
    let mut uploads = txn.open_table(UPLOADS)?;
    if uploads.remove(key.as_slice())?.is_none() {
        return Err(Error::Corrupt(format!("upload index names missing upload {id}")).into());
    }
    Ok(())
}

/// Removes every part of upload `id` and returns them.
fn take_parts(
    txn: &WriteTransaction,
    bucket: &BucketName,
    id: &UploadId,
) -> Result<Vec<PartRecord>, Fail> {
    let mut parts = txn.open_table(PARTS)?;
    let start = part_key(bucket, id, 0);
    let end = part_key(bucket, id, u32::MAX);
    let mut keys = Vec::new();
    let mut records = Vec::new();
    for entry in parts.range(start.as_slice()..=end.as_slice())? {
        let (key, value) = entry?;
        keys.push(key.value().to_vec());
        records.push(decode_record::<PartRecord>(value.value())?);
    }
    for key in keys {
        parts.remove(key.as_slice())?;
    }
    Ok(records)
}

/// Writes `object` under `condition`, tracks blobs, and returns the object it replaced. The
/// replaced object's blobs and `also_dropped` become garbage unless `object` names them.
fn replace_object(
    txn: &WriteTransaction,
    bucket: &BucketName,
    object: &ObjectRecord,
    condition: PutCondition,
    also_dropped: &[BlobId],
) -> Result<Option<ObjectRecord>, Fail> {
    let mut objects = txn.open_table(OBJECTS)?;
    let key = object_key(bucket, &object.key);
    let old = objects
        .get(key.as_slice())?
        .map(|v| decode_record::<ObjectRecord>(v.value()))
        .transpose()?;
    condition.check(old.as_ref())?;
    objects.insert(key.as_slice(), encode_record(object).as_slice())?;

    let mut blobs = Blobs::open(txn)?;
    let kept = blobs.adopt(object.segments.iter().map(|s| &s.blob))?;
    let old_blobs = old.iter().flat_map(|o| o.segments.iter().map(|s| &s.blob));
    blobs.retire(old_blobs.chain(also_dropped), &kept)?;
    Ok(old)
}

/// The blob sets, open in one write transaction.
struct Blobs<'t> {
    live: Table<'t, &'static str, ()>,
    garbage: Table<'t, &'static str, ()>,
}

impl<'t> Blobs<'t> {
    fn open(txn: &'t WriteTransaction) -> Result<Self, Fail> {
        Ok(Self {
            live: txn.open_table(LIVE_BLOBS)?,
            garbage: txn.open_table(GARBAGE)?,
        })
    }

    /// Makes `ids` live and returns them, for [`Blobs::retire`] to keep.
    fn adopt<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a BlobId>,
    ) -> Result<HashSet<&'a BlobId>, Fail> {
        let mut adopted = HashSet::new();
        for id in ids {
            self.live.insert(id.as_str(), ())?;
            // A blob a record names must never be swept, even if a confused caller reuses a
            // garbage id: being live wins.
            self.garbage.remove(id.as_str())?;
            adopted.insert(id);
        }
        Ok(adopted)
    }

    /// Moves `ids` from live to garbage, except those in `kept`.
    fn retire<'a>(
        &mut self,
        ids: impl IntoIterator<Item = &'a BlobId>,
        kept: &HashSet<&BlobId>,
    ) -> Result<(), Fail> {
        for id in ids {
            if !kept.contains(id) {
                self.live.remove(id.as_str())?;
                self.garbage.insert(id.as_str(), ())?;
            }
        }
        Ok(())
    }
}

/// Where a scan starts: a key, and whether that key itself is excluded.
type Start = (Vec<u8>, bool);

fn start_bound(start: &Start) -> Bound<&[u8]> {
    if start.1 {
        Bound::Excluded(start.0.as_slice())
    } else {
        Bound::Included(start.0.as_slice())
    }
}

// ---------------------------------------------------------------------------------------------
// The trait.

#[async_trait]
impl MetaStore for RedbMetaStore {
    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()> {
        let name = bucket.name.clone();
        self.write_bucket(&name, move |txn| {
            let mut buckets = txn.open_table(BUCKETS)?;
            if has_bucket(&buckets, &bucket.name)? {
                return Err(Error::BucketExists.into());
            }
            buckets.insert(bucket.name.as_str(), encode_bucket(&bucket).as_slice())?;
            Ok(())
        })
        .await
    }

    async fn bucket(&self, name: &BucketName) -> Result<Option<BucketRecord>> {
        let since = match self.buckets.get(name) {
            Ok(cached) => return Ok(Some(cached)),
            Err(since) => since,
        };
        let name = name.clone();
        let record = self
            .run(move |db| {
                let txn = db.begin_read()?;
                let buckets = txn.open_table(BUCKETS)?;
                let record = buckets
                    .get(name.as_str())?
                    .map(|v| decode_bucket(v.value()))
                    .transpose()?;
                Ok(record)
            })
            .await?;
        if let Some(record) = &record {
            self.buckets.insert(since, record);
        }
        Ok(record)
    }

    async fn update_bucket(&self, bucket: BucketRecord) -> Result<()> {
        let name = bucket.name.clone();
        self.write_bucket(&name, move |txn| {
            let mut buckets = txn.open_table(BUCKETS)?;
            let stored = stored_bucket(&buckets, &bucket.name)?;
            let updated = BucketRecord {
                policy: stored.policy,
                ..bucket.clone()
            };
            buckets.insert(updated.name.as_str(), encode_bucket(&updated).as_slice())?;
            Ok(())
        })
        .await
    }

    async fn set_bucket_policy(&self, name: &BucketName, policy: Option<String>) -> Result<()> {
        let name = name.clone();
        self.write_bucket(&name.clone(), move |txn| {
            let mut buckets = txn.open_table(BUCKETS)?;
            let stored = stored_bucket(&buckets, &name)?;
            let updated = BucketRecord {
                policy: policy.clone(),
                ..stored
            };
            buckets.insert(name.as_str(), encode_bucket(&updated).as_slice())?;
            Ok(())
        })
        .await
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        self.run(move |db| {
            let txn = db.begin_read()?;
            let buckets = txn.open_table(BUCKETS)?;
            let mut out = Vec::new();
            for entry in buckets.iter()? {
                let (_, value) = entry?;
                out.push(decode_bucket(value.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn delete_bucket(&self, name: &BucketName) -> Result<()> {
        let name = name.clone();
        self.write_bucket(&name.clone(), move |txn| {
            let mut buckets = txn.open_table(BUCKETS)?;
            require_bucket(&buckets, &name)?;
            if bucket_has_entries(&txn.open_table(OBJECTS)?, &name)?
                || bucket_has_entries(&txn.open_table(UPLOADS)?, &name)?
            {
                return Err(Error::BucketNotEmpty.into());
            }
            buckets.remove(name.as_str())?;
            Ok(())
        })
        .await
    }

    async fn object(&self, bucket: &BucketName, key: &ObjectKey) -> Result<Option<ObjectRecord>> {
        let key = object_key(bucket, key);
        self.run_here(move |db| {
            let txn = db.begin_read()?;
            let objects = txn.open_table(OBJECTS)?;
            let record = objects
                .get(key.as_slice())?
                .map(|v| decode_record(v.value()))
                .transpose()?;
            Ok(record)
        })
    }

    async fn put_object(
        &self,
        bucket: &BucketName,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> Result<Option<ObjectRecord>> {
        let bucket = bucket.clone();
        self.write(move |txn| {
            require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
            replace_object(txn, &bucket, &object, condition, &[])
        })
        .await
    }

    async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Option<ObjectRecord>> {
        let key = object_key(bucket, key);
        self.write(move |txn| {
            let old = txn
                .open_table(OBJECTS)?
                .remove(key.as_slice())?
                .map(|v| decode_record::<ObjectRecord>(v.value()))
                .transpose()?;
            if let Some(old) = &old {
                let mut blobs = Blobs::open(txn)?;
                blobs.retire(old.segments.iter().map(|s| &s.blob), &HashSet::new())?;
            }
            Ok(old)
        })
        .await
    }

    async fn scan_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        from: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let bucket = bucket.clone();
        let prefix = bucket_key(&bucket, prefix.as_bytes());
        let from = bucket_key(&bucket, from.as_bytes());
        self.run(move |db| {
            let txn = db.begin_read()?;
            require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
            let mut out = Vec::new();
            if limit == 0 {
                return Ok(out);
            }
            let objects = txn.open_table(OBJECTS)?;
            let start = prefix.as_slice().max(from.as_slice());
            let end = bucket_end(&bucket);
            for entry in objects.range(start..end.as_slice())? {
                let (key, value) = entry?;
                // Keys with the prefix are contiguous: the first one without it ends the scan.
                if !key.value().starts_with(&prefix) {
                    break;
                }
                out.push(decode_record(value.value())?);
                if out.len() == limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    async fn create_upload(&self, bucket: &BucketName, upload: UploadRecord) -> Result<()> {
        let bucket = bucket.clone();
        self.write(move |txn| {
            require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
            let key = upload_key(&bucket, &upload.key, &upload.upload_id);
            txn.open_table(UPLOADS)?
                .insert(key.as_slice(), encode_record(&upload).as_slice())?;
            txn.open_table(UPLOAD_KEYS)?.insert(
                upload_index_key(&bucket, &upload.upload_id).as_slice(),
                upload.key.as_str().as_bytes(),
            )?;
            Ok(())
        })
        .await
    }

    async fn upload(&self, bucket: &BucketName, id: &UploadId) -> Result<Option<UploadRecord>> {
        let (bucket, id) = (bucket.clone(), id.clone());
        self.run(move |db| {
            let txn = db.begin_read()?;
            let Some(key) = find_upload(&txn.open_table(UPLOAD_KEYS)?, &bucket, &id)? else {
                return Ok(None);
            };
            let uploads = txn.open_table(UPLOADS)?;
            let Some(value) = uploads.get(key.as_slice())? else {
                return Err(
                    Error::Corrupt(format!("upload index names missing upload {id}")).into(),
                );
            };
            Ok(Some(decode_record(value.value())?))
        })
        .await
    }

    async fn put_part(&self, bucket: &BucketName, id: &UploadId, part: PartRecord) -> Result<()> {
        let (bucket, id) = (bucket.clone(), id.clone());
        self.write(move |txn| {
            require_upload(&txn.open_table(UPLOAD_KEYS)?, &bucket, &id)?;
            let key = part_key(&bucket, &id, part.part_number);
            let old = txn
                .open_table(PARTS)?
                .insert(key.as_slice(), encode_record(&part).as_slice())?
                .map(|v| decode_record::<PartRecord>(v.value()))
                .transpose()?;
            let mut blobs = Blobs::open(txn)?;
            let kept = blobs.adopt([&part.segment.blob])?;
            blobs.retire(old.iter().map(|p| &p.segment.blob), &kept)?;
            Ok(())
        })
        .await
    }

    async fn parts(
        &self,
        bucket: &BucketName,
        id: &UploadId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>> {
        let (bucket, id) = (bucket.clone(), id.clone());
        self.run(move |db| {
            let txn = db.begin_read()?;
            require_upload(&txn.open_table(UPLOAD_KEYS)?, &bucket, &id)?;
            let mut out = Vec::new();
            let Some(first) = after.checked_add(1) else {
                return Ok(out);
            };
            if limit == 0 {
                return Ok(out);
            }
            let parts = txn.open_table(PARTS)?;
            let start = part_key(&bucket, &id, first);
            let end = part_key(&bucket, &id, u32::MAX);
            for entry in parts.range(start.as_slice()..=end.as_slice())? {
                let (_, value) = entry?;
                out.push(decode_record(value.value())?);
                if out.len() == limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    async fn complete_upload(
        &self,
        bucket: &BucketName,
        id: &UploadId,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> Result<Option<ObjectRecord>> {
        let (bucket, id) = (bucket.clone(), id.clone());
        self.write(move |txn| {
            // A refused condition below returns before commit, which undoes these removals.
            take_upload(txn, &bucket, &id)?;
            let parts = take_parts(txn, &bucket, &id)?;
            let part_blobs: Vec<BlobId> = parts.into_iter().map(|p| p.segment.blob).collect();
            replace_object(txn, &bucket, &object, condition, &part_blobs)
        })
        .await
    }

    async fn abort_upload(&self, bucket: &BucketName, id: &UploadId) -> Result<()> {
        let (bucket, id) = (bucket.clone(), id.clone());
        self.write(move |txn| {
            take_upload(txn, &bucket, &id)?;
            let parts = take_parts(txn, &bucket, &id)?;
            let mut blobs = Blobs::open(txn)?;
            blobs.retire(parts.iter().map(|p| &p.segment.blob), &HashSet::new())?;
            Ok(())
        })
        .await
    }

    async fn scan_uploads(
        &self,
        bucket: &BucketName,
        prefix: &str,
        after: &UploadCursor,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        let bucket = bucket.clone();
        // No stored key holds a NUL, so neither does a key starting with such a prefix; and the
        // prefix test below, made on whole `uploads` keys, would wrongly match the separator.
        let impossible = prefix.contains('\0');
        let prefix = bucket_key(&bucket, prefix.as_bytes());
        let after = cursor_start(&bucket, after);
        self.run(move |db| {
            let txn = db.begin_read()?;
            require_bucket(&txn.open_table(BUCKETS)?, &bucket)?;
            let mut out = Vec::new();
            if limit == 0 || impossible {
                return Ok(out);
            }
            let uploads = txn.open_table(UPLOADS)?;
            // The later of the prefix and the cursor; on a tie the cursor's exclusion wins.
            let start = (prefix.clone(), false).max(after);
            let end = bucket_end(&bucket);
            let range = (start_bound(&start), Bound::Excluded(end.as_slice()));
            for entry in uploads.range::<&[u8]>(range)? {
                let (key, value) = entry?;
                // Keys with the prefix are contiguous: the first one without it ends the scan.
                if !key.value().starts_with(&prefix) {
                    break;
                }
                out.push(decode_record(value.value())?);
                if out.len() == limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    async fn garbage(&self, limit: usize) -> Result<Vec<BlobId>> {
        self.run(move |db| {
            let txn = db.begin_read()?;
            let garbage = txn.open_table(GARBAGE)?;
            let mut out = Vec::new();
            for entry in garbage.iter()?.take(limit) {
                let (id, _) = entry?;
                let id = BlobId::parse(id.value())
                    .ok_or_else(|| Error::Corrupt(format!("bad blob id {:?}", id.value())))?;
                out.push(id);
            }
            Ok(out)
        })
        .await
    }

    async fn forget_garbage(&self, ids: &[BlobId]) -> Result<()> {
        let ids = ids.to_vec();
        self.write(move |txn| {
            let mut garbage = txn.open_table(GARBAGE)?;
            for id in &ids {
                garbage.remove(id.as_str())?;
            }
            Ok(())
        })
        .await
    }

    async fn is_blob_known(&self, id: &BlobId) -> Result<bool> {
        let id = id.clone();
        self.run(move |db| {
            let txn = db.begin_read()?;
            Ok(txn.open_table(LIVE_BLOBS)?.get(id.as_str())?.is_some()
                || txn.open_table(GARBAGE)?.get(id.as_str())?.is_some())
        })
        .await
    }
}

/// Where a listing of uploads strictly after `cursor` starts in `uploads`.
fn cursor_start(bucket: &BucketName, cursor: &UploadCursor) -> Start {
    // A cursor key can come from a client and hold a NUL, which stored keys never do. For such
    // a key `p NUL rest`, the stored keys after it are exactly those after `p`, with all of `p`'s
    // own uploads skipped.
    let (key, upload_id) = match cursor.key.split_once('\0') {
        Some((before, _)) => (before, None),
        None => (cursor.key.as_str(), cursor.upload_id.as_deref()),
    };
    let mut start = bucket_key(bucket, key.as_bytes());
    match upload_id {
        Some(id) => {
            start.push(SEP);
            start.extend_from_slice(id.as_bytes());
            (start, true)
        }
        None => {
            // Every upload of `key` sorts below `key 0x01`, every later key at or above it.
            start.push(SEP + 1);
            (start, false)
        }
    }
}

#[cfg(test)]
mod tests {
    use coffer_meta::conformance::{bucket_name, test_bucket, test_object, test_part, test_upload};

    use super::*;

    async fn store() -> (tempfile::TempDir, RedbMetaStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbMetaStore::open(&coffer_types::DataDir::new(dir.path()).meta()).unwrap();
        store.create_bucket(test_bucket("bkt")).await.unwrap();
        (dir, store)
    }

    /// Number of entries in `table` (keys under `bucket 0x00`).
    fn entries(store: &RedbMetaStore, table: TableDefinition<&[u8], &[u8]>) -> usize {
        let txn = store.db.begin_read().unwrap();
        let table = txn.open_table(table).unwrap();
        let bucket = bucket_name("bkt");
        let (start, end) = (bucket_key(&bucket, &[]), bucket_end(&bucket));
        table
            .range(start.as_slice()..end.as_slice())
            .unwrap()
            .count()
    }

    /// Invisible through the trait (a finished upload's parts are `NoSuchUpload`), but a leak.
    #[tokio::test]
    async fn finished_uploads_leave_no_rows() {
        let (_dir, store) = store().await;
        let bucket = bucket_name("bkt");
        for complete in [true, false] {
            let upload = test_upload("k");
            let id = upload.upload_id.clone();
            store.create_upload(&bucket, upload.clone()).await.unwrap();
            let part = test_part(1, &BlobId::random());
            store.put_part(&bucket, &id, part.clone()).await.unwrap();
            store
                .put_part(&bucket, &id, test_part(2, &BlobId::random()))
                .await
                .unwrap();
            if complete {
                let mut object = test_object("k", 1, &[&part.segment.blob]);
                object.object_type = coffer_meta::ObjectType::Multipart;
                store
                    .complete_upload(&bucket, &id, object, PutCondition::None)
                    .await
                    .unwrap();
            } else {
                store.abort_upload(&bucket, &id).await.unwrap();
            }
            for table in [UPLOADS, UPLOAD_KEYS, PARTS] {
                assert_eq!(entries(&store, table), 0, "complete: {complete}");
            }
        }
    }

    /// The bucket cache: each kind of bucket write is seen by the next read, also when the
    /// writer stopped waiting for its answer (a dropped request), and a deleted bucket is gone.
    #[tokio::test]
    async fn bucket_writes_are_seen_by_the_next_read() {
        let (_dir, store) = store().await;
        let bucket = bucket_name("bkt");
        let read = || async { store.bucket(&bucket).await.unwrap() };
        assert_eq!(read().await.unwrap().policy, None); // now cached

        store
            .set_bucket_policy(&bucket, Some("{\"Version\":\"1\"}".into()))
            .await
            .unwrap();
        assert_eq!(
            read().await.unwrap().policy.as_deref(),
            Some("{\"Version\":\"1\"}")
        );

        let mut changed = read().await.unwrap();
        changed.acl = coffer_meta::Acl::PublicRead;
        changed.encryption = Some(coffer_meta::EncryptionRule {
            algorithm: coffer_meta::SseAlgorithm::Aes256,
            kms_key_id: None,
            kms_data_sm4: false,
        });
        store.update_bucket(changed.clone()).await.unwrap();
        let seen = read().await.unwrap();
        assert_eq!(seen.acl, coffer_meta::Acl::PublicRead);
        assert_eq!(seen.encryption, changed.encryption);

        // A write whose future is dropped once submitted still commits, and still invalidates.
        {
            let write = store.set_bucket_policy(&bucket, None);
            let mut write = std::pin::pin!(write);
            let waker = std::task::Waker::noop();
            let _ = write
                .as_mut()
                .poll(&mut std::task::Context::from_waker(waker));
        }
        let mut policy = Some(String::new());
        for _ in 0..500 {
            policy = read().await.unwrap().policy;
            if policy.is_none() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert_eq!(policy, None, "a committed policy removal was not seen");

        store.delete_bucket(&bucket).await.unwrap();
        assert!(read().await.is_none());
        store.create_bucket(test_bucket("bkt")).await.unwrap();
        assert_eq!(read().await.unwrap().acl, test_bucket("bkt").acl);
    }

    /// Prefixes, `from` values and cursors come from clients and may hold a NUL, which no stored
    /// key does; the separators of composite keys must not make them match.
    #[tokio::test]
    async fn a_nul_in_client_input_matches_nothing_extra() {
        let (_dir, store) = store().await;
        let bucket = bucket_name("bkt");
        let upload = test_upload("a");
        store.create_upload(&bucket, upload.clone()).await.unwrap();
        let later = test_upload("a0");
        store.create_upload(&bucket, later.clone()).await.unwrap();
        store
            .put_object(
                &bucket,
                test_object("a", 1, &[&BlobId::random()]),
                PutCondition::None,
            )
            .await
            .unwrap();

        let cursor = UploadCursor::default();
        let id_start = &upload.upload_id.as_str()[..4];
        for prefix in ["a\0", &format!("a\0{id_start}")] {
            assert!(
                store
                    .scan_uploads(&bucket, prefix, &cursor, 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
            assert!(
                store
                    .scan_objects(&bucket, prefix, "", 10)
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        // Only keys above "a\0" (and "a" is below it) come after it.
        let nul_cursor = UploadCursor {
            key: "a\0".into(),
            upload_id: Some(String::new()),
        };
        assert_eq!(
            store
                .scan_uploads(&bucket, "", &nul_cursor, 10)
                .await
                .unwrap(),
            [later]
        );
        assert!(
            store
                .scan_objects(&bucket, "", "a\0", 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn composite_keys_sort_by_their_parts() {
        let b = bucket_name("bkt");
        let key = |k: &str| object_key(&b, &ObjectKey::parse(k).unwrap());
        assert!(key("a") < key("a\tb"));
        assert!(key("a/b") < key("a0"));
        assert!(bucket_key(&b, b"zzz") < bucket_end(&b));
        assert!(bucket_end(&b) < bucket_key(&bucket_name("bkt-a"), &[]));
        let id = UploadId::random();
        assert!(part_key(&b, &id, 2) < part_key(&b, &id, 10));
        assert!(part_key(&b, &id, 255) < part_key(&b, &id, 256));
    }
}
