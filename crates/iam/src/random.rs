//! Random identifiers and secrets from the system CSPRNG (aws-lc's `RAND_bytes`).

use zeroize::Zeroizing;

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters of `[A-Za-z0-9]`, uniformly (rejection sampling, no modulo bias).
pub(crate) fn alphanumeric(len: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(len));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        aws_lc_rs::rand::fill(buf.as_mut_slice()).expect("the system RNG works");
        for &b in buf.iter() {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHANUMERIC[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// A numeric UID of `len` digits starting with `first` (RAM UIDs are all digits).
pub(crate) fn uid(first: char, len: usize) -> String {
    let mut out = String::with_capacity(len);
    out.push(first);
    let mut buf = [0u8; 64];
    while out.len() < len {
        aws_lc_rs::rand::fill(&mut buf).expect("the system RNG works");
        for &b in &buf {
            if b < 250 && out.len() < len {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let s = alphanumeric(30);
        assert_eq!(s.len(), 30);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(*s, *alphanumeric(30));
        let id = uid('2', 16);
        assert_eq!(id.len(), 16);
        assert!(id.starts_with('2') && id.bytes().all(|b| b.is_ascii_digit()));
    }
}
