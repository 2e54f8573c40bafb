//! Object contents: a deterministic pseudo-random stream that costs the client no memory per
//! object and almost no CPU, and that a GET can be checked against.
//!
//! One 1 MiB block of xorshift output is generated at start-up. Chunk `c` of object `o` is that
//! block with its first 16 bytes replaced by `(o, c)`, sent as two frames: a fresh 16-byte tag and
//! a zero-copy slice of the block. So every chunk of every object differs (a server that returned
//! the wrong chunk, or another object's chunk, is caught) while nothing is copied or allocated in
//! proportion to the object's size.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};

/// Length of one generated chunk, in bytes.
pub(crate) const CHUNK_LEN: u64 = 1 << 20;
/// Bytes at the start of each chunk that hold `(object id, chunk index)`, little-endian.
const TAG_LEN: usize = 16;

/// The shared block every object's chunks are made of.
#[derive(Clone)]
pub(crate) struct Pattern {
    block: Bytes,
}

impl Pattern {
    /// Fills the block from a xorshift64* generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut state = seed | 1;
        let mut block = Vec::with_capacity(CHUNK_LEN as usize);
        while (block.len() as u64) < CHUNK_LEN {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            block.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        Self {
            block: Bytes::from(block),
        }
    }

    /// A request body of `len` bytes: the content of object `object`.
    pub(crate) fn body(&self, object: u64, len: u64) -> PatternBody {
        PatternBody {
            block: self.block.clone(),
            object,
            len,
            pos: 0,
            pending: None,
        }
    }

    /// Checks bytes of object `object` received in order from byte `offset` on.
    pub(crate) fn verifier(&self, object: u64, offset: u64) -> Verifier {
        Verifier {
            block: self.block.clone(),
            object,
            pos: offset,
            first_mismatch: None,
        }
    }
}

fn tag(object: u64, chunk: u64) -> [u8; TAG_LEN] {
    let mut tag = [0; TAG_LEN];
    tag[..8].copy_from_slice(&object.to_le_bytes());
    tag[8..].copy_from_slice(&chunk.to_le_bytes());
    tag
}

/// A streamed request body; see the module docs for its content.
pub(crate) struct PatternBody {
    block: Bytes,
    object: u64,
    len: u64,
    /// Bytes handed out so far, counting `pending`.
    pos: u64,
    /// The rest of the current chunk, after its tag frame was sent.
    pending: Option<Bytes>,
}

impl Body for PatternBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(rest) = self.pending.take() {
            return Poll::Ready(Some(Ok(Frame::data(rest))));
        }
        if self.pos >= self.len {
            return Poll::Ready(None);
        }
        // Chunks are emitted whole, so `pos` is at a chunk boundary here.
        let chunk = self.pos / CHUNK_LEN;
        let n = (self.len - self.pos).min(CHUNK_LEN) as usize;
        let tag = tag(self.object, chunk);
        self.pos += n as u64;
        if n <= TAG_LEN {
            return Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(&tag[..n])))));
        }
        self.pending = Some(self.block.slice(TAG_LEN..n));
        Poll::Ready(Some(Ok(Frame::data(Bytes::copy_from_slice(&tag)))))
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_none() && self.pos >= self.len
    }

    fn size_hint(&self) -> SizeHint {
        let pending = self.pending.as_ref().map_or(0, |p| p.len() as u64);
        SizeHint::with_exact(self.len - self.pos + pending)
    }
}

/// Compares received bytes with what the object holds at their offset.
pub(crate) struct Verifier {
    block: Bytes,
    object: u64,
    pos: u64,
    first_mismatch: Option<u64>,
}

impl Verifier {
    /// Checks the next bytes of the response body.
    pub(crate) fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let chunk = self.pos / CHUNK_LEN;
            let within = (self.pos % CHUNK_LEN) as usize;
            let n = data.len().min(CHUNK_LEN as usize - within);
            let (now, rest) = data.split_at(n);
            if self.first_mismatch.is_none() && !self.matches(chunk, within, now) {
                self.first_mismatch = Some(self.pos);
            }
            self.pos += n as u64;
            data = rest;
        }
    }

    /// `Err(offset)` if any byte was wrong: the object offset where the first wrong piece (a
    /// received buffer, cut at 1 MiB boundaries) starts.
    pub(crate) fn finish(&self) -> Result<(), u64> {
        self.first_mismatch.map_or(Ok(()), Err)
    }

    fn matches(&self, chunk: u64, within: usize, data: &[u8]) -> bool {
        let tag = tag(self.object, chunk);
        let in_tag = TAG_LEN.saturating_sub(within).min(data.len());
        let (head, tail) = data.split_at(in_tag);
        (in_tag == 0 || head == &tag[within..within + in_tag])
            && tail == &self.block[within + in_tag..within + data.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn collect(body: PatternBody) -> Vec<u8> {
        body.collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn body_has_the_exact_length_and_verifies_at_any_offset() {
        let pattern = Pattern::new(7);
        for len in [0, 5, 16, 17, 4096, CHUNK_LEN, 2 * CHUNK_LEN + 3] {
            let body = pattern.body(3, len);
            assert_eq!(body.size_hint().exact(), Some(len));
            let bytes = collect(body).await;
            assert_eq!(bytes.len() as u64, len);
            for offset in [0, 1, 15, 16, 17, 1000, CHUNK_LEN - 1, CHUNK_LEN + 8] {
                if offset > len {
                    continue;
                }
                let mut v = pattern.verifier(3, offset);
                // Feed in uneven pieces, as a socket would.
                for piece in bytes[offset as usize..].chunks(7919) {
                    v.update(piece);
                }
                assert_eq!(v.finish(), Ok(()), "len {len} offset {offset}");
            }
        }
    }

    #[tokio::test]
    async fn other_objects_chunks_and_offsets_do_not_verify() {
        let pattern = Pattern::new(7);
        let bytes = collect(pattern.body(3, 2 * CHUNK_LEN)).await;
        let mut other_object = pattern.verifier(4, 0);
        other_object.update(&bytes);
        assert!(other_object.finish().is_err());
        let mut swapped = pattern.verifier(3, 0);
        swapped.update(&bytes[CHUNK_LEN as usize..]);
        assert_eq!(swapped.finish(), Err(0));
        let mut shifted = pattern.verifier(3, 1);
        shifted.update(&bytes[..1000]);
        assert!(shifted.finish().is_err());
    }
}
