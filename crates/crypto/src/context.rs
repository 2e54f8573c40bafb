//! Encoding of a segment's context: the identity that chunk keys, commitments and wrapped keys are
//! bound to.

/// Encodes fields (for instance bucket, key, upload id, part number) into one context, each as a
/// u64 big-endian length followed by its bytes.
///
/// Concatenating fields without lengths would be ambiguous — ("ab", "c") and ("a", "bc") would give
/// the same context and so the same keys — which would let a blob be moved between the two
/// identities undetected.
///
/// ```
/// use coffer_crypto::encode_context;
/// assert_ne!(encode_context(&[b"ab", b"c"]), encode_context(&[b"a", b"bc"]));
/// ```
pub fn encode_context(fields: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(fields.iter().map(|f| 8 + f.len()).sum());
    for field in fields {
        // Lossless: usize is at most 64 bits on every target Rust supports.
        out.extend_from_slice(&(field.len() as u64).to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_layout() {
        assert_eq!(encode_context(&[]), b"");
        assert_eq!(encode_context(&[b""]), [0; 8]);
        assert_eq!(
            encode_context(&[b"ab", b"c"]),
            [
                0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b', 0, 0, 0, 0, 0, 0, 0, 1, b'c'
            ]
        );
    }
}
