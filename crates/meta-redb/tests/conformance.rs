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

/// Writes that arrive together share a transaction; one that fails (here, half of the
/// `IfAbsent` writes to a contended key, and writes to a missing bucket) must leave the others
/// of its batch committed, and every write that returned `Ok` must be on disk after reopening.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_commit_in_batches_and_failures_stay_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = coffer_types::DataDir::new(dir.path()).meta();
    let bucket = bucket_name("batch");
    let missing = bucket_name("missing");
    let mut stored = Vec::new();
    {
        let store = std::sync::Arc::new(RedbMetaStore::open(&path).unwrap());
        store.create_bucket(test_bucket("batch")).await.unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..400u64 {
            let store = store.clone();
            let (bucket, missing) = (bucket.clone(), missing.clone());
            tasks.spawn(async move {
                let blob = BlobId::random();
                let result = match i % 4 {
                    // Many writers race for one key; only the first may create it.
                    0 => store
                        .put_object(
                            &bucket,
                            test_object("contended", i, &[&blob]),
                            PutCondition::IfAbsent,
                        )
                        .await
                        .map(|_| ()),
                    1 => store
                        .put_object(&missing, test_object("k", i, &[&blob]), PutCondition::None)
                        .await
                        .map(|_| ()),
                    _ => store
                        .put_object(
                            &bucket,
                            test_object(&format!("k{i}"), i, &[&blob]),
                            PutCondition::None,
                        )
                        .await
                        .map(|_| ()),
                };
                (i, blob, result)
            });
        }
        let mut contended_wins = 0;
        while let Some(joined) = tasks.join_next().await {
            let (i, blob, result) = joined.unwrap();
            match (i % 4, result) {
                (0, Ok(())) => {
                    contended_wins += 1;
                    stored.push(("contended".to_owned(), i, blob));
                }
                (0, Err(coffer_meta::Error::ObjectExists)) => {
                    assert!(!store.is_blob_known(&blob).await.unwrap());
                }
                (1, Err(coffer_meta::Error::NoSuchBucket)) => {
                    assert!(!store.is_blob_known(&blob).await.unwrap());
                }
                (2 | 3, Ok(())) => stored.push((format!("k{i}"), i, blob)),
                (n, other) => panic!("write {i} (kind {n}): unexpected {other:?}"),
            }
        }
        assert_eq!(contended_wins, 1);
    }

    let store = RedbMetaStore::open(&path).unwrap();
    for (key, generation, blob) in stored {
        let record = store
            .object(&bucket, &object_key(&key))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{key} was acknowledged but is gone"));
        assert_eq!(record.generation, generation, "{key}");
        assert!(store.is_blob_known(&blob).await.unwrap(), "{key}");
    }
    assert!(store.garbage(usize::MAX).await.unwrap().is_empty());
}
