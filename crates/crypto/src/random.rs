//! The one source of randomness of coffer: aws-lc's CTR-DRBG, seeded from the operating system.
//! Every crate draws keys, nonces, identifiers and generated secrets from here.

use zeroize::Zeroizing;

/// Fills `dest` with random bytes.
pub fn fill(dest: &mut [u8]) {
    // aws-lc documents that RAND_bytes "returns one. In the event that sufficient random data can not
    // be obtained, |abort| is called", so the error branch of the Rust wrapper is unreachable.
    aws_lc_rs::rand::fill(dest).expect("aws-lc RAND_bytes aborts instead of failing");
}

const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` characters of `[A-Za-z0-9]`, uniformly (rejection sampling, no modulo bias); zeroized on
/// drop, since it is often a secret.
pub fn alphanumeric(len: usize) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(len));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < len {
        fill(buf.as_mut_slice());
        for &b in buf.iter() {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < len {
                out.push(char::from(ALPHANUMERIC[usize::from(b % 62)]));
            }
        }
    }
    out
}

/// `len` decimal digits, uniformly (rejection sampling).
pub fn digits(len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill(&mut buf);
        for &b in &buf {
            // 250 = 25 * 10.
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
        let d = digits(17);
        assert_eq!(d.len(), 17);
        assert!(d.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(digits(0), "");
        let mut a = [0u8; 32];
        fill(&mut a);
        assert_ne!(a, [0u8; 32]);
    }

    #[test]
    fn every_character_is_drawn() {
        let s = alphanumeric(4000);
        for c in ALPHANUMERIC {
            assert!(s.as_bytes().contains(c), "{}", char::from(*c));
        }
        let d = digits(1000);
        for c in b'0'..=b'9' {
            assert!(d.as_bytes().contains(&c));
        }
    }
}
