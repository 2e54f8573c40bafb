//! Keyring files of every format still open, with the same master keys: format 1
//! (`testdata/keyring-v1.sealed`, written by the first release, wrapped under the root key itself),
//! format 2 (`testdata/keyring-v2.sealed`, under the derived keyring key) and format 3
//! (`testdata/keyring-v3.sealed`, the same with a generation and a MAC over the file).

// The helpers below are not `#[test]` functions, so clippy's allow-unwrap-in-tests does not reach
// them.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use coffer_crypto::RootKey;
use coffer_keyring::{Error, Keyring};
use coffer_types::Timestamp;

const ROOT: [u8; 32] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
const AAD: &[u8] = b"golden-bucket/golden-object";

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(name)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The (version, wrapped data key) lines of a golden description.
fn wraps(name: &str) -> Vec<(u32, Vec<u8>)> {
    std::fs::read_to_string(testdata(name))
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("wrapped "))
        .map(|l| {
            let (v, w) = l.split_once(' ').unwrap();
            (v.parse().unwrap(), unhex(w))
        })
        .collect()
}

/// A private copy (git keeps no file modes, and the keyring refuses a file others may read).
fn private_copy(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    let path = dir.path().join("keyring.sealed");
    std::fs::copy(testdata(name), &path).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    path
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000).unwrap()
}

fn check_versions(ring: &Keyring) {
    let versions = ring.versions();
    assert_eq!(versions.len(), 2);
    assert_eq!(versions[0].created.unix_seconds(), 1_700_000_000);
    assert_eq!(versions[1].created.unix_seconds(), 1_700_086_400);
    assert!(versions[1].primary && !versions[0].primary);
}

fn check_unwraps(ring: &Keyring, golden: &[(u32, Vec<u8>)]) {
    assert_eq!(golden.len(), 2);
    for (version, wrapped) in golden {
        let key = ring.unwrap(*version, wrapped, AAD).unwrap();
        assert_eq!(key.expose_secret(), &[0x42; 32], "version {version}");
    }
}

#[test]
fn a_format_1_keyring_opens_with_the_same_keys_and_is_rewritten_in_format_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(&dir, "keyring-v1.sealed");
    assert!(matches!(
        Keyring::open(&path, &RootKey::from_bytes([9; 32]), now()),
        Err(Error::Unseal(_))
    ));
    assert_eq!(
        std::fs::read(&path).unwrap()[8],
        1,
        "a failed open rewrites nothing"
    );
    let golden = wraps("keyring-v1.txt");
    let ring = Keyring::open(&path, &RootKey::from_bytes(ROOT), now()).unwrap();
    check_versions(&ring);
    check_unwraps(&ring, &golden);
    assert_eq!(std::fs::read(&path).unwrap()[8], 3, "rewritten in format 3");
    assert_eq!(ring.generation(), 1);
    drop(ring);
    let ring = Keyring::open(&path, &RootKey::from_bytes(ROOT), now()).unwrap();
    check_versions(&ring);
    check_unwraps(&ring, &golden);
}

#[test]
fn a_format_2_keyring_opens_with_the_same_keys_and_is_rewritten_in_format_3() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(&dir, "keyring-v2.sealed");
    assert_eq!(std::fs::read(&path).unwrap()[8], 2);
    let ring = Keyring::open(&path, &RootKey::from_bytes(ROOT), now()).unwrap();
    check_versions(&ring);
    check_unwraps(&ring, &wraps("keyring-v2.txt"));
    // Both formats hold the same master keys: format 1's wraps open here too.
    check_unwraps(&ring, &wraps("keyring-v1.txt"));
    assert_eq!(std::fs::read(&path).unwrap()[8], 3, "rewritten in format 3");
    assert!(Keyring::open(&path, &RootKey::from_bytes([9; 32]), now()).is_err());
}

#[test]
fn a_format_3_keyring_opens_with_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(&dir, "keyring-v3.sealed");
    let before = std::fs::read(&path).unwrap();
    assert_eq!(before[8], 3);
    let ring = Keyring::open(&path, &RootKey::from_bytes(ROOT), now()).unwrap();
    check_versions(&ring);
    check_unwraps(&ring, &wraps("keyring-v2.txt"));
    assert_eq!(ring.generation(), 1);
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "a current file is not rewritten"
    );
    assert!(Keyring::open(&path, &RootKey::from_bytes([9; 32]), now()).is_err());
}

#[cfg(unix)]
#[test]
fn a_keyring_others_may_read_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(&dir, "keyring-v2.sealed");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let e = Keyring::open(&path, &RootKey::from_bytes(ROOT), now()).unwrap_err();
    assert!(matches!(e, Error::NotPrivate(_)), "{e}");
    assert!(e.to_string().contains("chmod 600"));
}

/// Writes `keyring-v3.sealed` by opening the format-2 file (which rewrites it); run once, when
/// format 3 was introduced.
#[test]
#[ignore = "writes golden files"]
fn write_format_3_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = private_copy(&dir, "keyring-v2.sealed");
    drop(Keyring::open(&path, &RootKey::from_bytes(ROOT), now()).unwrap());
    std::fs::copy(&path, testdata("keyring-v3.sealed")).unwrap();
}
