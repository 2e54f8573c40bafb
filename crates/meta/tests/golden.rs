//! Golden files of the persisted record layout: bytes written by each format (byte 1; byte 2 for
//! bucket records, which carry the bucket policy, and for upload records, which carry tags; byte
//! 3 for object records, which carry tags and whose segments may hold their data inline, for
//! part records, whose segment may, for bucket records, which carry their sub-resources, and for
//! upload records, which carry their parts' checksum algorithm; byte 4 for object and part
//! records, which carry their additional checksum) under `testdata/`, decoded and compared field
//! by field with the records they hold.
//!
//! A release's files are never rewritten. When a record's layout changes, give it a new format
//! byte, add `<record>.v2.bin` beside the old file, and keep the v1 file decoding (the migration
//! fills the new fields); only the encoding check moves to the new file.
//!
//! `COFFER_WRITE_GOLDEN=1` writes a file that does not exist yet; it never overwrites one.

use std::path::PathBuf;

use coffer_meta::{
    Acl, BucketRecord, BucketSubresources, ChecksumAlgorithm, CorsConfig, CorsRule, EncryptionRule,
    LifecycleAge, LifecycleRule, ObjectChecksum, ObjectEncryption, ObjectRecord, ObjectType,
    PartRecord, Record, Segment, SseAlgorithm, StorageClass, UnixMillis, UploadChecksum,
    UploadRecord, decode_bucket, decode_record, encode_bucket, encode_record,
};
use coffer_types::{BlobId, BucketName, ObjectKey, UploadId};

fn blob(n: u8) -> BlobId {
    BlobId::parse(&format!("{n:02X}").repeat(16)).expect("a valid blob id")
}

fn bucket() -> BucketRecord {
    BucketRecord {
        name: BucketName::parse("golden-bucket").expect("valid"),
        created: UnixMillis(1_700_000_000_123),
        owner: "1234567890123456".into(),
        acl: Acl::PublicRead,
        storage_class: StorageClass::Ia,
        encryption: Some(EncryptionRule {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: Some("key-id-1".into()),
            kms_data_sm4: true,
        }),
        policy: None,
        subresources: BucketSubresources::default(),
    }
}

/// The bucket of format 2: the same, with a policy.
fn bucket_with_policy() -> BucketRecord {
    BucketRecord {
        policy: Some(
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["*"],"Resource":["acs:oss:*:1234567890123456:golden-bucket/*"]}]}"#
                .into(),
        ),
        ..bucket()
    }
}

/// The bucket of format 3: with a policy and every sub-resource set.
fn bucket_with_subresources() -> BucketRecord {
    BucketRecord {
        subresources: BucketSubresources {
            cors: Some(CorsConfig {
                rules: vec![CorsRule {
                    allowed_origins: vec!["https://*.example.com".into()],
                    allowed_methods: vec!["GET".into(), "PUT".into()],
                    allowed_headers: vec!["*".into()],
                    expose_headers: vec!["ETag".into(), "x-oss-request-id".into()],
                    max_age_seconds: Some(600),
                }],
                response_vary: true,
            }),
            tags: vec![("team".into(), "golden".into())],
            lifecycle: vec![
                LifecycleRule {
                    id: "logs".into(),
                    prefix: "logs/".into(),
                    tags: vec![("tmp".into(), "yes".into())],
                    enabled: true,
                    expiration: Some(LifecycleAge::Days(30)),
                    abort_multipart: Some(LifecycleAge::Days(7)),
                },
                LifecycleRule {
                    id: "old".into(),
                    prefix: String::new(),
                    tags: Vec::new(),
                    enabled: false,
                    expiration: Some(LifecycleAge::CreatedBefore(UnixMillis(1_700_006_400_000))),
                    abort_multipart: None,
                },
            ],
            sse_c_blocked: false,
        },
        ..bucket_with_policy()
    }
}

fn object() -> ObjectRecord {
    ObjectRecord {
        key: ObjectKey::parse("dir/obj ü.txt").expect("valid"),
        generation: 7,
        size: 300,
        etag: "0123456789ABCDEF0123456789ABCDEF-2".into(),
        crc64: 0xDEAD_BEEF_0BAD_F00D,
        last_modified: UnixMillis(1_700_000_001_000),
        object_type: ObjectType::Multipart,
        storage_class: StorageClass::Archive,
        acl: Acl::Private,
        content_type: "text/plain".into(),
        headers: vec![("cache-control".into(), "no-cache".into())],
        user_meta: vec![("colour".into(), "blue".into())],
        segments: vec![
            Segment {
                blob: blob(1),
                len: 100,
                crypto: Some(vec![1, 2, 3]),
                inline: None,
            },
            Segment {
                blob: blob(2),
                len: 200,
                crypto: None,
                inline: None,
            },
        ],
        encryption: Some(ObjectEncryption {
            algorithm: SseAlgorithm::Sm4,
            kms_key_id: None,
            kms_data_sm4: false,
            envelope: vec![9; 5],
        }),
        tags: Vec::new(),
        checksum: None,
    }
}

/// The object of format 2: the same, with tags.
fn object_with_tags() -> ObjectRecord {
    ObjectRecord {
        tags: vec![
            ("project".into(), "golden".into()),
            ("empty".into(), "".into()),
        ],
        ..object()
    }
}

fn upload() -> UploadRecord {
    UploadRecord {
        upload_id: UploadId::parse(&"AB".repeat(16)).expect("a valid upload id"),
        key: ObjectKey::parse("big").expect("valid"),
        initiated: UnixMillis(1_700_000_002_000),
        content_type: "application/octet-stream".into(),
        headers: vec![("content-disposition".into(), "inline".into())],
        user_meta: Vec::new(),
        acl: Acl::Default,
        storage_class: StorageClass::Standard,
        encryption: Some(ObjectEncryption {
            algorithm: SseAlgorithm::Aes256,
            kms_key_id: None,
            kms_data_sm4: false,
            envelope: vec![4; 3],
        }),
        tags: Vec::new(),
        checksum: None,
    }
}

/// The upload of format 2: the same, with tags.
fn upload_with_tags() -> UploadRecord {
    UploadRecord {
        tags: vec![("stage".into(), "golden".into())],
        ..upload()
    }
}

fn part() -> PartRecord {
    PartRecord {
        part_number: 10_000,
        size: 102_400,
        etag: "FEDCBA9876543210FEDCBA9876543210".into(),
        crc64: 42,
        last_modified: UnixMillis(1_700_000_003_000),
        segment: Segment {
            blob: blob(3),
            len: 102_400,
            crypto: Some(vec![7; 4]),
            inline: None,
        },
        checksum: None,
    }
}

/// The part of format 4: the same, with its checksum.
fn part_with_checksum() -> PartRecord {
    PartRecord {
        checksum: Some(ObjectChecksum {
            algorithm: ChecksumAlgorithm::Sha256,
            value: vec![0x5A; 32],
            composite_parts: None,
        }),
        ..part()
    }
}

/// The upload of format 3: with tags and the checksum its parts carry.
fn upload_with_checksum() -> UploadRecord {
    UploadRecord {
        checksum: Some(UploadChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            composite: true,
        }),
        ..upload_with_tags()
    }
}

/// The object of format 4: a composite checksum over its two parts.
fn object_with_checksum() -> ObjectRecord {
    ObjectRecord {
        checksum: Some(ObjectChecksum {
            algorithm: ChecksumAlgorithm::Crc32c,
            value: vec![0x12, 0x34, 0x56, 0x78],
            composite_parts: Some(2),
        }),
        ..object_with_inline_data_and_tags()
    }
}

/// Every checksum algorithm (the variant order fixes their bytes) in a format 4 object record,
/// as a whole-data checksum.
fn object_with_each_checksum() -> Vec<ObjectRecord> {
    [
        (ChecksumAlgorithm::Crc32, 4),
        (ChecksumAlgorithm::Crc32c, 4),
        (ChecksumAlgorithm::Crc64Nvme, 8),
        (ChecksumAlgorithm::Sha1, 20),
        (ChecksumAlgorithm::Sha256, 32),
    ]
    .into_iter()
    .map(|(algorithm, len)| ObjectRecord {
        checksum: Some(ObjectChecksum {
            algorithm,
            value: vec![0xC0; len],
            composite_parts: None,
        }),
        ..object()
    })
    .collect()
}

/// The current encoding, format `format`: the file decodes to `record` and `record` encodes to
/// the file.
fn golden<T: Record + PartialEq + std::fmt::Debug>(name: &str, format: u8, record: T) {
    let path = testdata(name);
    if !path.exists() && std::env::var_os("COFFER_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, encode_record(&record)).expect("write the golden file");
    }
    let bytes = std::fs::read(&path).expect("the golden file exists");
    assert_eq!(bytes[0], format, "{name}: format byte");
    let decoded: T = decode_record(&bytes).expect("the golden file decodes");
    assert_eq!(decoded, record, "{name}: decoded record");
    assert_eq!(
        encode_record(&record),
        bytes,
        "{name}: the current encoding changed without a new format byte"
    );
}

/// An older layout, format `format`: the file still decodes, to `record`.
fn older<T: Record + PartialEq + std::fmt::Debug>(name: &str, format: u8, record: T) {
    let bytes = std::fs::read(testdata(name)).expect("the golden file exists");
    assert_eq!(bytes[0], format, "{name}: format byte");
    let decoded: T = decode_record(&bytes).expect("the golden file decodes");
    assert_eq!(decoded, record, "{name}: decoded record");
}

/// An object with tags whose first segment's data is inline (encrypted) and second is a blob.
fn object_with_inline_data_and_tags() -> ObjectRecord {
    let mut object = object_with_tags();
    object.segments[0].inline = Some(vec![0xC5; 140]);
    object
}

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/testdata")
        .join(name)
}

/// Format 1 bucket records (no policy) still decode, as buckets without a policy.
#[test]
fn bucket_record_v1() {
    let bytes = std::fs::read(testdata("bucket.v1.bin")).expect("the golden file exists");
    assert_eq!(bytes[0], 1, "format byte");
    assert_eq!(decode_bucket(&bytes).expect("decodes"), bucket());
}

/// Format 2 bucket records carry the policy; they still decode, without sub-resources.
#[test]
fn bucket_record_v2() {
    let bytes = std::fs::read(testdata("bucket.v2.bin")).expect("the golden file exists");
    assert_eq!(bytes[0], 2, "format byte");
    assert_eq!(
        decode_bucket(&bytes).expect("decodes"),
        bucket_with_policy()
    );
}

/// Format 3 bucket records carry the sub-resources (CORS, tags, lifecycle); they still decode,
/// with SSE-C not blocked.
#[test]
fn bucket_record_v3() {
    let bytes = std::fs::read(testdata("bucket.v3.bin")).expect("the golden file exists");
    assert_eq!(bytes[0], 3, "format byte");
    assert_eq!(
        decode_bucket(&bytes).expect("decodes"),
        bucket_with_subresources()
    );
}

/// The bucket of format 4: every sub-resource set, SSE-C blocked.
fn bucket_with_blocked_sse_c() -> BucketRecord {
    let mut bucket = bucket_with_subresources();
    bucket.subresources.sse_c_blocked = true;
    bucket
}

/// Format 4 bucket records carry the blocked encryption types; the current encoding.
#[test]
fn bucket_record_v4() {
    let path = testdata("bucket.v4.bin");
    if !path.exists() && std::env::var_os("COFFER_WRITE_GOLDEN").is_some() {
        std::fs::write(&path, encode_bucket(&bucket_with_blocked_sse_c()))
            .expect("write the golden file");
    }
    let bytes = std::fs::read(&path).expect("the golden file exists");
    assert_eq!(bytes[0], 4, "format byte");
    assert_eq!(
        decode_bucket(&bytes).expect("decodes"),
        bucket_with_blocked_sse_c()
    );
    assert_eq!(
        encode_bucket(&bucket_with_blocked_sse_c()),
        bytes,
        "the current encoding changed without a new format byte"
    );
    let without = encode_bucket(&bucket());
    assert_eq!(decode_bucket(&without).expect("decodes"), bucket());
}

/// Format 1 object records (no tags, segments without inline data) still decode.
#[test]
fn object_record_v1() {
    older("object.v1.bin", 1, object());
}

/// Format 3 object records: tags, and segments that may hold their data inline; they still
/// decode, without a checksum.
#[test]
fn object_record_v3() {
    older("object.v3.bin", 3, object_with_inline_data_and_tags());
}

/// Format 4 object records carry the additional checksum; the current encoding.
#[test]
fn object_record_v4() {
    golden("object.v4.bin", 4, object_with_checksum());
}

/// Each checksum algorithm's variant in format 4 (whole-data checksums).
#[test]
fn object_record_v4_each_algorithm() {
    for (i, record) in object_with_each_checksum().into_iter().enumerate() {
        golden(&format!("object.v4.checksum-{i}.bin"), 4, record);
    }
}

/// Format 1 upload records (no tags) still decode, as uploads without tags.
#[test]
fn upload_record_v1() {
    older("upload.v1.bin", 1, upload());
}

/// Format 2 upload records (tags, no checksum) still decode.
#[test]
fn upload_record_v2() {
    older("upload.v2.bin", 2, upload_with_tags());
}

/// Format 3 upload records carry the checksum algorithm of their parts; the current encoding.
#[test]
fn upload_record_v3() {
    golden("upload.v3.bin", 3, upload_with_checksum());
}

#[test]
fn part_record_v1() {
    older("part.v1.bin", 1, part());
}

/// Format 3 part records (a segment that may hold its data inline, no checksum) still decode.
#[test]
fn part_record_v3() {
    older("part.v3.bin", 3, part());
}

/// Format 4 part records carry the part's checksum; the current encoding.
#[test]
fn part_record_v4() {
    golden("part.v4.bin", 4, part_with_checksum());
}

/// An SSE-C object (the algorithm variant added last): its envelope holds a salt, a key check
/// and the wrapped data key, never the customer key.
fn object_sse_c() -> ObjectRecord {
    let mut object = object_with_inline_data_and_tags();
    object.encryption = Some(ObjectEncryption {
        algorithm: SseAlgorithm::SseC,
        kms_key_id: None,
        kms_data_sm4: false,
        envelope: vec![0x5C; 7],
    });
    object
}

/// Format 3 object records of SSE-C objects: the earlier variants keep their bytes (the other
/// golden files), the new one decodes.
#[test]
fn object_record_v3_sse_c() {
    older("object.v3.sse-c.bin", 3, object_sse_c());
}

#[test]
fn a_truncated_or_unknown_record_is_corrupt_not_a_panic() {
    let bytes = std::fs::read(testdata("object.v4.bin")).expect("the golden file exists");
    for cut in [0, 1, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            decode_record::<ObjectRecord>(&bytes[..cut]).is_err(),
            "cut at {cut}"
        );
    }
    let mut unknown = bytes.clone();
    unknown[0] = 0xFF;
    assert!(decode_record::<ObjectRecord>(&unknown).is_err());
}
