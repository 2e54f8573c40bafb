//! The blob store of coffer: the [`BlobStore`] trait for streamed, durable, immutable blobs, and a
//! conformance suite ([`conformance`]) that every backend's tests run.
//!
//! A blob is written once through a [`BlobWriter`], becomes readable under its [`BlobId`] only when
//! committed, and is never changed afterwards; it is deleted as a whole. The blob store only ever
//! receives what the object layer hands it (ciphertext once encryption is on) and knows nothing of
//! buckets, keys or encryption.

pub mod conformance;
mod error;
mod memory;
mod pieces;

use std::num::NonZeroU64;
use std::ops::Range;
use std::pin::Pin;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
pub use coffer_types::BlobId;
use futures::Stream;

pub use error::{Error, Result};
pub use memory::MemoryBlobStore;
pub use pieces::PieceGrid;

/// A stream of bytes read from a blob.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes>> + Send>>;

/// The pieces [`BlobStore::read`] cuts a range into: 1 MiB, aligned to the blob's start.
pub const READ_GRID: PieceGrid = PieceGrid::uniform(NonZeroU64::new(1 << 20).expect("not zero"));

/// Durable storage of immutable blobs.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts writing a new blob under a fresh id. Nothing is visible until
    /// [`BlobWriter::commit`]; a writer dropped or aborted leaves nothing behind but temporary
    /// data that [`BlobStore::sweep_temporary`] removes.
    async fn create(&self) -> Result<Box<dyn BlobWriter>>;

    /// Streams `range` (byte offsets, end exclusive) of a committed blob. A range past the end is
    /// cut at the end, so one that starts at or past the end, like an empty one (`start >= end`),
    /// yields no bytes. `Error::NotFound` if there is no such blob. Memory use does not depend on
    /// the range's length.
    async fn read(&self, id: &BlobId, range: Range<u64>) -> Result<ByteStream> {
        self.read_in_pieces(id, range, READ_GRID).await
    }

    /// Like [`BlobStore::read`], with the range (cut at the blob's end first) cut into pieces at
    /// the points of `grid`. Memory use does not depend on the range's length as long as the
    /// grid's unit is bounded.
    async fn read_in_pieces(
        &self,
        id: &BlobId,
        range: Range<u64>,
        grid: PieceGrid,
    ) -> Result<ByteStream>;

    /// Length of a committed blob in bytes; `Error::NotFound` if there is none.
    async fn len(&self, id: &BlobId) -> Result<u64>;

    /// Deletes a blob. Idempotent: deleting a missing blob succeeds.
    async fn delete(&self, id: &BlobId) -> Result<()>;

    /// Every committed blob with the time it was committed (for sweeping orphans).
    async fn list(&self) -> Result<Vec<(BlobId, SystemTime)>>;

    /// Removes temporary data of writes that never committed (call at startup, before serving).
    /// Returns how many were removed.
    async fn sweep_temporary(&self) -> Result<u64>;

    /// Whether the store answers (for `/health/ready`): as cheap a request as the backend has.
    /// Changes nothing.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }
}

/// A blob being written. Write bytes in order, then commit.
#[async_trait]
pub trait BlobWriter: Send {
    /// The id the blob will have.
    fn id(&self) -> &BlobId;

    /// Appends bytes. An `Ok` means they were accepted, not stored: a failure to store them may
    /// be reported by a later `write` or by `commit`.
    async fn write(&mut self, data: Bytes) -> Result<()>;

    /// Makes the blob durable (data synced to stable storage) and readable under its id; returns
    /// its length. After an `Ok`, a crash does not lose the blob.
    async fn commit(self: Box<Self>) -> Result<u64>;

    /// Discards the blob.
    async fn abort(self: Box<Self>);
}
