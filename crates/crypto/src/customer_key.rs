//! Customer-provided keys (SSE-C): wrapping an object's [`DataKey`] under a key the server never
//! keeps.
//!
//! ```text
//! prk       = HKDF-Extract(salt = 32 random bytes per object, ikm = customer key)   (SHA-256)
//! wrap key  = HKDF-Expand(prk, "coffer sse-c v1 wrap"  ‖ aad, 32)
//! check key = HKDF-Expand(prk, "coffer sse-c v1 check" ‖ aad, 32)
//! key check = HMAC-SHA256(check key, "coffer sse-c v1 key check" ‖ aad)
//! wrapped   = wrap_key(wrap key, data key, aad)                                      (61 bytes)
//! ```
//!
//! What is stored: the salt, the key check and the wrapped data key ([`CustomerWrap`]). The key
//! check lets the server tell a wrong customer key (the client's mistake, answered as such) from a
//! damaged envelope without holding anything that reveals the key: it is a salted keyed hash, so
//! equal customer keys on two objects give unrelated checks, and finding the key from it is a
//! brute force of 256 bits. The derived keys live in zeroized buffers and are dropped at once.

use std::fmt;

use aws_lc_rs::{hkdf, hmac};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::key::{KEY_LEN, key_from_slice};
use crate::{DataKey, Error, MasterKey, Result, unwrap_key, wrap_key};

/// Length in bytes of a [`CustomerWrap`]'s salt and of its key check.
pub const CUSTOMER_SALT_LEN: usize = 32;

const WRAP_LABEL: &[u8] = b"coffer sse-c v1 wrap";
const CHECK_LABEL: &[u8] = b"coffer sse-c v1 check";
const CHECK_MESSAGE: &[u8] = b"coffer sse-c v1 key check";

/// A 256-bit key a client sends with each request (SSE-C). Never stored, never logged.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct CustomerKey(Box<[u8; KEY_LEN]>);

impl CustomerKey {
    /// Wraps key bytes given as a slice (the decoded header); refuses anything but exactly
    /// [`KEY_LEN`] bytes. The caller should zeroize its own copy.
    pub fn try_from_slice(bytes: &[u8]) -> Result<Self> {
        key_from_slice(bytes, "customer key").map(Self)
    }

    /// The key bytes. Every call is a place to audit.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CustomerKey(<redacted>)")
    }
}

/// What the server keeps of an SSE-C object's key: no key, only what recognises and opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerWrap {
    /// Random, fresh for every wrap.
    pub salt: [u8; CUSTOMER_SALT_LEN],
    /// HMAC that only the right customer key (and `aad`) reproduces.
    pub key_check: [u8; CUSTOMER_SALT_LEN],
    /// The data key wrapped under the derived wrap key ([`crate::WRAPPED_KEY_LEN`] bytes).
    pub wrapped: Vec<u8>,
}

/// HKDF output length, as aws-lc-rs wants it.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// The wrap key and the key check of `customer` under `salt`, bound to `aad`.
fn derive(
    customer: &CustomerKey,
    salt: &[u8; CUSTOMER_SALT_LEN],
    aad: &[u8],
) -> Result<(MasterKey, [u8; CUSTOMER_SALT_LEN])> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(customer.expose_secret());
    let mut wrap = Zeroizing::new([0u8; KEY_LEN]);
    prk.expand(&[WRAP_LABEL, aad], Len(KEY_LEN))
        .and_then(|okm| okm.fill(wrap.as_mut_slice()))
        .map_err(|_| Error::Internal { what: "hkdf" })?;
    let mut check_key = Zeroizing::new([0u8; KEY_LEN]);
    prk.expand(&[CHECK_LABEL, aad], Len(KEY_LEN))
        .and_then(|okm| okm.fill(check_key.as_mut_slice()))
        .map_err(|_| Error::Internal { what: "hkdf" })?;
    let mac_key = hmac::Key::new(hmac::HMAC_SHA256, check_key.as_slice());
    let mut ctx = hmac::Context::with_key(&mac_key);
    ctx.update(CHECK_MESSAGE);
    ctx.update(aad);
    let mut check = [0u8; CUSTOMER_SALT_LEN];
    check.copy_from_slice(ctx.sign().as_ref());
    Ok((MasterKey::from_bytes(*wrap), check))
}

/// Wraps `data_key` under a key derived from `customer` with a fresh salt. `aad` binds the wrap
/// to what it belongs to (the object's identity).
pub fn wrap_under_customer_key(
    customer: &CustomerKey,
    data_key: &DataKey,
    aad: &[u8],
) -> Result<CustomerWrap> {
    let mut salt = [0u8; CUSTOMER_SALT_LEN];
    crate::random::fill(&mut salt);
    let (wrap_key_bytes, key_check) = derive(customer, &salt, aad)?;
    Ok(CustomerWrap {
        salt,
        key_check,
        wrapped: wrap_key(&wrap_key_bytes, data_key, aad),
    })
}

/// Whether `customer` is the key `stored` was made with (constant time).
pub fn is_customer_key_of(
    customer: &CustomerKey,
    stored: &CustomerWrap,
    aad: &[u8],
) -> Result<bool> {
    let (_, check) = derive(customer, &stored.salt, aad)?;
    Ok(bool::from(check.ct_eq(&stored.key_check)))
}

/// Recovers the data key of `stored` with `customer`. Call [`is_customer_key_of`] first to tell a
/// wrong key from damage: here both are [`Error::Decrypt`].
pub fn unwrap_under_customer_key(
    customer: &CustomerKey,
    stored: &CustomerWrap,
    aad: &[u8],
) -> Result<DataKey> {
    let (wrap, check) = derive(customer, &stored.salt, aad)?;
    if !bool::from(check.ct_eq(&stored.key_check)) {
        return Err(Error::Decrypt);
    }
    unwrap_key(&wrap, &stored.wrapped, aad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> CustomerKey {
        CustomerKey::try_from_slice(&[b; KEY_LEN]).expect("32 bytes")
    }

    #[test]
    fn the_right_key_unwraps_and_is_recognised() {
        let data = DataKey::generate();
        let w = wrap_under_customer_key(&key(1), &data, b"obj").unwrap();
        assert!(is_customer_key_of(&key(1), &w, b"obj").unwrap());
        let back = unwrap_under_customer_key(&key(1), &w, b"obj").unwrap();
        assert_eq!(back.expose_secret(), data.expose_secret());
    }

    #[test]
    fn a_wrong_key_or_another_object_is_refused() {
        let data = DataKey::generate();
        let w = wrap_under_customer_key(&key(1), &data, b"obj").unwrap();
        assert!(!is_customer_key_of(&key(2), &w, b"obj").unwrap());
        assert!(!is_customer_key_of(&key(1), &w, b"other").unwrap());
        assert!(matches!(
            unwrap_under_customer_key(&key(2), &w, b"obj"),
            Err(Error::Decrypt)
        ));
        assert!(matches!(
            unwrap_under_customer_key(&key(1), &w, b"other"),
            Err(Error::Decrypt)
        ));
    }

    #[test]
    fn a_damaged_wrap_fails_even_with_the_right_key() {
        let data = DataKey::generate();
        let mut w = wrap_under_customer_key(&key(1), &data, b"obj").unwrap();
        w.wrapped[20] ^= 1;
        assert!(is_customer_key_of(&key(1), &w, b"obj").unwrap());
        assert!(unwrap_under_customer_key(&key(1), &w, b"obj").is_err());
        let mut w = wrap_under_customer_key(&key(1), &data, b"obj").unwrap();
        w.salt[0] ^= 1;
        assert!(!is_customer_key_of(&key(1), &w, b"obj").unwrap());
    }

    #[test]
    fn equal_keys_on_two_objects_leave_unrelated_checks() {
        let data = DataKey::generate();
        let a = wrap_under_customer_key(&key(1), &data, b"obj").unwrap();
        let b = wrap_under_customer_key(&key(1), &data, b"obj").unwrap();
        assert_ne!(a.salt, b.salt);
        assert_ne!(a.key_check, b.key_check);
        assert_ne!(a.wrapped, b.wrapped);
        assert_ne!(&a.key_check, key(1).expose_secret());
    }

    #[test]
    fn customer_key_debug_shows_no_key_bytes() {
        let k = key(0xab);
        let formatted = format!("{k:?} {k:#?}");
        crate::key::tests::assert_no_key_bytes(&formatted, k.expose_secret());
        assert_eq!(format!("{k:?}"), "CustomerKey(<redacted>)");
    }

    #[test]
    fn keys_of_the_wrong_length_are_refused() {
        assert!(CustomerKey::try_from_slice(&[1; 31]).is_err());
        assert!(CustomerKey::try_from_slice(&[1; 33]).is_err());
        assert!(CustomerKey::try_from_slice(&[]).is_err());
    }
}
