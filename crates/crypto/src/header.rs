//! The segment header: what a reader needs, besides the data key and the context, to decrypt a
//! segment. Fixed length, explicit big-endian integers, encoded and decoded by hand.
//!
//! ```text
//! offset  size  field
//!      0     4  magic "CFSG"
//!      4     1  format version (1)
//!      5     1  cipher id (1 = AES-256-GCM, 2 = SM4-GCM)
//!      6     2  flags, u16 big-endian; must be 0 in version 1
//!      8     4  chunk_len, u32 big-endian: plaintext bytes per chunk (the last chunk may be shorter)
//!     12    32  salt: random, fresh for every segment
//!     44    32  key commitment: HKDF output that only the right data key and context reproduce
//!     76        (end; HEADER_LEN)
//! ```
//!
//! The first 44 bytes (everything but the commitment) go into the chunk-key derivation, and the
//! commitment is checked before any chunk is opened, so a changed header byte, the wrong data key or
//! the wrong context all fail as [`Error::Decrypt`] before a single byte of plaintext is produced.

use std::ops::Range;

use crate::{Error, Result};

/// Length in bytes of an encoded [`SegmentHeader`].
pub const HEADER_LEN: usize = 76;
/// Length of the part of the header that the key derivation binds (everything but the commitment).
pub(crate) const HEADER_BOUND_LEN: usize = 44;
/// Length of the random per-segment salt.
pub(crate) const SALT_LEN: usize = 32;
/// Length of the key commitment.
pub(crate) const COMMITMENT_LEN: usize = 32;

/// Do not change: identifies every segment ever written.
const MAGIC: [u8; 4] = *b"CFSG";
/// The only format version so far.
const VERSION_1: u8 = 1;

/// Length in bytes of the authentication tag that follows every chunk.
pub const TAG_LEN: usize = 16;
/// The chunk length new segments use unless told otherwise: 64 KiB.
///
/// Chosen by measurement (see `docs/encryption-format.md` and `examples/bench.rs`): AES-256-GCM runs at
/// full speed from 64 KiB chunks up, the overhead is 16 bytes per 64 KiB (256 bytes per MiB, 0.024 %),
/// and a small range read decrypts at most 64 KiB too much, which matters for SM4 (≈ 0.5 ms per chunk).
/// Readers never assume it: the chunk length of every segment is in its header.
pub const DEFAULT_CHUNK_LEN: u32 = 64 * 1024;
/// The smallest chunk length a header may carry.
pub const MIN_CHUNK_LEN: u32 = 16;
/// The largest chunk length a header may carry: bounds the memory a reader allocates for one chunk.
pub const MAX_CHUNK_LEN: u32 = 16 * 1024 * 1024;

/// The authenticated cipher of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cipher {
    /// AES-256-GCM (aws-lc), 96-bit nonce, 128-bit tag.
    Aes256Gcm,
    /// SM4-GCM (RFC 8998; GB/T 32907 block cipher in NIST GCM), 96-bit nonce, 128-bit tag.
    Sm4Gcm,
}

impl Cipher {
    /// The id written in the header. Do not change: existing segments are tagged with these.
    pub fn id(self) -> u8 {
        match self {
            Cipher::Aes256Gcm => 1,
            Cipher::Sm4Gcm => 2,
        }
    }

    /// The cipher with header id `id`, if any.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            1 => Some(Cipher::Aes256Gcm),
            2 => Some(Cipher::Sm4Gcm),
            _ => None,
        }
    }

    /// Length in bytes of the chunk key this cipher takes.
    pub(crate) fn key_len(self) -> usize {
        match self {
            Cipher::Aes256Gcm => 32,
            Cipher::Sm4Gcm => 16,
        }
    }
}

/// The header of one encrypted segment. Public data: it may be stored at the start of the blob, in
/// the metadata record, or both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentHeader {
    cipher: Cipher,
    chunk_len: u32,
    salt: [u8; SALT_LEN],
    commitment: [u8; COMMITMENT_LEN],
}

impl SegmentHeader {
    /// A header with a fresh salt; the commitment is filled in by the caller once the key is derived.
    pub(crate) fn with_fresh_salt(cipher: Cipher, chunk_len: u32) -> Result<Self> {
        check_chunk_len(chunk_len)?;
        let mut salt = [0u8; SALT_LEN];
        crate::random::fill(&mut salt);
        Ok(Self {
            cipher,
            chunk_len,
            salt,
            commitment: [0u8; COMMITMENT_LEN],
        })
    }

    pub(crate) fn set_commitment(&mut self, commitment: [u8; COMMITMENT_LEN]) {
        self.commitment = commitment;
    }

    pub(crate) fn commitment(&self) -> &[u8; COMMITMENT_LEN] {
        &self.commitment
    }

    pub(crate) fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// The cipher of the segment.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// Plaintext bytes per chunk; every chunk but the last is exactly this long.
    pub fn chunk_len(&self) -> u32 {
        self.chunk_len
    }

    /// The encoded header, [`HEADER_LEN`] bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..HEADER_BOUND_LEN].copy_from_slice(&self.encode_bound());
        out[HEADER_BOUND_LEN..].copy_from_slice(&self.commitment);
        out
    }

    /// The part of the encoding that the key derivation binds: all but the commitment.
    pub(crate) fn encode_bound(&self) -> [u8; HEADER_BOUND_LEN] {
        let mut out = [0u8; HEADER_BOUND_LEN];
        out[0..4].copy_from_slice(&MAGIC);
        out[4] = VERSION_1;
        out[5] = self.cipher.id();
        out[6..8].copy_from_slice(&0u16.to_be_bytes());
        out[8..12].copy_from_slice(&self.chunk_len.to_be_bytes());
        out[12..44].copy_from_slice(&self.salt);
        out
    }

    /// Parses a header. `bytes` must be exactly [`HEADER_LEN`] long (slice it off the blob first).
    ///
    /// Anything that is not a header this version can read is [`Error::Decrypt`], the same as any
    /// other corruption: a header is only trusted once [`crate::Decryptor::new`] has checked its
    /// commitment against the data key and context.
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        let bytes: &[u8; HEADER_LEN] = bytes.try_into().map_err(|_| Error::Decrypt)?;
        if bytes[0..4] != MAGIC || bytes[4] != VERSION_1 {
            return Err(Error::Decrypt);
        }
        let cipher = Cipher::from_id(bytes[5]).ok_or(Error::Decrypt)?;
        let flags = u16::from_be_bytes([bytes[6], bytes[7]]);
        if flags != 0 {
            return Err(Error::Decrypt);
        }
        let chunk_len = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        check_chunk_len(chunk_len).map_err(|_| Error::Decrypt)?;
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&bytes[12..44]);
        let mut commitment = [0u8; COMMITMENT_LEN];
        commitment.copy_from_slice(&bytes[44..HEADER_LEN]);
        Ok(Self {
            cipher,
            chunk_len,
            salt,
            commitment,
        })
    }

    /// Number of chunks of a segment of `plain_len` bytes: at least one, because even an empty
    /// segment has a final chunk (an empty plaintext and its tag), so truncation to nothing is
    /// detected.
    pub fn chunk_count(&self, plain_len: u64) -> u64 {
        chunk_count(self.chunk_len, plain_len)
    }

    /// Length of the chunk stream (excluding the header) for `plain_len` bytes of plaintext.
    pub fn ciphertext_len(&self, plain_len: u64) -> Result<u64> {
        ciphertext_len(self.chunk_len, plain_len)
    }

    /// The plaintext length of a chunk stream of `ciphertext_len` bytes (excluding the header).
    ///
    /// [`Error::Decrypt`] if no plaintext length encrypts to that many bytes (a truncated blob can
    /// yield a valid-looking length; the chunks' tags and final flag still catch it).
    pub fn plaintext_len(&self, ciphertext_len: u64) -> Result<u64> {
        plaintext_len(self.chunk_len, ciphertext_len)
    }

    /// Which ciphertext bytes to fetch to decrypt the plaintext bytes `plain` of a segment whose
    /// whole plaintext is `total_plain_len` bytes long (from the metadata record).
    ///
    /// An empty `plain` range still reads and verifies one chunk, so that reading an empty segment
    /// checks its final chunk. `plain` must lie within `0..=total_plain_len`.
    pub fn ciphertext_range_for(
        &self,
        plain: Range<u64>,
        total_plain_len: u64,
    ) -> Result<CiphertextRange> {
        CiphertextRange::new(self.chunk_len, plain, total_plain_len)
    }
}

fn check_chunk_len(chunk_len: u32) -> Result<()> {
    if (MIN_CHUNK_LEN..=MAX_CHUNK_LEN).contains(&chunk_len) {
        Ok(())
    } else {
        Err(Error::InvalidArgument {
            what: "chunk length",
            reason: "must be between 16 bytes and 16 MiB",
        })
    }
}

/// Number of chunks of a segment of `plain_len` bytes cut in chunks of `chunk_len` bytes (at least 1).
pub fn chunk_count(chunk_len: u32, plain_len: u64) -> u64 {
    plain_len.div_ceil(u64::from(chunk_len)).max(1)
}

/// Length of the chunk stream (excluding the header) that `plain_len` bytes of plaintext encrypt to
/// with chunks of `chunk_len` bytes: the plaintext plus one [`TAG_LEN`]-byte tag per chunk.
pub fn ciphertext_len(chunk_len: u32, plain_len: u64) -> Result<u64> {
    chunk_count(chunk_len, plain_len)
        .checked_mul(TAG_LEN as u64)
        .and_then(|tags| tags.checked_add(plain_len))
        .ok_or(Error::InvalidArgument {
            what: "plaintext length",
            reason: "too large for a segment",
        })
}

/// The inverse of [`ciphertext_len`]: [`Error::Decrypt`] if no plaintext length gives
/// `ciphertext_len`.
pub fn plaintext_len(chunk_len: u32, ciphertext_len: u64) -> Result<u64> {
    let stride = u64::from(chunk_len) + TAG_LEN as u64;
    let full = ciphertext_len / stride;
    let rest = ciphertext_len % stride;
    let tag = TAG_LEN as u64;
    match (full, rest) {
        (0, 0) => Err(Error::Decrypt),
        (n, 0) => Ok(n * u64::from(chunk_len)),
        // Only chunk: may be empty (the empty segment), but must hold its tag.
        (0, r) if r >= tag => Ok(r - tag),
        // Short final chunk after full ones: never empty (an exact multiple ends on a full chunk).
        (n, r) if n > 0 && r > tag => Ok(n * u64::from(chunk_len) + r - tag),
        _ => Err(Error::Decrypt),
    }
}

/// The ciphertext to fetch for a plaintext range, and what to do with it: the answer of
/// [`SegmentHeader::ciphertext_range_for`], consumed by [`crate::Decryptor::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiphertextRange {
    chunk_len: u32,
    ciphertext: Range<u64>,
    first_chunk: u64,
    last_chunk: u64,
    final_chunk: u64,
    total_plain_len: u64,
    skip: u64,
    plain: Range<u64>,
}

impl CiphertextRange {
    fn new(chunk_len: u32, plain: Range<u64>, total_plain_len: u64) -> Result<Self> {
        if plain.start > plain.end || plain.end > total_plain_len {
            return Err(Error::InvalidArgument {
                what: "plaintext range",
                reason: "must lie within the segment",
            });
        }
        // Checks that the total length is representable before any arithmetic below.
        let total_ct = ciphertext_len(chunk_len, total_plain_len)?;
        let c = u64::from(chunk_len);
        let stride = c + TAG_LEN as u64;
        let final_chunk = chunk_count(chunk_len, total_plain_len) - 1;
        let first_chunk = (plain.start / c).min(final_chunk);
        let last_chunk = if plain.is_empty() {
            first_chunk
        } else {
            (plain.end - 1) / c
        };
        let start = first_chunk * stride;
        let end = if last_chunk == final_chunk {
            total_ct
        } else {
            (last_chunk + 1) * stride
        };
        Ok(Self {
            chunk_len,
            ciphertext: start..end,
            first_chunk,
            last_chunk,
            final_chunk,
            total_plain_len,
            skip: plain.start - first_chunk * c,
            plain,
        })
    }

    /// The bytes of the chunk stream to fetch, counted from the first byte after the header (add
    /// [`HEADER_LEN`] when the header is stored at the start of the blob).
    pub fn ciphertext(&self) -> Range<u64> {
        self.ciphertext.clone()
    }

    /// Index of the first chunk fetched.
    pub fn first_chunk(&self) -> u64 {
        self.first_chunk
    }

    /// Index of the last chunk fetched (inclusive).
    pub fn last_chunk(&self) -> u64 {
        self.last_chunk
    }

    /// Plaintext bytes of the first chunk that precede the requested range and are dropped.
    pub fn skip(&self) -> u64 {
        self.skip
    }

    /// The plaintext range that decrypting [`Self::ciphertext`] yields.
    pub fn plaintext(&self) -> Range<u64> {
        self.plain.clone()
    }

    pub(crate) fn chunk_len(&self) -> u32 {
        self.chunk_len
    }

    pub(crate) fn final_chunk(&self) -> u64 {
        self.final_chunk
    }

    /// Ciphertext length of chunk `index` (plaintext plus tag).
    pub(crate) fn chunk_ciphertext_len(&self, index: u64) -> u64 {
        let c = u64::from(self.chunk_len);
        if index == self.final_chunk {
            self.total_plain_len - self.final_chunk * c + TAG_LEN as u64
        } else {
            c + TAG_LEN as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(chunk_len: u32) -> SegmentHeader {
        SegmentHeader::with_fresh_salt(Cipher::Aes256Gcm, chunk_len).unwrap()
    }

    #[test]
    fn header_round_trips_and_has_the_documented_layout() {
        let mut h = header(DEFAULT_CHUNK_LEN);
        h.set_commitment([0xcc; COMMITMENT_LEN]);
        let bytes = h.encode();
        assert_eq!(&bytes[0..4], b"CFSG");
        assert_eq!(bytes[4], 1);
        assert_eq!(bytes[5], 1);
        assert_eq!(&bytes[6..8], &[0, 0]);
        assert_eq!(&bytes[8..12], &[0x00, 0x01, 0x00, 0x00]);
        assert_eq!(&bytes[12..44], h.salt());
        assert_eq!(&bytes[44..76], &[0xcc; 32]);
        assert_eq!(SegmentHeader::decode(&bytes).unwrap(), h);
    }

    #[test]
    fn decode_refuses_what_it_cannot_read() {
        let good = header(1024).encode();
        let check = |mutate: &dyn Fn(&mut Vec<u8>)| {
            let mut bytes = good.to_vec();
            mutate(&mut bytes);
            assert!(matches!(SegmentHeader::decode(&bytes), Err(Error::Decrypt)));
        };
        check(&|b| b[0] ^= 1); // magic
        check(&|b| b[4] = 2); // version
        check(&|b| b[5] = 0); // cipher
        check(&|b| b[5] = 3);
        check(&|b| b[7] = 1); // flags
        check(&|b| b[8..12].copy_from_slice(&15u32.to_be_bytes())); // chunk too small
        check(&|b| b[8..12].copy_from_slice(&(MAX_CHUNK_LEN + 1).to_be_bytes()));
        check(&|b| b.truncate(HEADER_LEN - 1));
        check(&|b| b.push(0));
        check(&|b| b.clear());
    }

    #[test]
    fn chunk_len_bounds_are_enforced_when_writing() {
        assert!(SegmentHeader::with_fresh_salt(Cipher::Sm4Gcm, MIN_CHUNK_LEN - 1).is_err());
        assert!(SegmentHeader::with_fresh_salt(Cipher::Sm4Gcm, MAX_CHUNK_LEN + 1).is_err());
        assert!(SegmentHeader::with_fresh_salt(Cipher::Sm4Gcm, MIN_CHUNK_LEN).is_ok());
        assert!(SegmentHeader::with_fresh_salt(Cipher::Sm4Gcm, MAX_CHUNK_LEN).is_ok());
    }

    #[test]
    fn length_math() {
        // (chunk_len, plain_len, ciphertext_len)
        let cases: &[(u32, u64, u64)] = &[
            (16, 0, 16),
            (16, 1, 17),
            (16, 15, 31),
            (16, 16, 32),
            (16, 17, 49),
            (16, 32, 64),
            (65536, 0, 16),
            (65536, 65536, 65552),
            (65536, 1 << 20, (1 << 20) + 256),
            (65536, (1 << 20) + 1, (1 << 20) + 256 + 17),
        ];
        for &(chunk_len, plain, ct) in cases {
            assert_eq!(
                ciphertext_len(chunk_len, plain).unwrap(),
                ct,
                "{chunk_len} {plain}"
            );
            assert_eq!(
                plaintext_len(chunk_len, ct).unwrap(),
                plain,
                "{chunk_len} {ct}"
            );
        }
        assert!(ciphertext_len(16, u64::MAX).is_err());
        // Lengths no plaintext encrypts to.
        for ct in [0, 1, 15, 33, 40, 48, 80] {
            assert!(plaintext_len(16, ct).is_err(), "{ct}");
        }
    }

    #[test]
    fn ranges_map_to_whole_chunks() {
        let h = header(16);
        // 40 bytes: chunks of 16, 16, 8 → ciphertext 32 + 32 + 24 = 88.
        let check = |plain: Range<u64>, ct: Range<u64>, first: u64, last: u64, skip: u64| {
            let r = h.ciphertext_range_for(plain.clone(), 40).unwrap();
            assert_eq!(
                (r.ciphertext(), r.first_chunk(), r.last_chunk(), r.skip()),
                (ct, first, last, skip),
                "{plain:?}"
            );
            assert_eq!(r.plaintext(), plain);
        };
        check(0..40, 0..88, 0, 2, 0);
        check(0..1, 0..32, 0, 0, 0);
        check(15..17, 0..64, 0, 1, 15);
        check(16..32, 32..64, 1, 1, 0);
        check(33..34, 64..88, 2, 2, 1);
        check(39..40, 64..88, 2, 2, 7);
        check(40..40, 64..88, 2, 2, 8);
        check(5..5, 0..32, 0, 0, 5);
        let empty = header(16).ciphertext_range_for(0..0, 0).unwrap();
        assert_eq!(empty.ciphertext(), 0..16);
        assert!(h.ciphertext_range_for(0..41, 40).is_err());
        #[allow(clippy::reversed_empty_ranges)]
        let backwards = 5..4;
        assert!(h.ciphertext_range_for(backwards, 40).is_err());
    }
}
