//! A KMS store written by the first release (`testdata/kms-v1.redb`: seal format 1, the KMS's own
//! store code) still opens, and a ciphertext made under its key still decrypts.

// The helpers below are not `#[test]` functions, so clippy's allow-unwrap-in-tests does not reach
// them.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use coffer_kms::{
    AccountId, Caller, CiphertextBlob, Config, CreateKey, Decrypt, Encrypt, EncryptionContext,
    Error, KeyId, Kms, ManualClock, Plaintext, RootKey, Timestamp,
};

const ROOT: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];

fn testdata(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .unwrap()
}

fn open(path: &Path, root: [u8; 32]) -> coffer_kms::Result<Kms> {
    Kms::open(
        path,
        &RootKey::from_bytes(root),
        Config::default(),
        Arc::new(ManualClock::new(
            Timestamp::from_unix_seconds(1_700_000_100).unwrap(),
        )),
    )
}

#[test]
fn a_format_1_kms_store_still_opens_and_decrypts() {
    let text = std::fs::read_to_string(testdata("kms-v1.txt")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kms.redb");
    std::fs::copy(testdata("kms-v1.redb"), &path).unwrap();
    // Git keeps no file modes, and the store refuses a file others may read.
    #[cfg(unix)]
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    assert!(
        matches!(open(&path, [9; 32]), Err(Error::WrongRootKey)),
        "another root key is refused"
    );
    let kms = open(&path, ROOT).unwrap();
    let caller = Caller::api(AccountId::parse("1234567890123456").unwrap(), "root");
    let key_id = KeyId::parse(field(&text, "key_id")).unwrap();
    let context = EncryptionContext::from_json(field(&text, "context")).unwrap();
    let blob = CiphertextBlob::from_base64(field(&text, "blob")).unwrap();
    let decrypted = kms
        .decrypt(&caller, Decrypt::new(blob, context.clone()))
        .unwrap();
    assert_eq!(decrypted.key_id, key_id);
    assert_eq!(
        decrypted.plaintext.expose_secret(),
        field(&text, "plaintext").as_bytes(),
        "material sealed in format 1 opens to the same key"
    );

    // The store takes new writes (format 2) beside the old ones, and both open after a restart.
    let second = kms
        .create_key(&caller, CreateKey::default())
        .unwrap()
        .key_id;
    let encrypted = kms
        .encrypt(
            &caller,
            Encrypt {
                key: second.into(),
                plaintext: Plaintext::from_slice(b"new"),
                context: context.clone(),
                dry_run: false,
            },
        )
        .unwrap();
    drop(kms);
    let kms = open(&path, ROOT).unwrap();
    let again = kms
        .decrypt(&caller, Decrypt::new(encrypted.ciphertext_blob, context))
        .unwrap();
    assert_eq!(again.plaintext.expose_secret(), b"new");
    assert_eq!(
        kms.describe_key(&caller, &key_id.into()).unwrap().key_id,
        key_id
    );
}
