//! Known answers of the standards and differential tests against RustCrypto's `sm4` under its
//! generic GCM, on every backend this CPU runs (the portable one always).
// The helpers below are not `#[test]` functions, so clippy's allow-unwrap-in-tests does not reach
// them; a malformed constant should panic.
#![allow(clippy::unwrap_used)]

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U12;
use cipher::{BlockCipherEncrypt, KeyInit};
use coffer_sm4::{Backend, Sm4, differential, sm4_gcm_with_backend};
use proptest::prelude::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn backends() -> Vec<Backend> {
    let all: Vec<Backend> = Backend::ALL
        .into_iter()
        .filter(|b| b.is_available())
        .collect();
    assert!(all.contains(&Backend::Portable));
    all
}

/// GB/T 32907-2016 appendix A, example 1 (and RFC 8998 A.1's key).
#[test]
fn block_known_answer() {
    let key: [u8; 16] = hex("0123456789abcdeffedcba9876543210").try_into().unwrap();
    for backend in backends() {
        let c = Sm4::with_backend(&key, backend).unwrap();
        assert_eq!(c.backend(), backend);
        let mut block = key.into();
        c.encrypt_block(&mut block);
        assert_eq!(
            block.to_vec(),
            hex("681edf34d206965e86b3e94f536e4246"),
            "{backend:?}"
        );
    }
}

/// GB/T 32907-2016 appendix A, example 2: the same block encrypted 1 000 000 times. Through the
/// 16-block path (sixteen identical chains). Every backend in an optimised build; in a debug
/// build, where this takes minutes, only the one `Sm4::new` picks.
#[test]
fn block_known_answer_million_iterations() {
    let key: [u8; 16] = hex("0123456789abcdeffedcba9876543210").try_into().unwrap();
    for backend in backends() {
        if cfg!(debug_assertions) && backend != Backend::detect() {
            continue;
        }
        let c = Sm4::with_backend(&key, backend).unwrap();
        let mut blocks = [cipher::Block::<Sm4>::from(key); 16];
        for _ in 0..1_000_000 {
            c.encrypt_blocks(&mut blocks);
        }
        for b in blocks {
            assert_eq!(
                b.to_vec(),
                hex("595298c7c6fd271f0402f804c33d3f66"),
                "{backend:?}"
            );
        }
    }
}

/// RFC 8998 appendix A.1 (SM4-GCM), and Wycheproof sm4_gcm_test.json tcId 2 (empty message).
#[test]
fn gcm_known_answers() {
    let cases = [
        (
            "0123456789ABCDEFFEDCBA9876543210",
            "00001234567800000000ABCD",
            "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
             EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735
             D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
            "83DE3541E4C2B58177E065A9BF7B62EC",
        ),
        (
            "bedcfb5a011ebc84600fcb296c15af0d",
            "438a547a94ea88dce46c6c85",
            "",
            "",
            "",
            "a486a45596cb92cf529de2038583707d",
        ),
    ];
    for backend in backends() {
        for (key, nonce, aad, pt, ct, tag) in cases {
            let key: [u8; 16] = hex(key).try_into().unwrap();
            let nonce: [u8; 12] = hex(nonce).try_into().unwrap();
            let gcm = sm4_gcm_with_backend(&key, backend).unwrap();
            let mut buf = hex(pt);
            let got = gcm
                .encrypt_inout_detached(&nonce.into(), &hex(aad), buf.as_mut_slice().into())
                .unwrap();
            assert_eq!(buf, hex(ct), "{backend:?}");
            assert_eq!(got.to_vec(), hex(tag), "{backend:?}");
        }
    }
}

/// The default constructor picks the fastest backend and agrees with the reference.
#[test]
fn key_init_uses_the_detected_backend() {
    let key = [7u8; 16];
    let ours = coffer_sm4::Sm4Gcm::new(&key.into());
    let reference = aes_gcm::AesGcm::<sm4::Sm4, U12>::new(&key.into());
    let mut a = vec![0x5au8; 1000];
    let mut b = a.clone();
    let ta = ours
        .encrypt_inout_detached(&[1; 12].into(), b"aad", a.as_mut_slice().into())
        .unwrap();
    let tb = reference
        .encrypt_inout_detached(&[1; 12].into(), b"aad", b.as_mut_slice().into())
        .unwrap();
    assert_eq!((a, ta), (b, tb));
    assert_eq!(Sm4::new(&key.into()).backend(), Backend::detect());
}

fn input(key: [u8; 16], nonce: [u8; 12], aad: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut v = key.to_vec();
    v.extend_from_slice(&nonce);
    v.push(aad.len() as u8);
    v.extend_from_slice(aad);
    v.extend_from_slice(msg);
    v
}

/// Every tail length from 0 to 64 bytes and every aad length from 0 to 64, on every backend.
#[test]
fn every_short_length_matches_the_reference() {
    for len in 0..=64usize {
        for aad_len in [0, 1, 15, 16, 17, 64] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            let aad: Vec<u8> = (0..aad_len).map(|i| i as u8 ^ 0xa5).collect();
            differential(&input([len as u8; 16], [aad_len as u8; 12], &aad, &msg));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn short_messages_match_the_reference(
        key in any::<[u8; 16]>(),
        nonce in any::<[u8; 12]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..=64),
        msg in proptest::collection::vec(any::<u8>(), 0..=64),
    ) {
        differential(&input(key, nonce, &aad, &msg));
    }

    #[test]
    fn multi_kilobyte_messages_match_the_reference(
        key in any::<[u8; 16]>(),
        nonce in any::<[u8; 12]>(),
        aad in proptest::collection::vec(any::<u8>(), 0..=64),
        msg in proptest::collection::vec(any::<u8>(), 1024..=9000),
    ) {
        differential(&input(key, nonce, &aad, &msg));
    }

    /// An arbitrary byte string is a valid input too (what the fuzzer feeds).
    #[test]
    fn arbitrary_inputs(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        differential(&data);
    }
}
