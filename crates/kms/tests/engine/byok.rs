//! BYOK: importing RSA-wrapped key material into EXTERNAL keys, as a client library would wrap it.

use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey,
    PublicEncryptingKey,
};
use base64::Engine as _;
use coffer_kms::{
    CreateKey, Decrypt, Encrypt, GenerateDataKey, ImportKeyMaterial, ImportParameters, ImportToken,
    KeySpec, KeyState, Origin, Plaintext, WrappingAlgorithm, WrappingKeySpec,
};

use super::*;

const ALL: [WrappingAlgorithm; 3] = [
    WrappingAlgorithm::RsaesOaepSha256,
    WrappingAlgorithm::RsaesOaepSha1,
    WrappingAlgorithm::RsaesPkcs1V15,
];

/// What the customer does with the public key: standard RSA encryption of the raw material.
fn wrap(params: &ImportParameters, algorithm: WrappingAlgorithm, material: &[u8]) -> Vec<u8> {
    let der = base64::engine::general_purpose::STANDARD
        .decode(params.public_key_base64())
        .unwrap();
    let public = PublicEncryptingKey::from_der(&der).unwrap();
    let mut out = vec![0u8; 256];
    let len = match algorithm {
        WrappingAlgorithm::RsaesOaepSha256 => OaepPublicEncryptingKey::new(public)
            .unwrap()
            .encrypt(&OAEP_SHA256_MGF1SHA256, material, &mut out, None)
            .unwrap()
            .len(),
        WrappingAlgorithm::RsaesOaepSha1 => OaepPublicEncryptingKey::new(public)
            .unwrap()
            .encrypt(&OAEP_SHA1_MGF1SHA1, material, &mut out, None)
            .unwrap()
            .len(),
        WrappingAlgorithm::RsaesPkcs1V15 => Pkcs1PublicEncryptingKey::new(public)
            .unwrap()
            .encrypt(material, &mut out)
            .unwrap()
            .len(),
    };
    out.truncate(len);
    out
}

fn external(f: &Fixture, spec: KeySpec) -> KeyId {
    f.kms
        .create_key(
            &alice(),
            CreateKey {
                origin: Origin::External,
                key_spec: spec,
                ..CreateKey::default()
            },
        )
        .unwrap()
        .key_id
}

fn params(f: &Fixture, id: KeyId, algorithm: WrappingAlgorithm) -> ImportParameters {
    f.kms
        .get_parameters_for_import(&alice(), &key_ref(id), algorithm, WrappingKeySpec::Rsa2048)
        .unwrap()
}

fn import(
    f: &Fixture,
    id: KeyId,
    algorithm: WrappingAlgorithm,
    material: &[u8],
    expire: Option<SystemTime>,
) -> coffer_kms::Result<()> {
    let p = params(f, id, algorithm);
    f.kms.import_key_material(
        &alice(),
        ImportKeyMaterial {
            key: key_ref(id),
            encrypted_key_material: wrap(&p, algorithm, material),
            import_token: p.import_token,
            material_expire: expire,
        },
    )
}

fn round_trip(f: &Fixture, id: KeyId) -> coffer_kms::Result<()> {
    let a = alice();
    let g = f.kms.generate_data_key(&a, GenerateDataKey::new(id))?;
    let d = f
        .kms
        .decrypt(&a, Decrypt::new(g.ciphertext_blob, ctx(&[])))?;
    assert_eq!(d.plaintext.expose_secret(), g.plaintext.expose_secret());
    Ok(())
}

#[test]
fn material_wrapped_with_every_algorithm_imports() {
    let f = Fixture::new();
    for algorithm in ALL {
        let id = external(&f, KeySpec::Aes256);
        let p = params(&f, id, algorithm);
        assert!(
            p.public_key_base64()
                .starts_with("MIIBIjANBgkqhkiG9w0BAQEF")
        );
        assert_eq!(p.token_expire_time, f.now() + DAY);
        assert!(!format!("{p:?}").contains(p.import_token.expose_secret()));
        f.kms
            .import_key_material(
                &alice(),
                ImportKeyMaterial {
                    key: key_ref(id),
                    encrypted_key_material: wrap(&p, algorithm, &[0x42; 32]),
                    import_token: p.import_token.clone(),
                    material_expire: None,
                },
            )
            .unwrap();
        let meta = f.kms.describe_key(&alice(), &key_ref(id)).unwrap();
        assert_eq!(meta.key_state, KeyState::Enabled, "{algorithm:?}");
        assert!(meta.primary_key_version.is_some());
        assert_eq!(meta.material_expire_time, None);
        round_trip(&f, id).unwrap();
    }
    // SM4 keys take 16 bytes of material.
    let sm4 = external(&f, KeySpec::Sm4);
    assert_eq!(
        code(import(&f, sm4, ALL[0], &[1; 32], None)),
        "InvalidKeyMaterial"
    );
    import(&f, sm4, ALL[0], &[1; 16], None).unwrap();
    round_trip(&f, sm4).unwrap();
}

#[test]
fn tokens_expire_after_24_hours_and_bind_to_their_key() {
    let f = Fixture::new();
    let a = alice();
    let id = external(&f, KeySpec::Aes256);
    let other = external(&f, KeySpec::Aes256);
    let algorithm = WrappingAlgorithm::RsaesOaepSha256;
    let p = params(&f, id, algorithm);
    let request = |key: KeyId, token: ImportToken| ImportKeyMaterial {
        key: key_ref(key),
        encrypted_key_material: wrap(&p, algorithm, &[7; 32]),
        import_token: token,
        material_expire: None,
    };
    assert_eq!(
        code(
            f.kms
                .import_key_material(&a, request(other, p.import_token.clone()))
        ),
        "InvalidImportToken"
    );
    assert_eq!(
        code(
            f.kms
                .import_key_material(&a, request(id, ImportToken::new("bm90IGEgdG9rZW4=")))
        ),
        "InvalidImportToken"
    );
    f.clock.advance(DAY);
    assert_eq!(
        code(
            f.kms
                .import_key_material(&a, request(id, p.import_token.clone()))
        ),
        "ExpiredImportToken"
    );
    // Still refused after the scheduler ran and restarted.
    f.kms.tick(f.now()).unwrap();
    let f = f.reopen();
    assert_eq!(
        code(
            f.kms
                .import_key_material(&a, request(id, p.import_token.clone()))
        ),
        "ExpiredImportToken"
    );
    assert_eq!(
        f.kms.describe_key(&a, &key_ref(id)).unwrap().key_state,
        KeyState::PendingImport
    );
}

#[test]
fn a_failed_unwrap_spends_the_token() {
    let f = Fixture::new();
    let a = alice();
    let id = external(&f, KeySpec::Aes256);
    let p = params(&f, id, WrappingAlgorithm::RsaesPkcs1V15);
    let mut garbage = wrap(&p, WrappingAlgorithm::RsaesPkcs1V15, &[7; 32]);
    garbage[10] ^= 0x55;
    let attempt = |wrapped: Vec<u8>| {
        f.kms.import_key_material(
            &a,
            ImportKeyMaterial {
                key: key_ref(id),
                encrypted_key_material: wrapped,
                import_token: p.import_token.clone(),
                material_expire: None,
            },
        )
    };
    assert_eq!(code(attempt(garbage)), "InvalidKeyMaterial");
    assert_eq!(
        code(attempt(wrap(
            &p,
            WrappingAlgorithm::RsaesPkcs1V15,
            &[7; 32]
        ))),
        "InvalidImportToken"
    );
}

#[test]
fn different_material_is_refused_and_the_same_material_restores_access() {
    let f = Fixture::new();
    let a = alice();
    let id = external(&f, KeySpec::Aes256);
    let key = key_ref(id);
    let m1 = [0x5a; 32];
    import(&f, id, ALL[1], &m1, None).unwrap();
    let version = f.kms.describe_key(&a, &key).unwrap().primary_key_version;
    let blob = f
        .kms
        .encrypt(
            &a,
            Encrypt {
                key: key.clone(),
                plaintext: Plaintext::from_slice(b"secret"),
                context: ctx(&[("c", "1")]),
                dry_run: false,
            },
        )
        .unwrap()
        .ciphertext_blob;
    let decrypt = |f: &Fixture| {
        f.kms
            .decrypt(&a, Decrypt::new(blob.clone(), ctx(&[("c", "1")])))
    };

    // Re-importing while the material is there: same is fine, different is refused.
    import(&f, id, ALL[0], &m1, None).unwrap();
    assert_eq!(
        code(import(&f, id, ALL[0], &[0x5b; 32], None)),
        "InvalidKeyMaterial"
    );

    f.kms.delete_key_material(&a, &key).unwrap();
    assert_eq!(
        f.kms.describe_key(&a, &key).unwrap().key_state,
        KeyState::PendingImport
    );
    let e = decrypt(&f).unwrap_err();
    assert!(matches!(e, coffer_kms::Error::PendingImport), "{e:?}");
    assert_eq!(e.code(), "Rejected.PendingImport");
    assert_eq!(e.http_status(), 409);

    assert_eq!(
        code(import(&f, id, ALL[2], &[0x5b; 32], None)),
        "InvalidKeyMaterial"
    );
    assert_eq!(code(decrypt(&f)), "Rejected.PendingImport");
    let f = f.reopen();
    import(&f, id, ALL[2], &m1, None).unwrap();
    let meta = f.kms.describe_key(&a, &key).unwrap();
    assert_eq!(meta.key_state, KeyState::Enabled);
    assert_eq!(meta.primary_key_version, version);
    assert_eq!(decrypt(&f).unwrap().plaintext.expose_secret(), b"secret");
}

#[test]
fn expired_material_makes_the_key_pending_import_until_reimported() {
    let f = Fixture::new();
    let a = alice();
    let id = external(&f, KeySpec::Aes256);
    let key = key_ref(id);
    let material = [0x77; 32];
    assert_eq!(
        code(import(&f, id, ALL[0], &material, Some(f.now()))),
        "InvalidParameter"
    );
    let expiry = f.now() + 10 * DAY;
    import(&f, id, ALL[0], &material, Some(expiry)).unwrap();
    assert_eq!(
        f.kms.describe_key(&a, &key).unwrap().material_expire_time,
        Some(expiry)
    );
    let blob = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(id))
        .unwrap()
        .ciphertext_blob;

    // At the expiry the key is unusable at once, before the scheduler erases the material.
    f.clock.advance(10 * DAY);
    assert_eq!(
        f.kms.describe_key(&a, &key).unwrap().key_state,
        KeyState::PendingImport
    );
    assert_eq!(
        code(f.kms.decrypt(&a, Decrypt::new(blob.clone(), ctx(&[])))),
        "Rejected.PendingImport"
    );
    let report = f.kms.tick(f.now()).unwrap();
    assert_eq!(report.expired, vec![id]);
    let meta = f.kms.describe_key(&a, &key).unwrap();
    assert_eq!(meta.key_state, KeyState::PendingImport);
    assert_eq!(meta.material_expire_time, None);
    assert_eq!(
        code(f.kms.generate_data_key(&a, GenerateDataKey::new(id))),
        "Rejected.PendingImport"
    );

    import(&f, id, ALL[0], &material, None).unwrap();
    assert!(f.kms.decrypt(&a, Decrypt::new(blob, ctx(&[]))).is_ok());
}

#[test]
fn import_apis_refuse_keys_of_the_wrong_origin_or_state() {
    let f = Fixture::new();
    let a = alice();
    let kms_key = key_ref(f.create(&a));
    assert_eq!(
        code(f.kms.get_parameters_for_import(
            &a,
            &kms_key,
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingKeySpec::Rsa2048
        )),
        "Unsupported.Origin"
    );
    assert_eq!(
        code(f.kms.delete_key_material(&a, &kms_key)),
        "Unsupported.Origin"
    );
    let id = external(&f, KeySpec::Aes256);
    let p = params(&f, id, ALL[0]);
    f.kms.schedule_key_deletion(&a, &key_ref(id), 7).unwrap();
    assert_eq!(
        code(f.kms.import_key_material(
            &a,
            ImportKeyMaterial {
                key: key_ref(id),
                encrypted_key_material: wrap(&p, ALL[0], &[1; 32]),
                import_token: p.import_token,
                material_expire: None,
            }
        )),
        "Rejected.StateModifiedFailed"
    );
}
