//! A blob backend on any S3-compatible service (AWS S3, Alibaba OSS, MinIO, SeaweedFS, Ceph RGW),
//! through [Apache OpenDAL](https://opendal.apache.org/): [`S3BlobStore`] implements
//! [`coffer_blob::BlobStore`], so several coffer nodes can share object data.
//!
//! A blob is the object `<root>/blobs/<id>`. It receives what the object layer hands the blob
//! store, which is ciphertext for every encrypted object: the service sees nothing it can read.
//! A writer streams through an OpenDAL writer that switches to a multipart upload past
//! [`CHUNK`], so memory stays bounded whatever the blob's size; the object appears only when
//! the upload completes at [`BlobWriter::commit`] (S3 makes an object visible whole or not at
//! all), so an uncommitted blob is never readable. An interrupted multipart upload leaves
//! invisible parts behind; [`BlobStore::sweep_temporary`] cannot list them through OpenDAL, so
//! the bucket needs an "abort incomplete multipart uploads" lifecycle rule (docs/deployment.md).

use std::ops::Range;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use coffer_blob::{BlobId, BlobStore, BlobWriter, ByteStream, Error, PieceGrid, Result};
use futures::StreamExt;
use opendal::{ErrorKind, Operator};

/// The part size of multipart uploads: S3's minimum is 5 MiB for every part but the last.
pub const CHUNK: usize = 8 << 20;

const PREFIX: &str = "blobs/";

/// Where the blobs are and how to sign in. `Debug` omits the secret.
#[derive(Clone)]
pub struct S3Config {
    /// The service's endpoint, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:8333`.
    pub endpoint: String,
    /// The bucket holding the blobs (created beforehand).
    pub bucket: String,
    /// The region the service expects in signatures (`us-east-1` for most self-hosted ones).
    pub region: String,
    /// A folder inside the bucket, so one bucket can serve several deployments (may be empty).
    pub root: String,
    /// Access key id.
    pub access_key_id: String,
    /// Access key secret.
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("root", &self.root)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A [`BlobStore`] in an S3 bucket; see the crate documentation.
#[derive(Debug, Clone)]
pub struct S3BlobStore {
    op: Operator,
}

fn io(e: opendal::Error) -> Error {
    if e.kind() == ErrorKind::NotFound {
        Error::NotFound
    } else {
        Error::Io(std::io::Error::other(e))
    }
}

fn path(id: &BlobId) -> String {
    format!("{PREFIX}{id}")
}

impl S3BlobStore {
    /// A store on the bucket `config` names. Only the environment-free settings given are used
    /// (no credentials from files or instance metadata), so what runs is what was configured.
    pub fn open(config: &S3Config) -> Result<Self> {
        // The process-wide HTTP client OpenDAL's services use (reqwest on rustls); idempotent.
        opendal::install_default();
        let builder = opendal::services::S3::default()
            .endpoint(&config.endpoint)
            .bucket(&config.bucket)
            .region(&config.region)
            .root(&format!("/{}", config.root.trim_matches('/')))
            .access_key_id(&config.access_key_id)
            .secret_access_key(&config.secret_access_key)
            .disable_config_load()
            .disable_ec2_metadata();
        let op = Operator::new(builder).map_err(io)?;
        Ok(Self { op })
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn ping(&self) -> Result<()> {
        // One listing request of the root, at most one entry.
        self.op.check().await.map_err(io)
    }

    async fn create(&self) -> Result<Box<dyn BlobWriter>> {
        let id = BlobId::random();
        let writer = self
            .op
            .writer_with(&path(&id))
            .chunk(CHUNK)
            .await
            .map_err(io)?;
        Ok(Box::new(S3Writer { id, writer, len: 0 }))
    }

    async fn read_in_pieces(
        &self,
        id: &BlobId,
        range: Range<u64>,
        grid: PieceGrid,
    ) -> Result<ByteStream> {
        let len = self.len(id).await?;
        let end = range.end.min(len);
        let mut pieces = Vec::new();
        let mut at = range.start;
        while at < end {
            let next = grid.piece_end(at, end);
            pieces.push(at..next);
            at = next;
        }
        // One ranged GET per piece, issued as the reader asks for it: memory stays one piece.
        let op = self.op.clone();
        let key = path(id);
        let stream = futures::stream::iter(pieces).then(move |piece| {
            let (op, key) = (op.clone(), key.clone());
            async move {
                let data = op.read_with(&key).range(piece).await.map_err(io)?;
                Ok::<Bytes, Error>(data.to_bytes())
            }
        });
        Ok(Box::pin(stream))
    }

    async fn len(&self, id: &BlobId) -> Result<u64> {
        Ok(self.op.stat(&path(id)).await.map_err(io)?.content_length())
    }

    async fn delete(&self, id: &BlobId) -> Result<()> {
        match self.op.delete(&path(id)).await {
            Err(e) if e.kind() != ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }

    async fn list(&self) -> Result<Vec<(BlobId, SystemTime)>> {
        let entries = self
            .op
            .list_with(PREFIX)
            .recursive(true)
            .await
            .map_err(io)?;
        let mut out = Vec::new();
        for entry in entries {
            let name = entry.path().trim_start_matches(PREFIX);
            // Anything else under the prefix is not ours to list (or sweep).
            let Some(id) = BlobId::parse(name) else {
                continue;
            };
            let modified = match entry.metadata().last_modified() {
                Some(t) => t,
                None => match self
                    .op
                    .stat(entry.path())
                    .await
                    .map_err(io)?
                    .last_modified()
                {
                    Some(t) => t,
                    None => continue,
                },
            };
            out.push((id, SystemTime::from(modified)));
        }
        Ok(out)
    }

    async fn sweep_temporary(&self) -> Result<u64> {
        // Uncommitted blobs are incomplete multipart uploads, invisible and not listable here;
        // the bucket's lifecycle rule removes them.
        Ok(0)
    }
}

struct S3Writer {
    id: BlobId,
    writer: opendal::Writer,
    len: u64,
}

#[async_trait]
impl BlobWriter for S3Writer {
    fn id(&self) -> &BlobId {
        &self.id
    }

    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.len += data.len() as u64;
        self.writer.write(data).await.map_err(io)
    }

    async fn commit(mut self: Box<Self>) -> Result<u64> {
        self.writer.close().await.map_err(io)?;
        Ok(self.len)
    }

    async fn abort(mut self: Box<Self>) {
        // Best effort: a failed abort leaves an invisible incomplete upload for the lifecycle rule.
        let _ = self.writer.abort().await;
    }
}
