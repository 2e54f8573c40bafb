//! Streaming encryption of one segment.

use crate::chunk::ChunkKey;
use crate::header::{SegmentHeader, TAG_LEN};
use crate::{Cipher, DataKey, Error, Result};

/// Encrypts one segment from plaintext given in pieces of any size, with memory bounded by one chunk.
///
/// ```
/// use coffer_crypto::{Cipher, DataKey, Encryptor, DEFAULT_CHUNK_LEN};
/// let key = DataKey::generate();
/// let mut enc = Encryptor::new(&key, Cipher::Aes256Gcm, DEFAULT_CHUNK_LEN, b"segment identity")?;
/// let header = enc.header().encode(); // store with the blob or in the metadata
/// let mut body = Vec::new();
/// enc.push(b"hello, ", &mut body)?;
/// enc.push(b"world", &mut body)?;
/// enc.finish(&mut body)?;
/// assert_eq!(body.len() as u64, enc_len(12));
/// # fn enc_len(n: u64) -> u64 { coffer_crypto::ciphertext_len(DEFAULT_CHUNK_LEN, n).unwrap() }
/// # Ok::<(), coffer_crypto::Error>(())
/// ```
///
/// A chunk is emitted once it is full *and* at least one more plaintext byte has arrived, because
/// only then is it known not to be the final chunk; [`Encryptor::finish`] emits the last one with
/// the final flag. Dropping an encryptor without calling `finish` leaves a segment that no reader
/// accepts.
pub struct Encryptor {
    key: ChunkKey,
    header: SegmentHeader,
    chunk_len: usize,
    /// Plaintext of the chunk being filled: at most `chunk_len` bytes (capacity for its tag too).
    pending: Vec<u8>,
    next_index: u64,
    plain_len: u64,
}

impl Encryptor {
    /// Starts a new segment: a fresh random salt, the chunk key derived from `data_key`, the salt,
    /// the header and `context`, and the header's key commitment.
    ///
    /// `context` is the segment's identity (for instance bucket, key, upload id and part number,
    /// encoded without ambiguity by [`crate::encode_context`]); a reader must pass the same bytes.
    /// `chunk_len` is usually [`crate::DEFAULT_CHUNK_LEN`].
    pub fn new(data_key: &DataKey, cipher: Cipher, chunk_len: u32, context: &[u8]) -> Result<Self> {
        let mut header = SegmentHeader::with_fresh_salt(cipher, chunk_len)?;
        let key = ChunkKey::for_new_segment(data_key, &mut header, context)?;
        let chunk_len = usize::try_from(chunk_len).map_err(|_| Error::InvalidArgument {
            what: "chunk length",
            reason: "does not fit in memory",
        })?;
        Ok(Self {
            key,
            header,
            chunk_len,
            pending: Vec::new(),
            next_index: 0,
            plain_len: 0,
        })
    }

    /// The header of this segment, complete from the start (it does not depend on the data).
    pub fn header(&self) -> &SegmentHeader {
        &self.header
    }

    /// Plaintext bytes pushed so far.
    pub fn plaintext_len(&self) -> u64 {
        self.plain_len
    }

    /// Encrypts `plaintext` and appends every chunk it completes to `out` (possibly none).
    pub fn push(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.plain_len = u64::try_from(plaintext.len())
            .ok()
            .and_then(|n| self.plain_len.checked_add(n))
            .ok_or(Error::Internal { what: "length" })?;
        while !plaintext.is_empty() {
            if self.pending.len() == self.chunk_len {
                // More data follows, so the pending chunk is not the final one.
                self.seal_pending(false, out)?;
            }
            if self.pending.is_empty() && plaintext.len() > self.chunk_len {
                // Fast path: a whole chunk followed by at least one more byte goes straight into
                // `out` and is encrypted there, in place.
                let (chunk, rest) = plaintext.split_at(self.chunk_len);
                self.seal_into(chunk, false, out)?;
                plaintext = rest;
                continue;
            }
            // Room for a whole chunk and its tag, so that sealing never reallocates.
            self.pending
                .reserve_exact((self.chunk_len + TAG_LEN).saturating_sub(self.pending.len()));
            let take = (self.chunk_len - self.pending.len()).min(plaintext.len());
            let (head, rest) = plaintext.split_at(take);
            self.pending.extend_from_slice(head);
            plaintext = rest;
        }
        Ok(())
    }

    /// Encrypts what is left as the final chunk and appends it to `out`. An empty segment still gets
    /// its (empty) final chunk.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        self.seal_pending(true, out)
    }

    fn seal_pending(&mut self, is_final: bool, out: &mut Vec<u8>) -> Result<()> {
        let index = self.take_index()?;
        let tag = self.key.seal(index, is_final, &mut self.pending)?;
        self.pending.extend_from_slice(&tag);
        if out.is_empty() {
            // Hand the sealed chunk over without copying it; `out` is empty, so appending and
            // swapping leave the same bytes in it. Its old allocation becomes the next `pending`.
            std::mem::swap(out, &mut self.pending);
        } else {
            out.extend_from_slice(&self.pending);
        }
        self.pending.clear();
        Ok(())
    }

    fn seal_into(&mut self, chunk: &[u8], is_final: bool, out: &mut Vec<u8>) -> Result<()> {
        let index = self.take_index()?;
        out.reserve(chunk.len() + TAG_LEN);
        let start = out.len();
        out.extend_from_slice(chunk);
        let tag = self.key.seal(index, is_final, &mut out[start..])?;
        out.extend_from_slice(&tag);
        Ok(())
    }

    fn take_index(&mut self) -> Result<u64> {
        let index = self.next_index;
        self.next_index = index.checked_add(1).ok_or(Error::Internal {
            what: "chunk counter",
        })?;
        Ok(index)
    }
}

// By hand: the pending plaintext is object data and must not reach a log.
impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encryptor")
            .field("header", &self.header)
            .field("next_index", &self.next_index)
            .field("plain_len", &self.plain_len)
            .finish_non_exhaustive()
    }
}

/// Encrypts a whole segment held in memory: the header and the chunk stream. For small objects and
/// tests; the server streams through [`Encryptor`].
pub fn encrypt_segment(
    data_key: &DataKey,
    cipher: Cipher,
    chunk_len: u32,
    context: &[u8],
    plaintext: &[u8],
) -> Result<(SegmentHeader, Vec<u8>)> {
    let mut enc = Encryptor::new(data_key, cipher, chunk_len, context)?;
    let len = u64::try_from(plaintext.len()).map_err(|_| Error::Internal { what: "length" })?;
    let ct_len = enc.header().ciphertext_len(len)?;
    let mut out = Vec::with_capacity(
        usize::try_from(ct_len).map_err(|_| Error::Internal { what: "length" })?,
    );
    enc.push(plaintext, &mut out)?;
    let header = enc.header().clone();
    enc.finish(&mut out)?;
    Ok((header, out))
}
