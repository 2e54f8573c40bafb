//! Deleting blobs nobody references: garbage from overwrites and deletes, temporary files of
//! interrupted writes, and blobs a crash committed without their metadata.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_blob::BlobStore;
use coffer_meta::MetaStore;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::{Result, Store};

/// The background collector of a [`Store`].
pub struct Collector {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    signal: Arc<Notify>,
}

/// How often the collector looks for garbage even when nobody signalled.
const IDLE_INTERVAL: Duration = Duration::from_secs(30);
const BATCH: usize = 256;

impl Store {
    /// The collector for this store's garbage; run it with [`Collector::run`].
    pub fn collector(&self) -> Collector {
        Collector {
            meta: self.meta.clone(),
            blobs: self.blobs.clone(),
            signal: self.garbage_signal.clone(),
        }
    }
}

impl Collector {
    /// Recovery at startup, before serving: removes temporary files of writes a crash cut short,
    /// and committed blobs that no metadata names (a crash between the blob's commit and the
    /// metadata commit). Only blobs older than `started` are considered, so nothing written
    /// after startup is touched.
    pub async fn recover(&self, started: SystemTime) -> Result<()> {
        let temporary = self.blobs.sweep_temporary().await?;
        let mut orphans = 0u64;
        for (id, written) in self.blobs.list().await? {
            if written < started && !self.meta.is_blob_known(&id).await? {
                self.blobs.delete(&id).await?;
                orphans += 1;
            }
        }
        if temporary + orphans > 0 {
            info!(temporary, orphans, "removed data of interrupted writes");
        }
        Ok(())
    }

    /// Deletes one batch of garbage; returns how many blobs were deleted.
    pub async fn collect_once(&self) -> Result<usize> {
        let ids = self.meta.garbage(BATCH).await?;
        let mut done = Vec::with_capacity(ids.len());
        for id in ids {
            match self.blobs.delete(&id).await {
                Ok(()) => done.push(id),
                Err(e) => {
                    warn!(blob = %id, error = %e, "could not delete a garbage blob; will retry")
                }
            }
        }
        if !done.is_empty() {
            self.meta.forget_garbage(&done).await?;
        }
        Ok(done.len())
    }

    /// Runs until `shutdown` resolves, collecting whenever a write signals garbage.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        self.run_while(|| true, |_| {}, shutdown).await;
    }

    /// [`Collector::run`] on a node that shares its stores with others: collects only while
    /// `mine()` says the duty is this node's, and calls `ran(deleted)` after each pass.
    pub async fn run_while(
        self,
        mine: impl Fn() -> bool,
        ran: impl Fn(usize),
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            let mut deleted = 0;
            while mine() {
                match self.collect_once().await {
                    Ok(n) if n == BATCH => deleted += n,
                    Ok(n) => {
                        deleted += n;
                        break;
                    }
                    Err(e) => {
                        warn!(error = %e, "garbage collection failed; will retry");
                        break;
                    }
                }
            }
            if mine() {
                ran(deleted);
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.signal.notified() => {}
                _ = tokio::time::sleep(IDLE_INTERVAL) => {}
            }
        }
    }
}
