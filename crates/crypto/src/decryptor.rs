//! Streaming, range-aware decryption of one segment.

use crate::chunk::ChunkKey;
use crate::header::{CiphertextRange, SegmentHeader, TAG_LEN};
use crate::{DataKey, Error, Result};

/// Decrypts the chunks of a [`CiphertextRange`] from ciphertext given in pieces of any size, with
/// memory bounded by one chunk, and yields exactly the requested plaintext bytes.
///
/// Every chunk is authenticated before any of its bytes are appended to the output, under the nonce
/// its position demands: its index, and the final flag if and only if it is the last chunk of a
/// segment of the length given to [`SegmentHeader::ciphertext_range_for`]. So a changed, moved,
/// dropped or foreign chunk fails, and so does a segment cut short at a chunk boundary. Once a call
/// has failed, every later call fails too.
///
/// ```
/// use coffer_crypto::{encrypt_segment, Cipher, DataKey, Decryptor, SegmentHeader};
/// let key = DataKey::generate();
/// let plaintext = vec![7u8; 100_000];
/// let (header, body) = encrypt_segment(&key, Cipher::Aes256Gcm, 65536, b"ctx", &plaintext)?;
///
/// let range = header.ciphertext_range_for(70_000..70_010, plaintext.len() as u64)?;
/// let ct = range.ciphertext();
/// let mut dec = Decryptor::new(&key, &header, b"ctx", &range)?;
/// let mut out = Vec::new();
/// dec.push(&body[ct.start as usize..ct.end as usize], &mut out)?;
/// dec.finish()?;
/// assert_eq!(out, &plaintext[70_000..70_010]);
/// # Ok::<(), coffer_crypto::Error>(())
/// ```
pub struct Decryptor {
    key: ChunkKey,
    range: CiphertextRange,
    next_index: u64,
    /// Ciphertext of the chunk being assembled, when it arrived in more than one piece.
    buf: Vec<u8>,
    /// Plaintext bytes still to drop from the start of the next chunk.
    skip: usize,
    /// Plaintext bytes still to yield.
    remaining: u64,
    failed: bool,
}

impl Decryptor {
    /// Prepares to decrypt `range` of the segment described by `header`.
    ///
    /// Checks the header's key commitment first: [`Error::Decrypt`] here means the wrong data key,
    /// the wrong context or a changed header, found before any ciphertext is fetched.
    pub fn new(
        data_key: &DataKey,
        header: &SegmentHeader,
        context: &[u8],
        range: &CiphertextRange,
    ) -> Result<Self> {
        if range.chunk_len() != header.chunk_len() {
            return Err(Error::InvalidArgument {
                what: "ciphertext range",
                reason: "computed for a header with another chunk length",
            });
        }
        let key = ChunkKey::for_existing_segment(data_key, header, context)?;
        let plain = range.plaintext();
        Ok(Self {
            key,
            next_index: range.first_chunk(),
            buf: Vec::new(),
            skip: usize::try_from(range.skip()).map_err(|_| Error::Internal { what: "length" })?,
            remaining: plain.end - plain.start,
            range: range.clone(),
            failed: false,
        })
    }

    /// Authenticates and decrypts the chunks that `ciphertext` completes and appends their part of
    /// the requested plaintext to `out`. Bytes beyond the range's end are [`Error::Decrypt`].
    pub fn push(&mut self, ciphertext: &[u8], out: &mut Vec<u8>) -> Result<()> {
        if self.failed {
            return Err(Error::Decrypt);
        }
        let result = self.push_inner(ciphertext, out);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    /// Checks that the whole range arrived: [`Error::Decrypt`] if ciphertext is missing, which is how
    /// a blob truncated in the middle of a chunk shows up.
    pub fn finish(self) -> Result<()> {
        if self.failed || self.next_index <= self.range.last_chunk() || !self.buf.is_empty() {
            return Err(Error::Decrypt);
        }
        debug_assert_eq!(self.remaining, 0);
        Ok(())
    }

    /// Whether `len` bytes of ciphertext are whole chunks that start where the last push ended,
    /// as [`Decryptor::push_in_place`] requires.
    pub fn takes_whole_chunks(&self, len: usize) -> bool {
        if !self.buf.is_empty() || self.failed {
            return false;
        }
        let mut left = len as u64;
        let mut index = self.next_index;
        while left > 0 {
            if index > self.range.last_chunk() {
                return false;
            }
            let need = self.range.chunk_ciphertext_len(index);
            if left < need {
                return false;
            }
            left -= need;
            index += 1;
        }
        true
    }

    /// Like [`Decryptor::push`], but decrypts `data` where it lies instead of copying it: the
    /// requested plaintext ends up at the front of `data`, and its length is returned. `data` must
    /// be whole chunks (see [`Decryptor::takes_whole_chunks`]), or this is
    /// [`Error::InvalidArgument`] and nothing changes. On [`Error::Decrypt`] the contents of
    /// `data` are unspecified and must be discarded.
    pub fn push_in_place(&mut self, data: &mut [u8]) -> Result<usize> {
        if !self.takes_whole_chunks(data.len()) {
            return Err(if self.failed {
                Error::Decrypt
            } else {
                Error::InvalidArgument {
                    what: "ciphertext",
                    reason: "not whole chunks continuing the range",
                }
            });
        }
        let result = self.open_all_in_place(data);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn open_all_in_place(&mut self, data: &mut [u8]) -> Result<usize> {
        let (mut read, mut written) = (0, 0);
        while read < data.len() {
            let need = usize::try_from(self.range.chunk_ciphertext_len(self.next_index))
                .map_err(|_| Error::Internal { what: "length" })?;
            let (index, is_final) = self.take_index();
            let body_len = need - TAG_LEN;
            let (body, tag) = data[read..read + need].split_at_mut(body_len);
            self.key.open(index, is_final, body, tag)?;
            let skip = std::mem::take(&mut self.skip);
            let keep = self.keep(body_len - skip);
            // The chunk was just decrypted, so this move runs in cache; it closes the gap the tags
            // (and a skipped head) leave behind.
            if read + skip != written {
                data.copy_within(read + skip..read + skip + keep, written);
            }
            written += keep;
            read += need;
        }
        Ok(written)
    }

    fn push_inner(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        while !input.is_empty() {
            if self.next_index > self.range.last_chunk() {
                return Err(Error::Decrypt);
            }
            let need = usize::try_from(self.range.chunk_ciphertext_len(self.next_index))
                .map_err(|_| Error::Internal { what: "length" })?;
            if self.buf.is_empty() && self.skip == 0 && input.len() >= need {
                // Fast path: a whole chunk in one piece is copied into `out` and opened there.
                let (chunk, rest) = input.split_at(need);
                self.open_into(chunk, out)?;
                input = rest;
                continue;
            }
            self.buf.reserve_exact(need.saturating_sub(self.buf.len()));
            let take = (need - self.buf.len()).min(input.len());
            let (head, rest) = input.split_at(take);
            self.buf.extend_from_slice(head);
            input = rest;
            if self.buf.len() == need {
                self.open_buffered(out)?;
            }
        }
        Ok(())
    }

    /// Opens the chunk in `chunk` (ciphertext and tag) inside `out`.
    fn open_into(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let (index, is_final) = self.take_index();
        let (body, tag) = chunk.split_at(chunk.len() - TAG_LEN);
        let start = out.len();
        out.extend_from_slice(body);
        if let Err(e) = self.key.open(index, is_final, &mut out[start..], tag) {
            // Never leave unauthenticated bytes where the caller can see them.
            out.truncate(start);
            return Err(e);
        }
        let keep = self.keep(body.len());
        out.truncate(start + keep);
        Ok(())
    }

    /// Opens the chunk assembled in `self.buf`, then appends the requested part of it to `out`.
    fn open_buffered(&mut self, out: &mut Vec<u8>) -> Result<()> {
        let (index, is_final) = self.take_index();
        let body_len = self.buf.len() - TAG_LEN;
        let (body, tag) = self.buf.split_at_mut(body_len);
        self.key.open(index, is_final, body, tag)?;
        let skip = std::mem::take(&mut self.skip);
        let keep = self.keep(body_len - skip);
        if out.is_empty() && skip == 0 {
            // Hand the plaintext over without copying it; its old allocation becomes the next
            // `buf`.
            self.buf.truncate(keep);
            std::mem::swap(out, &mut self.buf);
        } else {
            out.extend_from_slice(&self.buf[skip..skip + keep]);
        }
        self.buf.clear();
        Ok(())
    }

    fn take_index(&mut self) -> (u64, bool) {
        let index = self.next_index;
        // Cannot overflow: `index <= last_chunk`, itself at most u64::MAX / 16.
        self.next_index += 1;
        (index, index == self.range.final_chunk())
    }

    /// How many of the `available` plaintext bytes just opened (after the skip) belong to the range.
    fn keep(&mut self, available: usize) -> usize {
        let keep = usize::try_from(self.remaining).map_or(available, |r| r.min(available));
        self.remaining -= keep as u64;
        keep
    }
}

// By hand: the buffer holds object data and must not reach a log.
impl std::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decryptor")
            .field("range", &self.range)
            .field("next_index", &self.next_index)
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

/// Decrypts a whole segment held in memory (the chunk stream, without the header), deriving the
/// plaintext length from the ciphertext length. For small objects and tests; the server uses
/// [`Decryptor`] with the length from its metadata.
pub fn decrypt_segment(
    data_key: &DataKey,
    header: &SegmentHeader,
    context: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>> {
    let ct_len = u64::try_from(ciphertext.len()).map_err(|_| Error::Internal { what: "length" })?;
    let plain_len = header.plaintext_len(ct_len)?;
    let range = header.ciphertext_range_for(0..plain_len, plain_len)?;
    let mut dec = Decryptor::new(data_key, header, context, &range)?;
    let mut out = Vec::with_capacity(ciphertext.len());
    dec.push(ciphertext, &mut out)?;
    dec.finish()?;
    Ok(out)
}
