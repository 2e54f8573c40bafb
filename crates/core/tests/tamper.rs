//! Tampering with an encrypted object's metadata or data makes GET fail — never wrong bytes.
//! Runs the real store over redb and the disk blob store, and edits records behind its back.

#![allow(clippy::unwrap_used)] // a test: a failed setup step should panic

use std::sync::Arc;

use bytes::Bytes;
use coffer_core::{
    AppendObject, BodyStream, Error, GetOptions, ObjectMetadata, PutObject, RequestContext,
    SseRequest, Store,
};
use coffer_iam::{Action, Grant, Iam, PublicAccess, Resource};
use coffer_meta::{MetaStore, PutCondition};
use coffer_types::{AccessKeySecret, BucketName, ObjectKey, RequestId};
use futures::TryStreamExt;

struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    meta: Arc<dyn MetaStore>,
    iam: Iam,
    bucket: BucketName,
}

fn ctx() -> RequestContext {
    RequestContext {
        request_id: RequestId::random(),
        source: None,
        secure: false,
        customer_keys: Default::default(),
    }
}

impl Fixture {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = coffer_types::DataDir::new(dir.path());
        let meta: Arc<dyn MetaStore> =
            Arc::new(coffer_meta_redb::RedbMetaStore::open(&data_dir.meta()).unwrap());
        let blobs = Arc::new(coffer_blob_fs::FsBlobStore::open(&data_dir.blobs()).unwrap());
        let keyring = coffer_keyring::Keyring::open(
            &data_dir.keyring(),
            &coffer_crypto::RootKey::generate(),
            coffer_types::Timestamp::UNIX_EPOCH,
        )
        .unwrap();
        let store = Store::new(
            meta.clone(),
            blobs,
            coffer_core::Config {
                owner_id: "1000".into(),
                ..Default::default()
            },
        )
        .with_keyring(keyring);
        let iam = Iam::new("1000".into(), "AK".into(), AccessKeySecret::new("SK"));
        let bucket = BucketName::parse("bkt").unwrap();
        let f = Self {
            _dir: dir,
            store,
            meta,
            iam,
            bucket,
        };
        let g = f.grant(Action::PutBucket, Resource::Bucket("bkt".into()));
        f.store
            .create_bucket(
                &ctx(),
                &g,
                coffer_core::CreateBucket {
                    name: f.bucket.clone(),
                    acl: coffer_core::Acl::Private,
                    storage_class: coffer_core::StorageClass::Standard,
                    encryption: None,
                },
            )
            .await
            .unwrap();
        f
    }

    fn grant(&self, action: Action, resource: Resource) -> Grant {
        let (p, _) = self.iam.secret_for("AK").unwrap();
        self.iam
            .authorize(&p, action, resource, PublicAccess::None)
            .unwrap()
    }

    fn object_grant(&self, action: Action, key: &str) -> Grant {
        self.grant(
            action,
            Resource::Object {
                bucket: "bkt".into(),
                key: key.into(),
            },
        )
    }

    async fn put(&self, key: &str, data: &[u8], sse: Option<SseRequest>) {
        let g = self.object_grant(Action::PutObject, key);
        self.store
            .put_object(
                &ctx(),
                &g,
                PutObject {
                    bucket: self.bucket.clone(),
                    key: ObjectKey::parse(key).unwrap(),
                    body: body(data),
                    content_md5: None,
                    metadata: ObjectMetadata::default(),
                    acl: coffer_core::Acl::Default,
                    storage_class: None,
                    forbid_overwrite: false,
                    sse,
                    tags: Vec::new(),
                    checksum: Default::default(),
                },
            )
            .await
            .unwrap();
    }

    async fn append(&self, key: &str, position: u64, data: &[u8], sse: Option<SseRequest>) {
        let g = self.object_grant(Action::PutObject, key);
        self.store
            .append_object(
                &ctx(),
                &g,
                AppendObject {
                    bucket: self.bucket.clone(),
                    key: ObjectKey::parse(key).unwrap(),
                    position,
                    body: body(data),
                    content_md5: None,
                    metadata: ObjectMetadata::default(),
                    acl: coffer_core::Acl::Default,
                    storage_class: None,
                    sse,
                    tags: Vec::new(),
                },
            )
            .await
            .unwrap();
    }

    /// The whole object, or the error GET (or reading its body) ended with.
    async fn get(&self, key: &str) -> Result<Vec<u8>, String> {
        let g = self.object_grant(Action::GetObject, key);
        let out = self
            .store
            .get_object(
                &ctx(),
                &g,
                &self.bucket,
                &ObjectKey::parse(key).unwrap(),
                GetOptions::default(),
            )
            .await
            .map_err(|e| describe(&e))?;
        let chunks: Vec<Bytes> = out.body.try_collect().await.map_err(|e| e.to_string())?;
        Ok(chunks.concat())
    }

    async fn record(&self, key: &str) -> coffer_meta::ObjectRecord {
        self.meta
            .object(&self.bucket, &ObjectKey::parse(key).unwrap())
            .await
            .unwrap()
            .unwrap()
    }

    async fn replace(&self, record: coffer_meta::ObjectRecord) {
        self.meta
            .put_object(&self.bucket, record, PutCondition::None)
            .await
            .unwrap();
    }
}

fn describe(e: &Error) -> String {
    format!("{e:?}")
}

fn body(data: &[u8]) -> BodyStream {
    let chunks: Vec<std::io::Result<Bytes>> = data
        .chunks(10_000)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Box::pin(futures::stream::iter(chunks))
}

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn appended_object(f: &Fixture) -> Vec<u8> {
    let pieces = [data(70_000, 1), data(5, 2), data(140_000, 3)];
    let mut pos = 0u64;
    for (i, p) in pieces.iter().enumerate() {
        let sse = (i == 0).then_some(SseRequest::Aes256);
        f.append("a", pos, p, sse).await;
        pos += p.len() as u64;
    }
    let whole = pieces.concat();
    assert_eq!(f.get("a").await.unwrap(), whole);
    whole
}

#[tokio::test]
async fn reordered_dropped_or_swapped_segments_fail() {
    let f = Fixture::new().await;
    appended_object(&f).await;
    let original = f.record("a").await;

    let mut reordered = original.clone();
    reordered.segments.swap(0, 2);
    f.replace(reordered).await;
    assert!(f.get("a").await.unwrap_err().contains("Corrupt"));

    let mut dropped = original.clone();
    let gone = dropped.segments.remove(1);
    dropped.size -= gone.len;
    f.replace(dropped).await;
    assert!(f.get("a").await.unwrap_err().contains("Corrupt"));

    f.replace(original).await;
    assert!(f.get("a").await.is_ok());
}

#[tokio::test]
async fn any_changed_byte_of_a_segment_header_or_envelope_fails() {
    let f = Fixture::new().await;
    let whole = appended_object(&f).await;
    let original = f.record("a").await;
    let header_len = original.segments[0].crypto.as_ref().unwrap().len();
    for i in 0..header_len {
        let mut r = original.clone();
        r.segments[0].crypto.as_mut().unwrap()[i] ^= 0x80;
        f.replace(r).await;
        let got = f.get("a").await;
        assert!(got.is_err(), "header byte {i} changed but GET succeeded");
    }
    let envelope_len = original.encryption.as_ref().unwrap().envelope.len();
    for i in 0..envelope_len {
        let mut r = original.clone();
        r.encryption.as_mut().unwrap().envelope[i] ^= 0x01;
        f.replace(r).await;
        assert!(
            f.get("a").await.is_err(),
            "envelope byte {i} changed but GET succeeded"
        );
    }
    f.replace(original).await;
    assert_eq!(f.get("a").await.unwrap(), whole);
}

#[tokio::test]
async fn envelopes_or_segments_moved_between_objects_fail() {
    let f = Fixture::new().await;
    f.put("one", &data(100_000, 7), Some(SseRequest::Aes256))
        .await;
    f.put("two", &data(100_000, 8), Some(SseRequest::Aes256))
        .await;
    let one = f.record("one").await;
    let two = f.record("two").await;

    let mut r = two.clone();
    r.encryption = one.encryption.clone();
    f.replace(r).await;
    assert!(
        f.get("two").await.is_err(),
        "another object's envelope decrypted"
    );

    let mut r = two.clone();
    r.segments = one.segments.clone();
    f.replace(r).await;
    assert!(
        f.get("two").await.is_err(),
        "another object's data decrypted"
    );

    f.replace(two).await;
    assert_eq!(f.get("two").await.unwrap(), data(100_000, 8));
}

#[tokio::test]
async fn data_and_encryption_metadata_must_agree() {
    let f = Fixture::new().await;
    f.put("enc", &data(1000, 9), Some(SseRequest::Sm4)).await;
    f.put("plain", &data(1000, 10), None).await;

    let mut r = f.record("enc").await;
    r.encryption = None;
    f.replace(r).await;
    let err = f.get("enc").await.unwrap_err();
    assert!(
        err.contains("Corrupt"),
        "ciphertext must never be served as plaintext: {err}"
    );

    let mut r = f.record("plain").await;
    r.encryption = Some(coffer_meta::ObjectEncryption {
        algorithm: coffer_meta::SseAlgorithm::Aes256,
        kms_key_id: None,
        kms_data_sm4: false,
        envelope: vec![1, 0],
    });
    f.replace(r).await;
    assert!(f.get("plain").await.is_err());
}

/// Every committed blob file under the store's blob directory.
fn blob_files(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test]
async fn a_truncated_plain_blob_is_an_error_never_a_short_body_or_a_panic() {
    for (cut_to, sse) in [
        (0u64, None),
        (1000, None),
        (200_000, None),
        (0, Some(SseRequest::Aes256)),
        (200_000, Some(SseRequest::Aes256)),
    ] {
        let f = Fixture::new().await;
        let whole = data(300_000, 7);
        f.put("t", &whole, sse.clone()).await;
        let files = blob_files(&f._dir.path().join("blobs"));
        let blob = files
            .iter()
            .find(|p| std::fs::metadata(p).unwrap().len() >= whole.len() as u64)
            .unwrap();
        std::fs::OpenOptions::new()
            .write(true)
            .open(blob)
            .unwrap()
            .set_len(cut_to)
            .unwrap();
        let got = f.get("t").await;
        assert!(
            got.is_err(),
            "cut to {cut_to}, {sse:?}: served {} bytes",
            got.unwrap().len()
        );
    }
}

/// A plain object's blob is framed with a checksum per chunk: a flipped byte anywhere in it (data
/// or checksum) makes GET fail instead of serving the wrong byte, also for inline data.
#[tokio::test]
async fn a_flipped_byte_in_a_plain_object_is_an_error_never_served() {
    let f = Fixture::new().await;
    let whole = data(300_000, 3);
    f.put("p", &whole, None).await;
    let files = blob_files(&f._dir.path().join("blobs"));
    assert_eq!(files.len(), 1);
    let original = std::fs::read(&files[0]).unwrap();
    assert!(original.len() > whole.len(), "the blob holds no checksums");
    for at in [0, 1, 65_535, 65_536, 65_543, 150_000, original.len() - 1] {
        let mut bad = original.clone();
        bad[at] ^= 0x04;
        std::fs::write(&files[0], &bad).unwrap();
        assert!(f.get("p").await.is_err(), "byte {at} flipped and served");
    }
    std::fs::write(&files[0], &original).unwrap();
    assert_eq!(f.get("p").await.unwrap(), whole);

    f.put("small", &data(5000, 4), None).await;
    let original = f.record("small").await;
    for at in [0, 2500, 4999, 5000, 5007] {
        let mut r = original.clone();
        r.segments[0].inline.as_mut().unwrap()[at] ^= 0x10;
        f.replace(r).await;
        assert!(
            f.get("small").await.is_err(),
            "inline byte {at} flipped and served"
        );
    }
}

/// Plain objects written before plain blobs were framed (no header in the segment's record, the
/// bytes raw in the blob or the record) still read, byte for byte.
#[tokio::test]
async fn plain_objects_of_earlier_releases_still_read() {
    let f = Fixture::new().await;
    let whole = data(200_000, 5);
    f.put("old", &whole, None).await;
    let files = blob_files(&f._dir.path().join("blobs"));
    std::fs::write(&files[0], &whole).unwrap();
    let mut r = f.record("old").await;
    r.segments[0].crypto = None;
    f.replace(r).await;
    assert_eq!(f.get("old").await.unwrap(), whole);

    let small = data(3000, 6);
    f.put("old-small", &small, None).await;
    let mut r = f.record("old-small").await;
    r.segments[0].crypto = None;
    r.segments[0].inline = Some(small.clone());
    f.replace(r).await;
    assert_eq!(f.get("old-small").await.unwrap(), small);

    // A framed blob is never read as a raw one, nor a raw one as framed.
    let mut r = f.record("old-small").await;
    r.segments[0].crypto = Some(b"CFPL\x01\x00\x00\x02\x00".to_vec());
    f.replace(r).await;
    assert!(f.get("old-small").await.is_err());
}

/// Small objects keep their bytes in the record (no blob file), sealed exactly as a blob would be:
/// a changed byte anywhere, a cut, the bytes of another object, or another blob id (to which the
/// chunk keys are bound) make GET fail, for every method.
#[tokio::test]
async fn inline_data_is_sealed_like_a_blob() {
    let f = Fixture::new().await;
    let small = data(5000, 21);
    f.put("one", &small, Some(SseRequest::Aes256)).await;
    f.put("two", &data(5000, 22), Some(SseRequest::Aes256))
        .await;
    f.put("sm4", &small, Some(SseRequest::Sm4)).await;
    f.put("plain", &small, None).await;
    assert!(
        blob_files(&f._dir.path().join("blobs")).is_empty(),
        "small objects wrote blob files"
    );
    for key in ["one", "sm4", "plain"] {
        assert_eq!(f.get(key).await.unwrap(), small, "{key}");
    }

    for key in ["one", "sm4"] {
        let original = f.record(key).await;
        let stored = original.segments[0].inline.clone().unwrap();
        assert!(
            !stored.windows(64).any(|w| w == &small[..64]),
            "{key}: plaintext inline"
        );
        for i in (0..stored.len()).step_by(97).chain([stored.len() - 1]) {
            let mut r = original.clone();
            r.segments[0].inline.as_mut().unwrap()[i] ^= 0x01;
            f.replace(r).await;
            assert!(f.get(key).await.is_err(), "{key}: byte {i} changed");
        }
        let mut r = original.clone();
        r.segments[0]
            .inline
            .as_mut()
            .unwrap()
            .truncate(stored.len() - 16);
        f.replace(r).await;
        assert!(f.get(key).await.is_err(), "{key}: cut");
        let mut r = original.clone();
        r.segments[0].blob = coffer_types::BlobId::random();
        f.replace(r).await;
        assert!(f.get(key).await.is_err(), "{key}: other blob id");
        f.replace(original).await;
        assert_eq!(f.get(key).await.unwrap(), small, "{key}: restored");
    }

    let (one, two) = (f.record("one").await, f.record("two").await);
    let mut r = two.clone();
    r.segments[0].inline = one.segments[0].inline.clone();
    f.replace(r).await;
    assert!(
        f.get("two").await.is_err(),
        "another object's data decrypted"
    );

    let mut r = f.record("plain").await;
    r.segments[0].inline.as_mut().unwrap().truncate(4000);
    f.replace(r).await;
    assert!(f.get("plain").await.is_err(), "a cut plain record served");
}
