//! The OSS front-end served in process on `127.0.0.1:0` over the in-memory stores, driven over
//! HTTP with requests signed by coffer-signature's client signers (V1 and V4): each endpoint's
//! happy path, and the exact OSS error code and status for bad input.

#![allow(clippy::unwrap_used)] // a test: a failed setup step should panic

use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use coffer_core::Store;
use coffer_iam::Iam;
use coffer_oss::{OssService, serve};
use coffer_signature::{
    Credentials, SignedRequest, sign_request_v1, sign_request_v4, uri_encode, uri_encode_path,
};
use coffer_types::AccessKeySecret;
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Method, Request};
use hyper_util::rt::TokioIo;
use md5::Digest;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const REGION: &str = "cn-hangzhou";
const AK: &str = "LTAIoss0front0end0test";
const SK: &str = "oss-front-end-test-secret-000000";

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keyring = coffer_keyring::Keyring::open(
            &dir.path().join("keyring"),
            &coffer_crypto::RootKey::generate(),
            coffer_types::Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        let meta: Arc<dyn coffer_meta::MetaStore> = Arc::new(coffer_meta::MemoryMetaStore::new());
        let store = Store::new(
            meta.clone(),
            Arc::new(coffer_blob::MemoryBlobStore::new()),
            coffer_core::Config {
                owner_id: "1000000000000000".into(),
                ..Default::default()
            },
        )
        .with_keyring(keyring);
        let iam = Iam::new(
            "1000000000000000".into(),
            AK.into(),
            AccessKeySecret::new(SK),
        );
        let access = coffer_access::Access::open(Arc::new(iam), meta, None, "cn-hangzhou".into())
            .await
            .unwrap();
        let service = Arc::new(OssService::new(
            Arc::new(store),
            Arc::new(access),
            coffer_oss::Config::default(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            coffer_http::Edge::default(),
            listener,
            service,
            async move {
                let _ = rx.await;
            },
        ));
        Self {
            addr,
            stop: Some(tx),
            task,
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap().unwrap();
    }
}

#[derive(Debug)]
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

    /// The `<Code>` of an OSS error body.
    fn code(&self) -> String {
        let text = self.text();
        let start = text.find("<Code>").map(|i| i + 6);
        let end = text.find("</Code>");
        match (start, end) {
            (Some(s), Some(e)) if s <= e => text[s..e].to_owned(),
            _ => String::new(),
        }
    }

    /// The text of the first `<tag>` in the body.
    fn element(&self, tag: &str) -> String {
        let text = self.text();
        let open = format!("<{tag}>");
        let start = text.find(&open).unwrap() + open.len();
        let end = start + text[start..].find(&format!("</{tag}>")).unwrap();
        text[start..end].to_owned()
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Sig {
    V1,
    V4,
}

/// One request to build, sign and send.
struct Req<'a> {
    method: &'a str,
    bucket: Option<&'a str>,
    key: Option<&'a str>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    sig: Sig,
    secret: &'a str,
    region: &'a str,
}

fn req<'a>(method: &'a str, bucket: Option<&'a str>, key: Option<&'a str>) -> Req<'a> {
    Req {
        method,
        bucket,
        key,
        query: Vec::new(),
        headers: Vec::new(),
        body: Vec::new(),
        sig: Sig::V1,
        secret: SK,
        region: REGION,
    }
}

impl<'a> Req<'a> {
    fn query(mut self, k: &str, v: &str) -> Self {
        self.query.push((k.to_owned(), v.to_owned()));
        self
    }

    fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_owned(), v.to_owned()));
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn sig(mut self, sig: Sig) -> Self {
        self.sig = sig;
        self
    }

    fn secret(mut self, secret: &'a str) -> Self {
        self.secret = secret;
        self
    }

    fn region(mut self, region: &'a str) -> Self {
        self.region = region;
        self
    }

    async fn send(self, server: &Server) -> Reply {
        let mut headers = self.headers.clone();
        headers.push(("host".to_owned(), server.addr.to_string()));
        let signed = SignedRequest {
            method: self.method,
            bucket: self.bucket,
            key: self.key,
            query: &self.query,
            headers: &headers,
        };
        let secret = AccessKeySecret::new(self.secret);
        let credentials = Credentials {
            access_key_id: AK,
            secret: &secret,
            security_token: None,
        };
        let now = time::OffsetDateTime::now_utc();
        let auth = match self.sig {
            Sig::V1 => sign_request_v1(&signed, &credentials, now).unwrap(),
            Sig::V4 => sign_request_v4(&signed, &credentials, self.region, now, &[]).unwrap(),
        };
        let mut uri = match (self.bucket, self.key) {
            (None, _) => "/".to_owned(),
            (Some(b), k) => format!("/{b}/{}", uri_encode_path(k.unwrap_or(""))),
        };
        for (i, (k, v)) in self.query.iter().enumerate() {
            uri.push(if i == 0 { '?' } else { '&' });
            uri.push_str(&uri_encode(k));
            if !v.is_empty() {
                uri.push('=');
                uri.push_str(&uri_encode(v));
            }
        }
        let stream = TcpStream::connect(server.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut builder = Request::builder()
            .method(Method::from_bytes(self.method.as_bytes()).unwrap())
            .uri(uri);
        let signed_names: Vec<&str> = auth.iter().map(|(n, _)| n.as_str()).collect();
        for (n, v) in headers
            .iter()
            .filter(|(n, _)| !signed_names.contains(&n.as_str()))
        {
            builder = builder.header(n.as_str(), v.as_str());
        }
        for (n, v) in &auth {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let resp = sender
            .send_request(builder.body(Full::new(Bytes::from(self.body))).unwrap())
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
}

fn md5_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(data))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 + i / 257) as u8).collect()
}

/// Status and OSS code of a reply, for table comparisons.
fn outcome(r: &Reply) -> (u16, String) {
    (r.status, r.code())
}

async fn with_bucket(name: &str) -> Server {
    let server = Server::start().await;
    let r = req("PUT", Some(name), None).send(&server).await;
    assert_eq!(r.status, 200, "{}", r.text());
    server
}

#[tokio::test]
async fn buckets_are_created_listed_described_and_deleted() {
    let s = Server::start().await;
    for sig in [Sig::V1, Sig::V4] {
        let name = format!("bkt-{sig:?}").to_lowercase();
        let r = req("PUT", Some(&name), None).sig(sig).send(&s).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = req("GET", None, None).sig(sig).send(&s).await;
        assert_eq!(r.status, 200);
        assert!(
            r.text().contains(&format!("<Name>{name}</Name>")),
            "{}",
            r.text()
        );
        let r = req("GET", Some(&name), None)
            .query("bucketInfo", "")
            .sig(sig)
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.element("Name"), name);
        let r = req("GET", Some(&name), None)
            .query("location", "")
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = req("DELETE", Some(&name), None).sig(sig).send(&s).await;
        assert_eq!(r.status, 204, "{}", r.text());
        let r = req("GET", Some(&name), None).send(&s).await;
        assert_eq!(outcome(&r), (404, "NoSuchBucket".into()));
    }
    s.stop().await;
}

#[tokio::test]
async fn objects_put_get_head_copy_append_and_delete() {
    let s = with_bucket("objs").await;
    let data = pattern(100_000);
    for (sig, sse) in [
        (Sig::V1, None),
        (Sig::V4, Some("AES256")),
        (Sig::V1, Some("SM4")),
    ] {
        let k = format!("dir/obj ü {sig:?} {sse:?}");
        let mut put = req("PUT", Some("objs"), Some(&k))
            .sig(sig)
            .header("content-md5", &md5_b64(&data))
            .header("content-type", "text/plain")
            .header("x-oss-meta-colour", "blue")
            .body(data.clone());
        if let Some(sse) = sse {
            put = put.header("x-oss-server-side-encryption", sse);
        }
        let r = put.send(&s).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.header("x-oss-server-side-encryption"), sse);
        let etag = r.header("etag").unwrap().to_owned();

        let r = req("GET", Some("objs"), Some(&k)).sig(sig).send(&s).await;
        assert_eq!(r.status, 200);
        assert!(r.body == data);
        assert_eq!(r.header("etag"), Some(etag.as_str()));
        assert_eq!(r.header("x-oss-meta-colour"), Some("blue"));
        assert_eq!(r.header("content-type"), Some("text/plain"));
        assert_eq!(r.header("x-oss-server-side-encryption"), sse);

        let r = req("GET", Some("objs"), Some(&k))
            .header("range", "bytes=10-19")
            .send(&s)
            .await;
        assert_eq!(r.status, 206);
        assert_eq!(r.header("content-range"), Some("bytes 10-19/100000"));
        assert!(r.body[..] == data[10..20]);

        let r = req("HEAD", Some("objs"), Some(&k)).sig(sig).send(&s).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-length"), Some("100000"));

        let copy = format!("{k} copy");
        let source = format!("/objs/{}", uri_encode_path(&k));
        let r = req("PUT", Some("objs"), Some(&copy))
            .sig(sig)
            .header("x-oss-copy-source", &source)
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        let r = req("GET", Some("objs"), Some(&copy)).send(&s).await;
        assert!(r.body == data);

        let r = req("DELETE", Some("objs"), Some(&copy))
            .sig(sig)
            .send(&s)
            .await;
        assert_eq!(r.status, 204);
        let r = req("GET", Some("objs"), Some(&copy)).send(&s).await;
        assert_eq!(outcome(&r), (404, "NoSuchKey".into()));
    }

    let r = req("POST", Some("objs"), Some("log"))
        .query("append", "")
        .query("position", "0")
        .body(b"hello ".to_vec())
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-oss-next-append-position"), Some("6"));
    let r = req("POST", Some("objs"), Some("log"))
        .query("append", "")
        .query("position", "6")
        .body(b"world".to_vec())
        .sig(Sig::V4)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = req("POST", Some("objs"), Some("log"))
        .query("append", "")
        .query("position", "3")
        .body(b"x".to_vec())
        .send(&s)
        .await;
    assert_eq!(outcome(&r), (409, "PositionNotEqualToLength".into()));
    assert_eq!(r.header("x-oss-next-append-position"), Some("11"));
    let r = req("GET", Some("objs"), Some("log")).send(&s).await;
    assert_eq!(r.body, &b"hello world"[..]);

    let r = req("GET", Some("objs"), None)
        .query("list-type", "2")
        .query("prefix", "dir/")
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.element("KeyCount"), "3");
    s.stop().await;
}

#[tokio::test]
async fn multipart_uploads_initiate_upload_list_complete_and_abort() {
    let s = with_bucket("mpu").await;
    let part1 = pattern(100 * 1024);
    let part2 = pattern(777);
    let r = req("POST", Some("mpu"), Some("big"))
        .query("uploads", "")
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.element("UploadId");
    let mut etags = Vec::new();
    for (n, p) in [(1, &part1), (2, &part2)] {
        let r = req("PUT", Some("mpu"), Some("big"))
            .query("partNumber", &n.to_string())
            .query("uploadId", &id)
            .body(p.clone())
            .sig(if n == 1 { Sig::V1 } else { Sig::V4 })
            .send(&s)
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        etags.push(r.header("etag").unwrap().to_owned());
    }
    let r = req("GET", Some("mpu"), Some("big"))
        .query("uploadId", &id)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<PartNumber>2</PartNumber>"));
    let r = req("GET", Some("mpu"), None)
        .query("uploads", "")
        .send(&s)
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains(&id));

    let complete = |parts: &[(u32, &str)]| {
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, e) in parts {
            xml.push_str(&format!(
                "<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>"
            ));
        }
        xml.push_str("</CompleteMultipartUpload>");
        xml
    };
    // Bad part lists and bodies, each refused with its own code; the upload survives them.
    let table: Vec<(String, (u16, &str))> = vec![
        (
            "<CompleteMultipartUpload><Part>".into(),
            (400, "MalformedXML"),
        ),
        ("not xml at all".into(), (400, "MalformedXML")),
        (
            complete(&[(2, &etags[1]), (1, &etags[0])]),
            (400, "InvalidPartOrder"),
        ),
        (
            complete(&[(1, &etags[0]), (3, &etags[1])]),
            (400, "InvalidPart"),
        ),
        (
            complete(&[(1, "\"00000000000000000000000000000000\"")]),
            (400, "InvalidPart"),
        ),
    ];
    for (body, (status, code)) in table {
        let r = req("POST", Some("mpu"), Some("big"))
            .query("uploadId", &id)
            .body(body.clone())
            .send(&s)
            .await;
        assert_eq!(
            outcome(&r),
            (status, code.to_owned()),
            "{body}: {}",
            r.text()
        );
    }
    let r = req("POST", Some("mpu"), Some("big"))
        .query("uploadId", &id)
        .body(complete(&[(1, &etags[0]), (2, &etags[1])]))
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = req("GET", Some("mpu"), Some("big")).send(&s).await;
    assert!(r.body == [part1.as_slice(), part2.as_slice()].concat());
    assert_eq!(r.header("x-oss-object-type"), Some("Multipart"));

    // Completed uploads are gone; an aborted one too.
    let r = req("PUT", Some("mpu"), Some("big"))
        .query("partNumber", "1")
        .query("uploadId", &id)
        .body(b"x".to_vec())
        .send(&s)
        .await;
    assert_eq!(outcome(&r), (404, "NoSuchUpload".into()));
    let r = req("POST", Some("mpu"), Some("gone"))
        .query("uploads", "")
        .send(&s)
        .await;
    let id = r.element("UploadId");
    let r = req("DELETE", Some("mpu"), Some("gone"))
        .query("uploadId", &id)
        .send(&s)
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = req("DELETE", Some("mpu"), Some("gone"))
        .query("uploadId", &id)
        .send(&s)
        .await;
    assert_eq!(outcome(&r), (404, "NoSuchUpload".into()));
    s.stop().await;
}

#[tokio::test]
async fn bucket_encryption_is_set_read_applied_and_deleted() {
    let s = with_bucket("enc").await;
    let rule = "<ServerSideEncryptionRule><ApplyServerSideEncryptionByDefault>\
        <SSEAlgorithm>SM4</SSEAlgorithm></ApplyServerSideEncryptionByDefault>\
        </ServerSideEncryptionRule>";
    let r = req("PUT", Some("enc"), None)
        .query("encryption", "")
        .body(rule)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = req("GET", Some("enc"), None)
        .query("encryption", "")
        .send(&s)
        .await;
    assert_eq!(r.element("SSEAlgorithm"), "SM4");
    let r = req("PUT", Some("enc"), Some("k"))
        .body(b"x".to_vec())
        .send(&s)
        .await;
    assert_eq!(r.header("x-oss-server-side-encryption"), Some("SM4"));
    for bad in ["<ServerSideEncryptionRule>", "<Other/>"] {
        let r = req("PUT", Some("enc"), None)
            .query("encryption", "")
            .body(bad)
            .send(&s)
            .await;
        assert_eq!(
            outcome(&r),
            (400, "MalformedXML".into()),
            "{bad}: {}",
            r.text()
        );
    }
    let r = req("DELETE", Some("enc"), None)
        .query("encryption", "")
        .send(&s)
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = req("GET", Some("enc"), None)
        .query("encryption", "")
        .send(&s)
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    s.stop().await;
}

#[tokio::test]
async fn bad_input_gets_the_exact_oss_error() {
    let s = with_bucket("errs").await;
    let r = req("PUT", Some("errs"), Some("k"))
        .body(b"data".to_vec())
        .send(&s)
        .await;
    assert_eq!(r.status, 200);
    let etag = r.header("etag").unwrap().to_owned();
    let cases: Vec<(&str, Req<'_>, (u16, &str))> = vec![
        (
            "bad bucket name",
            req("PUT", Some("Bad_Name"), None),
            (400, "InvalidBucketName"),
        ),
        (
            "missing bucket",
            req("GET", Some("nobucket"), Some("k")),
            (404, "NoSuchBucket"),
        ),
        (
            "missing key",
            req("GET", Some("errs"), Some("nokey")),
            (404, "NoSuchKey"),
        ),
        (
            "wrong Content-MD5",
            req("PUT", Some("errs"), Some("m"))
                .header("content-md5", &md5_b64(b"other"))
                .body(b"data".to_vec()),
            (400, "InvalidDigest"),
        ),
        (
            "forbid overwrite",
            req("PUT", Some("errs"), Some("k"))
                .header("x-oss-forbid-overwrite", "true")
                .body(b"new".to_vec()),
            (409, "FileAlreadyExists"),
        ),
        (
            "If-Match fails",
            req("GET", Some("errs"), Some("k")).header("if-match", "\"0000\""),
            (412, "PreconditionFailed"),
        ),
        (
            "copy source If-Match fails",
            req("PUT", Some("errs"), Some("c"))
                .header("x-oss-copy-source", "/errs/k")
                .header("x-oss-copy-source-if-match", "\"0000\""),
            (412, "PreconditionFailed"),
        ),
        (
            "copy from a missing key",
            req("PUT", Some("errs"), Some("c")).header("x-oss-copy-source", "/errs/nokey"),
            (404, "NoSuchKey"),
        ),
        (
            "wrong secret (V1)",
            req("GET", Some("errs"), Some("k")).secret("wrong"),
            (403, "SignatureDoesNotMatch"),
        ),
        (
            "wrong secret (V4)",
            req("GET", Some("errs"), Some("k"))
                .sig(Sig::V4)
                .secret("wrong"),
            (403, "SignatureDoesNotMatch"),
        ),
        (
            "wrong region (V4)",
            req("GET", Some("errs"), Some("k"))
                .sig(Sig::V4)
                .region("cn-beijing"),
            (400, "InvalidArgument"),
        ),
        (
            "bucket not empty",
            req("DELETE", Some("errs"), None),
            (409, "BucketNotEmpty"),
        ),
        (
            "unsatisfiable standard range",
            req("GET", Some("errs"), Some("k"))
                .header("range", "bytes=10-")
                .header("x-oss-range-behavior", "standard"),
            (416, "InvalidRange"),
        ),
        (
            "missing upload",
            req("PUT", Some("errs"), Some("k"))
                .query("partNumber", "1")
                .query("uploadId", "0123456789ABCDEF0123456789ABCDEF")
                .body(b"x".to_vec()),
            (404, "NoSuchUpload"),
        ),
    ];
    for (name, r, (status, code)) in cases {
        let got = r.send(&s).await;
        assert_eq!(
            outcome(&got),
            (status, code.to_owned()),
            "{name}: {}",
            got.text()
        );
        assert!(
            got.header("x-oss-request-id").is_some(),
            "{name}: request id"
        );
    }
    // If-None-Match on the current ETag is 304 with no body; nothing above changed the object.
    let r = req("GET", Some("errs"), Some("k"))
        .header("if-none-match", &etag)
        .send(&s)
        .await;
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let r = req("GET", Some("errs"), Some("k")).send(&s).await;
    assert_eq!(r.body, &b"data"[..]);
    s.stop().await;
}

#[tokio::test]
async fn listing_v1_object_meta_batch_delete_part_copy_and_bucket_policy() {
    let s = with_bucket("more").await;
    for k in ["a", "b/1", "b/2"] {
        let r = req("PUT", Some("more"), Some(k))
            .body(pattern(100 * 1024))
            .send(&s)
            .await;
        assert_eq!(r.status, 200);
    }
    // ListObjects (v1) with a delimiter and a page size.
    let r = req("GET", Some("more"), None)
        .query("delimiter", "/")
        .query("max-keys", "1")
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.element("IsTruncated"), "true");
    assert_eq!(r.element("Key"), "a");
    let r = req("GET", Some("more"), None)
        .query("delimiter", "/")
        .query("marker", "a")
        .send(&s)
        .await;
    assert_eq!(r.element("Prefix"), "");
    assert!(
        r.text()
            .contains("<CommonPrefixes><Prefix>b/</Prefix></CommonPrefixes>"),
        "{}",
        r.text()
    );
    let r = req("GET", Some("more"), None)
        .query("max-keys", "nine")
        .send(&s)
        .await;
    assert_eq!(outcome(&r), (400, "InvalidArgument".into()));

    // GetObjectMeta.
    let r = req("HEAD", Some("more"), Some("a"))
        .query("objectMeta", "")
        .send(&s)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("102400"));

    // UploadPartCopy from an existing object, then a range of it.
    let r = req("POST", Some("more"), Some("joined"))
        .query("uploads", "")
        .send(&s)
        .await;
    let id = r.element("UploadId");
    let r = req("PUT", Some("more"), Some("joined"))
        .query("partNumber", "1")
        .query("uploadId", &id)
        .header("x-oss-copy-source", "/more/a")
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let e1 = r.element("ETag");
    let r = req("PUT", Some("more"), Some("joined"))
        .query("partNumber", "2")
        .query("uploadId", &id)
        .header("x-oss-copy-source", "/more/b/1")
        .header("x-oss-copy-source-range", "bytes=0-9")
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let e2 = r.element("ETag");
    let xml = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{e1}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{e2}</ETag></Part></CompleteMultipartUpload>"
    );
    let r = req("POST", Some("more"), Some("joined"))
        .query("uploadId", &id)
        .body(xml)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = req("GET", Some("more"), Some("joined")).send(&s).await;
    let whole = pattern(100 * 1024);
    assert!(r.body == [whole.as_slice(), &whole[..10]].concat());

    // Bucket policy: put, get back, malformed refused, delete.
    let policy = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["*"],"Resource":["acs:oss:*:1000000000000000:more/*"]}]}"#;
    let r = req("PUT", Some("more"), None)
        .query("policy", "")
        .body(policy)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = req("GET", Some("more"), None)
        .query("policy", "")
        .send(&s)
        .await;
    assert_eq!(r.status, 200);
    let got: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        got,
        serde_json::from_str::<serde_json::Value>(policy).unwrap()
    );
    let r = req("PUT", Some("more"), None)
        .query("policy", "")
        .body("{not json")
        .send(&s)
        .await;
    assert_eq!(outcome(&r), (400, "MalformedPolicy".into()), "{}", r.text());
    let r = req("DELETE", Some("more"), None)
        .query("policy", "")
        .send(&s)
        .await;
    assert_eq!(r.status, 204, "{}", r.text());
    let r = req("GET", Some("more"), None)
        .query("policy", "")
        .send(&s)
        .await;
    assert_eq!(outcome(&r), (404, "NoSuchBucketPolicy".into()));

    // DeleteMultipleObjects needs its Content-MD5 and well-formed XML.
    let xml = "<Delete><Quiet>false</Quiet><Object><Key>a</Key></Object>\
               <Object><Key>b/1</Key></Object><Object><Key>never</Key></Object></Delete>";
    let r = req("POST", Some("more"), None)
        .query("delete", "")
        .body(xml)
        .send(&s)
        .await;
    assert_eq!(r.status, 400, "without Content-MD5: {}", r.text());
    let r = req("POST", Some("more"), None)
        .query("delete", "")
        .header("content-md5", &md5_b64(b"<Delete>"))
        .body("<Delete>")
        .send(&s)
        .await;
    assert_eq!(outcome(&r), (400, "MalformedXML".into()));
    let r = req("POST", Some("more"), None)
        .query("delete", "")
        .header("content-md5", &md5_b64(xml.as_bytes()))
        .body(xml)
        .send(&s)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<Key>b/1</Key>"), "{}", r.text());
    for k in ["a", "b/1"] {
        let r = req("GET", Some("more"), Some(k)).send(&s).await;
        assert_eq!(outcome(&r), (404, "NoSuchKey".into()), "{k}");
    }
    let r = req("GET", Some("more"), Some("b/2")).send(&s).await;
    assert_eq!(r.status, 200);
    s.stop().await;
}
