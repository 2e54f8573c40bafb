//! A data directory written by the previous release still opens, and everything in it still
//! reads back and still applies: objects under every encryption method with their metadata,
//! RAM users' keys and policies, the bucket policy, and KMS ciphertexts.
//!
//! The fixture (`tests/fixtures/previous-release/`, made by `make_previous_release.py` there)
//! is copied to a temporary directory and served by the binary under test; requests are signed
//! with coffer-signature's client signers (OSS V1 and V4) and, for the KMS API, with the RPC
//! signature the old KMS SDK uses.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed step should panic

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use coffer_signature::{
    Credentials, SignedRequest, sign_request_v1, sign_request_v4, uri_encode, uri_encode_path,
};
use coffer_types::AccessKeySecret;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;

const REGION: &str = "cn-hangzhou";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/previous-release")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The object content the fixture script derives from a key: SHA-256 in counter mode.
fn content(key: &str, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 32);
    let mut counter = 0u64;
    while out.len() < size {
        out.extend_from_slice(&Sha256::digest(format!("{key}:{counter}")));
        counter += 1;
    }
    out.truncate(size);
    out
}

/// The binary under test on a copy of the fixture.
struct Server {
    child: Child,
    oss: SocketAddr,
    kms: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(dir: tempfile::TempDir) -> Self {
        let data = dir.path().join("data");
        let root_key = dir.path().join("root-key");
        // git does not keep file modes; the server refuses key files that others may read.
        let files = coffer_types::DataDir::new(&data);
        for f in [
            &root_key,
            &files.root_credentials(),
            &files.iam(),
            &files.kms(),
            &files.keyring(),
        ] {
            std::fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
        }
        let ready = dir.path().join("ready.json");
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
        cmd.args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--kms-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(&data)
        .arg("--root-key-file")
        .arg(&root_key)
        .arg("--ready-file")
        .arg(&ready)
        .args(["--sse-rotation-days", "0"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
        for (k, _) in std::env::vars() {
            if k.starts_with("COFFER_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let info: Value = loop {
            // The server writes the ready file atomically once it listens.
            if let Ok(text) = std::fs::read_to_string(&ready) {
                break serde_json::from_str(&text).unwrap();
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("coffer exited with {status}:\n{}", log_of(dir.path()));
            }
            assert!(Instant::now() < deadline, "coffer never became ready");
            std::thread::sleep(Duration::from_millis(20)); // polling interval, not a wait for work
        };
        let addr = |name: &str| info[name].as_str().unwrap().parse().unwrap();
        Self {
            oss: addr("oss"),
            kms: addr("kms"),
            child,
            _dir: dir,
        }
    }

    /// SIGTERM, and the exit status must be success.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(sent.success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "coffer exited with {status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
}

struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh HTTP/1.1 connection.
async fn send(
    addr: SocketAddr,
    method: &str,
    uri: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
) -> Reply {
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut builder = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .header("host", addr.to_string());
    for (n, v) in headers {
        builder = builder.header(n.as_str(), v.as_str());
    }
    let resp = sender
        .send_request(builder.body(Full::new(Bytes::from(body))).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Sig {
    V1,
    V4,
}

struct Key {
    id: String,
    secret: AccessKeySecret,
}

impl Key {
    fn new(id: &str, secret: &str) -> Self {
        Self {
            id: id.to_owned(),
            secret: AccessKeySecret::new(secret),
        }
    }
}

/// A path-style OSS request to `bucket`/`key`, signed by `who`.
async fn oss(
    server: &Server,
    who: &Key,
    sig: Sig,
    method: &str,
    (bucket, key): (&str, Option<&str>),
    query: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let headers = vec![("host".to_owned(), server.oss.to_string())];
    let req = SignedRequest {
        method,
        bucket: Some(bucket),
        key,
        query: &query,
        headers: &headers,
    };
    let credentials = Credentials {
        access_key_id: &who.id,
        secret: &who.secret,
        security_token: None,
    };
    let now = time::OffsetDateTime::now_utc();
    let auth = match sig {
        Sig::V1 => sign_request_v1(&req, &credentials, now).unwrap(),
        Sig::V4 => sign_request_v4(&req, &credentials, REGION, now, &[]).unwrap(),
    };
    let mut uri = format!("/{bucket}/{}", uri_encode_path(key.unwrap_or("")));
    for (i, (k, v)) in query.iter().enumerate() {
        uri.push(if i == 0 { '?' } else { '&' });
        uri.push_str(&uri_encode(k));
        if !v.is_empty() {
            uri.push('=');
            uri.push_str(&uri_encode(v));
        }
    }
    send(server.oss, method, &uri, &auth, body).await
}

/// A KMS API call in the RPC style of the old KMS SDK (HMAC-SHA1 over the sorted parameters).
async fn kms(server: &Server, who: &Key, action: &str, api: &[(&str, &str)]) -> Reply {
    let mut params: BTreeMap<String, String> = api
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let timestamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
        .unwrap();
    let nonce = hex::encode(Sha256::digest(format!("{action}{timestamp}{api:?}")))[..32].to_owned();
    for (k, v) in [
        ("Action", action),
        ("Version", "2016-01-20"),
        ("Format", "JSON"),
        ("RegionId", REGION),
        ("Timestamp", &timestamp),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &nonce),
        ("AccessKeyId", &who.id),
    ] {
        params.insert(k.to_owned(), v.to_owned());
    }
    let canonical = params
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k), uri_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!("POST&%2F&{}", uri_encode(&canonical));
    let mut mac =
        Hmac::<sha1::Sha1>::new_from_slice(format!("{}&", who.secret.expose_secret()).as_bytes())
            .unwrap();
    mac.update(string_to_sign.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let body = format!("{canonical}&Signature={}", uri_encode(&signature));
    let headers = [(
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    send(server.kms, "POST", "/", &headers, body.into_bytes()).await
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(fixture().join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn root_key() -> Key {
    let text = std::fs::read_to_string(fixture().join("data/root-credentials.json")).unwrap();
    let creds: Value = serde_json::from_str(&text).unwrap();
    Key::new(
        creds["access_key_id"].as_str().unwrap(),
        creds["access_key_secret"].as_str().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_previous_release_data_directory_opens_and_everything_in_it_still_applies() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), dir.path());
    let server = Server::start(dir);
    let m = manifest();
    let root = root_key();
    // The first release kept the root secret in clear; the first start seals it in place.
    let creds = std::fs::read_to_string(
        coffer_types::DataDir::new(server._dir.path().join("data")).root_credentials(),
    )
    .unwrap();
    assert!(
        !creds.contains("access_key_secret") && creds.contains("sealed_secret"),
        "{creds}"
    );

    every_object_reads_back(&server, &root, &m).await;
    bucket_settings_survive(&server, &root, &m).await;
    users_keys_and_policies_apply(&server, &m).await;
    kms_ciphertexts_decrypt(&server, &root, &m).await;
    old_data_stays_writable(&server, &root, &m).await;

    server.stop();
}

async fn every_object_reads_back(server: &Server, root: &Key, m: &Value) {
    let objects = m["objects"].as_array().unwrap();
    assert!(objects.len() >= 13, "the fixture lists its objects");
    for (i, o) in objects.iter().enumerate() {
        let (bucket, key) = (o["bucket"].as_str().unwrap(), o["key"].as_str().unwrap());
        let size = usize::try_from(o["size"].as_u64().unwrap()).unwrap();
        let expected = content(key, size);
        assert_eq!(hex::encode(Sha256::digest(&expected)), o["sha256"], "{key}");
        // Alternate signature versions so both verifiers see the old keys.
        let sig = if i % 2 == 0 { Sig::V1 } else { Sig::V4 };
        let got = oss(server, root, sig, "GET", (bucket, Some(key)), &[], vec![]).await;
        assert_eq!(got.status, 200, "GET {bucket}/{key}: {}", got.text());
        assert!(got.body == expected, "{bucket}/{key}: the bytes differ");
        for (name, value) in o["headers"].as_object().unwrap() {
            assert_eq!(
                got.header(name),
                value.as_str(),
                "{bucket}/{key}: header {name}"
            );
        }
        if size > 10 {
            let ranged = oss_range(server, root, bucket, key, 3, 9).await;
            assert_eq!(ranged.status, 206, "{bucket}/{key}: {}", ranged.text());
            assert!(ranged.body[..] == expected[3..=9], "{bucket}/{key}: range");
        }
        let head = oss(server, root, sig, "HEAD", (bucket, Some(key)), &[], vec![]).await;
        assert_eq!(head.status, 200);
        assert_eq!(
            head.header("content-length"),
            Some(size.to_string().as_str())
        );
        assert_eq!(head.header("etag"), got.header("etag"), "{key}: etag");
        assert_eq!(
            head.header("x-oss-hash-crc64ecma"),
            got.header("x-oss-hash-crc64ecma")
        );
    }
}

async fn oss_range(
    server: &Server,
    who: &Key,
    bucket: &str,
    key: &str,
    first: u64,
    last: u64,
) -> Reply {
    // Range is not signed by V1, so it can be added after signing.
    let headers = vec![("host".to_owned(), server.oss.to_string())];
    let req = SignedRequest {
        method: "GET",
        bucket: Some(bucket),
        key: Some(key),
        query: &[],
        headers: &headers,
    };
    let credentials = Credentials {
        access_key_id: &who.id,
        secret: &who.secret,
        security_token: None,
    };
    let mut auth = sign_request_v1(&req, &credentials, time::OffsetDateTime::now_utc()).unwrap();
    auth.push(("range".to_owned(), format!("bytes={first}-{last}")));
    let uri = format!("/{bucket}/{}", uri_encode_path(key));
    send(server.oss, "GET", &uri, &auth, vec![]).await
}

async fn bucket_settings_survive(server: &Server, root: &Key, m: &Value) {
    for (bucket, rule) in m["bucket_encryption"].as_object().unwrap() {
        let got = oss(
            server,
            root,
            Sig::V1,
            "GET",
            (bucket, None),
            &[("encryption", "")],
            vec![],
        )
        .await;
        assert_eq!(got.status, 200, "{}", got.text());
        let text = got.text();
        for (field, value) in rule.as_object().unwrap() {
            let element = format!("<{field}>{}</{field}>", value.as_str().unwrap());
            assert!(text.contains(&element), "{bucket}: {element} not in {text}");
        }
    }
    let pending = &m["pending_upload"];
    let bucket = pending["bucket"].as_str().unwrap();
    let got = oss(
        server,
        root,
        Sig::V4,
        "GET",
        (bucket, None),
        &[("uploads", "")],
        vec![],
    )
    .await;
    assert_eq!(got.status, 200);
    assert!(
        got.text().contains(pending["upload_id"].as_str().unwrap()),
        "the upload in progress is listed: {}",
        got.text()
    );
    let got = oss(
        server,
        root,
        Sig::V1,
        "GET",
        (bucket, None),
        &[("policy", "")],
        vec![],
    )
    .await;
    assert_eq!(got.status, 200, "the bucket policy is kept: {}", got.text());
    let policy: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(policy["Statement"][0]["Action"][0], "oss:GetObject");
    // Every bucket the fixture made is listed.
    let got = oss_service(server, root).await;
    for o in m["objects"].as_array().unwrap() {
        let name = format!("<Name>{}</Name>", o["bucket"].as_str().unwrap());
        assert!(got.contains(&name), "{name} not listed");
    }
}

async fn oss_service(server: &Server, who: &Key) -> String {
    let headers = vec![("host".to_owned(), server.oss.to_string())];
    let req = SignedRequest {
        method: "GET",
        bucket: None,
        key: None,
        query: &[],
        headers: &headers,
    };
    let credentials = Credentials {
        access_key_id: &who.id,
        secret: &who.secret,
        security_token: None,
    };
    let auth = sign_request_v1(&req, &credentials, time::OffsetDateTime::now_utc()).unwrap();
    let got = send(server.oss, "GET", "/", &auth, vec![]).await;
    assert_eq!(got.status, 200, "{}", got.text());
    got.text()
}

async fn users_keys_and_policies_apply(server: &Server, m: &Value) {
    let users = m["users"].as_array().unwrap();
    let key_of = |id: &str| {
        let u = users
            .iter()
            .find(|u| u["access_key_id"] == id)
            .expect("each check names a listed key");
        Key::new(id, u["access_key_secret"].as_str().unwrap())
    };
    let checks = m["checks"].as_array().unwrap();
    // Every key of every user is exercised.
    for u in users {
        assert!(
            checks.iter().any(|c| c[0] == u["access_key_id"]),
            "no check for {}",
            u["name"]
        );
    }
    for (i, c) in checks.iter().enumerate() {
        let who = key_of(c[0].as_str().unwrap());
        let (method, bucket, key) = (
            c[1].as_str().unwrap(),
            c[2].as_str().unwrap(),
            c[3].as_str().unwrap(),
        );
        let sig = if i % 2 == 0 { Sig::V4 } else { Sig::V1 };
        let body = if method == "PUT" {
            b"new".to_vec()
        } else {
            vec![]
        };
        let got = oss(server, &who, sig, method, (bucket, Some(key)), &[], body).await;
        assert_eq!(
            u64::from(got.status),
            c[4].as_u64().unwrap(),
            "{method} {bucket}/{key} as {}: {}",
            who.id,
            got.text()
        );
        if got.status == 403 {
            assert!(
                got.text().contains("<Code>AccessDenied</Code>"),
                "{}",
                got.text()
            );
        }
    }
    // A key that never existed is refused as such, so the checks above prove the stored keys.
    let stranger = Key::new("LTAIneverissuedanywhere", "x".repeat(30).as_str());
    let got = oss(
        server,
        &stranger,
        Sig::V1,
        "GET",
        ("prev-objects", Some("plain.txt")),
        &[],
        vec![],
    )
    .await;
    assert_eq!(got.status, 403);
    assert!(got.text().contains("InvalidAccessKeyId"), "{}", got.text());
    // A stored key with a wrong secret fails the signature check.
    let user = &users[0];
    let wrong = Key::new(user["access_key_id"].as_str().unwrap(), &"y".repeat(30));
    let got = oss(
        server,
        &wrong,
        Sig::V1,
        "GET",
        ("prev-objects", Some("plain.txt")),
        &[],
        vec![],
    )
    .await;
    assert_eq!(got.status, 403);
    assert!(
        got.text().contains("SignatureDoesNotMatch"),
        "{}",
        got.text()
    );
}

async fn kms_ciphertexts_decrypt(server: &Server, root: &Key, m: &Value) {
    let k = &m["kms"];
    let blobs = k["ciphertexts"].as_array().unwrap();
    assert_eq!(blobs.len(), 5);
    for b in blobs {
        let mut params = vec![("CiphertextBlob", b["blob"].as_str().unwrap().to_owned())];
        if b["context"].is_object() {
            params.push(("EncryptionContext", b["context"].to_string()));
        }
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let got = kms(server, root, "Decrypt", &params).await;
        assert_eq!(got.status, 200, "{}", got.text());
        let reply: Value = serde_json::from_slice(&got.body).unwrap();
        let plaintext = base64::engine::general_purpose::STANDARD
            .decode(reply["Plaintext"].as_str().unwrap())
            .unwrap();
        assert_eq!(plaintext, b["plaintext"].as_str().unwrap().as_bytes());
        assert_eq!(reply["KeyId"], b["key_id"]);
    }
    // The alias still names its key, the rotated key has both versions, the imported key is
    // usable.
    let got = kms(
        server,
        root,
        "DescribeKey",
        &[("KeyId", k["alias"].as_str().unwrap())],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    let described: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(described["KeyMetadata"]["KeyId"], k["aliased"]);
    let got = kms(
        server,
        root,
        "ListKeyVersions",
        &[("KeyId", k["rotated"].as_str().unwrap())],
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    let versions: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(versions["TotalCount"], 2);
    let got = kms(
        server,
        root,
        "DescribeKey",
        &[("KeyId", k["imported"].as_str().unwrap())],
    )
    .await;
    let described: Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(described["KeyMetadata"]["Origin"], "EXTERNAL");
    assert_eq!(described["KeyMetadata"]["KeyState"], "Enabled");
}

/// The old data directory is not read-only: new writes under every method land beside the old
/// objects and read back, and deleting an old object frees it.
async fn old_data_stays_writable(server: &Server, root: &Key, m: &Value) {
    let named = m["kms"]["named"].as_str().unwrap();
    for (i, sse) in ["", "AES256", "SM4", "KMS"].into_iter().enumerate() {
        let key = format!("new-{i}");
        let data = content(&key, 4000);
        let mut headers = vec![("host".to_owned(), server.oss.to_string())];
        if !sse.is_empty() {
            headers.push(("x-oss-server-side-encryption".to_owned(), sse.to_owned()));
        }
        if sse == "KMS" {
            headers.push((
                "x-oss-server-side-encryption-key-id".to_owned(),
                named.to_owned(),
            ));
        }
        let req = SignedRequest {
            method: "PUT",
            bucket: Some("prev-objects"),
            key: Some(&key),
            query: &[],
            headers: &headers,
        };
        let credentials = Credentials {
            access_key_id: &root.id,
            secret: &root.secret,
            security_token: None,
        };
        let mut auth =
            sign_request_v1(&req, &credentials, time::OffsetDateTime::now_utc()).unwrap();
        auth.extend(headers.into_iter().skip(1));
        let got = send(
            server.oss,
            "PUT",
            &format!("/prev-objects/{key}"),
            &auth,
            data.clone(),
        )
        .await;
        assert_eq!(got.status, 200, "{}", got.text());
        let back = oss(
            server,
            root,
            Sig::V4,
            "GET",
            ("prev-objects", Some(&key)),
            &[],
            vec![],
        )
        .await;
        assert!(back.body == data);
    }
    let got = oss(
        server,
        root,
        Sig::V1,
        "DELETE",
        ("prev-objects", Some("plain.txt")),
        &[],
        vec![],
    )
    .await;
    assert_eq!(got.status, 204);
    let got = oss(
        server,
        root,
        Sig::V1,
        "GET",
        ("prev-objects", Some("plain.txt")),
        &[],
        vec![],
    )
    .await;
    assert_eq!(got.status, 404);
}
