//! The encrypted-object format of coffer: per-segment data keys, a segmented AEAD (AES-256-GCM via
//! aws-lc, SM4-GCM via RustCrypto) in fixed-size chunks, the segment header codec, the length and
//! range arithmetic of the format, and the wrapping of data keys under a master key.
//!
//! It deliberately does no I/O, no async, knows nothing of buckets, objects or HTTP, and does not
//! decide which key or cipher an object gets: callers pass bytes, a [`DataKey`] and an opaque
//! `context` (the segment's identity, see [`encode_context`]) and get bytes back. The byte layout and
//! the reasoning behind it are in `docs/encryption-format.md`.
//!
//! A *segment* is one independently keyed stream: an object's data, one part of a multipart upload,
//! one append. Writing one:
//!
//! 1. [`DataKey::generate`], and [`wrap_key`] it under the master key for the metadata record;
//! 2. [`Encryptor::new`] with the data key, a [`Cipher`], [`DEFAULT_CHUNK_LEN`] and the context;
//!    store [`SegmentHeader::encode`] (at the start of the blob, in the record, or both);
//! 3. [`Encryptor::push`] the plaintext in any pieces, then [`Encryptor::finish`].
//!
//! Reading a range of one: [`SegmentHeader::decode`], [`unwrap_key`], then
//! [`SegmentHeader::ciphertext_range_for`] says which ciphertext bytes to fetch, and a
//! [`Decryptor`] turns them into exactly the requested plaintext, or [`Error::Decrypt`].
//!
//! SSE-C objects wrap their data key under a key derived from the customer's key
//! ([`wrap_under_customer_key`]); the server keeps only a salt and a keyed check of it.
//!
//! It also holds the server's [`RootKey`], the labelled derivation of every key taken from it
//! ([`KeyPurpose`]), the one [`Sealer`] of small secrets at rest, and the one source of
//! randomness ([`random`]).
//!
//! **Invariant:** no function of this crate returns plaintext that has not been authenticated under
//! the data key, the context and the header it was written with, at the position it was written at.

#![warn(missing_docs)]

mod chunk;
mod context;
mod customer_key;
mod decryptor;
mod encryptor;
mod envelope;
mod error;
mod header;
mod key;
pub mod random;
mod root_key;
mod seal;

pub use context::encode_context;
pub use customer_key::{
    CUSTOMER_SALT_LEN, CustomerKey, CustomerWrap, is_customer_key_of, unwrap_under_customer_key,
    wrap_under_customer_key,
};
pub use decryptor::{Decryptor, decrypt_segment};
pub use encryptor::{Encryptor, encrypt_segment};
pub use envelope::{WRAPPED_KEY_LEN, unwrap_key, wrap_key};
pub use error::{Error, Result};
pub use header::{
    Cipher, CiphertextRange, DEFAULT_CHUNK_LEN, HEADER_LEN, MAX_CHUNK_LEN, MIN_CHUNK_LEN,
    SegmentHeader, TAG_LEN, chunk_count, ciphertext_len, plaintext_len,
};
pub use key::{DataKey, KEY_LEN, MasterKey};
pub use root_key::{DerivedKey, KeyPurpose, RootKey};
pub use seal::{SealDomain, Sealer};
