//! The behaviour every [`crate::MetaStore`] backend must show. A backend's tests call [`run_all`].
//!
//! Each check is a plain `async fn` over `&dyn MetaStore`, so any runtime can drive it, and each
//! panics with a message naming the broken guarantee. Checks use their own buckets (named after
//! the check) and assume nothing about other data in the store, except that the store starts
//! without these buckets: run them on a fresh store. They share the store's global blob sets, so
//! they only ever look for *their own* blobs in `garbage()`.

use coffer_types::{BlobId, BucketName, ObjectKey, UploadId};

use crate::{
    Acl, BucketRecord, ChecksumAlgorithm, EncryptionRule, Error, MetaStore, ObjectChecksum,
    ObjectRecord, ObjectType, PartRecord, PutCondition, Segment, SseAlgorithm, StorageClass,
    UnixMillis, UploadChecksum, UploadCursor, UploadRecord,
};

/// Asserts that `$result` is `Err` matching `$pattern`, printing what came instead.
macro_rules! assert_err {
    ($result:expr, $pattern:pat, $what:expr) => {
        match $result {
            Err($pattern) => {}
            other => panic!(
                "{}: expected Err({}), got {other:?}",
                $what,
                stringify!($pattern)
            ),
        }
    };
}

/// Runs every check below, in order, on one store (which must start without their buckets).
pub async fn run_all(store: &dyn MetaStore) {
    bucket_lifecycle(store).await;
    bucket_policy_lives_with_the_bucket(store).await;
    buckets_are_listed_by_name(store).await;
    delete_bucket_refuses_while_not_empty(store).await;
    missing_bucket_is_reported(store).await;
    put_object_honours_conditions(store).await;
    inline_data_is_kept_with_the_record(store).await;
    delete_object_returns_the_removed_record(store).await;
    scan_objects_in_key_byte_order(store).await;
    scan_objects_with_prefix_from_and_limit(store).await;
    scan_objects_stays_in_its_bucket(store).await;
    upload_lifecycle(store).await;
    parts_are_replaced_and_listed_ascending(store).await;
    complete_upload_replaces_the_object(store).await;
    complete_upload_honours_conditions(store).await;
    scan_uploads_with_prefix_and_cursor(store).await;
    blobs_of_objects_are_tracked(store).await;
    blobs_kept_by_the_new_record_stay_live(store).await;
    failed_writes_leave_no_trace(store).await;
    blobs_of_parts_are_tracked(store).await;
    garbage_honours_its_limit(store).await;
}

// ---------------------------------------------------------------------------------------------
// Records for tests.

/// A valid bucket name; panics on an invalid one (test input only).
pub fn bucket_name(name: &str) -> BucketName {
    BucketName::parse(name).expect("test bucket names are valid")
}

/// A valid object key; panics on an invalid one (test input only).
pub fn object_key(key: &str) -> ObjectKey {
    ObjectKey::parse(key).expect("test object keys are valid")
}

/// A bucket record with private ACL and no default encryption.
pub fn test_bucket(name: &str) -> BucketRecord {
    BucketRecord {
        name: bucket_name(name),
        created: UnixMillis(1_700_000_000_000),
        owner: "1234567890".into(),
        acl: Acl::Private,
        storage_class: StorageClass::Standard,
        encryption: None,
        policy: None,
        subresources: Default::default(),
    }
}

/// An object record of generation `generation` whose data is one 1-byte segment per blob.
pub fn test_object(key: &str, generation: u64, blobs: &[&BlobId]) -> ObjectRecord {
    let segments: Vec<Segment> = blobs
        .iter()
        .map(|&blob| Segment {
            blob: blob.clone(),
            len: 1,
            crypto: None,
            inline: None,
        })
        .collect();
    ObjectRecord {
        key: object_key(key),
        generation,
        size: segments.iter().map(|s| s.len).sum(),
        etag: format!("{generation:032X}"),
        crc64: generation,
        last_modified: UnixMillis(1_700_000_000_000),
        object_type: ObjectType::Normal,
        storage_class: StorageClass::Standard,
        acl: Acl::Default,
        content_type: "application/octet-stream".into(),
        headers: vec![("cache-control".into(), "no-cache".into())],
        user_meta: vec![("origin".into(), "conformance".into())],
        segments,
        encryption: None,
        tags: vec![("project".into(), "conformance".into())],
        checksum: Some(ObjectChecksum {
            algorithm: ChecksumAlgorithm::Crc64Nvme,
            value: generation.to_be_bytes().to_vec(),
            composite_parts: None,
        }),
    }
}

/// A fresh multipart upload (random id) for `key`.
pub fn test_upload(key: &str) -> UploadRecord {
    UploadRecord {
        upload_id: UploadId::random(),
        key: object_key(key),
        initiated: UnixMillis(1_700_000_000_000),
        content_type: "text/plain".into(),
        headers: Vec::new(),
        user_meta: vec![("origin".into(), "conformance".into())],
        acl: Acl::Default,
        storage_class: StorageClass::Ia,
        encryption: None,
        tags: vec![("stage".into(), "upload".into())],
        checksum: Some(UploadChecksum {
            algorithm: ChecksumAlgorithm::Sha256,
            composite: true,
        }),
    }
}

/// Part `part_number`, stored in `blob` (1 byte).
pub fn test_part(part_number: u32, blob: &BlobId) -> PartRecord {
    PartRecord {
        part_number,
        size: 1,
        etag: format!("{part_number:032X}"),
        crc64: u64::from(part_number),
        last_modified: UnixMillis(1_700_000_000_000),
        segment: Segment {
            blob: blob.clone(),
            len: 1,
            crypto: Some(vec![part_number as u8; 4]),
            inline: None,
        },
        checksum: Some(ObjectChecksum {
            algorithm: ChecksumAlgorithm::Sha256,
            value: vec![part_number as u8; 32],
            composite_parts: None,
        }),
    }
}

/// An object that ends `upload`, made of the given parts' blobs, as `complete_upload` takes it.
fn completed_object(upload: &UploadRecord, generation: u64, parts: &[&PartRecord]) -> ObjectRecord {
    let blobs: Vec<&BlobId> = parts.iter().map(|p| &p.segment.blob).collect();
    let mut object = test_object(upload.key.as_str(), generation, &blobs);
    object.object_type = ObjectType::Multipart;
    object.etag = format!("{generation:032X}-{}", parts.len());
    object
}

// ---------------------------------------------------------------------------------------------
// Small readers that panic on a backend error, so the checks read as statements.

async fn create_bucket(store: &dyn MetaStore, name: &str) -> BucketName {
    store
        .create_bucket(test_bucket(name))
        .await
        .expect("create_bucket");
    bucket_name(name)
}

async fn put(store: &dyn MetaStore, bucket: &BucketName, object: ObjectRecord) {
    store
        .put_object(bucket, object, PutCondition::None)
        .await
        .expect("put_object");
}

async fn scan_keys(
    store: &dyn MetaStore,
    bucket: &BucketName,
    prefix: &str,
    from: &str,
    limit: usize,
) -> Vec<String> {
    store
        .scan_objects(bucket, prefix, from, limit)
        .await
        .expect("scan_objects")
        .into_iter()
        .map(|o| o.key.as_str().to_owned())
        .collect()
}

async fn all_parts(store: &dyn MetaStore, bucket: &BucketName, id: &UploadId) -> Vec<PartRecord> {
    store.parts(bucket, id, 0, usize::MAX).await.expect("parts")
}

async fn is_known(store: &dyn MetaStore, blob: &BlobId) -> bool {
    store.is_blob_known(blob).await.expect("is_blob_known")
}

async fn is_garbage(store: &dyn MetaStore, blob: &BlobId) -> bool {
    store
        .garbage(usize::MAX)
        .await
        .expect("garbage")
        .contains(blob)
}

/// Asserts that `blob` is live: known and not waiting to be deleted.
async fn assert_live(store: &dyn MetaStore, blob: &BlobId, what: &str) {
    assert!(
        is_known(store, blob).await,
        "{what}: {blob} should be known"
    );
    assert!(
        !is_garbage(store, blob).await,
        "{what}: {blob} should be live, not garbage"
    );
}

/// Asserts that `blob` is garbage (and so still known).
async fn assert_garbage(store: &dyn MetaStore, blob: &BlobId, what: &str) {
    assert!(
        is_garbage(store, blob).await,
        "{what}: {blob} should be garbage"
    );
    assert!(
        is_known(store, blob).await,
        "{what}: garbage {blob} is known"
    );
}

/// Forgets `blobs` and asserts that they are then unknown.
async fn forget(store: &dyn MetaStore, blobs: &[BlobId]) {
    store.forget_garbage(blobs).await.expect("forget_garbage");
    for blob in blobs {
        assert!(
            !is_garbage(store, blob).await,
            "forgotten {blob} is garbage"
        );
        assert!(!is_known(store, blob).await, "forgotten {blob} is known");
    }
}

// ---------------------------------------------------------------------------------------------
// Buckets.

/// A bucket can be created once, read, updated, deleted, and created again; a missing bucket reads
/// as `None` and cannot be updated or deleted.
pub async fn bucket_lifecycle(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-bucket-life").await;
    let mut record = test_bucket("cf-bucket-life");
    assert_eq!(
        store.bucket(&name).await.expect("bucket"),
        Some(record.clone())
    );

    let mut other = test_bucket("cf-bucket-life");
    other.owner = "someone-else".into();
    assert_err!(
        store.create_bucket(other).await,
        Error::BucketExists,
        "create_bucket on a taken name"
    );
    assert_eq!(
        store.bucket(&name).await.expect("bucket"),
        Some(record.clone()),
        "a refused create_bucket changes nothing"
    );

    record.acl = Acl::PublicRead;
    record.storage_class = StorageClass::Archive;
    record.encryption = Some(EncryptionRule {
        algorithm: SseAlgorithm::Kms,
        kms_key_id: Some("key-1".into()),
        kms_data_sm4: true,
    });
    store
        .update_bucket(record.clone())
        .await
        .expect("update_bucket");
    assert_eq!(
        store.bucket(&name).await.expect("bucket"),
        Some(record.clone())
    );

    let missing = bucket_name("cf-bucket-never");
    assert_eq!(store.bucket(&missing).await.expect("bucket"), None);
    assert_err!(
        store.update_bucket(test_bucket("cf-bucket-never")).await,
        Error::NoSuchBucket,
        "update_bucket of a missing bucket"
    );
    assert_eq!(
        store.bucket(&missing).await.expect("bucket"),
        None,
        "update_bucket must not create a bucket"
    );
    assert_err!(
        store.delete_bucket(&missing).await,
        Error::NoSuchBucket,
        "delete_bucket of a missing bucket"
    );

    store.delete_bucket(&name).await.expect("delete_bucket");
    assert_eq!(store.bucket(&name).await.expect("bucket"), None);
    assert_err!(
        store.delete_bucket(&name).await,
        Error::NoSuchBucket,
        "delete_bucket twice"
    );

    create_bucket(store, "cf-bucket-life").await;
    assert_eq!(
        store.bucket(&name).await.expect("bucket"),
        Some(test_bucket("cf-bucket-life")),
        "a re-created bucket starts afresh"
    );
    store.delete_bucket(&name).await.expect("delete_bucket");
}

/// A bucket's policy is set and removed by `set_bucket_policy` alone (`update_bucket` keeps it),
/// and goes with the bucket when it is deleted.
pub async fn bucket_policy_lives_with_the_bucket(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-bucket-policy").await;
    let policy = || Some("{\"Version\":\"1\",\"Statement\":[]}".to_owned());
    store
        .set_bucket_policy(&name, policy())
        .await
        .expect("set_bucket_policy");
    let read = store.bucket(&name).await.expect("bucket").expect("exists");
    assert_eq!(read.policy, policy());

    let mut settings = test_bucket("cf-bucket-policy");
    settings.acl = Acl::PublicRead;
    store.update_bucket(settings).await.expect("update_bucket");
    let read = store.bucket(&name).await.expect("bucket").expect("exists");
    assert_eq!(
        read.acl,
        Acl::PublicRead,
        "update_bucket changes the settings"
    );
    assert_eq!(read.policy, policy(), "update_bucket keeps the policy");
    let listed = store.list_buckets().await.expect("list_buckets");
    assert!(
        listed
            .iter()
            .any(|b| b.name == name && b.policy == policy()),
        "list_buckets shows the policy"
    );

    store
        .set_bucket_policy(&name, None)
        .await
        .expect("remove the policy");
    let read = store.bucket(&name).await.expect("bucket").expect("exists");
    assert_eq!(read.policy, None);

    store
        .set_bucket_policy(&name, policy())
        .await
        .expect("set_bucket_policy");
    store.delete_bucket(&name).await.expect("delete_bucket");
    create_bucket(store, "cf-bucket-policy").await;
    let read = store.bucket(&name).await.expect("bucket").expect("exists");
    assert_eq!(
        read.policy, None,
        "a re-created bucket does not inherit the policy"
    );
    store.delete_bucket(&name).await.expect("delete_bucket");

    assert_err!(
        store
            .set_bucket_policy(&bucket_name("cf-bucket-never"), policy())
            .await,
        Error::NoSuchBucket,
        "set_bucket_policy of a missing bucket"
    );
}

/// `list_buckets` returns every bucket, ordered by name.
pub async fn buckets_are_listed_by_name(store: &dyn MetaStore) {
    let mine = [
        "cf-list-b",
        "cf-list-a",
        "cf-list-a0",
        "cf-list-a-z",
        "cf-list-9",
    ];
    for name in mine {
        create_bucket(store, name).await;
    }
    let listed = store.list_buckets().await.expect("list_buckets");
    let names: Vec<&str> = listed.iter().map(|b| b.name.as_str()).collect();
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "list_buckets is ordered by name without duplicates: {names:?}"
    );
    let listed_mine: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| n.starts_with("cf-list-"))
        .collect();
    assert_eq!(
        listed_mine,
        [
            "cf-list-9",
            "cf-list-a",
            "cf-list-a-z",
            "cf-list-a0",
            "cf-list-b"
        ]
    );
    let a = listed
        .iter()
        .find(|b| b.name.as_str() == "cf-list-a")
        .expect("listed");
    assert_eq!(*a, test_bucket("cf-list-a"), "list_buckets returns records");

    store
        .delete_bucket(&bucket_name("cf-list-a0"))
        .await
        .expect("delete_bucket");
    let after = store.list_buckets().await.expect("list_buckets");
    assert!(
        !after.iter().any(|b| b.name.as_str() == "cf-list-a0"),
        "a deleted bucket is not listed"
    );
}

/// `delete_bucket` fails with `BucketNotEmpty` while the bucket holds an object or an upload, and
/// the bucket stays; it succeeds once both are gone.
pub async fn delete_bucket_refuses_while_not_empty(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-not-empty").await;
    let blob = BlobId::random();
    put(store, &name, test_object("k", 1, &[&blob])).await;
    assert_err!(
        store.delete_bucket(&name).await,
        Error::BucketNotEmpty,
        "delete_bucket holding an object"
    );
    assert!(store.bucket(&name).await.expect("bucket").is_some());
    store
        .delete_object(&name, &object_key("k"))
        .await
        .expect("delete_object");

    let upload = test_upload("k");
    store
        .create_upload(&name, upload.clone())
        .await
        .expect("create_upload");
    assert_err!(
        store.delete_bucket(&name).await,
        Error::BucketNotEmpty,
        "delete_bucket holding an upload"
    );
    assert!(store.bucket(&name).await.expect("bucket").is_some());
    store
        .abort_upload(&name, &upload.upload_id)
        .await
        .expect("abort_upload");

    store.delete_bucket(&name).await.expect("delete_bucket");
    assert_eq!(store.bucket(&name).await.expect("bucket"), None);
}

/// Writes into a missing bucket fail with `NoSuchBucket` and leave nothing behind; so does a scan.
pub async fn missing_bucket_is_reported(store: &dyn MetaStore) {
    let name = bucket_name("cf-missing");
    let blob = BlobId::random();
    assert_err!(
        store
            .put_object(&name, test_object("k", 1, &[&blob]), PutCondition::None)
            .await,
        Error::NoSuchBucket,
        "put_object into a missing bucket"
    );
    assert!(
        !is_known(store, &blob).await,
        "a refused put_object makes no blob live"
    );
    assert_err!(
        store.scan_objects(&name, "", "", 10).await,
        Error::NoSuchBucket,
        "scan_objects of a missing bucket"
    );
    let upload = test_upload("k");
    assert_err!(
        store.create_upload(&name, upload.clone()).await,
        Error::NoSuchBucket,
        "create_upload in a missing bucket"
    );
    assert_eq!(
        store
            .upload(&name, &upload.upload_id)
            .await
            .expect("upload"),
        None
    );

    // A bucket that existed and was deleted is just as missing.
    let name = create_bucket(store, "cf-missing-later").await;
    store.delete_bucket(&name).await.expect("delete_bucket");
    assert_err!(
        store
            .put_object(&name, test_object("k", 1, &[&blob]), PutCondition::None)
            .await,
        Error::NoSuchBucket,
        "put_object into a deleted bucket"
    );
    assert_eq!(store.bucket(&name).await.expect("bucket"), None);
}

// ---------------------------------------------------------------------------------------------
// Objects.

/// `put_object` writes under `None`, `IfAbsent` and `IfGeneration`, returns the record it
/// replaced, and refuses with `ObjectExists` / `GenerationMismatch` without changing anything.
pub async fn put_object_honours_conditions(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-put").await;
    let key = object_key("k");
    let (b1, b2, b3, b4, b5) = (
        BlobId::random(),
        BlobId::random(),
        BlobId::random(),
        BlobId::random(),
        BlobId::random(),
    );

    let v1 = test_object("k", 1, &[&b1]);
    assert_eq!(
        store
            .put_object(&name, v1.clone(), PutCondition::None)
            .await
            .expect("put_object"),
        None,
        "a first write replaces nothing"
    );
    assert_eq!(
        store.object(&name, &key).await.expect("object"),
        Some(v1.clone())
    );

    let v2 = test_object("k", 2, &[&b2]);
    assert_eq!(
        store
            .put_object(&name, v2.clone(), PutCondition::None)
            .await
            .expect("put_object"),
        Some(v1),
        "an overwrite returns the replaced record"
    );

    assert_err!(
        store
            .put_object(&name, test_object("k", 3, &[&b3]), PutCondition::IfAbsent)
            .await,
        Error::ObjectExists,
        "IfAbsent on an existing key"
    );
    assert_eq!(
        store.object(&name, &key).await.expect("object"),
        Some(v2.clone()),
        "a refused IfAbsent changes nothing"
    );

    assert_err!(
        store
            .put_object(
                &name,
                test_object("k", 3, &[&b3]),
                PutCondition::IfGeneration(1)
            )
            .await,
        Error::GenerationMismatch,
        "IfGeneration with a stale generation"
    );
    assert_eq!(
        store.object(&name, &key).await.expect("object"),
        Some(v2.clone()),
        "a refused IfGeneration changes nothing"
    );

    let v3 = test_object("k", 3, &[&b3]);
    assert_eq!(
        store
            .put_object(&name, v3.clone(), PutCondition::IfGeneration(2))
            .await
            .expect("put_object IfGeneration"),
        Some(v2),
        "IfGeneration with the current generation writes and returns the replaced record"
    );
    assert_eq!(store.object(&name, &key).await.expect("object"), Some(v3));

    let fresh = object_key("fresh");
    assert_err!(
        store
            .put_object(
                &name,
                test_object("fresh", 1, &[&b4]),
                PutCondition::IfGeneration(0)
            )
            .await,
        Error::GenerationMismatch,
        "IfGeneration on a missing key"
    );
    assert_eq!(store.object(&name, &fresh).await.expect("object"), None);

    let f1 = test_object("fresh", 1, &[&b5]);
    assert_eq!(
        store
            .put_object(&name, f1.clone(), PutCondition::IfAbsent)
            .await
            .expect("put_object IfAbsent"),
        None,
        "IfAbsent on a missing key writes"
    );
    assert_eq!(store.object(&name, &fresh).await.expect("object"), Some(f1));
    assert_eq!(
        store
            .object(&name, &object_key("other"))
            .await
            .expect("object"),
        None
    );
}

/// `delete_object` removes and returns the record; deleting a missing key returns `None`.
pub async fn delete_object_returns_the_removed_record(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-delete").await;
    let key = object_key("dir/k");
    let object = test_object("dir/k", 7, &[&BlobId::random()]);
    put(store, &name, object.clone()).await;
    put(store, &name, test_object("dir/l", 1, &[&BlobId::random()])).await;

    assert_eq!(
        store
            .delete_object(&name, &key)
            .await
            .expect("delete_object"),
        Some(object)
    );
    assert_eq!(store.object(&name, &key).await.expect("object"), None);
    assert_eq!(
        store
            .delete_object(&name, &key)
            .await
            .expect("delete_object"),
        None,
        "deleting a missing key"
    );
    assert_eq!(
        scan_keys(store, &name, "", "", usize::MAX).await,
        ["dir/l"],
        "delete_object removes only its key"
    );
}

/// Keys whose order by bytes differs from naive expectations: shared prefixes, separators that
/// sort below and above `/`, differences after a `/`, upper case, tabs and non-ASCII text.
const SCAN_KEYS: &[&str] = &[
    "z",
    "a/b/c",
    "a0",
    "é",
    "a",
    "中文/键",
    "a/b",
    "a-b",
    "Z",
    "a.b",
    "ab",
    "a/c",
    "a/b0",
    "a/b/",
    "a\tb",
    "中",
    "ea",
    "a/é",
    "a/z",
    "aa",
    "a/b-",
];

/// `scan_objects` returns the records of a bucket in byte order of their keys.
pub async fn scan_objects_in_key_byte_order(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-scan-order").await;
    for (i, key) in SCAN_KEYS.iter().enumerate() {
        put(
            store,
            &name,
            test_object(key, i as u64 + 1, &[&BlobId::random()]),
        )
        .await;
    }
    let mut expected: Vec<&str> = SCAN_KEYS.to_vec();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(scan_keys(store, &name, "", "", usize::MAX).await, expected);

    let records = store
        .scan_objects(&name, "", "", usize::MAX)
        .await
        .expect("scan_objects");
    for record in records {
        assert_eq!(
            Some(&record),
            store
                .object(&name, &record.key)
                .await
                .expect("object")
                .as_ref(),
            "scan_objects returns whole records"
        );
    }
}

/// `scan_objects` keeps to `prefix`, starts at `from` inclusive (or at the prefix, whichever is
/// later) and returns at most `limit` records, so that pages join up without gaps.
pub async fn scan_objects_with_prefix_from_and_limit(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-scan-page").await;
    for key in SCAN_KEYS {
        put(store, &name, test_object(key, 1, &[&BlobId::random()])).await;
    }
    let sorted = |mut keys: Vec<&'static str>| {
        keys.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        keys
    };
    let with_prefix = |prefix: &str| {
        sorted(
            SCAN_KEYS
                .iter()
                .copied()
                .filter(|k| k.starts_with(prefix))
                .collect(),
        )
    };

    for prefix in [
        "a/", "a/b", "a/b/", "a", "中", "é", "Z", "a\t", "zz", "a/b/c/",
    ] {
        assert_eq!(
            scan_keys(store, &name, prefix, "", usize::MAX).await,
            with_prefix(prefix),
            "prefix {prefix:?}"
        );
    }
    assert_eq!(
        scan_keys(store, &name, "a/", "", usize::MAX).await,
        ["a/b", "a/b-", "a/b/", "a/b/c", "a/b0", "a/c", "a/z", "a/é"],
        "keys that differ only after '/', in byte order"
    );

    // `from` is inclusive, may name a missing key, and only counts when above the prefix.
    assert_eq!(
        scan_keys(store, &name, "a/", "a/b0", usize::MAX).await,
        ["a/b0", "a/c", "a/z", "a/é"]
    );
    assert_eq!(
        scan_keys(store, &name, "a/", "a/b1", usize::MAX).await,
        ["a/c", "a/z", "a/é"]
    );
    assert_eq!(
        scan_keys(store, &name, "a/", "a", usize::MAX).await,
        with_prefix("a/"),
        "a from below the prefix starts at the prefix"
    );
    assert_eq!(
        scan_keys(store, &name, "a/", "a0", usize::MAX).await,
        Vec::<String>::new(),
        "a from above the prefix finds nothing"
    );
    let all = sorted(SCAN_KEYS.to_vec());
    let from_e = all
        .iter()
        .position(|k| k.as_bytes() >= "e".as_bytes())
        .expect("keys after e");
    assert_eq!(
        scan_keys(store, &name, "", "e", usize::MAX).await,
        all[from_e..],
        "from without prefix"
    );

    // `limit`.
    assert_eq!(
        scan_keys(store, &name, "", "", 0).await,
        Vec::<String>::new()
    );
    assert_eq!(scan_keys(store, &name, "", "", 3).await, all[..3]);
    assert_eq!(
        scan_keys(store, &name, "a/", "a/b/", 2).await,
        ["a/b/", "a/b/c"]
    );

    // Paging with `limit` and `from` = the last key seen (skipping it) yields every key once.
    for prefix in ["", "a", "a/"] {
        let mut paged: Vec<String> = Vec::new();
        let mut from = String::new();
        loop {
            let page = scan_keys(store, &name, prefix, &from, 3).await;
            let full = page.len() == 3;
            let new: Vec<String> = page
                .into_iter()
                .filter(|k| paged.last() != Some(k))
                .collect();
            let Some(last) = new.last() else { break };
            from = last.clone();
            paged.extend(new);
            if !full {
                break;
            }
        }
        assert_eq!(paged, with_prefix(prefix), "paging with prefix {prefix:?}");
    }
}

/// Scans see only their own bucket, also when one bucket's name is a prefix of another's.
pub async fn scan_objects_stays_in_its_bucket(store: &dyn MetaStore) {
    let short = create_bucket(store, "cf-iso").await;
    let long = create_bucket(store, "cf-iso-b").await;
    let empty = create_bucket(store, "cf-iso-a").await;
    put(store, &short, test_object("b-k", 1, &[&BlobId::random()])).await;
    put(store, &short, test_object("k", 1, &[&BlobId::random()])).await;
    put(store, &long, test_object("a", 1, &[&BlobId::random()])).await;
    put(store, &long, test_object("k", 2, &[&BlobId::random()])).await;

    assert_eq!(
        scan_keys(store, &short, "", "", usize::MAX).await,
        ["b-k", "k"]
    );
    assert_eq!(
        scan_keys(store, &long, "", "", usize::MAX).await,
        ["a", "k"]
    );
    assert_eq!(
        scan_keys(store, &empty, "", "", usize::MAX).await,
        Vec::<String>::new()
    );
    let k = object_key("k");
    assert_eq!(
        store
            .object(&long, &k)
            .await
            .expect("object")
            .map(|o| o.generation),
        Some(2)
    );
    assert_eq!(store.object(&empty, &k).await.expect("object"), None);
    store
        .delete_object(&short, &k)
        .await
        .expect("delete_object");
    assert!(
        store.object(&long, &k).await.expect("object").is_some(),
        "deleting in one bucket leaves the same key in another"
    );
}

// ---------------------------------------------------------------------------------------------
// Multipart uploads.

/// An upload can be created, read (only in its bucket), given parts and aborted; after that it is
/// gone and every operation on it reports `NoSuchUpload`.
pub async fn upload_lifecycle(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-upload").await;
    let other = create_bucket(store, "cf-upload-other").await;
    let upload = test_upload("dir/k");
    let id = upload.upload_id.clone();
    store
        .create_upload(&name, upload.clone())
        .await
        .expect("create_upload");
    assert_eq!(
        store.upload(&name, &id).await.expect("upload"),
        Some(upload.clone())
    );
    assert_eq!(
        store.upload(&other, &id).await.expect("upload"),
        None,
        "an upload belongs to its bucket"
    );
    assert_eq!(
        store
            .upload(&name, &UploadId::random())
            .await
            .expect("upload"),
        None
    );
    assert_eq!(
        store.object(&name, &upload.key).await.expect("object"),
        None,
        "an upload is not an object"
    );
    assert!(all_parts(store, &name, &id).await.is_empty());

    let part = test_part(1, &BlobId::random());
    store
        .put_part(&name, &id, part.clone())
        .await
        .expect("put_part");
    assert_eq!(all_parts(store, &name, &id).await, [part]);
    assert_err!(
        store
            .put_part(&other, &id, test_part(2, &BlobId::random()))
            .await,
        Error::NoSuchUpload,
        "put_part naming the wrong bucket"
    );

    store.abort_upload(&name, &id).await.expect("abort_upload");
    assert_eq!(store.upload(&name, &id).await.expect("upload"), None);
    assert_err!(
        store.parts(&name, &id, 0, usize::MAX).await,
        Error::NoSuchUpload,
        "parts of an aborted upload"
    );
    assert_err!(
        store.abort_upload(&name, &id).await,
        Error::NoSuchUpload,
        "abort_upload twice"
    );
    let late = BlobId::random();
    assert_err!(
        store.put_part(&name, &id, test_part(2, &late)).await,
        Error::NoSuchUpload,
        "put_part after abort"
    );
    assert!(
        !is_known(store, &late).await,
        "a refused put_part makes no blob live"
    );
    assert_err!(
        store
            .complete_upload(
                &name,
                &id,
                completed_object(&upload, 1, &[]),
                PutCondition::None
            )
            .await,
        Error::NoSuchUpload,
        "complete_upload after abort"
    );
    assert_eq!(
        store.object(&name, &upload.key).await.expect("object"),
        None
    );
    assert_err!(
        store.abort_upload(&other, &UploadId::random()).await,
        Error::NoSuchUpload,
        "abort_upload of an upload never created"
    );
}

/// `put_part` replaces a part with the same number; `parts(after, limit)` lists parts numbered
/// above `after` in ascending numeric order, at most `limit` of them, per upload.
pub async fn parts_are_replaced_and_listed_ascending(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-parts").await;
    let upload = test_upload("k");
    let neighbour = test_upload("k");
    let id = upload.upload_id.clone();
    store
        .create_upload(&name, upload)
        .await
        .expect("create_upload");
    store
        .create_upload(&name, neighbour.clone())
        .await
        .expect("create_upload");
    let neighbour_part = test_part(2, &BlobId::random());
    store
        .put_part(&name, &neighbour.upload_id, neighbour_part.clone())
        .await
        .expect("put_part");

    let numbers = [3, 10_000, 1, 256, 2, 10, 255];
    for n in numbers {
        store
            .put_part(&name, &id, test_part(n, &BlobId::random()))
            .await
            .expect("put_part");
    }
    let replacement = test_part(2, &BlobId::random());
    store
        .put_part(&name, &id, replacement.clone())
        .await
        .expect("put_part replacing");

    let parts = all_parts(store, &name, &id).await;
    let listed: Vec<u32> = parts.iter().map(|p| p.part_number).collect();
    assert_eq!(listed, [1, 2, 3, 10, 255, 256, 10_000], "numeric order");
    assert_eq!(parts[1], replacement, "the newer part replaced the older");

    let page = |after: u32, limit: usize| {
        let id = id.clone();
        let name = name.clone();
        async move {
            store
                .parts(&name, &id, after, limit)
                .await
                .expect("parts")
                .iter()
                .map(|p| p.part_number)
                .collect::<Vec<u32>>()
        }
    };
    assert_eq!(page(1, 2).await, [2, 3]);
    assert_eq!(page(3, usize::MAX).await, [10, 255, 256, 10_000]);
    assert_eq!(page(4, 1).await, [10]);
    assert_eq!(page(255, usize::MAX).await, [256, 10_000]);
    assert_eq!(page(10_000, usize::MAX).await, Vec::<u32>::new());
    assert_eq!(page(u32::MAX, usize::MAX).await, Vec::<u32>::new());
    assert_eq!(page(0, 0).await, Vec::<u32>::new());

    assert_eq!(
        all_parts(store, &name, &neighbour.upload_id).await,
        [neighbour_part],
        "parts belong to their upload"
    );
}

/// `complete_upload` writes the object, removes the upload and all its parts, returns the object
/// it replaced, and afterwards the upload is gone (`NoSuchUpload`). Blobs of the parts the object
/// uses stay live; the others, and the replaced object's, become garbage.
pub async fn complete_upload_replaces_the_object(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-complete").await;
    let old_blob = BlobId::random();
    let old = test_object("k", 1, &[&old_blob]);
    put(store, &name, old.clone()).await;

    let upload = test_upload("k");
    let id = upload.upload_id.clone();
    store
        .create_upload(&name, upload.clone())
        .await
        .expect("create_upload");
    let p1 = test_part(1, &BlobId::random());
    let p2 = test_part(2, &BlobId::random());
    let p3 = test_part(3, &BlobId::random());
    for p in [&p1, &p2, &p3] {
        store
            .put_part(&name, &id, p.clone())
            .await
            .expect("put_part");
    }

    let object = completed_object(&upload, 2, &[&p1, &p3]);
    assert_eq!(
        store
            .complete_upload(&name, &id, object.clone(), PutCondition::None)
            .await
            .expect("complete_upload"),
        Some(old),
        "complete_upload returns the replaced object"
    );
    assert_eq!(
        store.object(&name, &upload.key).await.expect("object"),
        Some(object.clone())
    );
    assert_eq!(store.upload(&name, &id).await.expect("upload"), None);
    assert_err!(
        store.parts(&name, &id, 0, usize::MAX).await,
        Error::NoSuchUpload,
        "parts after complete_upload"
    );
    assert_err!(
        store
            .complete_upload(&name, &id, object.clone(), PutCondition::None)
            .await,
        Error::NoSuchUpload,
        "complete_upload twice"
    );
    assert_err!(
        store.abort_upload(&name, &id).await,
        Error::NoSuchUpload,
        "abort_upload after complete_upload"
    );

    assert_live(store, &p1.segment.blob, "a used part").await;
    assert_live(store, &p3.segment.blob, "a used part").await;
    assert_garbage(store, &p2.segment.blob, "an unused part").await;
    assert_garbage(store, &old_blob, "the replaced object").await;

    // Completing onto a free key replaces nothing.
    let upload = test_upload("fresh");
    store
        .create_upload(&name, upload.clone())
        .await
        .expect("create_upload");
    let p1 = test_part(1, &BlobId::random());
    store
        .put_part(&name, &upload.upload_id, p1.clone())
        .await
        .expect("put_part");
    assert_eq!(
        store
            .complete_upload(
                &name,
                &upload.upload_id,
                completed_object(&upload, 1, &[&p1]),
                PutCondition::IfAbsent
            )
            .await
            .expect("complete_upload"),
        None
    );
    assert_live(store, &p1.segment.blob, "the only part").await;

    store
        .delete_object(&name, &upload.key)
        .await
        .expect("delete_object");
    assert_garbage(store, &p1.segment.blob, "a deleted multipart object").await;
}

/// A `complete_upload` refused by its condition changes nothing: the upload, its parts, the
/// existing object and every blob's state stay as they were.
pub async fn complete_upload_honours_conditions(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-complete-cond").await;
    let current_blob = BlobId::random();
    let current = test_object("k", 5, &[&current_blob]);
    put(store, &name, current.clone()).await;

    let upload = test_upload("k");
    let id = upload.upload_id.clone();
    store
        .create_upload(&name, upload.clone())
        .await
        .expect("create_upload");
    let p1 = test_part(1, &BlobId::random());
    let p2 = test_part(2, &BlobId::random());
    for p in [&p1, &p2] {
        store
            .put_part(&name, &id, p.clone())
            .await
            .expect("put_part");
    }
    let object = completed_object(&upload, 6, &[&p1]);

    assert_err!(
        store
            .complete_upload(&name, &id, object.clone(), PutCondition::IfAbsent)
            .await,
        Error::ObjectExists,
        "complete_upload IfAbsent onto an existing key"
    );
    assert_err!(
        store
            .complete_upload(&name, &id, object.clone(), PutCondition::IfGeneration(4))
            .await,
        Error::GenerationMismatch,
        "complete_upload with a stale generation"
    );
    assert_eq!(
        store.object(&name, &upload.key).await.expect("object"),
        Some(current.clone())
    );
    assert_eq!(
        store.upload(&name, &id).await.expect("upload"),
        Some(upload.clone())
    );
    assert_eq!(all_parts(store, &name, &id).await, [p1.clone(), p2.clone()]);
    assert_live(store, &current_blob, "the object a refused complete kept").await;
    assert_live(store, &p1.segment.blob, "a part of a refused complete").await;
    assert_live(store, &p2.segment.blob, "a part of a refused complete").await;

    assert_eq!(
        store
            .complete_upload(&name, &id, object.clone(), PutCondition::IfGeneration(5))
            .await
            .expect("complete_upload IfGeneration"),
        Some(current)
    );
    assert_eq!(
        store.object(&name, &upload.key).await.expect("object"),
        Some(object)
    );
    assert_live(store, &p1.segment.blob, "a used part").await;
    assert_garbage(store, &p2.segment.blob, "an unused part").await;
    assert_garbage(store, &current_blob, "the replaced object").await;
}

/// `scan_uploads` lists a bucket's uploads whose keys start with `prefix`, strictly after the
/// cursor, ordered by (key bytes, upload id), at most `limit` of them.
pub async fn scan_uploads_with_prefix_and_cursor(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-scan-uploads").await;
    let other = create_bucket(store, "cf-scan-uploads-b").await;
    store
        .create_upload(&other, test_upload("a"))
        .await
        .expect("create_upload");

    let keys = ["b", "a", "a/b", "ab", "a", "a-b", "中", "a", "a/b"];
    let mut uploads: Vec<UploadRecord> = Vec::new();
    for key in keys {
        let upload = test_upload(key);
        store
            .create_upload(&name, upload.clone())
            .await
            .expect("create_upload");
        uploads.push(upload);
    }
    uploads.sort_by(|x, y| {
        (x.key.as_str().as_bytes(), x.upload_id.as_str())
            .cmp(&(y.key.as_str().as_bytes(), y.upload_id.as_str()))
    });
    let after = |cursor: &UploadCursor| {
        uploads
            .iter()
            .filter(|u| match &cursor.upload_id {
                None => u.key.as_str() > cursor.key.as_str(),
                Some(id) => {
                    (u.key.as_str(), u.upload_id.as_str()) > (cursor.key.as_str(), id.as_str())
                }
            })
            .cloned()
            .collect::<Vec<UploadRecord>>()
    };
    let scan = |prefix: &'static str, cursor: UploadCursor, limit: usize| {
        let name = name.clone();
        async move {
            store
                .scan_uploads(&name, prefix, &cursor, limit)
                .await
                .expect("scan_uploads")
        }
    };

    assert_eq!(
        scan("", UploadCursor::default(), usize::MAX).await,
        uploads,
        "every upload of the bucket, by (key, upload id)"
    );
    assert_eq!(
        scan("a/", UploadCursor::default(), usize::MAX).await,
        uploads
            .iter()
            .filter(|u| u.key.as_str().starts_with("a/"))
            .cloned()
            .collect::<Vec<_>>()
    );
    assert_eq!(
        scan("zz", UploadCursor::default(), usize::MAX).await,
        Vec::<UploadRecord>::new()
    );

    let skip_a = UploadCursor {
        key: "a".into(),
        upload_id: None,
    };
    assert_eq!(
        scan("", skip_a.clone(), usize::MAX).await,
        after(&skip_a),
        "upload_id None skips the cursor's key entirely"
    );
    assert_eq!(after(&skip_a)[0].key.as_str(), "a-b");

    let first_a = uploads[0].upload_id.as_str().to_owned();
    let within_a = UploadCursor {
        key: "a".into(),
        upload_id: Some(first_a),
    };
    let listed = scan("", within_a.clone(), usize::MAX).await;
    assert_eq!(listed, after(&within_a));
    assert_eq!(listed[0], uploads[1], "the next upload of the same key");
    assert_eq!(listed[1], uploads[2]);

    let missing_key = UploadCursor {
        key: "a0".into(),
        upload_id: Some("0".into()),
    };
    assert_eq!(
        scan("", missing_key.clone(), usize::MAX).await,
        after(&missing_key)
    );
    assert_eq!(
        scan("a", missing_key.clone(), usize::MAX).await,
        vec![uploads[6].clone()],
        "prefix and cursor together"
    );
    assert_eq!(uploads[6].key.as_str(), "ab");

    assert_eq!(
        scan("", UploadCursor::default(), 0).await,
        Vec::<UploadRecord>::new()
    );
    assert_eq!(scan("", UploadCursor::default(), 4).await, uploads[..4]);

    // Paging by the last (key, upload id) seen yields every upload once.
    let mut paged: Vec<UploadRecord> = Vec::new();
    let mut cursor = UploadCursor::default();
    loop {
        let page = scan("", cursor, 2).await;
        let Some(last) = page.last() else { break };
        cursor = UploadCursor {
            key: last.key.as_str().to_owned(),
            upload_id: Some(last.upload_id.as_str().to_owned()),
        };
        paged.extend(page);
    }
    assert_eq!(paged, uploads);
}

// ---------------------------------------------------------------------------------------------
// Blob tracking.

/// Blobs named by a written object are live; a replaced or deleted object's blobs become garbage;
/// forgotten garbage is unknown; a blob no record ever named is unknown.
pub async fn blobs_of_objects_are_tracked(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-blobs").await;
    let (b1, b2, b3) = (BlobId::random(), BlobId::random(), BlobId::random());
    assert!(!is_known(store, &b1).await, "a blob never named is unknown");

    put(store, &name, test_object("k", 1, &[&b1, &b2])).await;
    assert_live(store, &b1, "a written object").await;
    assert_live(store, &b2, "a written object").await;

    put(store, &name, test_object("k", 2, &[&b3])).await;
    assert_garbage(store, &b1, "a replaced object").await;
    assert_garbage(store, &b2, "a replaced object").await;
    assert_live(store, &b3, "the replacing object").await;

    store
        .delete_object(&name, &object_key("k"))
        .await
        .expect("delete_object");
    assert_garbage(store, &b3, "a deleted object").await;

    forget(store, &[b1, b2.clone()]).await;
    assert_garbage(store, &b3, "garbage not yet forgotten").await;
    forget(store, &[b3, b2]).await;
    forget(store, &[BlobId::random()]).await;
}

/// A segment's inline bytes are stored and read back with its record, in reads and scans, and
/// its blob id is tracked like any other.
pub async fn inline_data_is_kept_with_the_record(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-inline").await;
    let blob = BlobId::random();
    let mut object = test_object("small", 1, &[&blob]);
    object.segments[0].inline = Some((0..=255u8).cycle().take(5000).collect());
    put(store, &name, object.clone()).await;
    let read = store.object(&name, &object_key("small")).await;
    assert_eq!(read.expect("object"), Some(object.clone()));
    let scanned = store.scan_objects(&name, "", "", 10).await;
    assert_eq!(scanned.expect("scan_objects"), [object]);
    assert_live(store, &blob, "an inline segment").await;
    store
        .delete_object(&name, &object_key("small"))
        .await
        .expect("delete_object");
    assert_garbage(store, &blob, "a deleted inline segment").await;
    forget(store, &[blob]).await;
    store.delete_bucket(&name).await.expect("delete_bucket");
}

/// A blob that the replacing record also names (an append keeps the earlier segments) stays live.
pub async fn blobs_kept_by_the_new_record_stay_live(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-append").await;
    let (b1, b2, b3) = (BlobId::random(), BlobId::random(), BlobId::random());
    let mut first = test_object("log", 1, &[&b1]);
    first.object_type = ObjectType::Appendable;
    store
        .put_object(&name, first, PutCondition::IfAbsent)
        .await
        .expect("put_object");
    let mut second = test_object("log", 2, &[&b1, &b2]);
    second.object_type = ObjectType::Appendable;
    store
        .put_object(&name, second, PutCondition::IfGeneration(1))
        .await
        .expect("append");
    assert_live(store, &b1, "a segment the append kept").await;
    assert_live(store, &b2, "an appended segment").await;

    let mut third = test_object("log", 3, &[&b2, &b3]);
    third.object_type = ObjectType::Appendable;
    put(store, &name, third).await;
    assert_garbage(store, &b1, "a segment the new record dropped").await;
    assert_live(store, &b2, "a segment both records name").await;
    assert_live(store, &b3, "a new segment").await;
}

/// A write refused by its condition or by a missing bucket or upload leaves its new blobs
/// unknown and the existing ones live.
pub async fn failed_writes_leave_no_trace(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-no-trace").await;
    let kept = BlobId::random();
    put(store, &name, test_object("k", 1, &[&kept])).await;
    let (b1, b2, b3) = (BlobId::random(), BlobId::random(), BlobId::random());
    assert_err!(
        store
            .put_object(&name, test_object("k", 2, &[&b1]), PutCondition::IfAbsent)
            .await,
        Error::ObjectExists,
        "IfAbsent on an existing key"
    );
    assert_err!(
        store
            .put_object(
                &name,
                test_object("k", 2, &[&b2]),
                PutCondition::IfGeneration(9)
            )
            .await,
        Error::GenerationMismatch,
        "IfGeneration with a wrong generation"
    );
    assert_err!(
        store
            .complete_upload(
                &name,
                &UploadId::random(),
                test_object("k", 2, &[&b3]),
                PutCondition::None
            )
            .await,
        Error::NoSuchUpload,
        "complete_upload of an upload never created"
    );
    for blob in [&b1, &b2, &b3] {
        assert!(
            !is_known(store, blob).await,
            "a refused write makes no blob live"
        );
    }
    assert_live(store, &kept, "the object refused writes left alone").await;
}

/// A part's blob is live; replacing the part makes the old blob garbage; aborting the upload makes
/// every part's blob garbage.
pub async fn blobs_of_parts_are_tracked(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-part-blobs").await;
    let upload = test_upload("k");
    let id = upload.upload_id.clone();
    store
        .create_upload(&name, upload)
        .await
        .expect("create_upload");
    let (b1, b2, b3) = (BlobId::random(), BlobId::random(), BlobId::random());
    store
        .put_part(&name, &id, test_part(1, &b1))
        .await
        .expect("put_part");
    store
        .put_part(&name, &id, test_part(2, &b2))
        .await
        .expect("put_part");
    assert_live(store, &b1, "a stored part").await;
    assert_live(store, &b2, "a stored part").await;

    store
        .put_part(&name, &id, test_part(1, &b3))
        .await
        .expect("put_part replacing");
    assert_garbage(store, &b1, "a replaced part").await;
    assert_live(store, &b3, "the replacing part").await;

    store.abort_upload(&name, &id).await.expect("abort_upload");
    assert_garbage(store, &b2, "a part of an aborted upload").await;
    assert_garbage(store, &b3, "a part of an aborted upload").await;
    forget(store, &[b1, b2, b3]).await;

    store
        .delete_bucket(&name)
        .await
        .expect("an aborted upload leaves the bucket empty");
}

/// `garbage(limit)` returns at most `limit` distinct blobs.
pub async fn garbage_honours_its_limit(store: &dyn MetaStore) {
    let name = create_bucket(store, "cf-garbage").await;
    for generation in 1..=4 {
        put(
            store,
            &name,
            test_object("k", generation, &[&BlobId::random()]),
        )
        .await;
    }
    let all = store.garbage(usize::MAX).await.expect("garbage");
    assert!(all.len() >= 3, "three replaced blobs are garbage");
    let mut distinct = all.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), all.len(), "garbage lists each blob once");
    assert!(store.garbage(0).await.expect("garbage").is_empty());
    let two = store.garbage(2).await.expect("garbage");
    assert_eq!(two.len(), 2);
    assert!(two.iter().all(|b| all.contains(b)));
}
