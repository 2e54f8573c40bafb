//! The parsers of untrusted input never panic, whatever a client sends. These are the functions
//! a fuzz target would wrap.

mod common;

use coffer_signature::{SignedRequest, detect, parse_authorization, verify};
use common::{NOW, REGION, secret};
use proptest::prelude::*;

/// Names that reach the interesting branches, mixed with arbitrary ones.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("authorization".to_owned()),
        Just("date".to_owned()),
        Just("x-oss-date".to_owned()),
        Just("x-oss-security-token".to_owned()),
        Just("content-type".to_owned()),
        Just("OSSAccessKeyId".to_owned()),
        Just("Expires".to_owned()),
        Just("Signature".to_owned()),
        Just("x-oss-signature-version".to_owned()),
        Just("x-oss-credential".to_owned()),
        Just("x-oss-expires".to_owned()),
        Just("x-oss-additional-headers".to_owned()),
        Just("x-oss-signature".to_owned()),
        Just("host".to_owned()),
        any::<String>(),
    ]
}

/// Values near the wire formats, mixed with arbitrary ones.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "OSS4-HMAC-SHA256 [ -~]{0,120}",
        "OSS [ -~]{0,60}",
        "[A-Za-z0-9]{1,8}/[0-9]{8}/[a-z-]{0,12}/oss/aliyun_v4_request",
        "[0-9]{8}T[0-9]{6}Z",
        "(Mon|Tue|Wed), [0-9]{2} (Jan|Feb) [0-9]{4} [0-9:]{8} GMT",
        "[0-9+-]{0,22}",
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn parse_authorization_never_panics(s in any::<String>(), t in "OSS4?(-HMAC-SHA256)? [ -~]{0,200}") {
        let _ = parse_authorization(&s);
        let _ = parse_authorization(&t);
    }

    #[test]
    fn detect_and_verify_never_panic(
        method in "[A-Z]{0,7}",
        bucket in proptest::option::of(any::<String>()),
        key in proptest::option::of(any::<String>()),
        query in proptest::collection::vec((name(), value()), 0..8),
        headers in proptest::collection::vec((name(), value()), 0..8),
    ) {
        let req = SignedRequest {
            method: &method,
            bucket: bucket.as_deref(),
            key: key.as_deref(),
            query: &query,
            headers: &headers,
        };
        if let Ok(Some(presented)) = detect(&req) {
            let _ = verify(&req, &presented, &secret(), NOW, REGION);
        }
    }
}
