//! SSE-C blocking (Amazon S3 user guide, "Blocking or unblocking SSE-C for a general purpose
//! bucket"): a new bucket refuses writes under a customer-provided key until it is unblocked;
//! blocking again stops new writes but leaves existing SSE-C objects readable.

#![allow(clippy::unwrap_used)] // a test: a failed setup step should panic

use std::sync::Arc;

use bytes::Bytes;
use coffer_core::{
    BodyStream, CustomerKey, CustomerKeys, Error, GetOptions, PutObject, RequestContext, Store,
};
use coffer_iam::{Action, Iam, PublicAccess, Resource};
use coffer_types::{AccessKeySecret, BucketName, ObjectKey, RequestId};
use futures::TryStreamExt;

fn ctx(key: Option<&Arc<CustomerKey>>) -> RequestContext {
    RequestContext {
        request_id: RequestId::random(),
        source: None,
        secure: true,
        customer_keys: CustomerKeys {
            target: key.cloned(),
            source: None,
        },
    }
}

fn body(data: &'static [u8]) -> BodyStream {
    Box::pin(futures::stream::iter([Ok(Bytes::from_static(data))]))
}

#[tokio::test]
async fn a_new_bucket_blocks_sse_c_writes_until_unblocked() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = coffer_types::DataDir::new(dir.path());
    let meta = Arc::new(coffer_meta_redb::RedbMetaStore::open(&data_dir.meta()).unwrap());
    let blobs = Arc::new(coffer_blob_fs::FsBlobStore::open(&data_dir.blobs()).unwrap());
    let keyring = coffer_keyring::Keyring::open(
        &data_dir.keyring(),
        &coffer_crypto::RootKey::generate(),
        coffer_types::Timestamp::UNIX_EPOCH,
    )
    .unwrap();
    let store = Store::new(
        meta,
        blobs,
        coffer_core::Config {
            owner_id: "1000".into(),
            ..Default::default()
        },
    )
    .with_keyring(keyring);
    let iam = Iam::new("1000".into(), "AK".into(), AccessKeySecret::new("SK"));
    let (p, _) = iam.secret_for("AK").unwrap();
    let grant = |action, resource| {
        iam.authorize(&p, action, resource, PublicAccess::None)
            .unwrap()
    };
    let bucket = BucketName::parse("bkt").unwrap();
    let on_bucket = |a| grant(a, Resource::Bucket("bkt".into()));
    store
        .create_bucket(
            &ctx(None),
            &on_bucket(Action::PutBucket),
            coffer_core::CreateBucket {
                name: bucket.clone(),
                acl: coffer_core::Acl::Private,
                storage_class: coffer_core::StorageClass::Standard,
                encryption: None,
            },
        )
        .await
        .unwrap();
    let key = Arc::new(CustomerKey::try_from_slice(&[7; 32]).unwrap());
    let put = |k: &str, data: &'static [u8]| PutObject {
        bucket: bucket.clone(),
        key: ObjectKey::parse(k).unwrap(),
        body: body(data),
        content_md5: None,
        metadata: Default::default(),
        acl: coffer_core::Acl::Default,
        storage_class: None,
        forbid_overwrite: false,
        sse: None,
        tags: Vec::new(),
        checksum: Default::default(),
    };
    let put_grant = || {
        grant(
            Action::PutObject,
            Resource::Object {
                bucket: "bkt".into(),
                key: "k".into(),
            },
        )
    };
    let blocked = store
        .bucket_sse_c_blocked(&ctx(None), &on_bucket(Action::GetBucketEncryption), &bucket)
        .await
        .unwrap();
    assert!(blocked, "new buckets block SSE-C");
    let refused = store
        .put_object(&ctx(Some(&key)), &put_grant(), put("k", b"secret"))
        .await;
    assert!(matches!(refused, Err(Error::EncryptionTypeBlocked)));
    // Writes without a customer key are not affected.
    store
        .put_object(&ctx(None), &put_grant(), put("k", b"plain"))
        .await
        .unwrap();

    let (plain_ctx, encryption_grant) = (ctx(None), on_bucket(Action::PutBucketEncryption));
    let set =
        |blocked| store.put_bucket_sse_c_blocked(&plain_ctx, &encryption_grant, &bucket, blocked);
    set(false).await.unwrap();
    store
        .put_object(&ctx(Some(&key)), &put_grant(), put("k", b"secret"))
        .await
        .unwrap();
    set(true).await.unwrap();
    assert!(matches!(
        store
            .put_object(&ctx(Some(&key)), &put_grant(), put("k", b"again"))
            .await,
        Err(Error::EncryptionTypeBlocked)
    ));
    // The SSE-C object written while unblocked still reads, with its key.
    let got = store
        .get_object(
            &ctx(Some(&key)),
            &grant(
                Action::GetObject,
                Resource::Object {
                    bucket: "bkt".into(),
                    key: "k".into(),
                },
            ),
            &bucket,
            &ObjectKey::parse("k").unwrap(),
            GetOptions::default(),
        )
        .await
        .unwrap();
    let bytes: Vec<Bytes> = got.body.try_collect().await.unwrap();
    assert_eq!(bytes.concat(), b"secret");
}
