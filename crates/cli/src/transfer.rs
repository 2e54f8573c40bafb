//! Transfers: uploads (one PUT, or parallel multipart above a size), downloads (one GET, or
//! parallel ranges), server-side copies. Every transfer's CRC-64 is checked against the
//! server's `x-oss-hash-crc64ecma`. Multipart uploads and ranged downloads keep a checkpoint,
//! rewritten atomically after each part, so a killed run resumes where it stopped; a download
//! goes to a temporary file renamed into place only once complete and checked, and an upload is
//! an object only once CompleteMultipartUpload succeeds — an interruption never leaves a partial
//! object. Memory is bounded by `parallel × part size`, whatever the file size.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use crc_fast::{CrcAlgorithm, Digest};
use futures::{StreamExt, TryStreamExt};
use indicatif::ProgressBar;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;
use tokio::sync::Semaphore;

use crate::client::{OssClient, Req, header};
use crate::ops::{Sse, object_info};

/// OSS's CRC-64/ECMA (the XZ parameters).
const CRC: CrcAlgorithm = CrcAlgorithm::Crc64Xz;
/// Body chunks, so progress moves while a part is sent.
const CHUNK: usize = 256 * 1024;
/// OSS's limit on parts.
const MAX_PARTS: u64 = 10_000;
/// The largest object CopyObject copies in OSS (OSS API reference, "CopyObject": objects larger
/// than 1 GB are copied with UploadPartCopy); larger copies go part by part.
pub const COPY_OBJECT_LIMIT: u64 = 1 << 30;
/// Headers a multipart copy must carry over itself: UploadPartCopy copies bytes, not metadata.
const COPIED_HEADERS: &[&str] = &[
    "content-type",
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

/// CRC-64 of `data`.
pub fn crc64(data: &[u8]) -> u64 {
    let mut d = Digest::new(CRC);
    d.update(data);
    d.finalize()
}

/// The CRC of `a ++ b` from theirs.
pub fn crc64_combine(a: u64, b: u64, len_b: u64) -> u64 {
    crc_fast::checksum_combine(CRC, a, b, len_b)
}

/// Settings shared by every transfer of one command.
pub struct Transfers {
    /// The client.
    pub client: OssClient,
    /// Parts (or small objects) in flight at once; also bounds memory.
    pub permits: Arc<Semaphore>,
    /// Parallelism.
    pub parallel: usize,
    /// Multipart above this size.
    pub threshold: u64,
    /// Server-side copies above this size go through UploadPartCopy.
    pub copy_threshold: u64,
    /// Part size (grown to stay within 10 000 parts).
    pub part_size: u64,
    /// Where checkpoints live.
    pub checkpoint_dir: PathBuf,
    /// Encryption for uploads and copies.
    pub sse: Option<Sse>,
    /// Total bytes bar.
    pub bar: ProgressBar,
    /// Where the total bar and the per-file bars of large transfers are drawn (hidden when
    /// standard output is not a terminal).
    pub bars: indicatif::MultiProgress,
}

/// Moves the total bar and, for a transfer in parts, the transfer's own bar.
#[derive(Clone)]
struct Tick {
    total: ProgressBar,
    own: Option<ProgressBar>,
}

impl Tick {
    fn inc(&self, n: u64) {
        self.total.inc(n);
        if let Some(own) = &self.own {
            own.inc(n);
        }
    }
}

/// The progress of one transfer: a [`Tick`], and the transfer's own bar (above the total one)
/// cleared when the transfer ends, however it ends.
struct FileBar(Tick);

impl std::ops::Deref for FileBar {
    type Target = Tick;
    fn deref(&self) -> &Tick {
        &self.0
    }
}

impl Drop for FileBar {
    fn drop(&mut self) {
        if let Some(own) = &self.0.own {
            own.finish_and_clear();
        }
    }
}

/// What one transfer did.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    /// Bytes of the object.
    pub bytes: u64,
    /// Parts sent or fetched by this run.
    pub parts_transferred: u32,
    /// Parts a checkpoint said were already done.
    pub parts_resumed: u32,
    /// The CRC-64 both sides agree on.
    pub crc64: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone)]
struct PartDone {
    etag: String,
    crc64: u64,
}

#[derive(Serialize, Deserialize)]
struct Checkpoint {
    /// What it is for, checked on resume.
    identity: String,
    size: u64,
    mtime_ns: i128,
    part_size: u64,
    /// Multipart upload id (uploads), ETag of the source (downloads).
    token: String,
    /// The encryption headers an upload was initiated with: a resumed run must ask for the
    /// same, or it starts again.
    #[serde(default)]
    encryption: String,
    parts: BTreeMap<u32, PartDone>,
}

fn mtime_ns(meta: &std::fs::Metadata) -> i128 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128)
}

impl Transfers {
    fn checkpoint_path(&self, identity: &str) -> PathBuf {
        let name = hex::encode(sha2::Sha256::digest(identity.as_bytes()));
        self.checkpoint_dir.join(format!("{}.json", &name[..32]))
    }

    fn load_checkpoint(&self, identity: &str) -> Option<Checkpoint> {
        let text = std::fs::read_to_string(self.checkpoint_path(identity)).ok()?;
        serde_json::from_str::<Checkpoint>(&text)
            .ok()
            .filter(|c| c.identity == identity)
    }

    fn save_checkpoint(&self, cp: &Checkpoint) -> Result<()> {
        std::fs::create_dir_all(&self.checkpoint_dir)
            .with_context(|| format!("create {}", self.checkpoint_dir.display()))?;
        let path = self.checkpoint_path(&cp.identity);
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&serde_json::to_vec(cp)?)?;
        f.sync_data()?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    fn remove_checkpoint(&self, identity: &str) {
        let _ = std::fs::remove_file(self.checkpoint_path(identity));
    }

    fn part_size_for(&self, size: u64) -> u64 {
        self.part_size.max(size.div_ceil(MAX_PARTS))
    }

    fn sse_headers(&self) -> Vec<(String, String)> {
        self.sse.as_ref().map(Sse::headers).unwrap_or_default()
    }

    /// The progress of a transfer of `size` bytes named `name`: a bar of its own when it goes in
    /// parts (a few big files are worth watching one by one; thousands of small ones are not).
    fn file_bar(&self, name: &str, size: u64, in_parts: bool) -> FileBar {
        let own = in_parts.then(|| {
            let bar = self.bars.insert_before(&self.bar, ProgressBar::new(size));
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "  {wide_msg} [{bar:20}] {bytes}/{total_bytes} {bytes_per_sec}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(name.to_owned());
            bar
        });
        FileBar(Tick {
            total: self.bar.clone(),
            own,
        })
    }

    fn encryption_token(&self) -> String {
        self.sse_headers()
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Whether the multipart upload `upload_id` still exists (ListParts answers, not
    /// NoSuchUpload).
    async fn upload_exists(&self, bucket: &str, key: &str, upload_id: &str) -> Result<bool> {
        let req = Req::new(Method::GET, Some(bucket), Some(key))
            .q("uploadId", upload_id)
            .q("max-parts", "1");
        match self.client.send(req, None).await {
            Ok(resp) => {
                resp.bytes().await?;
                Ok(true)
            }
            Err(e)
                if e.downcast_ref::<crate::client::OssError>()
                    .is_some_and(|o| o.code == "NoSuchUpload") =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Uploads `src` to `bucket`/`key`.
    pub async fn upload(&self, src: &Path, bucket: &str, key: &str) -> Result<Outcome> {
        let file = std::fs::File::open(src).with_context(|| format!("open {}", src.display()))?;
        let meta = file.metadata()?;
        let size = meta.len();
        let file = Arc::new(file);
        if size <= self.threshold {
            let _permit = self.permits.acquire().await?;
            let data = read_at(&file, 0, size).await?;
            let crc = crc64(&data);
            let mut req = Req::new(Method::PUT, Some(bucket), Some(key))
                .h("content-length", &size.to_string());
            req.headers.extend(self.sse_headers());
            let bar = self.file_bar(key, size, false);
            let resp = self.client.send(req, Some(self.body(data, &bar))).await?;
            check_crc(header(&resp, "x-oss-hash-crc64ecma"), crc, key)?;
            return Ok(Outcome {
                bytes: size,
                parts_transferred: 1,
                parts_resumed: 0,
                crc64: Some(crc),
            });
        }

        let identity = format!("upload\0{}\0{bucket}\0{key}", src.canonicalize()?.display());
        let mtime = mtime_ns(&meta);
        let encryption = self.encryption_token();
        let usable = match self.load_checkpoint(&identity) {
            Some(cp) if cp.size == size && cp.mtime_ns == mtime && cp.encryption == encryption => {
                if self.upload_exists(bucket, key, &cp.token).await? {
                    Some(cp)
                } else {
                    // Aborted meanwhile (by `rb --force`, a lifecycle rule, another client):
                    // its parts are gone, so start again.
                    None
                }
            }
            Some(stale) => {
                // The file or the encryption changed: the old upload's parts are of no use;
                // abort it rather than leave them to be billed until a lifecycle rule runs.
                let _ = self.client.abort(bucket, key, &stale.token).await;
                None
            }
            None => None,
        };
        let cp = match usable {
            Some(cp) => cp,
            None => Checkpoint {
                identity: identity.clone(),
                size,
                mtime_ns: mtime,
                part_size: self.part_size_for(size),
                token: self
                    .client
                    .initiate(bucket, key, &self.sse_headers())
                    .await?,
                encryption,
                parts: BTreeMap::new(),
            },
        };
        self.save_checkpoint(&cp)?;
        let part_size = cp.part_size;
        let upload_id = cp.token.clone();
        let count = u32::try_from(size.div_ceil(part_size)).context("too many parts")?;
        let resumed = u32::try_from(cp.parts.len()).unwrap_or(u32::MAX);
        let done_bytes: u64 = cp.parts.keys().map(|n| part_len(size, part_size, *n)).sum();
        let bar = self.file_bar(key, size, true);
        bar.inc(done_bytes);
        let todo: Vec<u32> = (1..=count).filter(|n| !cp.parts.contains_key(n)).collect();
        let cp = Arc::new(Mutex::new(cp));
        futures::stream::iter(todo.iter().copied())
            .map(|n| {
                let (file, cp, upload_id) = (file.clone(), cp.clone(), upload_id.clone());
                let bar = &bar;
                async move {
                    let _permit = self.permits.acquire().await?;
                    let offset = u64::from(n - 1) * part_size;
                    let data = read_at(&file, offset, part_len(size, part_size, n)).await?;
                    let crc = crc64(&data);
                    let req = Req::new(Method::PUT, Some(bucket), Some(key))
                        .q("partNumber", &n.to_string())
                        .q("uploadId", &upload_id)
                        .h("content-length", &data.len().to_string());
                    let resp = self.client.send(req, Some(self.body(data, bar))).await?;
                    check_crc(header(&resp, "x-oss-hash-crc64ecma"), crc, key)?;
                    let etag = header(&resp, "etag")
                        .unwrap_or_default()
                        .trim_matches('"')
                        .to_owned();
                    let mut cp = cp.lock().map_err(|_| anyhow::anyhow!("checkpoint lock"))?;
                    cp.parts.insert(n, PartDone { etag, crc64: crc });
                    self.save_checkpoint(&cp)
                }
            })
            .buffer_unordered(self.parallel)
            .try_collect::<Vec<()>>()
            .await?;
        let cp = Arc::try_unwrap(cp)
            .map_err(|_| anyhow::anyhow!("parts still running"))?
            .into_inner()
            .map_err(|_| anyhow::anyhow!("checkpoint lock"))?;
        let mut whole = 0u64;
        for (n, p) in &cp.parts {
            whole = crc64_combine(whole, p.crc64, part_len(size, part_size, *n));
        }
        let parts: Vec<(u32, String)> =
            cp.parts.iter().map(|(n, p)| (*n, p.etag.clone())).collect();
        let server = self
            .client
            .complete(bucket, key, &upload_id, &parts)
            .await?;
        check_crc(server.map(|c| c.to_string()), whole, key)?;
        self.remove_checkpoint(&identity);
        Ok(Outcome {
            bytes: size,
            parts_transferred: u32::try_from(todo.len()).unwrap_or(u32::MAX),
            parts_resumed: resumed,
            crc64: Some(whole),
        })
    }

    /// A body sent in chunks that move the progress bar.
    fn body(&self, data: Bytes, bar: &Tick) -> reqwest::Body {
        let bar = bar.clone();
        let chunks: Vec<Bytes> = (0..data.len())
            .step_by(CHUNK)
            .map(|i| data.slice(i..data.len().min(i + CHUNK)))
            .collect();
        reqwest::Body::wrap_stream(futures::stream::iter(chunks).map(move |c| {
            bar.inc(c.len() as u64);
            Ok::<_, std::io::Error>(c)
        }))
    }

    /// Downloads `bucket`/`key` to `dst`.
    pub async fn download(&self, bucket: &str, key: &str, dst: &Path) -> Result<Outcome> {
        let info = self.client.head(bucket, key).await?;
        let size = info.size;
        if let Some(dir) = dst.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        let tmp = temp_path(dst);
        let identity = format!("download\0{bucket}\0{key}\0{}", absolute(dst).display());
        let part_size = self.part_size_for(size);
        let mut cp = match self.load_checkpoint(&identity) {
            Some(cp) if cp.token == info.etag && cp.size == size && tmp.exists() => cp,
            _ => Checkpoint {
                identity: identity.clone(),
                size,
                mtime_ns: 0,
                part_size,
                token: info.etag.clone(),
                encryption: String::new(),
                parts: BTreeMap::new(),
            },
        };
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(cp.parts.is_empty())
            .open(&tmp)
            .with_context(|| format!("create {}", tmp.display()))?;
        file.set_len(size)?;
        let file = Arc::new(file);
        let part_size = cp.part_size;
        let ranged = size > self.threshold;
        let count = if ranged {
            u32::try_from(size.div_ceil(part_size)).context("too many parts")?
        } else {
            1
        };
        if !ranged {
            cp.parts.clear();
        } else {
            self.save_checkpoint(&cp)?;
        }
        let resumed = u32::try_from(cp.parts.len()).unwrap_or(u32::MAX);
        let bar = self.file_bar(key, size, ranged);
        bar.inc(cp.parts.keys().map(|n| part_len(size, part_size, *n)).sum());
        let todo: Vec<u32> = (1..=count).filter(|n| !cp.parts.contains_key(n)).collect();
        let cp = Arc::new(Mutex::new(cp));
        futures::stream::iter(todo.iter().copied())
            .map(|n| {
                let (file, cp) = (file.clone(), cp.clone());
                let etag = info.etag.clone();
                let bar = &bar;
                async move {
                    let _permit = self.permits.acquire().await?;
                    let offset = u64::from(n - 1) * part_size;
                    let len = if ranged {
                        part_len(size, part_size, n)
                    } else {
                        size
                    };
                    let mut req = Req::new(Method::GET, Some(bucket), Some(key));
                    if ranged {
                        req = req
                            .h("range", &format!("bytes={offset}-{}", offset + len - 1))
                            .h("if-match", &format!("\"{etag}\""));
                    }
                    let resp = self.client.send(req, None).await?;
                    let mut stream = resp.bytes_stream();
                    let mut digest = Digest::new(CRC);
                    let mut at = offset;
                    while let Some(chunk) = stream.next().await {
                        let chunk = chunk.context("read the object")?;
                        digest.update(&chunk);
                        let f = file.clone();
                        let c = chunk.clone();
                        tokio::task::spawn_blocking(move || f.write_all_at(&c, at)).await??;
                        at += chunk.len() as u64;
                        bar.inc(chunk.len() as u64);
                    }
                    ensure!(
                        at - offset == len,
                        "{key}: the server sent {} of {len} bytes",
                        at - offset
                    );
                    let mut cp = cp.lock().map_err(|_| anyhow::anyhow!("checkpoint lock"))?;
                    cp.parts.insert(
                        n,
                        PartDone {
                            etag: String::new(),
                            crc64: digest.finalize(),
                        },
                    );
                    if ranged {
                        self.save_checkpoint(&cp)?;
                    }
                    Ok(())
                }
            })
            .buffer_unordered(self.parallel)
            .try_collect::<Vec<()>>()
            .await?;
        let cp = Arc::try_unwrap(cp)
            .map_err(|_| anyhow::anyhow!("parts still running"))?
            .into_inner()
            .map_err(|_| anyhow::anyhow!("checkpoint lock"))?;
        let mut whole = 0u64;
        for (n, p) in &cp.parts {
            let len = if ranged {
                part_len(size, part_size, *n)
            } else {
                size
            };
            whole = crc64_combine(whole, p.crc64, len);
        }
        if let Some(server) = info.crc64 {
            check_crc(Some(server.to_string()), whole, key)?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, dst).with_context(|| format!("rename into {}", dst.display()))?;
        self.remove_checkpoint(&identity);
        Ok(Outcome {
            bytes: size,
            parts_transferred: u32::try_from(todo.len()).unwrap_or(u32::MAX),
            parts_resumed: resumed,
            crc64: Some(whole),
        })
    }

    /// Copies `src_bucket`/`src_key` (of `size` bytes) to `bucket`/`key` on the server, with the
    /// source's metadata and this command's encryption; `extra` headers are conditions on the
    /// source (`x-oss-copy-source-if-match`), sent with every request that reads it.
    pub async fn copy(
        &self,
        src_bucket: &str,
        src_key: &str,
        size: u64,
        bucket: &str,
        key: &str,
        extra: &[(String, String)],
    ) -> Result<Outcome> {
        let source = format!(
            "/{src_bucket}/{}",
            coffer_signature::uri_encode_path(src_key)
        );
        if size > self.copy_threshold {
            return self
                .copy_in_parts(src_bucket, src_key, &source, size, bucket, key, extra)
                .await;
        }
        let _permit = self.permits.acquire().await?;
        let mut req = Req::new(Method::PUT, Some(bucket), Some(key))
            .h("x-oss-copy-source", &source)
            .h("x-oss-metadata-directive", "COPY");
        req.headers.extend(self.sse_headers());
        req.headers.extend(extra.iter().cloned());
        let resp = self.client.send(req, None).await?;
        let crc = header(&resp, "x-oss-hash-crc64ecma").and_then(|c| c.parse().ok());
        let body = resp.text().await?;
        ensure!(
            body.contains("CopyObjectResult"),
            "{key}: CopyObject answered {body}"
        );
        let info = object_info_after_copy(self, bucket, key).await?;
        self.bar.inc(info.size);
        Ok(Outcome {
            bytes: info.size,
            parts_transferred: 1,
            parts_resumed: 0,
            crc64: crc.or(info.crc64),
        })
    }

    /// A copy through a multipart upload whose parts are UploadPartCopy of byte ranges of the
    /// source, in parallel; metadata is taken from a HEAD of the source (UploadPartCopy copies
    /// only bytes), and the result's CRC-64 must be the source's. On failure the upload is
    /// aborted, so no parts are left behind.
    #[allow(clippy::too_many_arguments)]
    async fn copy_in_parts(
        &self,
        src_bucket: &str,
        src_key: &str,
        source: &str,
        size: u64,
        bucket: &str,
        key: &str,
        extra: &[(String, String)],
    ) -> Result<Outcome> {
        let head = {
            let mut req = Req::new(Method::HEAD, Some(src_bucket), Some(src_key));
            // HEAD takes If-Match where the copy takes x-oss-copy-source-if-match.
            for (name, value) in extra {
                if let Some(cond) = name.strip_prefix("x-oss-copy-source-") {
                    req = req.h(cond, value);
                }
            }
            object_info(&self.client.send(req, None).await?)
        };
        ensure!(
            head.size == size,
            "{src_key}: changed while being copied ({} bytes, {size} expected)",
            head.size
        );
        let mut headers: Vec<(String, String)> = head
            .headers
            .iter()
            .filter(|(n, _)| COPIED_HEADERS.contains(&n.as_str()) || n.starts_with("x-oss-meta-"))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        headers.extend(self.sse_headers());
        let upload_id = self.client.initiate(bucket, key, &headers).await?;
        let part_size = self.part_size_for(size);
        let bar = self.file_bar(key, size, true);
        let count = u32::try_from(size.div_ceil(part_size)).context("too many parts")?;
        let result: Result<Vec<(u32, String)>> = futures::stream::iter(1..=count)
            .map(|n| {
                let (upload_id, bar) = (&upload_id, &bar);
                async move {
                    let _permit = self.permits.acquire().await?;
                    let first = u64::from(n - 1) * part_size;
                    let last = first + part_len(size, part_size, n) - 1;
                    let mut req = Req::new(Method::PUT, Some(bucket), Some(key))
                        .q("partNumber", &n.to_string())
                        .q("uploadId", upload_id)
                        .h("x-oss-copy-source", source)
                        .h("x-oss-copy-source-range", &format!("bytes={first}-{last}"));
                    req.headers.extend(extra.iter().cloned());
                    let resp = self.client.send(req, None).await?;
                    let body = resp.text().await?;
                    let etag = body
                        .split_once("<ETag>")
                        .and_then(|(_, rest)| rest.split_once("</ETag>"))
                        .map(|(etag, _)| etag.replace("&quot;", "").trim_matches('"').to_owned())
                        .with_context(|| format!("{key}: UploadPartCopy answered {body}"))?;
                    bar.inc(last - first + 1);
                    Ok((n, etag))
                }
            })
            .buffer_unordered(self.parallel)
            .try_collect()
            .await;
        let completed = match result {
            Ok(mut parts) => {
                parts.sort_unstable();
                self.client.complete(bucket, key, &upload_id, &parts).await
            }
            Err(e) => Err(e),
        };
        let server = match completed {
            Ok(crc) => crc,
            Err(e) => {
                // Best effort: the upload's parts are garbage either way.
                let _ = self.client.abort(bucket, key, &upload_id).await;
                return Err(e);
            }
        };
        if let (Some(source), Some(copy)) = (head.crc64, server) {
            check_crc(Some(copy.to_string()), source, key)?;
        }
        Ok(Outcome {
            bytes: size,
            parts_transferred: count,
            parts_resumed: 0,
            crc64: server.or(head.crc64),
        })
    }
}

async fn object_info_after_copy(
    t: &Transfers,
    bucket: &str,
    key: &str,
) -> Result<crate::ops::ObjectInfo> {
    let resp = t
        .client
        .send(Req::new(Method::HEAD, Some(bucket), Some(key)), None)
        .await?;
    Ok(object_info(&resp))
}

fn part_len(size: u64, part_size: u64, n: u32) -> u64 {
    let offset = u64::from(n - 1) * part_size;
    part_size.min(size - offset)
}

async fn read_at(file: &Arc<std::fs::File>, offset: u64, len: u64) -> Result<Bytes> {
    let file = file.clone();
    let len = usize::try_from(len).context("part too large")?;
    tokio::task::spawn_blocking(move || {
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, offset)?;
        Ok::<_, std::io::Error>(Bytes::from(buf))
    })
    .await?
    .context("read the source file")
}

fn check_crc(server: Option<String>, local: u64, key: &str) -> Result<()> {
    let Some(server) = server else { return Ok(()) };
    let server: u64 = server
        .parse()
        .with_context(|| format!("bad x-oss-hash-crc64ecma {server}"))?;
    if server != local {
        bail!("{key}: CRC-64 mismatch: local {local}, server {server}; the transfer is corrupt");
    }
    Ok(())
}

/// `dir/.name.coffer-part`: next to the target, so the final rename stays on one file system.
pub fn temp_path(dst: &Path) -> PathBuf {
    let name = dst
        .file_name()
        .map_or_else(|| "download".into(), |n| n.to_string_lossy().into_owned());
    dst.with_file_name(format!(".{name}.coffer-part"))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_oss_and_combines() {
        // The CRC-64/XZ check value.
        assert_eq!(crc64(b"123456789"), 0x995D_C9BB_DF19_39FA);
        let (a, b) = (b"hello ".as_slice(), b"world".as_slice());
        assert_eq!(
            crc64_combine(crc64(a), crc64(b), b.len() as u64),
            crc64(b"hello world")
        );
    }

    #[test]
    fn parts_cover_the_file() {
        assert_eq!(part_len(10, 4, 1), 4);
        assert_eq!(part_len(10, 4, 3), 2);
        assert_eq!(
            temp_path(Path::new("d/f.bin")),
            Path::new("d/.f.bin.coffer-part")
        );
    }
}
