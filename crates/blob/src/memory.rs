//! [`MemoryBlobStore`]: a [`BlobStore`] in process memory, for tests of the layers above.
//!
//! Committed blobs are immutable [`Bytes`]; reads hand out slices of them, cut at the grid as
//! the disk backend cuts them, so readers see the same piece boundaries. An unfinished write
//! lives only in its writer, so dropping the writer (or a crash of the process) leaves nothing
//! behind and [`BlobStore::sweep_temporary`] never has anything to remove.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use crate::{BlobId, BlobStore, BlobWriter, ByteStream, Error, PieceGrid, Result};

type Blobs = HashMap<BlobId, (Bytes, SystemTime)>;

/// A blob store that lives as long as the value; see the module documentation.
#[derive(Debug, Default, Clone)]
pub struct MemoryBlobStore {
    blobs: Arc<Mutex<Blobs>>,
}

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

fn lock(blobs: &Mutex<Blobs>) -> MutexGuard<'_, Blobs> {
    // Nothing panics while holding the lock; a poisoned map is still consistent.
    blobs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        Ok(Box::new(MemoryWriter {
            id: BlobId::random(),
            data: BytesMut::new(),
            blobs: self.blobs.clone(),
        }))
    }

    async fn read_in_pieces(
        &self,
        id: &BlobId,
        range: Range<u64>,
        grid: PieceGrid,
    ) -> Result<ByteStream> {
        let data = lock(&self.blobs)
            .get(id)
            .map(|(data, _)| data.clone())
            .ok_or(Error::NotFound)?;
        let len = data.len() as u64;
        let end = range.end.min(len);
        let mut pieces = Vec::new();
        let mut at = range.start;
        while at < end {
            let next = grid.piece_end(at, end);
            // Both bounds are at most `len`, which came from a `usize`.
            pieces.push(Ok(data.slice(at as usize..next as usize)));
            at = next;
        }
        Ok(Box::pin(futures::stream::iter(pieces)))
    }

    async fn len(&self, id: &BlobId) -> Result<u64> {
        lock(&self.blobs)
            .get(id)
            .map(|(data, _)| data.len() as u64)
            .ok_or(Error::NotFound)
    }

    async fn delete(&self, id: &BlobId) -> Result<()> {
        lock(&self.blobs).remove(id);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<(BlobId, SystemTime)>> {
        Ok(lock(&self.blobs)
            .iter()
            .map(|(id, (_, at))| (id.clone(), *at))
            .collect())
    }

    async fn sweep_temporary(&self) -> Result<u64> {
        Ok(0)
    }
}

struct MemoryWriter {
    id: BlobId,
    data: BytesMut,
    blobs: Arc<Mutex<Blobs>>,
}

#[async_trait]
impl BlobWriter for MemoryWriter {
    fn id(&self) -> &BlobId {
        &self.id
    }

    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.data.extend_from_slice(&data);
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<u64> {
        let len = self.data.len() as u64;
        lock(&self.blobs).insert(self.id, (self.data.freeze(), SystemTime::now()));
        Ok(len)
    }

    async fn abort(self: Box<Self>) {}
}
