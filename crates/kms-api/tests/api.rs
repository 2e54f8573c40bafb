//! The KMS API over a real engine on a temporary directory, on `127.0.0.1:0`, driven by plain
//! HTTP/1.1 requests signed here by an independent signer (both schemes).

#![allow(clippy::unwrap_used)] // a test: a failed setup step or a malformed response should panic

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use coffer_iam::Iam;
use coffer_kms::{Config, Kms, RootKey, SystemClock};
use coffer_kms_api::{KmsApiService, serve};
use coffer_types::AccessKeySecret;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

const ACCOUNT: &str = "1234567890123456";
const AK: &str = "LTAItestaccesskey";
const SECRET: &str = "test-secret-value";

struct Server {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    iam: Arc<Iam>,
    service: Arc<KmsApiService>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(|s| s).await
    }

    async fn start_with(configure: impl FnOnce(KmsApiService) -> KmsApiService) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kms = Kms::open(
            &dir.path().join("kms.redb"),
            &RootKey::generate(),
            Config::default(),
            Arc::new(SystemClock),
        )
        .unwrap();
        let iam = Arc::new(Iam::new(
            ACCOUNT.into(),
            AK.into(),
            AccessKeySecret::new(SECRET),
        ));
        let service = Arc::new(configure(KmsApiService::new(
            Arc::new(kms),
            iam.clone(),
            "cn-hangzhou".into(),
        )));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            coffer_http::Edge::default(),
            listener,
            service.clone(),
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            addr,
            stop: Some(tx),
            task,
            iam,
            service,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }

    fn host(&self) -> String {
        self.addr.to_string()
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn code(&self) -> &str {
        self.json["Code"].as_str().unwrap_or("")
    }

    fn str(&self, pointer: &str) -> &str {
        self.json
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{pointer} missing in {}", self.json))
    }
}

/// Sends one HTTP/1.1 request and reads the whole response (the connection is closed after it).
async fn send(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete response head");
    let head = std::str::from_utf8(&raw[..split]).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    let json = serde_json::from_slice(&raw[split + 4..]).unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        json,
    }
}

/// RFC 3986 encoding, written again here so the test does not trust the crate's own.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap()
}

fn nonce() -> String {
    let mut b = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut b);
    hex::encode(b)
}

/// An RPC v1 request (as the old SDK sends it: every parameter in the query of a POST), signed
/// with `secret`.
async fn rpc(server: &Server, secret: &str, action: &str, api: &[(&str, &str)]) -> Reply {
    rpc_as(server, AK, secret, action, api).await
}

/// [`rpc`] signed with another access key.
async fn rpc_as(
    server: &Server,
    access_key_id: &str,
    secret: &str,
    action: &str,
    api: &[(&str, &str)],
) -> Reply {
    let mut params: BTreeMap<String, String> = api
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in [
        ("Action", action.to_owned()),
        ("Version", "2016-01-20".into()),
        ("Format", "JSON".into()),
        ("RegionId", "cn-hangzhou".into()),
        ("Timestamp", now()),
        ("SignatureMethod", "HMAC-SHA1".into()),
        ("SignatureVersion", "1.0".into()),
        ("SignatureNonce", nonce()),
        ("SignatureType", String::new()),
        ("AccessKeyId", access_key_id.into()),
    ] {
        params.insert(k.into(), v);
    }
    let canonical: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let canonical = canonical.join("&");
    let string_to_sign = format!("POST&%2F&{}", enc(&canonical));
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let query = format!("{canonical}&Signature={}", enc(&signature));
    send(
        server.addr,
        &format!("POST /?{query} HTTP/1.1\r\nHost: {}", server.host()),
        b"",
    )
    .await
}

/// An ACS3 request as the Tea SDK sends it: action in headers, API parameters in the query.
async fn acs3(server: &Server, action: &str, api: &[(&str, &str)]) -> Reply {
    let query: BTreeMap<&str, &str> = api.iter().copied().collect();
    let canonical_query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect();
    let canonical_query = canonical_query.join("&");
    let payload = hex::encode(sha2::Sha256::digest(b""));
    let headers: BTreeMap<&str, String> = [
        ("accept", "application/json".to_owned()),
        ("host", server.host()),
        ("x-acs-action", action.to_owned()),
        ("x-acs-content-sha256", payload.clone()),
        ("x-acs-date", now()),
        ("x-acs-signature-nonce", nonce()),
        ("x-acs-version", "2016-01-20".to_owned()),
    ]
    .into_iter()
    .collect();
    let signed: Vec<&str> = headers.keys().copied().collect();
    let signed = signed.join(";");
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let canonical_request =
        format!("POST\n/\n{canonical_query}\n{canonical_headers}\n{signed}\n{payload}");
    let string_to_sign = format!(
        "ACS3-HMAC-SHA256\n{}",
        hex::encode(sha2::Sha256::digest(canonical_request.as_bytes()))
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    let mut head = format!("POST /?{canonical_query} HTTP/1.1");
    for (k, v) in &headers {
        head.push_str(&format!("\r\n{k}: {v}"));
    }
    head.push_str(&format!(
        "\r\nAuthorization: ACS3-HMAC-SHA256 Credential={AK},SignedHeaders={signed},Signature={signature}"
    ));
    send(server.addr, &head, b"").await
}

#[tokio::test]
async fn data_keys_round_trip_over_both_signatures() {
    let server = Server::start().await;
    let created = rpc(
        &server,
        SECRET,
        "CreateKey",
        &[("Description", "a b*~+/=&é")],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.json);
    assert_eq!(
        created.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let key_id = created.str("/KeyMetadata/KeyId").to_owned();
    assert_eq!(created.str("/KeyMetadata/KeyState"), "Enabled");
    assert_eq!(created.str("/KeyMetadata/Description"), "a b*~+/=&é");
    assert_eq!(
        created.str("/KeyMetadata/Arn"),
        format!("acs:kms:cn-hangzhou:{ACCOUNT}:key/{key_id}")
    );
    assert_eq!(
        created.header("x-acs-request-id"),
        Some(created.str("/RequestId"))
    );

    let context = r#"{"bucket": "b1", "object": "a b*~"}"#;
    let generated = acs3(
        &server,
        "GenerateDataKey",
        &[("KeyId", &key_id), ("EncryptionContext", context)],
    )
    .await;
    assert_eq!(generated.status, 200, "{}", generated.json);
    assert_eq!(generated.str("/KeyId"), key_id);
    let plaintext = generated.str("/Plaintext").to_owned();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(&plaintext)
            .unwrap()
            .len(),
        32
    );
    let blob = generated.str("/CiphertextBlob").to_owned();

    // The same context in another spelling decrypts; another context does not.
    let decrypted = rpc(
        &server,
        SECRET,
        "Decrypt",
        &[
            ("CiphertextBlob", &blob),
            ("EncryptionContext", r#"{"object":"a b*~","bucket":"b1"}"#),
        ],
    )
    .await;
    assert_eq!(decrypted.status, 200, "{}", decrypted.json);
    assert_eq!(decrypted.str("/Plaintext"), plaintext);
    assert_eq!(
        decrypted.str("/KeyVersionId"),
        generated.str("/KeyVersionId")
    );
    let wrong = rpc(
        &server,
        SECRET,
        "Decrypt",
        &[
            ("CiphertextBlob", &blob),
            ("EncryptionContext", r#"{"bucket":"b2"}"#),
        ],
    )
    .await;
    assert_eq!((wrong.status, wrong.code()), (400, "InvalidParameter"));

    // A blob naming a key id the account does not have reads as an invalid blob, not as a
    // missing key: Decrypt says nothing about which key ids exist.
    let mut forged = base64::engine::general_purpose::STANDARD
        .decode(&blob)
        .unwrap();
    forged[4] ^= 0x55; // bytes 4..20 name the key
    let forged = base64::engine::general_purpose::STANDARD.encode(forged);
    let unknown = rpc(
        &server,
        SECRET,
        "Decrypt",
        &[
            ("CiphertextBlob", &forged),
            ("EncryptionContext", r#"{"bucket":"b1","object":"a b*~"}"#),
        ],
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.code(), unknown.str("/Message")),
        (
            400,
            "InvalidParameter",
            "The specified parameter CiphertextBlob is not valid"
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn errors_have_the_spec_shape_and_codes() {
    let server = Server::start().await;
    let missing = acs3(
        &server,
        "DescribeKey",
        &[("KeyId", "0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6f")],
    )
    .await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "Forbidden.KeyNotFound")
    );
    let keys: Vec<&str> = missing
        .json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["Code", "HostId", "Message", "Recommend", "RequestId"]
    );
    assert_eq!(missing.str("/HostId"), server.host());
    assert_eq!(
        missing.header("x-acs-request-id"),
        Some(missing.str("/RequestId"))
    );
    assert_eq!(
        missing.header("content-type"),
        Some("application/json;charset=utf-8")
    );

    let unsigned = rpc(&server, "wrong-secret", "ListKeys", &[]).await;
    assert_eq!(
        (unsigned.status, unsigned.code()),
        (400, "SignatureDoesNotMatch")
    );
    assert!(
        unsigned
            .str("/Message")
            .contains("server string to sign is:POST&%2F&")
    );

    let unknown = rpc(&server, SECRET, "FlyToTheMoon", &[]).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "InvalidAction.NotFound")
    );
    let bad = rpc(
        &server,
        SECRET,
        "GenerateDataKey",
        &[("KeyId", "alias/nope")],
    )
    .await;
    assert_eq!((bad.status, bad.code()), (404, "Forbidden.AliasNotFound"));
    let bad = rpc(
        &server,
        SECRET,
        "Encrypt",
        &[("KeyId", "alias/nope"), ("Plaintext", "not base64!")],
    )
    .await;
    assert_eq!((bad.status, bad.code()), (400, "InvalidParameter"));

    let anonymous = send(
        server.addr,
        &format!(
            "GET /?Action=ListKeys&Version=2016-01-20 HTTP/1.1\r\nHost: {}",
            server.host()
        ),
        b"",
    )
    .await;
    assert_eq!(
        (anonymous.status, anonymous.code()),
        (400, "MissingParameter")
    );
    let elsewhere = send(
        server.addr,
        &format!("GET /health HTTP/1.1\r\nHost: {}", server.host()),
        b"",
    )
    .await;
    assert_eq!(elsewhere.status, 404);
    let put = send(
        server.addr,
        &format!("PUT / HTTP/1.1\r\nHost: {}", server.host()),
        b"",
    )
    .await;
    assert_eq!((put.status, put.code()), (405, "UnsupportedHTTPMethod"));
    server.stop().await;
}

#[tokio::test]
async fn list_responses_use_the_wrapper_shape() {
    let server = Server::start().await;
    let created = rpc(&server, SECRET, "CreateKey", &[]).await;
    let key_id = created.str("/KeyMetadata/KeyId").to_owned();
    let alias = rpc(
        &server,
        SECRET,
        "CreateAlias",
        &[("AliasName", "alias/it"), ("KeyId", &key_id)],
    )
    .await;
    assert_eq!(alias.status, 200, "{}", alias.json);
    assert_eq!(alias.json.as_object().unwrap().len(), 1, "only RequestId");
    let keys = acs3(&server, "ListKeys", &[("PageSize", "100")]).await;
    assert_eq!(keys.str("/Keys/Key/0/KeyId"), key_id);
    assert_eq!(keys.json["TotalCount"], 1);
    assert_eq!(keys.json["PageNumber"], 1);
    assert_eq!(keys.json["PageSize"], 100);
    let aliases = acs3(&server, "ListAliasesByKeyId", &[("KeyId", "alias/it")]).await;
    assert_eq!(aliases.str("/Aliases/Alias/0/AliasName"), "alias/it");
    assert_eq!(aliases.str("/Aliases/Alias/0/KeyId"), key_id);
    let versions = rpc(&server, SECRET, "ListKeyVersions", &[("KeyId", "alias/it")]).await;
    assert_eq!(
        versions.str("/KeyVersions/KeyVersion/0/KeyVersionId"),
        created.str("/KeyMetadata/PrimaryKeyVersion")
    );
    server.stop().await;
}

#[tokio::test]
async fn a_key_without_permissions_filling_its_nonce_share_does_not_refuse_others() {
    const SHARE: usize = 4;
    let server = Server::start_with(|s| s.replay_share(SHARE)).await;
    let root = coffer_iam::Principal::Root {
        account_id: ACCOUNT.into(),
        access_key_id: AK.into(),
    };
    let conditions = coffer_iam::Conditions::new();
    let admin = server.iam.admin(&root, &conditions);
    admin.create_user("mallory", None, None).unwrap();
    let key = admin.create_access_key("mallory").unwrap();
    let (ak, secret) = (
        key.info.access_key_id,
        key.secret.expose_secret().to_owned(),
    );

    // Each refused call still spends a nonce: the signature verified.
    for _ in 0..SHARE {
        let refused = rpc_as(&server, &ak, &secret, "ListKeys", &[]).await;
        assert_eq!(
            (refused.status, refused.code()),
            (403, "Forbidden.NoPermission"),
            "{}",
            refused.json
        );
    }
    let full = rpc_as(&server, &ak, &secret, "ListKeys", &[]).await;
    assert_eq!(
        (full.status, full.code()),
        (503, "ServiceUnavailableTemporary"),
        "{}",
        full.json
    );
    // A wrong signature spends nothing and is refused as such, not as a full guard.
    let forged = rpc_as(&server, AK, "not-the-secret", "ListKeys", &[]).await;
    assert_eq!(forged.code(), "SignatureDoesNotMatch");
    for _ in 0..SHARE {
        let listed = rpc(&server, SECRET, "ListKeys", &[]).await;
        assert_eq!(listed.status, 200, "{}", listed.json);
    }
    server.stop().await;
}

/// The in-process entry the web console uses: the same actions and authorization, no signature.
#[tokio::test]
async fn invoke_runs_actions_for_an_authenticated_principal_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let kms = Kms::open(
        &dir.path().join("kms.redb"),
        &RootKey::generate(),
        Config::default(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let iam = Arc::new(Iam::new(
        ACCOUNT.into(),
        AK.into(),
        AccessKeySecret::new(SECRET),
    ));
    let service = KmsApiService::new(Arc::new(kms), iam, "cn-hangzhou".into());
    let root = coffer_iam::Principal::Root {
        account_id: ACCOUNT.into(),
        access_key_id: AK.into(),
    };
    let created = service
        .invoke(
            &root,
            coffer_iam::Conditions::new(),
            "CreateKey",
            &[("Description", "from the console")],
            "r1",
        )
        .await
        .unwrap();
    let id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let listed = service
        .invoke(&root, coffer_iam::Conditions::new(), "ListKeys", &[], "r2")
        .await
        .unwrap();
    assert_eq!(listed["Keys"]["Key"][0]["KeyId"], id.as_str());
    let e = service
        .invoke(
            &coffer_iam::Principal::Anonymous,
            coffer_iam::Conditions::new(),
            "DescribeKey",
            &[("KeyId", &id)],
            "r3",
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "Forbidden.NoPermission");
    let e = service
        .invoke(
            &root,
            coffer_iam::Conditions::new(),
            "NoSuchAction",
            &[],
            "r4",
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidAction.NotFound");
    let e = service
        .invoke(
            &root,
            coffer_iam::Conditions::new(),
            "DescribeKey",
            &[("KeyId", "0f6b5c2e-8d31-4a0e-9b8f-1d2c3b4a5e6f")],
            "r5",
        )
        .await
        .unwrap_err();
    assert!(e.code.contains("NotFound"), "{e:?}");
}

/// A RAM policy on `acs:SecureTransport` sees the request's transport: a plain-HTTP connection
/// is refused, and the in-process entry judges by the caller's facts it is given.
#[tokio::test]
async fn a_policy_on_secure_transport_sees_the_connection() {
    let server = Server::start().await;
    let root = coffer_iam::Principal::Root {
        account_id: ACCOUNT.into(),
        access_key_id: AK.into(),
    };
    let conditions = coffer_iam::Conditions::new();
    let admin = server.iam.admin(&root, &conditions);
    admin.create_user("tls-only", None, None).unwrap();
    let key = admin.create_access_key("tls-only").unwrap();
    let (ak, secret) = (
        key.info.access_key_id,
        key.secret.expose_secret().to_owned(),
    );
    let policy = r#"{"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "kms:*", "Resource": "*",
         "Condition": {"Bool": {"acs:SecureTransport": "false"}}}]}"#;
    admin.create_policy("tls-only", policy, None).unwrap();
    admin
        .attach_policy(
            "tls-only",
            &coffer_iam::PolicyTarget::User("tls-only".into()),
        )
        .unwrap();

    let refused = rpc_as(&server, &ak, &secret, "ListKeys", &[]).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "Forbidden.NoPermission"),
        "{}",
        refused.json
    );
    let (user, _) = server
        .iam
        .credentials(&ak, None, time::OffsetDateTime::now_utc())
        .unwrap();
    let over_tls = coffer_iam::Conditions::new().secure_transport(true);
    let listed = server
        .service
        .invoke(&user, over_tls, "ListKeys", &[], "r1")
        .await
        .unwrap();
    assert!(listed["Keys"].is_object(), "{listed}");
    let plain = coffer_iam::Conditions::new().secure_transport(false);
    let e = server
        .service
        .invoke(&user, plain, "ListKeys", &[], "r2")
        .await
        .unwrap_err();
    assert_eq!(e.code, "Forbidden.NoPermission");
    server.stop().await;
}
