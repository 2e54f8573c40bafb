//! The V1 and V4 worked examples computed for these tests, which oss2 (`Auth`, `AuthV4`) and the
//! v2 SDK (`SignerV1`, `SignerV4`) reproduce byte for byte, driven through the functions the
//! server and coffer's tools call.

mod common;

use coffer_signature::{
    Scheme, SigningKey, canonical_request_v4, presign_v1, scope_v4, sign_request_v1,
    sign_request_v4, sign_v1, sign_v4, signing_key_v4, string_to_sign_v1, string_to_sign_v4,
};
use common::{AK, NOW, REGION, Req, credentials, example_put, secret};
use time::OffsetDateTime;
use time::macros::datetime;

const V1_STRING_TO_SIGN: &str = "PUT\nXUFAKrxLKna5cZ2REBfFkg==\ntext/plain\nWed, 21 Feb 2024 08:30:00 GMT\nx-oss-meta-author:alice\nx-oss-server-side-encryption:KMS\n/examplebucket/docs/hello world.txt";
const V1_SIGNATURE: &str = "upzM3BIDazMUs3ZmsDisXbPC0cQ=";

const V1_PRESIGN_STRING_TO_SIGN: &str =
    "GET\n\n\n1708504200\n/examplebucket/docs/hello world.txt?response-content-type=text/plain";
const V1_PRESIGN_SIGNATURE: &str = "p+XMjSXfIU0hVmLA0I8779pbubo=";
const V1_PRESIGN_EXPIRES: i64 = 1_708_504_200;

const V4_CANONICAL_REQUEST: &str = "PUT
/examplebucket/docs/hello%20world.txt

content-md5:XUFAKrxLKna5cZ2REBfFkg==
content-type:text/plain
x-oss-content-sha256:UNSIGNED-PAYLOAD
x-oss-date:20240221T083000Z
x-oss-meta-author:alice
x-oss-server-side-encryption:KMS


UNSIGNED-PAYLOAD";
const V4_CANONICAL_REQUEST_SHA256: &str =
    "56a806ca7daeac9e8c3b525c4c5f6df4c53b1d93f779c33b14a2436ae4821fd4";
const V4_SCOPE: &str = "20240221/cn-hangzhou/oss/aliyun_v4_request";
const K_DATE: &str = "32896df5fc01d3e2cae16a2465e20dadbfd54f25aa99532a209a7218f4d03a26";
const K_REGION: &str = "162270d4d4c6142e4696b0517d0eff0ded310d8d9b8a31eba16b54fc9a76dd69";
const K_SERVICE: &str = "59cdaabaefdc053b867813e22d134ffa365514eac2f86c37c04c3b7c2289b255";
const K_SIGNING: &str = "95f371c49fb2795d43f2da826260a48c19f2867970a41c5d07c5554c66007c15";
const V4_SIGNATURE: &str = "9e0a47b27c4423ccde4b4d81b11da607c27a1ecb8e98a4da89978a95042c7714";

fn v1_example() -> Req {
    example_put().headers(&[("date", "Wed, 21 Feb 2024 08:30:00 GMT")])
}

fn v4_example() -> Req {
    example_put().headers(&[
        ("x-oss-date", "20240221T083000Z"),
        ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
    ])
}

fn v1_presign_example() -> Req {
    Req::new("GET", Some("examplebucket"), Some("docs/hello world.txt"))
        .query(&[("response-content-type", "text/plain")])
}

#[test]
fn v1_header_example_string_to_sign_and_signature() {
    let req = v1_example();
    let string_to_sign = string_to_sign_v1(&req.signed(), "Wed, 21 Feb 2024 08:30:00 GMT").unwrap();
    assert_eq!(string_to_sign, V1_STRING_TO_SIGN);
    assert_eq!(sign_v1(&secret(), &string_to_sign), V1_SIGNATURE);
}

#[test]
fn v1_header_example_verifies_as_the_server_sees_it() {
    let req = v1_example().headers(&[(
        "authorization",
        "OSS example-ak:upzM3BIDazMUs3ZmsDisXbPC0cQ=",
    )]);
    let presented = req.authenticate().unwrap();
    assert_eq!(presented.scheme(), Scheme::V1Header);
    assert_eq!(presented.access_key_id(), AK);
    assert_eq!(presented.request_time(), Some(NOW));
    assert_eq!(presented.security_token(), None);
}

#[test]
fn v1_header_example_is_what_the_client_helper_produces() {
    let secret = secret();
    let set = sign_request_v1(&example_put().signed(), &credentials(&secret), NOW).unwrap();
    assert_eq!(
        set,
        common::pairs(&[
            ("date", "Wed, 21 Feb 2024 08:30:00 GMT"),
            (
                "authorization",
                "OSS example-ak:upzM3BIDazMUs3ZmsDisXbPC0cQ="
            ),
        ])
    );
}

#[test]
fn v1_presign_example_string_to_sign_and_signature() {
    let req = v1_presign_example();
    let string_to_sign = string_to_sign_v1(&req.signed(), "1708504200").unwrap();
    assert_eq!(string_to_sign, V1_PRESIGN_STRING_TO_SIGN);
    assert_eq!(sign_v1(&secret(), &string_to_sign), V1_PRESIGN_SIGNATURE);
}

#[test]
fn v1_presign_example_is_what_the_client_helper_produces_and_verifies() {
    let secret = secret();
    let mut req = v1_presign_example();
    let expires = OffsetDateTime::from_unix_timestamp(V1_PRESIGN_EXPIRES).unwrap();
    let params = presign_v1(&req.signed(), &credentials(&secret), expires).unwrap();
    assert_eq!(
        params,
        common::pairs(&[
            ("OSSAccessKeyId", AK),
            ("Expires", "1708504200"),
            ("Signature", V1_PRESIGN_SIGNATURE),
        ])
    );
    req.query.extend(params);
    let presented = req
        .authenticate_at(datetime!(2024-02-21 08:00:00 UTC))
        .unwrap();
    assert_eq!(presented.scheme(), Scheme::V1Query);
    assert_eq!(presented.expires_at(), Some(expires));
}

#[test]
fn v4_example_canonical_request_hash_keys_and_signature() {
    let req = v4_example();
    let canonical_request = canonical_request_v4::<&str>(&req.signed(), &[]).unwrap();
    assert_eq!(canonical_request, V4_CANONICAL_REQUEST);

    let scope = scope_v4("20240221", REGION);
    assert_eq!(scope, V4_SCOPE);
    let string_to_sign = string_to_sign_v4("20240221T083000Z", &scope, &canonical_request);
    assert_eq!(
        string_to_sign,
        format!("OSS4-HMAC-SHA256\n20240221T083000Z\n{V4_SCOPE}\n{V4_CANONICAL_REQUEST_SHA256}")
    );

    let secret = secret();
    let k_date = SigningKey::date_key(&secret, "20240221");
    assert_eq!(hex(&k_date), K_DATE);
    let k_region = k_date.derive(REGION);
    assert_eq!(hex(&k_region), K_REGION);
    let k_service = k_region.derive("oss");
    assert_eq!(hex(&k_service), K_SERVICE);
    let k_signing = k_service.derive("aliyun_v4_request");
    assert_eq!(hex(&k_signing), K_SIGNING);
    let key = signing_key_v4(&secret, "20240221", REGION);
    assert_eq!(hex(&key), K_SIGNING);

    assert_eq!(sign_v4(&key, &string_to_sign), V4_SIGNATURE);
}

fn hex(key: &SigningKey) -> String {
    key.expose_secret()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn v4_example_verifies_with_both_sdk_header_layouts() {
    for authorization in [
        // oss2: comma and space.
        "OSS4-HMAC-SHA256 Credential=example-ak/20240221/cn-hangzhou/oss/aliyun_v4_request, Signature=9e0a47b27c4423ccde4b4d81b11da607c27a1ecb8e98a4da89978a95042c7714",
        // v2 and ali-oss: comma only.
        "OSS4-HMAC-SHA256 Credential=example-ak/20240221/cn-hangzhou/oss/aliyun_v4_request,Signature=9e0a47b27c4423ccde4b4d81b11da607c27a1ecb8e98a4da89978a95042c7714",
    ] {
        let req = v4_example().headers(&[("authorization", authorization)]);
        let presented = req.authenticate().unwrap();
        assert_eq!(presented.scheme(), Scheme::V4Header);
        assert_eq!(presented.access_key_id(), AK);
        assert_eq!(presented.request_time(), Some(NOW));
        assert_eq!(presented.credential().unwrap().scope(), V4_SCOPE);
    }
}

#[test]
fn v4_example_is_what_the_client_helper_produces() {
    let secret = secret();
    let set = sign_request_v4(
        &example_put().signed(),
        &credentials(&secret),
        REGION,
        NOW,
        &[],
    )
    .unwrap();
    assert_eq!(
        set,
        common::pairs(&[
            ("x-oss-date", "20240221T083000Z"),
            ("x-oss-content-sha256", "UNSIGNED-PAYLOAD"),
            (
                "authorization",
                "OSS4-HMAC-SHA256 Credential=example-ak/20240221/cn-hangzhou/oss/aliyun_v4_request,Signature=9e0a47b27c4423ccde4b4d81b11da607c27a1ecb8e98a4da89978a95042c7714"
            ),
        ])
    );
}
