//! Checksummed framing of plain (unencrypted) segments.
//!
//! Why: every chunk of an encrypted segment is authenticated, so a stored byte that flips is an
//! error; the bytes of a plain segment used to be served as they lay, so the same flip reached
//! the client silently. A plain segment is therefore stored in frames: its bytes in chunks of
//! `chunk_len`, each followed by a CRC-64 of the chunk's index and bytes, checked on every read.
//! A CRC detects accidents (bit rot, torn or misdirected writes, a chunk read from the wrong
//! place), not tampering: whoever can write the blob can write a matching CRC. Tampering is what
//! encryption is for.
//!
//! ```text
//! header (in the segment's record only, 9 bytes) = "CFPL" ‖ version (1) ‖ chunk_len (u32 BE)
//! blob = for each chunk i = 0, 1, …: bytes_i ‖ sum_i (u64 LE)
//!        sum_i = CRC-64/XZ(i as u64 LE ‖ bytes_i)
//! ```
//!
//! Every chunk but the last holds `chunk_len` bytes; an empty segment has an empty blob. Plain
//! segments written before this framing have no header in their record and are read raw, as
//! before (see `docs/format.md`).

use std::io;
use std::num::NonZeroU64;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use coffer_blob::{ByteStream, PieceGrid};
use futures::{StreamExt, TryStreamExt};

use crate::checksum::Crc64;
use crate::data::BodyStream;

const MAGIC: [u8; 4] = *b"CFPL";
const VERSION_1: u8 = 1;
const HEADER_LEN: usize = 9;
/// Bytes of the checksum after each chunk.
const SUM_LEN: u64 = 8;
/// Chunk lengths a header may name: a chunk shorter than this would spend more on sums than on
/// data; a longer one would make range reads read too much.
const CHUNK_LEN_RANGE: std::ops::RangeInclusive<u32> = 512..=(16 << 20);

/// How a plain segment's blob is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PlainFrame {
    chunk_len: u32,
}

/// What to read of a framed blob for a range of its plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FramedRange {
    /// The blob bytes holding the whole chunks the range touches.
    pub(crate) blob_range: Range<u64>,
    /// The first of those chunks.
    first_chunk: u64,
    /// Plaintext bytes of the first chunk before the range.
    skip: u64,
    /// Plaintext bytes of the range.
    want: u64,
}

impl PlainFrame {
    /// Frames of `chunk_len` bytes (within [`CHUNK_LEN_RANGE`]).
    pub(crate) fn new(chunk_len: u32) -> Self {
        Self {
            chunk_len: chunk_len.clamp(*CHUNK_LEN_RANGE.start(), *CHUNK_LEN_RANGE.end()),
        }
    }

    /// The header kept in the segment's record.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION_1);
        out.extend_from_slice(&self.chunk_len.to_be_bytes());
        out
    }

    /// Reads a header; `None` if `bytes` is not one this version writes.
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; HEADER_LEN] = bytes.try_into().ok()?;
        if bytes[0..4] != MAGIC || bytes[4] != VERSION_1 {
            return None;
        }
        let chunk_len = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
        CHUNK_LEN_RANGE
            .contains(&chunk_len)
            .then_some(Self { chunk_len })
    }

    fn len(&self) -> u64 {
        u64::from(self.chunk_len)
    }

    /// The length of the blob that frames `len` plaintext bytes.
    pub(crate) fn blob_len(&self, len: u64) -> u64 {
        len + len.div_ceil(self.len()) * SUM_LEN
    }

    /// What to read for `local` (non-empty, within `0..segment_len`).
    pub(crate) fn range_for(&self, local: &Range<u64>, segment_len: u64) -> FramedRange {
        let first_chunk = local.start / self.len();
        let last_chunk = (local.end - 1) / self.len();
        let frame = self.len() + SUM_LEN;
        let end = ((last_chunk + 1) * frame).min(self.blob_len(segment_len));
        FramedRange {
            blob_range: first_chunk * frame..end,
            first_chunk,
            skip: local.start - first_chunk * self.len(),
            want: local.end - local.start,
        }
    }

    /// Pieces of whole frames (about 1 MiB of plaintext each), so that most chunks are checked
    /// where they were read, without a copy.
    pub(crate) fn grid(&self, blob_start: u64) -> PieceGrid {
        let frames = ((1u64 << 20) / self.len()).max(1);
        let unit = NonZeroU64::new(frames * (self.len() + SUM_LEN)).unwrap_or(NonZeroU64::MIN);
        PieceGrid::new(blob_start, unit)
    }
}

fn chunk_sum(index: u64, bytes: &[u8]) -> [u8; SUM_LEN as usize] {
    let mut crc = Crc64::new();
    crc.update(&index.to_le_bytes());
    crc.update(bytes);
    crc.value().to_le_bytes()
}

/// Cuts a stream of plaintext into frames for the blob: the body's own buffers, sliced where
/// chunks end, with an 8-byte sum after each chunk (no copy of the data).
pub(crate) struct Framer {
    frame: PlainFrame,
    index: u64,
    /// Bytes of the current chunk so far, and their running sum (which began with its index).
    filled: u64,
    crc: Crc64,
}

impl Framer {
    pub(crate) fn new(frame: PlainFrame) -> Self {
        Self {
            frame,
            index: 0,
            filled: 0,
            crc: Self::start(0),
        }
    }

    fn start(index: u64) -> Crc64 {
        let mut crc = Crc64::new();
        crc.update(&index.to_le_bytes());
        crc
    }

    fn close_chunk(&mut self, out: &mut Vec<Bytes>) {
        out.push(Bytes::copy_from_slice(&self.crc.value().to_le_bytes()));
        self.index += 1;
        self.filled = 0;
        self.crc = Self::start(self.index);
    }

    /// Appends to `out` what the blob gets for `data`.
    pub(crate) fn push(&mut self, mut data: Bytes, out: &mut Vec<Bytes>) {
        while !data.is_empty() {
            let room = self.frame.len() - self.filled;
            let n = room.min(data.len() as u64) as usize;
            let piece = data.split_to(n);
            self.crc.update(&piece);
            self.filled += n as u64;
            out.push(piece);
            if self.filled == self.frame.len() {
                self.close_chunk(out);
            }
        }
    }

    /// Appends the sum of the last, short chunk, if any.
    pub(crate) fn finish(mut self, out: &mut Vec<Bytes>) {
        if self.filled > 0 {
            self.close_chunk(out);
        }
    }
}

fn checksum_failure() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "stored object data failed its checksum (damaged)",
    )
}

fn short_blob() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "stored object data is not as long as its record says (damaged or truncated)",
    )
}

/// Where a read of a framed blob stands.
struct Verify {
    frame: PlainFrame,
    segment_len: u64,
    /// The chunk the next frame holds.
    index: u64,
    skip: u64,
    want: u64,
    /// A frame begun in one piece and ended in a later one.
    carry: BytesMut,
}

impl Verify {
    /// Length of the frame of chunk `index`.
    fn frame_len(&self) -> u64 {
        let start = self.index * self.frame.len();
        self.frame.len().min(self.segment_len.saturating_sub(start)) + SUM_LEN
    }

    /// Checks one whole frame and appends its wanted plaintext to `out`.
    fn frame(&mut self, mut frame: Bytes, out: &mut Vec<Bytes>) -> io::Result<()> {
        let data_len = frame.len() - SUM_LEN as usize;
        let sum = frame.split_off(data_len);
        if chunk_sum(self.index, &frame)[..] != sum[..] {
            return Err(checksum_failure());
        }
        self.index += 1;
        let skip = self.skip.min(frame.len() as u64) as usize;
        self.skip -= skip as u64;
        let take = ((frame.len() - skip) as u64).min(self.want) as usize;
        self.want -= take as u64;
        if take > 0 {
            out.push(frame.slice(skip..skip + take));
        }
        Ok(())
    }

    /// Checks the whole frames `piece` completes; keeps a trailing part for the next piece.
    fn piece(&mut self, mut piece: Bytes) -> io::Result<Vec<Bytes>> {
        let mut out = Vec::new();
        while !piece.is_empty() && self.want > 0 {
            let need = self.frame_len() as usize;
            if self.carry.is_empty() && piece.len() >= need {
                let frame = piece.split_to(need);
                self.frame(frame, &mut out)?;
                continue;
            }
            let n = (need - self.carry.len()).min(piece.len());
            self.carry.extend_from_slice(&piece.split_to(n));
            if self.carry.len() == need {
                let frame = std::mem::take(&mut self.carry).freeze();
                self.frame(frame, &mut out)?;
            }
        }
        Ok(out)
    }
}

/// The plaintext of `range` from `raw`, the blob bytes of `range.blob_range`, every chunk checked
/// before any of its bytes is passed on. A damaged chunk or a short blob ends the stream with an
/// `InvalidData` error (the response is cut, never completed with wrong bytes).
pub(crate) fn verified(
    raw: ByteStream,
    frame: PlainFrame,
    segment_len: u64,
    range: FramedRange,
) -> BodyStream {
    let state = Verify {
        frame,
        segment_len,
        index: range.first_chunk,
        skip: range.skip,
        want: range.want,
        carry: BytesMut::new(),
    };
    let frames = futures::stream::try_unfold((raw, state), |(mut raw, mut state)| async move {
        if state.want == 0 {
            return Ok(None);
        }
        match raw.next().await {
            Some(Ok(piece)) => {
                let out = state.piece(piece)?;
                Ok(Some((out, (raw, state))))
            }
            Some(Err(e)) => Err(crate::data::blob_error_to_io(e)),
            None => Err(short_blob()),
        }
    });
    Box::pin(
        frames
            .map_ok(|out| futures::stream::iter(out.into_iter().map(Ok)))
            .try_flatten(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame_all(frame: PlainFrame, pieces: &[&[u8]]) -> Vec<u8> {
        let mut framer = Framer::new(frame);
        let mut out = Vec::new();
        for p in pieces {
            framer.push(Bytes::copy_from_slice(p), &mut out);
        }
        framer.finish(&mut out);
        out.concat()
    }

    fn read(
        frame: PlainFrame,
        blob: &[u8],
        len: u64,
        local: Range<u64>,
        cut: usize,
    ) -> io::Result<Vec<u8>> {
        let r = frame.range_for(&local, len);
        let bytes =
            blob[r.blob_range.start as usize..(r.blob_range.end as usize).min(blob.len())].to_vec();
        let pieces: Vec<Result<Bytes, coffer_blob::Error>> = bytes
            .chunks(cut.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let raw: ByteStream = Box::pin(futures::stream::iter(pieces));
        let stream = verified(raw, frame, len, r);
        futures::executor::block_on(stream.try_collect::<Vec<Bytes>>()).map(|b| b.concat())
    }

    #[test]
    fn header_round_trips_and_refuses_others() {
        let f = PlainFrame::new(65536);
        assert_eq!(PlainFrame::decode(&f.encode()), Some(f));
        let mut bad = f.encode();
        bad[4] = 2;
        assert_eq!(PlainFrame::decode(&bad), None);
        assert_eq!(PlainFrame::decode(&f.encode()[..8]), None);
        let mut tiny = f.encode();
        tiny[5..9].copy_from_slice(&1u32.to_be_bytes());
        assert_eq!(PlainFrame::decode(&tiny), None);
        // An encryption header is never mistaken for a frame header.
        assert_eq!(PlainFrame::decode(&[0u8; coffer_crypto::HEADER_LEN]), None);
    }

    #[test]
    fn layout_is_as_documented() {
        let f = PlainFrame::new(512);
        let data: Vec<u8> = (0..1300u32).map(|i| i as u8).collect();
        let blob = frame_all(f, &[&data]);
        assert_eq!(blob.len() as u64, f.blob_len(1300));
        assert_eq!(blob.len(), 1300 + 3 * 8);
        assert_eq!(&blob[..512], &data[..512]);
        assert_eq!(&blob[512..520], &chunk_sum(0, &data[..512]));
        assert_eq!(&blob[1040..1316], &data[1024..]);
        assert_eq!(&blob[1316..], &chunk_sum(2, &data[1024..]));
        assert!(frame_all(f, &[]).is_empty());
    }

    #[test]
    fn a_flipped_byte_anywhere_is_an_error() {
        let f = PlainFrame::new(512);
        let data = vec![7u8; 2000];
        let blob = frame_all(f, &[&data]);
        for i in (0..blob.len()).step_by(37) {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            let e = read(f, &bad, 2000, 0..2000, 4096).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "flip at {i}");
        }
    }

    #[test]
    fn swapped_chunks_and_short_blobs_are_errors() {
        let f = PlainFrame::new(512);
        let data = vec![9u8; 1024];
        let blob = frame_all(f, &[&data]);
        let mut swapped = blob[520..].to_vec();
        swapped.extend_from_slice(&blob[..520]);
        assert!(read(f, &swapped, 1024, 0..1024, 4096).is_err());
        assert!(read(f, &blob[..1000], 1024, 0..1024, 4096).is_err());
        assert!(read(f, &blob[..520], 1024, 0..1024, 4096).is_err());
    }

    proptest! {
        #[test]
        fn every_range_reads_back_whatever_the_cuts(
            len in 0usize..3000,
            writes in proptest::collection::vec(1usize..700, 1..8),
            start in 0usize..3000,
            span in 1usize..3000,
            cut in 1usize..1500,
        ) {
            let f = PlainFrame::new(512);
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let mut pieces = Vec::new();
            let mut at = 0;
            for w in writes.iter().cycle() {
                if at >= len { break; }
                let end = (at + w).min(len);
                pieces.push(&data[at..end]);
                at = end;
            }
            let blob = frame_all(f, &pieces);
            prop_assert_eq!(blob.len() as u64, f.blob_len(len as u64));
            if len > 0 {
                let start = start % len;
                let end = (start + span).min(len);
                let got = read(f, &blob, len as u64, start as u64..end as u64, cut).unwrap();
                prop_assert_eq!(&got[..], &data[start..end]);
            }
        }
    }
}
