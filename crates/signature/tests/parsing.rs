//! Parsing of `Authorization` and presigned parameters, and the time rules.

mod common;

use coffer_signature::{
    AuthHeader, Credential, Error, MAX_SKEW, Scheme, parse_authorization, presign_v1, presign_v4,
    sign_request_v4,
};
use common::{AK, NOW, REGION, Req, credentials, example_put, secret};
use time::Duration;
use time::macros::datetime;

const SIG: &str = "9e0a47b27c4423ccde4b4d81b11da607c27a1ecb8e98a4da89978a95042c7714";

fn v4(additional: &[&str]) -> AuthHeader {
    AuthHeader::V4 {
        credential: Credential {
            access_key_id: AK.into(),
            date: "20240221".into(),
            region: REGION.into(),
            product: "oss".into(),
            terminator: "aliyun_v4_request".into(),
        },
        additional_headers: additional.iter().map(|s| (*s).to_owned()).collect(),
        signature: SIG.into(),
    }
}

/// The fields of a header, signature included, for comparison in tests only.
fn fields(h: AuthHeader) -> (Option<Credential>, String, Vec<String>, String) {
    match h {
        AuthHeader::V1 {
            access_key_id,
            signature,
        } => (None, access_key_id, Vec::new(), signature),
        AuthHeader::V4 {
            credential,
            additional_headers,
            signature,
        } => {
            let ak = credential.access_key_id.clone();
            (Some(credential), ak, additional_headers, signature)
        }
    }
}

fn check(header: &str, expected: Result<AuthHeader, Error>) {
    assert_eq!(
        parse_authorization(header).map(fields),
        expected.map(fields),
        "{header:?}"
    );
}

fn check_malformed(header: &str) {
    let got = parse_authorization(header);
    assert!(
        matches!(got, Err(Error::Malformed { .. })),
        "{header:?}: {got:?}"
    );
}

#[test]
fn v4_layouts_of_every_sdk_parse_alike() {
    let cred = "Credential=example-ak/20240221/cn-hangzhou/oss/aliyun_v4_request";
    // oss2's `AuthV4`: comma and space, AdditionalHeaders last.
    check(
        &format!("OSS4-HMAC-SHA256 {cred}, Signature={SIG}"),
        Ok(v4(&[])),
    );
    check(
        &format!("OSS4-HMAC-SHA256 {cred}, Signature={SIG}, AdditionalHeaders=range;host"),
        Ok(v4(&["host", "range"])),
    );
    // The v2 SDK's `SignerV4` and ali-oss: comma only, AdditionalHeaders in the middle.
    check(
        &format!("OSS4-HMAC-SHA256 {cred},Signature={SIG}"),
        Ok(v4(&[])),
    );
    check(
        &format!("OSS4-HMAC-SHA256 {cred},AdditionalHeaders=host;range,Signature={SIG}"),
        Ok(v4(&["host", "range"])),
    );
    // Whitespace anywhere around the separators, and upper-case header names.
    check(
        &format!(
            "  OSS4-HMAC-SHA256   {cred} ,\tAdditionalHeaders = Host ; range ,Signature= {SIG} "
        ),
        Ok(v4(&["host", "range"])),
    );
}

#[test]
fn v1_header_parses() {
    check(
        "OSS example-ak:upzM3BIDazMUs3ZmsDisXbPC0cQ=",
        Ok(AuthHeader::V1 {
            access_key_id: AK.into(),
            signature: "upzM3BIDazMUs3ZmsDisXbPC0cQ=".into(),
        }),
    );
}

#[test]
fn malformed_headers_are_malformed() {
    let cred = "Credential=example-ak/20240221/cn-hangzhou/oss/aliyun_v4_request";
    for header in [
        "",
        "   ",
        "OSS",
        "OSS ",
        "OSS example-ak",
        "OSS :sig",
        "OSS example-ak:",
        "OSS example-ak: sig",
        "OSS4-HMAC-SHA256",
        &format!("OSS4-HMAC-SHA256 {cred}"),
        &format!("OSS4-HMAC-SHA256 {cred},Signature="),
        &format!("OSS4-HMAC-SHA256 Signature={SIG}"),
        &format!("OSS4-HMAC-SHA256 {cred},{cred},Signature={SIG}"),
        &format!("OSS4-HMAC-SHA256 {cred},Signature={SIG},Signature={SIG}"),
        &format!("OSS4-HMAC-SHA256 {cred},SignedHeaders=host,Signature={SIG}"),
        &format!("OSS4-HMAC-SHA256 {cred},Signature"),
        &format!("OSS4-HMAC-SHA256 {cred},AdditionalHeaders=host;;range,Signature={SIG}"),
        &format!("OSS4-HMAC-SHA256 Credential=example-ak/20240221/cn-hangzhou/oss,Signature={SIG}"),
        &format!("OSS4-HMAC-SHA256 Credential=a/b/c/d/e/f,Signature={SIG}"),
    ] {
        check_malformed(header);
    }
}

#[test]
fn other_schemes_are_unsupported() {
    for header in [
        "OSS2 AccessKeyId:ak,Signature:abc",
        "AWS4-HMAC-SHA256 Credential=ak/20240221/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=abc",
        "AWS ak:sig",
        "oss ak:sig",
        "Bearer token",
    ] {
        check(header, Err(Error::UnsupportedScheme));
    }
}

fn detect_err(req: &Req) -> Error {
    match req.detect() {
        Err(e) => e,
        Ok(p) => panic!("expected an error, got {p:?}"),
    }
}

#[test]
fn detect_finds_anonymous_requests() {
    let req = Req::new("GET", Some("b"), Some("k")).query(&[("Expires", "1"), ("x-oss-date", "x")]);
    assert!(req.detect().unwrap().is_none());
}

#[test]
fn detect_refuses_mixed_partial_and_malformed_presigned_parameters() {
    let auth = ("authorization", "OSS ak:sig");
    let date = ("date", "Wed, 21 Feb 2024 08:30:00 GMT");
    let v4q = [
        ("x-oss-signature-version", "OSS4-HMAC-SHA256"),
        (
            "x-oss-credential",
            "ak/20240221/cn-hangzhou/oss/aliyun_v4_request",
        ),
        ("x-oss-date", "20240221T083000Z"),
        ("x-oss-expires", "900"),
        ("x-oss-signature", SIG),
    ];
    let with_v4q = |replace: (&str, &str)| {
        let mut req = Req::new("GET", Some("b"), Some("k")).query(&v4q);
        req.set_query(replace.0, replace.1);
        req
    };
    let cases = [
        ("header and V1 query", Req::new("GET", None, None).headers(&[auth, date]).query(&[("OSSAccessKeyId", "ak")])),
        ("header and V4 query", Req::new("GET", None, None).headers(&[auth, date]).query(&[("x-oss-signature", "s")])),
        ("V1 and V4 query", Req::new("GET", None, None).query(&[("Signature", "s"), ("x-oss-credential", "c")])),
        ("V1 query without Expires", Req::new("GET", None, None).query(&[("OSSAccessKeyId", "ak"), ("Signature", "s")])),
        ("V1 query, Expires with sign", Req::new("GET", None, None).query(&[("OSSAccessKeyId", "ak"), ("Expires", "+5"), ("Signature", "s")])),
        ("V1 query, repeated Signature", Req::new("GET", None, None).query(&[("OSSAccessKeyId", "ak"), ("Expires", "5"), ("Signature", "s"), ("Signature", "t")])),
        ("V4 query, expiry over 7 days", with_v4q(("x-oss-expires", "604801"))),
        ("V4 query, negative expiry", with_v4q(("x-oss-expires", "-1"))),
        ("V4 query, RFC 1123 date", with_v4q(("x-oss-date", "Wed, 21 Feb 2024 08:30:00 GMT"))),
        ("V4 query, bad credential", with_v4q(("x-oss-credential", "ak/20240221"))),
        ("V4 query, expiry overflows", with_v4q(("x-oss-date", "99991231T235959Z"))),
        ("repeated authorization", Req::new("GET", None, None).headers(&[auth, auth, date])),
        ("V1 header, unparsable date", Req::new("GET", None, None).headers(&[auth, ("date", "yesterday")])),
        ("V4 header, RFC 1123 x-oss-date", Req::new("GET", None, None).headers(&[
            ("authorization", "OSS4-HMAC-SHA256 Credential=ak/20240221/cn-hangzhou/oss/aliyun_v4_request,Signature=s"),
            ("x-oss-date", "Wed, 21 Feb 2024 08:30:00 GMT"),
        ])),
    ];
    for (what, req) in cases {
        assert!(
            matches!(detect_err(&req), Error::Malformed { .. }),
            "{what}"
        );
    }
    assert!(
        with_v4q(("x-oss-expires", "604800"))
            .detect()
            .unwrap()
            .is_some()
    );
    assert_eq!(
        detect_err(&with_v4q(("x-oss-signature-version", "OSS2"))),
        Error::UnsupportedScheme
    );
}

#[test]
fn header_signed_requests_need_a_date() {
    let v1 = Req::new("GET", None, None).headers(&[("authorization", "OSS ak:sig")]);
    assert_eq!(detect_err(&v1), Error::MissingDate);
    let v4 = Req::new("GET", None, None).headers(&[
        (
            "authorization",
            "OSS4-HMAC-SHA256 Credential=ak/20240221/cn-hangzhou/oss/aliyun_v4_request,Signature=s",
        ),
        ("date", "Wed, 21 Feb 2024 08:30:00 GMT"),
    ]);
    assert_eq!(detect_err(&v4), Error::MissingDate);
}

fn v1_signed() -> Req {
    let secret = secret();
    let mut req = example_put();
    req.set_headers(
        coffer_signature::sign_request_v1(&req.signed(), &credentials(&secret), NOW)
            .expect("the example request signs"),
    );
    req
}

fn v4_signed() -> Req {
    let secret = secret();
    let mut req = example_put();
    req.set_headers(
        sign_request_v4(&req.signed(), &credentials(&secret), REGION, NOW, &[])
            .expect("the example request signs"),
    );
    req
}

fn skewed(req: &Req, now: time::OffsetDateTime) -> bool {
    match req.authenticate_at(now) {
        Ok(_) => false,
        Err(Error::RequestTimeTooSkewed {
            request_time,
            server_time,
        }) => {
            assert_eq!((request_time, server_time), (NOW, now));
            true
        }
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[test]
fn header_signed_requests_may_be_fifteen_minutes_off_either_way() {
    let second = Duration::seconds(1);
    for req in [v1_signed(), v4_signed()] {
        assert!(!skewed(&req, NOW));
        assert!(!skewed(&req, NOW + MAX_SKEW));
        assert!(!skewed(&req, NOW - MAX_SKEW));
        assert!(skewed(&req, NOW + MAX_SKEW + second));
        assert!(skewed(&req, NOW - MAX_SKEW - second));
    }
}

#[test]
fn v1_presigned_urls_expire_after_expires() {
    let secret = secret();
    let expires = datetime!(2024-02-21 09:00:00 UTC);
    let mut req = Req::new("GET", Some("b"), Some("k"));
    req.query
        .extend(presign_v1(&req.signed(), &credentials(&secret), expires).unwrap());
    // No request time: a V1 URL is valid from any moment until it expires.
    req.authenticate_at(datetime!(2020-01-01 00:00:00 UTC))
        .unwrap();
    req.authenticate_at(expires).unwrap();
    assert_eq!(
        req.authenticate_at(expires + Duration::seconds(1))
            .unwrap_err(),
        Error::Expired {
            expires_at: expires,
            server_time: expires + Duration::seconds(1),
        }
    );
}

#[test]
fn v4_presigned_urls_expire_and_may_not_come_from_the_future() {
    let secret = secret();
    let mut req = Req::new("GET", Some("b"), Some("k"));
    let expires_in = Duration::days(7);
    req.query.extend(
        presign_v4(
            &req.signed(),
            &credentials(&secret),
            REGION,
            NOW,
            expires_in,
            &[],
        )
        .unwrap(),
    );
    req.authenticate_at(NOW - MAX_SKEW).unwrap();
    req.authenticate_at(NOW + expires_in).unwrap();
    assert!(matches!(
        req.authenticate_at(NOW + expires_in + Duration::seconds(1)),
        Err(Error::Expired { .. })
    ));
    assert!(matches!(
        req.authenticate_at(NOW - MAX_SKEW - Duration::seconds(1)),
        Err(Error::RequestTimeTooSkewed { .. })
    ));
    assert!(
        presign_v4(
            &Req::new("GET", None, None).signed(),
            &credentials(&secret),
            REGION,
            NOW,
            expires_in + Duration::seconds(1),
            &[]
        )
        .is_err()
    );
}

#[test]
fn v4_scope_must_name_this_server() {
    let req = v4_signed();
    let presented = req.detect().unwrap().unwrap();
    assert_eq!(presented.scheme(), Scheme::V4Header);
    assert_eq!(
        coffer_signature::verify(&req.signed(), &presented, &secret(), NOW, "cn-beijing"),
        Err(Error::WrongRegion {
            expected: "cn-beijing".into()
        })
    );

    let with_credential = |credential: &str| {
        let mut r = req.clone();
        let auth = r
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .unwrap()
            .1
            .clone();
        let (_, rest) = auth.split_once(',').unwrap();
        r.set_header(
            "authorization",
            &format!("OSS4-HMAC-SHA256 Credential={credential},{rest}"),
        );
        r
    };
    for credential in [
        "example-ak/20240222/cn-hangzhou/oss/aliyun_v4_request",
        "example-ak/2024022/cn-hangzhou/oss/aliyun_v4_request",
        "example-ak/20240221/cn-hangzhou/oss-cloudbox/aliyun_v4_request",
        "example-ak/20240221/cn-hangzhou/oss/aliyun_v2_request",
    ] {
        assert!(
            matches!(
                with_credential(credential).authenticate(),
                Err(Error::Malformed { .. })
            ),
            "{credential}"
        );
    }
    // No region at all is the wrong region, not a malformed credential (OSS words both alike).
    let no_region = with_credential("example-ak/20240221//oss/aliyun_v4_request");
    let presented = no_region.detect().unwrap().unwrap();
    assert!(matches!(
        coffer_signature::verify(&no_region.signed(), &presented, &secret(), NOW, REGION),
        Err(Error::WrongRegion { .. })
    ));
    with_credential("example-ak/20240221/cn-hangzhou/oss/aliyun_v4_request")
        .authenticate()
        .unwrap();
}

#[test]
fn debug_of_a_presented_signature_hides_signature_and_token() {
    let secret = secret();
    let creds = coffer_signature::Credentials {
        access_key_id: AK,
        secret: &secret,
        security_token: Some("sts-token-value"),
    };
    let mut req = example_put();
    req.set_headers(sign_request_v4(&req.signed(), &creds, REGION, NOW, &[]).unwrap());
    let presented = req.authenticate().unwrap();
    let shown = format!("{presented:?}");
    let auth = &req
        .headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .unwrap()
        .1;
    let signature = auth.rsplit_once("Signature=").unwrap().1;
    assert!(shown.contains(AK));
    assert!(!shown.contains(signature));
    assert!(!shown.contains("sts-token-value"));
}
