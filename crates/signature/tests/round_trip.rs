//! Sign with the client helpers, verify as the server does, and check that every signed part of
//! a request is bound by the signature.

mod common;

use coffer_signature::{
    Credentials, Error, Scheme, presign_v1, presign_v4, sign_request_v1, sign_request_v4,
};
use common::{AK, NOW, REGION, Req, credentials, secret};
use time::Duration;

const SCHEMES: [Scheme; 4] = [
    Scheme::V1Header,
    Scheme::V1Query,
    Scheme::V4Header,
    Scheme::V4Query,
];

/// Signs `req` at [`NOW`] with `scheme`, valid for an hour when presigned.
fn sign_with(scheme: Scheme, req: &Req, credentials: &Credentials<'_>, additional: &[&str]) -> Req {
    let mut signed = req.clone();
    let r = req.signed();
    match scheme {
        Scheme::V1Header => signed
            .set_headers(sign_request_v1(&r, credentials, NOW).expect("the example request signs")),
        Scheme::V4Header => signed.set_headers(
            sign_request_v4(&r, credentials, REGION, NOW, additional)
                .expect("the example request signs"),
        ),
        Scheme::V1Query => signed.query.extend(
            presign_v1(&r, credentials, NOW + Duration::hours(1))
                .expect("the example request signs"),
        ),
        Scheme::V4Query => signed.query.extend(
            presign_v4(&r, credentials, REGION, NOW, Duration::hours(1), additional)
                .expect("the example request signs"),
        ),
    }
    signed
}

fn sign(scheme: Scheme, req: &Req) -> Req {
    let secret = secret();
    sign_with(scheme, req, &credentials(&secret), &[])
}

fn base() -> Req {
    Req::new("PUT", Some("bucket"), Some("dir/a b+c%20é.txt"))
        .query(&[
            ("uploadId", "0004B9894A22E5B1888A1E29F823****"),
            ("partNumber", "3"),
        ])
        .headers(&[
            ("host", "bucket.oss-cn-hangzhou.aliyuncs.com"),
            ("content-type", "text/plain"),
            ("content-md5", "XUFAKrxLKna5cZ2REBfFkg=="),
            ("x-oss-meta-author", "alice"),
            ("user-agent", "coffer-test"),
        ])
}

fn assert_mismatch(scheme: Scheme, what: &str, req: &Req) {
    match req.authenticate() {
        Err(Error::SignatureDoesNotMatch { string_to_sign, .. }) => {
            assert!(
                !string_to_sign.contains(common::SECRET),
                "{scheme:?} {what}"
            );
        }
        other => panic!("{scheme:?}, {what}: expected SignatureDoesNotMatch, got {other:?}"),
    }
}

#[test]
fn every_scheme_round_trips() {
    for scheme in SCHEMES {
        let presented = sign(scheme, &base())
            .authenticate()
            .unwrap_or_else(|e| panic!("{scheme:?}: {e:?}"));
        assert_eq!(presented.scheme(), scheme);
        assert_eq!(presented.access_key_id(), AK);
    }
}

#[test]
fn changing_any_signed_part_breaks_every_scheme() {
    type Tamper = fn(&mut Req);
    let tampers: [(&str, Tamper); 12] = [
        ("method", |r| r.method = "POST".into()),
        ("bucket", |r| r.bucket = Some("other".into())),
        ("key", |r| r.key = Some("dir/a b+c%20é.txX".into())),
        ("key encoding", |r| r.key = Some("dir/a b c%20é.txt".into())),
        ("no key", |r| r.key = None),
        ("x-oss header value", |r| {
            r.set_header("x-oss-meta-author", "mallory")
        }),
        ("added x-oss header", |r| {
            r.set_header("x-oss-meta-extra", "1")
        }),
        ("removed x-oss header", |r| {
            r.headers.retain(|(n, _)| n != "x-oss-meta-author")
        }),
        ("content-type", |r| {
            r.set_header("content-type", "text/html")
        }),
        ("content-md5", |r| {
            r.set_header("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==")
        }),
        ("sub-resource value", |r| r.set_query("partNumber", "4")),
        ("added sub-resource", |r| r.set_query("acl", "")),
    ];
    for scheme in SCHEMES {
        let signed = sign(scheme, &base());
        for (what, tamper) in tampers {
            let mut req = signed.clone();
            tamper(&mut req);
            assert_mismatch(scheme, what, &req);
        }
    }
}

#[test]
fn a_wrong_secret_does_not_verify() {
    let other = coffer_types::AccessKeySecret::new("another-secret");
    let credentials = Credentials {
        access_key_id: AK,
        secret: &other,
        security_token: None,
    };
    for scheme in SCHEMES {
        assert_mismatch(
            scheme,
            "secret",
            &sign_with(scheme, &base(), &credentials, &[]),
        );
    }
}

#[test]
fn unsigned_query_parameters_are_free_in_v1_but_bound_in_v4() {
    for scheme in SCHEMES {
        let mut req = sign(scheme, &base());
        req.set_query("prefix", "x/");
        req.set_query("max-keys", "5");
        match scheme {
            Scheme::V1Header | Scheme::V1Query => {
                req.authenticate().unwrap();
            }
            _ => assert_mismatch(scheme, "unsigned query parameter", &req),
        }
    }
}

#[test]
fn headers_outside_the_signed_set_are_free_unless_listed_as_additional() {
    for scheme in SCHEMES {
        let mut req = sign(scheme, &base());
        req.set_header("host", "127.0.0.1:9000");
        req.set_header("user-agent", "other");
        req.authenticate().unwrap();
    }
    let secret = secret();
    for scheme in [Scheme::V4Header, Scheme::V4Query] {
        let signed = sign_with(
            scheme,
            &base(),
            &credentials(&secret),
            &["Host", "content-type"],
        );
        let presented = signed.authenticate().unwrap();
        assert_eq!(presented.scheme(), scheme);
        let mut req = signed.clone();
        req.set_header("host", "127.0.0.1:9000");
        assert_mismatch(scheme, "additional header", &req);
        let mut req = signed;
        req.headers.retain(|(n, _)| n != "host");
        assert!(matches!(req.authenticate(), Err(Error::Malformed { .. })));
    }
}

#[test]
fn the_v1_date_and_the_v4_date_are_bound() {
    let mut req = sign(Scheme::V1Header, &base());
    req.set_header("date", "Wed, 21 Feb 2024 08:30:01 GMT");
    assert_mismatch(Scheme::V1Header, "date", &req);

    let mut req = sign(Scheme::V4Header, &base());
    req.set_header("x-oss-date", "20240221T083001Z");
    assert_mismatch(Scheme::V4Header, "x-oss-date", &req);

    let mut req = sign(Scheme::V4Query, &base());
    req.set_query("x-oss-expires", "7200");
    assert_mismatch(Scheme::V4Query, "x-oss-expires", &req);
}

#[test]
fn v1_signs_x_oss_date_in_the_date_slot_as_ali_oss_does() {
    let req = base().headers(&[("x-oss-date", "Wed, 21 Feb 2024 08:30:00 GMT")]);
    let signed = sign(Scheme::V1Header, &req);
    let presented = signed.authenticate().unwrap();
    assert_eq!(presented.request_time(), Some(NOW));
    // `Date` is then not signed at all; ali-oss sends none.
    let mut without_date = signed;
    without_date.headers.retain(|(n, _)| n != "date");
    without_date.authenticate().unwrap();
}

#[test]
fn empty_sub_resources_sign_as_bare_names() {
    // The router decodes `?uploads=` and `?uploads` alike to ("uploads", ""); both forms must
    // then canonicalise to the bare name that every SDK signs.
    let req = Req::new("POST", Some("bucket"), Some("k")).query(&[("uploads", "")]);
    let v1 = coffer_signature::string_to_sign_v1(&req.signed(), "D").unwrap();
    assert!(v1.ends_with("/bucket/k?uploads"), "{v1}");
    let v4 = coffer_signature::canonical_request_v4::<&str>(&req.signed(), &[]).unwrap();
    assert_eq!(v4.lines().nth(2), Some("uploads"));
    for scheme in SCHEMES {
        sign(scheme, &req).authenticate().unwrap();
    }
}

#[test]
fn awkward_keys_round_trip_and_stay_distinct() {
    let keys = [
        "a b",
        "a+b",
        "a%2Bb",
        "100%",
        "dir/sub/file",
        "dir//double",
        "trailing/",
        "中文/ファイル 名.txt",
        "emoji-🙂",
        "~-_.!*'()&$@=;:,?#[]",
    ];
    for scheme in SCHEMES {
        for key in keys {
            let req = Req::new("GET", Some("bucket"), Some(key));
            let signed = sign(scheme, &req);
            signed
                .authenticate()
                .unwrap_or_else(|e| panic!("{scheme:?} {key:?}: {e:?}"));
            for other in keys.iter().filter(|k| **k != key) {
                let mut moved = signed.clone();
                moved.key = Some((*other).to_owned());
                assert_mismatch(scheme, other, &moved);
            }
        }
    }
}

#[test]
fn service_and_bucket_level_requests_round_trip() {
    for scheme in SCHEMES {
        for req in [
            Req::new("GET", None, None),
            Req::new("GET", Some("bucket"), None).query(&[("list-type", "2"), ("prefix", "a/")]),
            Req::new("POST", Some("bucket"), None).query(&[("delete", "")]),
        ] {
            sign(scheme, &req)
                .authenticate()
                .unwrap_or_else(|e| panic!("{scheme:?}: {e:?}"));
        }
    }
}

#[test]
fn security_tokens_are_carried_and_signed() {
    let secret = secret();
    let credentials = Credentials {
        access_key_id: AK,
        secret: &secret,
        security_token: Some("sts/token+value=="),
    };
    for scheme in SCHEMES {
        let signed = sign_with(scheme, &base(), &credentials, &[]);
        let presented = signed.authenticate().unwrap();
        assert_eq!(presented.security_token(), Some("sts/token+value=="));
        let mut req = signed;
        if scheme.is_presigned() {
            let name = if scheme == Scheme::V1Query {
                "security-token"
            } else {
                "x-oss-security-token"
            };
            req.set_query(name, "other");
        } else {
            req.set_header("x-oss-security-token", "other");
        }
        assert_mismatch(scheme, "security token", &req);
    }
}

#[test]
fn the_v2_sdk_unsigned_v1_token_header_is_reported() {
    let mut req = sign(Scheme::V1Header, &base());
    req.set_header("security-token", "sts-token");
    let presented = req.authenticate().unwrap();
    assert_eq!(presented.security_token(), Some("sts-token"));
}

#[test]
fn a_real_payload_hash_is_signed_but_refused_as_oss_refuses_it() {
    let hash = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
    let req = base().headers(&[("x-oss-content-sha256", hash)]);
    let signed = sign(Scheme::V4Header, &req);
    assert!(
        signed
            .headers
            .contains(&("x-oss-content-sha256".into(), hash.into()))
    );
    // The signature is right (the admin API takes such requests and checks the body itself);
    // the value is what OSS does not take.
    let presented = signed.authenticate().unwrap();
    assert_eq!(
        coffer_signature::require_unsigned_payload(&signed.signed(), &presented),
        Err(Error::PayloadHashNotSupported)
    );
    // The value is part of what is signed: swapping in UNSIGNED-PAYLOAD breaks the signature.
    let mut other = signed;
    other.set_header("x-oss-content-sha256", "UNSIGNED-PAYLOAD");
    assert_mismatch(Scheme::V4Header, "payload hash", &other);
    // V1 signs x-oss-content-sha256 like any other x-oss header and gives it no meaning.
    let v1 = sign(Scheme::V1Header, &req);
    let presented = v1.authenticate().unwrap();
    coffer_signature::require_unsigned_payload(&v1.signed(), &presented).unwrap();
    // UNSIGNED-PAYLOAD passes.
    let plain = sign(Scheme::V4Header, &base());
    let presented = plain.authenticate().unwrap();
    coffer_signature::require_unsigned_payload(&plain.signed(), &presented).unwrap();
}
