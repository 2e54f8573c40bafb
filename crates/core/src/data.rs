//! The data path: the one place where object bytes enter and leave the blob store.
//!
//! Writes stream the request body into a new blob while computing the MD5 (ETag) and CRC-64 of
//! the plaintext on the way, and encrypt it when the object is encrypted; reads stream the
//! segments of an object that overlap a range, decrypting and authenticating every chunk. Neither
//! ever holds more than a few chunks in memory.
//!
//! An encrypted segment's blob is the segment header (`coffer_crypto::HEADER_LEN` bytes) followed
//! by the ciphertext chunks; the header is also kept in the segment's record, and that copy is the
//! one used (it is authenticated by the chunk key commitment).
//!
//! A plain segment's blob holds its bytes in checksummed frames (`crate::frame`), whose header is
//! kept in the segment's record where an encrypted segment keeps its encryption header; plain
//! segments of earlier releases have no header and are read raw.
//!
//! A small body becomes an inline segment: the same bytes, sealed the same way under a blob id of
//! their own, kept in the record instead of the blob store; reads take them from the record and go
//! through the same checks.

use std::io;
use std::num::NonZeroU64;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use coffer_blob::{BlobStore, BlobWriter, ByteStream, PieceGrid};
use coffer_crypto::{
    Cipher, DEFAULT_CHUNK_LEN, DataKey, Decryptor, Encryptor, HEADER_LEN, SegmentHeader, TAG_LEN,
};
use coffer_meta::{ObjectRecord, Segment};
use coffer_types::{BucketName, ObjectKey};
use futures::{Stream, StreamExt, TryStreamExt};
use md5::{Digest, Md5};
use tokio::sync::mpsc;

use crate::checksum::Crc64;
use crate::frame::{FramedRange, Framer, PlainFrame};
use crate::sse::segment_context;
use crate::{Error, Result};

/// A stream of object bytes, in or out.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// A blob written from a body, with the checksums of what it holds.
pub(crate) struct Written {
    pub(crate) segment: Segment,
    pub(crate) md5: [u8; 16],
    pub(crate) crc64: u64,
}

impl Written {
    pub(crate) fn etag(&self) -> String {
        hex::encode_upper(self.md5)
    }
}

/// How a new segment is encrypted.
pub(crate) struct Seal<'a> {
    pub(crate) data_key: &'a DataKey,
    pub(crate) cipher: Cipher,
    pub(crate) bucket: &'a BucketName,
    pub(crate) key: &'a ObjectKey,
}

impl<'a> Seal<'a> {
    /// How a new segment of the object with this key material is encrypted.
    pub(crate) fn for_object(
        material: &'a (DataKey, coffer_meta::ObjectEncryption),
        bucket: &'a BucketName,
        key: &'a ObjectKey,
    ) -> Self {
        Seal {
            data_key: &material.0,
            cipher: crate::sse::cipher_of(&material.1),
            bucket,
            key,
        }
    }
}

/// The key and identity needed to read an encrypted object.
#[derive(Clone)]
pub(crate) struct Unseal {
    pub(crate) data_key: Arc<DataKey>,
    pub(crate) bucket: BucketName,
    pub(crate) key: ObjectKey,
}

/// Below this many bytes the MD5 runs inline; above, on a thread of its own, so that hashing
/// (0.65 GB/s, the slowest stage of a PUT) overlaps with reading the socket and writing the disk.
const INLINE_MD5_LIMIT: u64 = 512 * 1024;

/// Pieces handed to the MD5 thread at once: batching request-body frames (often 16 KiB) into
/// about 1 MiB keeps cross-thread wake-ups to a few per megabyte. Batches hold `Bytes` handles,
/// not copies.
const MD5_BATCH: usize = 1024 * 1024;

enum Md5Stage {
    Inline(Md5),
    Piped {
        tx: mpsc::Sender<Vec<Bytes>>,
        batch: Vec<Bytes>,
        batch_len: usize,
        done: tokio::task::JoinHandle<[u8; 16]>,
    },
}

impl Md5Stage {
    async fn feed(&mut self, seen: u64, chunk: &Bytes) {
        if let Md5Stage::Inline(md5) = self {
            if seen + chunk.len() as u64 <= INLINE_MD5_LIMIT {
                md5.update(chunk);
                return;
            }
            let mut md5 = std::mem::take(md5);
            let (tx, mut rx) = mpsc::channel::<Vec<Bytes>>(4);
            let done = tokio::task::spawn_blocking(move || {
                while let Some(batch) = rx.blocking_recv() {
                    for piece in batch {
                        md5.update(&piece);
                    }
                }
                md5.finalize().into()
            });
            *self = Md5Stage::Piped {
                tx,
                batch: Vec::new(),
                batch_len: 0,
                done,
            };
        }
        if let Md5Stage::Piped {
            tx,
            batch,
            batch_len,
            ..
        } = self
        {
            batch.push(chunk.clone());
            *batch_len += chunk.len();
            if *batch_len >= MD5_BATCH {
                *batch_len = 0;
                // The receiver lives until `finish`; a send can only fail if the thread
                // panicked, which `finish` reports.
                let _ = tx.send(std::mem::take(batch)).await;
            }
        }
    }

    async fn finish(self) -> Result<[u8; 16]> {
        match self {
            Md5Stage::Inline(md5) => Ok(md5.finalize().into()),
            Md5Stage::Piped {
                tx, batch, done, ..
            } => {
                if !batch.is_empty() {
                    let _ = tx.send(batch).await;
                }
                drop(tx);
                done.await.map_err(|e| Error::Internal(Box::new(e)))
            }
        }
    }
}

fn crypto_failure(e: coffer_crypto::Error) -> Error {
    Error::Internal(Box::new(e))
}

/// Streams `body` into a new segment, encrypted when `seal` is given. The segment is committed
/// only if the whole body arrived, is at most `limit` bytes and matches `expected_md5`; otherwise
/// it is discarded and nothing is left.
///
/// A body of at most `inline_limit` bytes (0: none) is kept in the segment's record instead of a
/// blob ([`Segment::inline`]): the same bytes a blob would hold (for an encrypted segment, the
/// header and the sealed chunks, bound to a fresh blob id exactly as a blob's are), with no blob
/// file to write and sync. Larger bodies are streamed to the blob store as they arrive.
pub(crate) async fn write_segment(
    blobs: &dyn BlobStore,
    mut body: BodyStream,
    limit: u64,
    expected_md5: Option<[u8; 16]>,
    seal: Option<Seal<'_>>,
    inline_limit: u64,
) -> Result<Written> {
    // Read up to one byte past `inline_limit` before choosing where the bytes go.
    let mut head = Vec::new();
    let mut head_len = 0u64;
    if inline_limit > 0 {
        loop {
            match body.next().await {
                Some(Ok(chunk)) if chunk.is_empty() => {}
                Some(Ok(chunk)) => {
                    head_len += chunk.len() as u64;
                    head.push(chunk);
                    if head_len > inline_limit {
                        break;
                    }
                }
                Some(Err(_)) => return Err(Error::IncompleteBody),
                None => return write_inline(&head, head_len, limit, expected_md5, seal),
            }
        }
    }
    let body: BodyStream = if head.is_empty() {
        body
    } else {
        Box::pin(futures::stream::iter(head.into_iter().map(Ok)).chain(body))
    };
    let mut writer = blobs.create().await?;
    let encryptor = match &seal {
        Some(s) => {
            let context = segment_context(s.bucket, s.key, writer.id());
            match Encryptor::new(s.data_key, s.cipher, DEFAULT_CHUNK_LEN, &context) {
                Ok(e) => Some(e),
                Err(e) => {
                    writer.abort().await;
                    return Err(crypto_failure(e));
                }
            }
        }
        None => None,
    };
    let (header, framer) = match &encryptor {
        Some(e) => (e.header().encode().to_vec(), None),
        None => {
            let frame = PlainFrame::new(DEFAULT_CHUNK_LEN);
            (frame.encode(), Some(Framer::new(frame)))
        }
    };
    match fill(writer.as_mut(), body, limit, encryptor, framer).await {
        Ok((len, md5, crc64)) => {
            if expected_md5.is_some_and(|m| m != md5) {
                writer.abort().await;
                return Err(Error::InvalidDigest);
            }
            let blob = writer.id().clone();
            writer.commit().await?;
            Ok(Written {
                segment: Segment {
                    blob,
                    len,
                    crypto: Some(header),
                    inline: None,
                },
                md5,
                crc64,
            })
        }
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

/// A whole (small) body as an inline segment: checksummed and sealed in memory, in the blob
/// format, under a blob id of its own that no blob will ever have.
fn write_inline(
    body: &[Bytes],
    len: u64,
    limit: u64,
    expected_md5: Option<[u8; 16]>,
    seal: Option<Seal<'_>>,
) -> Result<Written> {
    if len > limit {
        return Err(Error::EntityTooLarge);
    }
    let mut md5 = Md5::new();
    let mut crc = Crc64::new();
    for chunk in body {
        md5.update(chunk);
        crc.update(chunk);
    }
    let md5: [u8; 16] = md5.finalize().into();
    if expected_md5.is_some_and(|m| m != md5) {
        return Err(Error::InvalidDigest);
    }
    let blob = coffer_blob::BlobId::random();
    let (crypto, stored) = match seal {
        Some(s) => {
            let context = segment_context(s.bucket, s.key, &blob);
            let mut e = Encryptor::new(s.data_key, s.cipher, DEFAULT_CHUNK_LEN, &context)
                .map_err(crypto_failure)?;
            let header = e.header().encode().to_vec();
            let mut out = Vec::with_capacity(HEADER_LEN + len as usize + 2 * TAG_LEN);
            out.extend_from_slice(&header);
            for chunk in body {
                e.push(chunk, &mut out).map_err(crypto_failure)?;
            }
            e.finish(&mut out).map_err(crypto_failure)?;
            (Some(header), out)
        }
        None => {
            let frame = PlainFrame::new(DEFAULT_CHUNK_LEN);
            let mut framer = Framer::new(frame);
            let mut pieces = Vec::with_capacity(2 * body.len() + 1);
            for chunk in body {
                framer.push(chunk.clone(), &mut pieces);
            }
            framer.finish(&mut pieces);
            (Some(frame.encode()), pieces.concat())
        }
    };
    Ok(Written {
        segment: Segment {
            blob,
            len,
            crypto,
            inline: Some(stored),
        },
        md5,
        crc64: crc.value(),
    })
}

/// Ciphertext is handed to the blob writer in pieces of at least this many bytes: blob-fs passes
/// pieces of 1 MiB and more to the disk as they are, and copies smaller ones into its buffer. The
/// encryptor's output is itself the one copy of the data, as the writer's buffer is for plain
/// bodies.
const CIPHERTEXT_PIECE: usize = 1 << 20;

/// Room for what one body chunk adds past [`CIPHERTEXT_PIECE`] (hyper hands over at most about
/// 400 KiB at a time), so that the output buffer is not reallocated while it fills.
const CIPHERTEXT_SLACK: usize = 512 << 10;

async fn fill(
    writer: &mut dyn BlobWriter,
    mut body: BodyStream,
    limit: u64,
    mut encryptor: Option<Encryptor>,
    mut framer: Option<Framer>,
) -> Result<(u64, [u8; 16], u64)> {
    let new_out = || Vec::with_capacity(CIPHERTEXT_PIECE + CIPHERTEXT_SLACK);
    let mut out = Vec::new();
    if let Some(e) = &encryptor {
        out = new_out();
        out.extend_from_slice(&e.header().encode());
    }
    let mut md5 = Md5Stage::Inline(Md5::new());
    let mut crc = Crc64::new();
    let mut len = 0u64;
    let mut framed = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|_| Error::IncompleteBody)?;
        if chunk.is_empty() {
            continue;
        }
        if len + chunk.len() as u64 > limit {
            return Err(Error::EntityTooLarge);
        }
        crc.update(&chunk);
        md5.feed(len, &chunk).await;
        len += chunk.len() as u64;
        match &mut encryptor {
            Some(e) => {
                e.push(&chunk, &mut out).map_err(crypto_failure)?;
                if out.len() >= CIPHERTEXT_PIECE {
                    let full = std::mem::replace(&mut out, new_out());
                    writer.write(Bytes::from(full)).await?;
                }
            }
            None => match &mut framer {
                Some(f) => {
                    f.push(chunk, &mut framed);
                    for piece in framed.drain(..) {
                        writer.write(piece).await?;
                    }
                }
                None => writer.write(chunk).await?,
            },
        }
    }
    if let Some(e) = encryptor {
        e.finish(&mut out).map_err(crypto_failure)?;
        writer.write(Bytes::from(out)).await?;
    }
    if let Some(f) = framer {
        f.finish(&mut framed);
        for piece in framed {
            writer.write(piece).await?;
        }
    }
    let md5 = md5.finish().await?;
    Ok((len, md5, crc.value()))
}

/// One blob read that contributes to a range.
struct Piece {
    blob: coffer_blob::BlobId,
    /// The segment's bytes when the record holds them (then the blob store is not asked).
    inline: Option<Bytes>,
    /// Bytes of the blob to read.
    blob_range: Range<u64>,
    /// For encrypted segments: how to decrypt what is read.
    crypto: Option<(SegmentHeader, coffer_crypto::CiphertextRange)>,
    /// For framed plain segments: how to check what is read (`None` with `crypto` also `None`:
    /// a plain segment of an earlier release, read raw).
    frame: Option<(PlainFrame, u64, FramedRange)>,
    /// When the read starts at the segment's first chunk, the blob's own copy of the header is
    /// read too and must equal the record's, so that no stored byte goes unchecked.
    expect_prefix: Vec<u8>,
}

fn plan(object: &ObjectRecord, range: &Range<u64>, encrypted: bool) -> Result<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut offset = 0u64;
    for segment in &object.segments {
        let seg_range = offset..offset + segment.len;
        offset += segment.len;
        let start = range.start.max(seg_range.start);
        let end = range.end.min(seg_range.end);
        if start >= end {
            continue;
        }
        let local = start - seg_range.start..end - seg_range.start;
        let piece = match (&segment.crypto, encrypted) {
            (None, false) => Piece {
                blob: segment.blob.clone(),
                inline: segment.inline.as_deref().map(Bytes::copy_from_slice),
                blob_range: local,
                crypto: None,
                frame: None,
                expect_prefix: Vec::new(),
            },
            (Some(header_bytes), false) => {
                let frame = PlainFrame::decode(header_bytes).ok_or_else(|| {
                    Error::Corrupt("a plain segment's frame header is damaged".into())
                })?;
                let framed = frame.range_for(&local, segment.len);
                Piece {
                    blob: segment.blob.clone(),
                    inline: segment.inline.as_deref().map(Bytes::copy_from_slice),
                    blob_range: framed.blob_range.clone(),
                    crypto: None,
                    frame: Some((frame, segment.len, framed)),
                    expect_prefix: Vec::new(),
                }
            }
            (Some(header_bytes), true) => {
                let header = SegmentHeader::decode(header_bytes)
                    .map_err(|_| Error::Corrupt("a segment header is damaged".into()))?;
                let ct = header
                    .ciphertext_range_for(local, segment.len)
                    .map_err(|_| Error::Corrupt("a segment's length is inconsistent".into()))?;
                let bytes = ct.ciphertext();
                let (start, expect_prefix) = if ct.first_chunk() == 0 {
                    (0, header_bytes.clone())
                } else {
                    (HEADER_LEN as u64 + bytes.start, Vec::new())
                };
                Piece {
                    blob: segment.blob.clone(),
                    inline: segment.inline.as_deref().map(Bytes::copy_from_slice),
                    blob_range: start..HEADER_LEN as u64 + bytes.end,
                    crypto: Some((header, ct)),
                    frame: None,
                    expect_prefix,
                }
            }
            // Data and its encryption metadata must agree; never serve one as the other.
            _ => {
                return Err(Error::Corrupt(
                    "an object's encryption metadata and its data disagree".into(),
                ));
            }
        };
        pieces.push(piece);
    }
    Ok(pieces)
}

/// Plaintext bytes of one piece of an encrypted read, about: the blob store cuts the ciphertext
/// into pieces of this many bytes' worth of whole chunks, so each piece is decrypted in the buffer
/// it was read into.
const READ_PIECE_PLAINTEXT: u64 = 1 << 20;

async fn open_piece(
    blobs: Arc<dyn BlobStore>,
    piece: Piece,
    unseal: Option<Unseal>,
) -> Result<BodyStream> {
    match (piece.crypto, piece.frame, unseal) {
        (None, Some((frame, segment_len, framed)), _) => {
            let raw = match piece.inline {
                Some(stored) => inline_range(stored, piece.blob_range),
                None => {
                    let grid = frame.grid(piece.blob_range.start);
                    blobs
                        .read_in_pieces(&piece.blob, piece.blob_range, grid)
                        .await?
                }
            };
            Ok(crate::frame::verified(raw, frame, segment_len, framed))
        }
        (None, None, _) => {
            let expected = piece.blob_range.end - piece.blob_range.start;
            let raw = match piece.inline {
                Some(stored) => inline_range(stored, piece.blob_range),
                None => blobs.read(&piece.blob, piece.blob_range).await?,
            };
            Ok(exactly(raw, expected))
        }
        (Some((header, ct)), _, Some(u)) => {
            let context = segment_context(&u.bucket, &u.key, &piece.blob);
            let decryptor = Decryptor::new(&u.data_key, &header, &context, &ct)
                .map_err(|_| Error::Corrupt("a segment does not authenticate".into()))?;
            let raw = match piece.inline {
                Some(stored) => inline_range(stored, piece.blob_range),
                None => {
                    let grid = decrypt_grid(&header, piece.blob_range.start);
                    blobs
                        .read_in_pieces(&piece.blob, piece.blob_range, grid)
                        .await?
                }
            };
            Ok(decrypt_stream(raw, decryptor, piece.expect_prefix))
        }
        (Some(_), _, None) => Err(Error::Corrupt(
            "no key to decrypt an encrypted segment".into(),
        )),
    }
}

/// `range` of an inline segment's stored bytes, cut at their end as the blob store cuts a blob's
/// (so a record whose data is shorter than it says reads short, and fails as a short blob does).
fn inline_range(stored: Bytes, range: Range<u64>) -> ByteStream {
    let len = stored.len() as u64;
    let (start, end) = (range.start.min(len), range.end.min(len));
    let piece = stored.slice(start as usize..end.max(start) as usize);
    Box::pin(futures::stream::iter(
        (!piece.is_empty()).then_some(Ok(piece)),
    ))
}

/// A plain piece's bytes, which must be exactly `expected` long: the blob store cuts a range at
/// the blob's end, and a committed blob never shrinks, so fewer bytes mean a damaged or truncated
/// blob; the stream then ends with an error (the response is cut), never as a short body.
fn exactly(raw: ByteStream, expected: u64) -> BodyStream {
    Box::pin(futures::stream::try_unfold(
        (raw, expected),
        |(mut raw, left)| async move {
            match raw.next().await {
                Some(Ok(bytes)) => {
                    let left = left
                        .checked_sub(bytes.len() as u64)
                        .ok_or_else(short_blob)?;
                    Ok(Some((bytes, (raw, left))))
                }
                Some(Err(e)) => Err(blob_error_to_io(e)),
                None if left == 0 => Ok(None),
                None => Err(short_blob()),
            }
        },
    ))
}

fn short_blob() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "stored object data is not as long as its record says (damaged or truncated)",
    )
}

/// Pieces of whole chunks, counted from the first chunk read (a read from the start of the blob
/// takes the header into its first piece).
fn decrypt_grid(header: &SegmentHeader, blob_start: u64) -> PieceGrid {
    let chunk_len = u64::from(header.chunk_len());
    let chunks = (READ_PIECE_PLAINTEXT / chunk_len).max(1);
    let unit = chunks * (chunk_len + TAG_LEN as u64);
    let unit = NonZeroU64::new(unit).unwrap_or(NonZeroU64::MIN);
    PieceGrid::new(blob_start.max(HEADER_LEN as u64), unit)
}

fn decrypt_failure() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "stored object data failed authentication (damaged or tampered)",
    )
}

/// Decrypts a ciphertext stream piece by piece, after checking that it starts with `prefix` (the
/// blob's copy of the header, when the read includes it); an authentication failure ends the
/// stream with an error (the response is aborted, never completed with wrong bytes).
///
/// Each piece is decrypted in its own buffer, on the thread that then sends it. Decrypting on the
/// blob store's read thread instead (right after the read, in chunk-sized or 1 MiB pieces, to
/// overlap with sending) was measured with 1 GiB GETs alternating between builds, and was no
/// faster and used no less CPU: on two shared cores there is no idle core to hide the work on, and
/// the plaintext then has to move to the sending core's cache.
fn decrypt_stream(raw: ByteStream, decryptor: Decryptor, prefix: Vec<u8>) -> BodyStream {
    Box::pin(futures::stream::try_unfold(
        (raw, Some(decryptor), prefix, 0usize),
        |(mut raw, mut decryptor, prefix, mut matched)| async move {
            loop {
                let Some(dec) = decryptor.as_mut() else {
                    return Ok(None);
                };
                match raw.next().await {
                    Some(Ok(piece)) => {
                        let mut piece = BytesMut::from(piece);
                        if matched < prefix.len() {
                            let n = (prefix.len() - matched).min(piece.len());
                            if piece[..n] != prefix[matched..matched + n] {
                                return Err(decrypt_failure());
                            }
                            matched += n;
                            piece.advance(n);
                        }
                        let out = decrypt_piece(dec, piece)?;
                        if !out.is_empty() {
                            return Ok(Some((out, (raw, decryptor, prefix, matched))));
                        }
                    }
                    Some(Err(e)) => return Err(blob_error_to_io(e)),
                    None => {
                        if matched < prefix.len() {
                            return Err(decrypt_failure());
                        }
                        if let Some(dec) = decryptor.take() {
                            dec.finish().map_err(|_| decrypt_failure())?;
                        }
                        return Ok(None);
                    }
                }
            }
        },
    ))
}

/// The plaintext of one piece: decrypted where it lies when the piece is whole chunks (what the
/// grid asks the store for), else copied through the decryptor's buffer (`push_in_place` refuses
/// such a piece without changing anything).
fn decrypt_piece(dec: &mut Decryptor, mut piece: BytesMut) -> io::Result<Bytes> {
    match dec.push_in_place(&mut piece) {
        Ok(n) => {
            piece.truncate(n);
            Ok(piece.freeze())
        }
        Err(coffer_crypto::Error::InvalidArgument { .. }) => {
            let mut out = Vec::with_capacity(piece.len());
            dec.push(&piece, &mut out).map_err(|_| decrypt_failure())?;
            Ok(Bytes::from(out))
        }
        Err(_) => Err(decrypt_failure()),
    }
}

/// Streams `range` of an object's plaintext. The first piece is opened, and its first bytes
/// read and authenticated, before this returns, so a missing blob, a wrong key or a damaged first
/// chunk is an error status rather than a broken response.
pub(crate) async fn read_range(
    blobs: Arc<dyn BlobStore>,
    object: &ObjectRecord,
    range: Range<u64>,
    unseal: Option<Unseal>,
) -> Result<BodyStream> {
    let pieces = plan(object, &range, object.encryption.is_some())?;
    let mut pieces = pieces.into_iter();
    let Some(first) = pieces.next() else {
        return Ok(Box::pin(futures::stream::empty()));
    };
    let mut first = open_piece(blobs.clone(), first, unseal.clone()).await?;
    let head = match first.next().await {
        Some(Ok(bytes)) => Some(bytes),
        Some(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
            return Err(Error::Corrupt(
                "stored object data failed authentication".into(),
            ));
        }
        Some(Err(e)) => return Err(Error::Internal(Box::new(e))),
        None => None,
    };
    let rest = futures::stream::iter(pieces)
        .then(move |piece| {
            let blobs = blobs.clone();
            let unseal = unseal.clone();
            async move {
                open_piece(blobs, piece, unseal)
                    .await
                    .map_err(|e| io::Error::other(e.to_string()))
            }
        })
        .try_flatten();
    // `first` may have ended already; a stream must not be polled again after its end.
    let first = match head {
        Some(_) => first,
        None => Box::pin(futures::stream::empty()),
    };
    let stream = futures::stream::iter(head.map(Ok)).chain(first).chain(rest);
    Ok(Box::pin(stream))
}

pub(crate) fn blob_error_to_io(e: coffer_blob::Error) -> io::Error {
    match e {
        coffer_blob::Error::Io(e) => e,
        coffer_blob::Error::NotFound => {
            io::Error::new(io::ErrorKind::NotFound, "object data is missing")
        }
    }
}
