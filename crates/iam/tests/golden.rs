//! An identity store written by the first release (`testdata/iam-v1.redb`: seal format 1, iam's
//! own store code) still opens: its sealed secrets, its users, groups and policies.

// The helpers below are not `#[test]` functions, so clippy's allow-unwrap-in-tests does not reach
// them.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use coffer_crypto::RootKey;
use coffer_iam::{Action, Iam, PublicAccess, Resource, RootAccount};
use coffer_types::AccessKeySecret;

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

fn open(path: &Path, root: [u8; 32]) -> coffer_iam::Result<Iam> {
    Iam::open(
        RootAccount {
            account_id: "1234567890123456".into(),
            access_key_id: "LTAIgoldenRoot0000000000".into(),
            secret: AccessKeySecret::new("root-secret"),
        },
        Arc::new(coffer_iam::open_redb_store(path)?),
        &RootKey::from_bytes(root),
    )
}

/// A private copy of the golden store (git keeps no file modes, and the store refuses a file
/// others may read).
fn copy_of_golden(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("iam.redb");
    std::fs::copy(testdata("iam-v1.redb"), &path).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

#[test]
fn a_format_1_identity_store_still_opens() {
    let text = std::fs::read_to_string(testdata("iam-v1.txt")).unwrap();
    let (id, secret) = (field(&text, "access_key_id"), field(&text, "secret"));
    let dir = tempfile::tempdir().unwrap();
    let path = copy_of_golden(&dir);
    let iam = open(&path, ROOT).unwrap();
    let (principal, got) = iam.credentials(id, None, iam.now()).unwrap();
    assert!(
        got.ct_eq(secret),
        "the format-1 sealed secret opens to the same secret"
    );
    let object = Resource::Object {
        bucket: "b".into(),
        key: "k".into(),
    };
    // alice is in group dev, which has the policy read attached.
    assert!(
        iam.authorize(
            &principal,
            Action::GetObject,
            object.clone(),
            PublicAccess::None
        )
        .is_ok()
    );
    assert!(
        iam.authorize(&principal, Action::PutObject, object, PublicAccess::None)
            .is_err()
    );
    drop(iam);
    assert!(open(&path, [9; 32]).is_err(), "another root key is refused");
}
