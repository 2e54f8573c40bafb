//! SSE-C on the wire: the `x-amz-server-side-encryption-customer-*` headers (and their
//! `x-amz-copy-source-` forms), checked as S3 checks them (Amazon S3 user guide, "Using
//! server-side encryption with customer-provided keys (SSE-C)") and turned into the request's
//! [`CustomerKeys`]. The key bytes go from the decoded header into a zeroized `CustomerKey` and
//! nowhere else: they are never logged, and the decoded buffer is zeroized.

use std::sync::Arc;

use base64::Engine;
use coffer_core::{CustomerKey, CustomerKeys};
use http::HeaderMap;
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{S3Error, codes};
use crate::server::Reply;

const ALGORITHM: &str = "x-amz-server-side-encryption-customer-algorithm";
const KEY: &str = "x-amz-server-side-encryption-customer-key";
const KEY_MD5: &str = "x-amz-server-side-encryption-customer-key-md5";
const SOURCE_ALGORITHM: &str = "x-amz-copy-source-server-side-encryption-customer-algorithm";
const SOURCE_KEY: &str = "x-amz-copy-source-server-side-encryption-customer-key";
const SOURCE_KEY_MD5: &str = "x-amz-copy-source-server-side-encryption-customer-key-md5";

/// The customer keys of a request; refused over plain HTTP unless `secure_enough`.
pub(crate) fn customer_keys(
    headers: &HeaderMap,
    secure_enough: bool,
) -> Result<CustomerKeys, S3Error> {
    let keys = CustomerKeys {
        target: one_key(headers, ALGORITHM, KEY, KEY_MD5)?,
        source: one_key(headers, SOURCE_ALGORITHM, SOURCE_KEY, SOURCE_KEY_MD5)?,
    };
    if (keys.target.is_some() || keys.source.is_some()) && !secure_enough {
        return Err(S3Error::new(
            codes::INVALID_REQUEST,
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    Ok(keys)
}

fn one_key(
    headers: &HeaderMap,
    algorithm: &str,
    key: &str,
    key_md5: &str,
) -> Result<Option<Arc<CustomerKey>>, S3Error> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (algorithm, key, key_md5) = (text(algorithm), text(key), text(key_md5));
    if algorithm.is_none() && key.is_none() && key_md5.is_none() {
        return Ok(None);
    }
    match algorithm {
        Some("AES256") => {}
        Some(_) => {
            return Err(S3Error::invalid_argument(
                "The requested encryption algorithm is not valid, must be AES256.",
            ));
        }
        None => {
            return Err(S3Error::invalid_argument(
                "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
            ));
        }
    }
    let Some(key) = key else {
        return Err(S3Error::invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        ));
    };
    let Some(key_md5) = key_md5 else {
        return Err(S3Error::invalid_argument(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        ));
    };
    let invalid_key =
        || S3Error::invalid_argument("The secret key was invalid for the specified algorithm.");
    let bytes = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(key)
            .map_err(|_| invalid_key())?,
    );
    let customer = CustomerKey::try_from_slice(&bytes).map_err(|_| invalid_key())?;
    let digest = Md5::digest(bytes.as_slice());
    let given = base64::engine::general_purpose::STANDARD
        .decode(key_md5)
        .unwrap_or_default();
    if !bool::from(digest.as_slice().ct_eq(&given)) {
        return Err(S3Error::invalid_argument(
            "The calculated MD5 hash of the key did not match the hash that was provided.",
        ));
    }
    Ok(Some(Arc::new(customer)))
}

/// The SSE-C algorithm header of an SSE-C object's reply; [`echo_key_md5`] adds the key's MD5.
pub(crate) fn echo(r: &mut Reply) {
    r.header(ALGORITHM, "AES256");
}

/// The key's MD5 as the request gave it (the server keeps no MD5 of the key), on a reply that
/// names SSE-C: S3 echoes it beside the algorithm.
pub(crate) fn echo_key_md5(r: &mut Reply, key_md5: Option<&http::HeaderValue>) {
    if let Some(md5) = key_md5
        && r.headers.iter().any(|(name, _)| name.as_str() == ALGORITHM)
    {
        r.headers
            .push((http::HeaderName::from_static(KEY_MD5), md5.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().expect("a header value"));
        }
        h
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn good(key: &[u8]) -> Vec<(&'static str, String)> {
        vec![
            (ALGORITHM, "AES256".into()),
            (KEY, b64(key)),
            (KEY_MD5, b64(&Md5::digest(key))),
        ]
    }

    fn check(pairs: Vec<(&'static str, String)>, secure: bool, expected: Result<bool, &str>) {
        match (customer_keys(&headers(&pairs), secure), expected) {
            (Ok(k), Ok(present)) => assert_eq!(k.target.is_some(), present),
            (Err(e), Err(message)) => {
                assert!(e.message.contains(message), "{}", e.message);
            }
            (Ok(_), Err(m)) => panic!("accepted, expected {m}"),
            (Err(e), Ok(_)) => panic!("refused: {}", e.message),
        }
    }

    #[test]
    fn customer_key_headers_are_checked_as_s3_checks_them() {
        let key = [7u8; 32];
        check(Vec::new(), false, Ok(false));
        check(good(&key), true, Ok(true));
        check(good(&key), false, Err("secure connection"));
        let mut bad_md5 = good(&key);
        bad_md5[2].1 = b64(&Md5::digest(b"other"));
        check(bad_md5, true, Err("MD5 hash of the key did not match"));
        let mut no_md5 = good(&key);
        no_md5.pop();
        check(no_md5, true, Err("calculated MD5 of the secret key"));
        check(good(&[7u8; 16]), true, Err("secret key was invalid"));
        let mut no_key = good(&key);
        no_key.remove(1);
        check(no_key, true, Err("appropriate secret key"));
        let mut no_algorithm = good(&key);
        no_algorithm.remove(0);
        check(no_algorithm, true, Err("valid encryption algorithm"));
        let mut other = good(&key);
        other[0].1 = "AES128".into();
        check(other, true, Err("must be AES256"));
    }

    #[test]
    fn customer_keys_debug_shows_no_key() {
        let k = customer_keys(&headers(&good(&[0xab; 32])), true).expect("accepted");
        let shown = format!("{k:?}");
        assert!(!shown.contains("171") && !shown.contains("ab"), "{shown}");
    }
}
