//! The shared `MetaStore` conformance suite, and persistence across reopening, on redb.

use coffer_meta::conformance::{
    self, bucket_name, object_key, test_bucket, test_object, test_upload,
};
use coffer_meta::{MetaStore, PutCondition};
use coffer_meta_redb::RedbMetaStore;
use coffer_types::BlobId;

#[tokio::test]
async fn passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbMetaStore::open(&coffer_types::DataDir::new(dir.path()).meta()).unwrap();
    conformance::run_all(&store).await;
}

#[tokio::test]
async fn committed_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = coffer_types::DataDir::new(dir.path()).meta();
    let bucket = bucket_name("reopen");
    let (kept, dropped) = (BlobId::random(), BlobId::random());
    let object = test_object("dir/k", 2, &[&kept]);
    let upload = test_upload("dir/big");
    {
        let store = RedbMetaStore::open(&path).unwrap();
        store.create_bucket(test_bucket("reopen")).await.unwrap();
        store
            .put_object(
                &bucket,
                test_object("dir/k", 1, &[&dropped]),
                PutCondition::None,
            )
            .await
            .unwrap();
        store
            .put_object(&bucket, object.clone(), PutCondition::IfGeneration(1))
            .await
            .unwrap();
        store.create_upload(&bucket, upload.clone()).await.unwrap();
    }

    let store = RedbMetaStore::open(&path).unwrap();
    assert_eq!(
        store.bucket(&bucket).await.unwrap(),
        Some(test_bucket("reopen"))
    );
    assert_eq!(
        store.object(&bucket, &object_key("dir/k")).await.unwrap(),
        Some(object)
    );
    assert_eq!(
        store.upload(&bucket, &upload.upload_id).await.unwrap(),
        Some(upload)
    );
    assert!(store.is_blob_known(&kept).await.unwrap());
    assert_eq!(store.garbage(usize::MAX).await.unwrap(), [dropped]);
}

#[cfg(unix)]
#[test]
fn a_new_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let path = coffer_types::DataDir::new(dir.path()).meta();
    drop(RedbMetaStore::open(&path).unwrap());
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}
