//! Golden file of the wrapped data key layout (`envelope.rs`, format version 1): a key wrapped
//! by a fixed master key, stored under `testdata/`, must keep unwrapping to the same data key.
//!
//! Wrapping draws a random nonce, so the file cannot be re-derived: it was written once (with
//! `COFFER_WRITE_GOLDEN=1`, which never overwrites a file) and is never changed. A new layout
//! gets a new version byte and a file of its own beside this one.

use std::path::PathBuf;

use coffer_crypto::{DataKey, MasterKey, WRAPPED_KEY_LEN, unwrap_key, wrap_key};

const MASTER: [u8; 32] = [0x11; 32];
const DATA: [u8; 32] = [0x22; 32];
const AAD: &[u8] = b"golden bucket/key";

#[test]
fn a_version_1_wrapped_key_still_unwraps() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/wrapped-key.v1.bin");
    let master = MasterKey::from_bytes(MASTER);
    if !path.exists() && std::env::var_os("COFFER_WRITE_GOLDEN").is_some() {
        let wrapped = wrap_key(&master, &DataKey::from_bytes(DATA), AAD);
        std::fs::write(&path, wrapped).expect("write the golden file");
    }
    let wrapped = std::fs::read(&path).expect("the golden file exists");
    assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
    assert_eq!(wrapped[0], 1, "format version");
    let key = unwrap_key(&master, &wrapped, AAD).expect("the stored key unwraps");
    assert_eq!(key.expose_secret(), &DATA);
    // The file is what it claims: another aad, master key or a flipped byte is refused.
    assert!(unwrap_key(&master, &wrapped, b"other").is_err());
    assert!(unwrap_key(&MasterKey::from_bytes([0x33; 32]), &wrapped, AAD).is_err());
    for i in 0..wrapped.len() {
        let mut bad = wrapped.clone();
        bad[i] ^= 0x01;
        assert!(unwrap_key(&master, &bad, AAD).is_err(), "flipped byte {i}");
    }
}
