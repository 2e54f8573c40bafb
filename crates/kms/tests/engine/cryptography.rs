//! GenerateDataKey, Encrypt, Decrypt, ReEncrypt: round trips, context binding, tampering.

use base64::Engine as _;
use coffer_kms::{
    CiphertextBlob, CreateKey, DataKeySpec, Decrypt, Encrypt, EncryptionContext, Error,
    GenerateDataKey, KeySpec, Plaintext, ReEncrypt,
};

use super::*;

#[test]
fn data_key_round_trips_with_its_context() {
    let f = Fixture::new();
    let a = alice_via_oss("oss:photos/cat.jpg");
    let id = f.create(&a);
    let context =
        EncryptionContext::from_json(r#"{"acs:oss:bucket":"photos","acs:oss:object":"cat.jpg"}"#)
            .unwrap();
    let generated = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(id).with_context(context))
        .unwrap();
    assert_eq!(generated.plaintext.len(), 32);
    let data_key = generated.plaintext.to_data_key().unwrap();
    // The API's base64 form survives the trip, and the context matches whatever its JSON order.
    let blob = CiphertextBlob::from_base64(&generated.ciphertext_blob.to_base64()).unwrap();
    let same_context = EncryptionContext::from_json(
        r#"{ "acs:oss:object": "cat.jpg", "acs:oss:bucket": "photos" }"#,
    )
    .unwrap();
    let decrypted = f.kms.decrypt(&a, Decrypt::new(blob, same_context)).unwrap();
    assert_eq!(decrypted.key_id, id);
    assert_eq!(decrypted.key_version_id, generated.key_version_id);
    assert_eq!(
        decrypted.plaintext.expose_secret(),
        data_key.expose_secret()
    );
}

#[test]
fn data_key_lengths_follow_key_spec_and_number_of_bytes() {
    let f = Fixture::new();
    let a = alice();
    let id = f.create(&a);
    let len = |spec: Option<DataKeySpec>, n: Option<u32>| {
        let mut req = GenerateDataKey::new(id);
        req.key_spec = spec;
        req.number_of_bytes = n;
        f.kms.generate_data_key(&a, req).map(|g| g.plaintext.len())
    };
    assert_eq!(len(None, None).unwrap(), 32);
    assert_eq!(len(Some(DataKeySpec::Aes128), None).unwrap(), 16);
    assert_eq!(len(Some(DataKeySpec::Aes128), Some(64)).unwrap(), 64);
    assert_eq!(len(None, Some(1)).unwrap(), 1);
    assert_eq!(len(None, Some(1024)).unwrap(), 1024);
    assert_eq!(code(len(None, Some(0))), "InvalidParameter");
    assert_eq!(code(len(None, Some(1025))), "InvalidParameter");

    let without = f
        .kms
        .generate_data_key_without_plaintext(&a, GenerateDataKey::new(id))
        .unwrap();
    let plain = f
        .kms
        .decrypt(&a, Decrypt::new(without.ciphertext_blob, ctx(&[])))
        .unwrap();
    assert_eq!(plain.plaintext.len(), 32);
}

#[test]
fn a_different_context_is_the_same_opaque_failure_as_a_damaged_blob() {
    let f = Fixture::new();
    let a = alice();
    let id = f.create(&a);
    let original = ctx(&[("bucket", "b1"), ("object", "o1")]);
    let blob = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(id).with_context(original.clone()))
        .unwrap()
        .ciphertext_blob;
    let mut damaged = blob.as_bytes().to_vec();
    *damaged.last_mut().unwrap() ^= 1;
    let damaged_error = f
        .kms
        .decrypt(
            &a,
            Decrypt::new(CiphertextBlob::from_bytes(damaged), original.clone()),
        )
        .unwrap_err();
    for wrong in [
        ctx(&[]),
        ctx(&[("bucket", "b1")]),
        ctx(&[("bucket", "b1"), ("object", "o2")]),
        ctx(&[("bucket", "b1"), ("object", "o1"), ("extra", "x")]),
        ctx(&[("Bucket", "b1"), ("object", "o1")]),
    ] {
        let e = f
            .kms
            .decrypt(&a, Decrypt::new(blob.clone(), wrong.clone()))
            .unwrap_err();
        assert!(matches!(e, Error::InvalidCiphertext), "{wrong:?}: {e:?}");
        assert_eq!(e.code(), damaged_error.code());
        assert_eq!(e.http_status(), damaged_error.http_status());
        assert_eq!(e.to_string(), damaged_error.to_string());
    }
    assert_eq!(damaged_error.code(), "InvalidParameter");
    assert_eq!(damaged_error.http_status(), 400);
    assert!(f.kms.decrypt(&a, Decrypt::new(blob, original)).is_ok());
}

#[test]
fn every_flipped_byte_of_a_small_blob_is_rejected() {
    let f = Fixture::new();
    let a = alice();
    let id = f.create(&a);
    let context = ctx(&[("k", "v")]);
    let blob = f
        .kms
        .encrypt(
            &a,
            Encrypt {
                key: key_ref(id),
                plaintext: Plaintext::from_slice(b"x"),
                context: context.clone(),
                dry_run: false,
            },
        )
        .unwrap()
        .ciphertext_blob;
    let bytes = blob.as_bytes().to_vec();
    assert_eq!(bytes.len(), coffer_kms::BLOB_OVERHEAD + 1);
    let decrypt = |b: Vec<u8>| {
        f.kms.decrypt(
            &a,
            Decrypt::new(CiphertextBlob::from_bytes(b), context.clone()),
        )
    };
    for i in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            let e = decrypt(bad).unwrap_err();
            // Bytes 4..20 name the key: a changed key id names no key of the account.
            if (4..20).contains(&i) {
                assert!(matches!(e, Error::CiphertextKeyNotFound), "byte {i}: {e:?}");
            } else {
                assert!(matches!(e, Error::InvalidCiphertext), "byte {i}: {e:?}");
            }
        }
    }
    for len in 0..bytes.len() {
        assert!(
            decrypt(bytes[..len].to_vec()).is_err(),
            "truncated to {len}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(decrypt(longer), Err(Error::InvalidCiphertext)));
    assert_eq!(decrypt(bytes).unwrap().plaintext.expose_secret(), b"x");
    assert!(matches!(
        CiphertextBlob::from_base64("not base64!"),
        Err(Error::InvalidCiphertext)
    ));
}

#[test]
fn encrypt_round_trips_for_aes_and_sm4_keys_up_to_6_kib() {
    let f = Fixture::new();
    let a = alice();
    for spec in [KeySpec::Aes256, KeySpec::Sm4] {
        let id = f
            .kms
            .create_key(
                &a,
                CreateKey {
                    key_spec: spec,
                    ..CreateKey::default()
                },
            )
            .unwrap()
            .key_id;
        for len in [0, 1, 100, 6 * 1024] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let encrypted = f
                .kms
                .encrypt(
                    &a,
                    Encrypt {
                        key: key_ref(id),
                        plaintext: Plaintext::from_slice(&data),
                        context: ctx(&[("n", &len.to_string())]),
                        dry_run: false,
                    },
                )
                .unwrap();
            let back = f
                .kms
                .decrypt(
                    &a,
                    Decrypt::new(encrypted.ciphertext_blob, ctx(&[("n", &len.to_string())])),
                )
                .unwrap();
            assert_eq!(
                back.plaintext.expose_secret(),
                data.as_slice(),
                "{spec:?} {len}"
            );
        }
        let too_long = f.kms.encrypt(
            &a,
            Encrypt {
                key: key_ref(id),
                plaintext: Plaintext::from_vec(vec![0; 6 * 1024 + 1]),
                context: ctx(&[]),
                dry_run: false,
            },
        );
        assert_eq!(code(too_long), "InvalidParameter");
    }
}

#[test]
fn re_encrypt_moves_a_blob_to_another_key_and_context() {
    let f = Fixture::new();
    let a = alice();
    let (src, dst) = (f.create(&a), f.create(&a));
    let generated = f
        .kms
        .generate_data_key(
            &a,
            GenerateDataKey::new(src).with_context(ctx(&[("o", "1")])),
        )
        .unwrap();
    let moved = f
        .kms
        .re_encrypt(
            &a,
            ReEncrypt {
                ciphertext_blob: generated.ciphertext_blob.clone(),
                source_context: ctx(&[("o", "1")]),
                destination_key: key_ref(dst),
                destination_context: ctx(&[("o", "2")]),
            },
        )
        .unwrap();
    assert_eq!(moved.source_key_id, src);
    assert_eq!(moved.source_key_version_id, generated.key_version_id);
    assert_eq!(moved.key_id, dst);
    let back = f
        .kms
        .decrypt(&a, Decrypt::new(moved.ciphertext_blob, ctx(&[("o", "2")])))
        .unwrap();
    assert_eq!(back.key_id, dst);
    assert_eq!(
        back.plaintext.expose_secret(),
        generated.plaintext.expose_secret()
    );
    let wrong_source = f.kms.re_encrypt(
        &a,
        ReEncrypt {
            ciphertext_blob: generated.ciphertext_blob,
            source_context: ctx(&[("o", "9")]),
            destination_key: key_ref(dst),
            destination_context: ctx(&[]),
        },
    );
    assert_eq!(code(wrong_source), "InvalidParameter");
}

#[test]
fn dry_run_checks_everything_but_does_nothing() {
    let f = Fixture::new();
    let a = alice();
    let id = f.create(&a);
    let mut req = GenerateDataKey::new(id);
    req.dry_run = true;
    assert_eq!(
        code(f.kms.generate_data_key(&a, req.clone())),
        "DryRunOperationError"
    );
    f.kms.disable_key(&a, &key_ref(id)).unwrap();
    assert_eq!(code(f.kms.generate_data_key(&a, req)), "Rejected.Disabled");
}

#[test]
fn results_print_no_key_bytes() {
    let f = Fixture::new();
    let a = alice();
    let id = f.create(&a);
    let generated = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(id))
        .unwrap();
    let decrypted = f
        .kms
        .decrypt(
            &a,
            Decrypt::new(generated.ciphertext_blob.clone(), ctx(&[])),
        )
        .unwrap();
    let printed = format!("{generated:?} {generated:#?} {decrypted:?} {:?}", f.kms);
    let key = generated.plaintext.expose_secret();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(key);
    assert!(!printed.contains(&hex));
    assert!(!printed.contains(&hex.to_uppercase()));
    assert!(!printed.contains(&b64));
    assert!(!printed.contains(&format!("{key:?}")));
    assert!(printed.contains("Plaintext(<redacted 32 bytes>)"));
}
