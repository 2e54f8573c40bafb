//! Opaque identifiers minted by the server.

use std::fmt;

use rand::RngCore;
use serde::{Deserialize, Serialize};

fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    let mut s = String::with_capacity(N * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    s
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn is_upper_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| HEX.contains(&b))
}

/// The id of one stored blob: 128 random bits as 32 upper-case hex digits. Never reused.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BlobId(String);

impl BlobId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(random_hex::<16>())
    }

    /// Accepts only the exact form [`BlobId::random`] produces, so an id can name a file safely.
    pub fn parse(s: &str) -> Option<Self> {
        is_upper_hex(s, 32).then(|| Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.0)
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A multipart upload id: 128 random bits as 32 upper-case hex digits (the shape OSS uses).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UploadId(String);

impl UploadId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(random_hex::<16>())
    }

    /// Accepts only the form [`UploadId::random`] produces; anything else cannot name an upload.
    pub fn parse(s: &str) -> Option<Self> {
        is_upper_hex(s, 32).then(|| Self(s.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UploadId({})", self.0)
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of one request, as the client sees it in `x-oss-request-id`: 24 upper-case hex digits.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    /// A fresh random id.
    pub fn random() -> Self {
        Self(random_hex::<12>())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shape() {
        assert_eq!(RequestId::random().as_str().len(), 24);
        let b = BlobId::random();
        assert_eq!(BlobId::parse(b.as_str()), Some(b));
        assert!(BlobId::parse("../../etc/passwd").is_none());
        assert!(UploadId::parse("0004b9894a22e5b1888a1e29f823aaaa").is_none());
        assert_ne!(UploadId::random(), UploadId::random());
    }
}
