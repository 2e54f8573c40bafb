//! What survives a restart, and what the files on disk do not contain.

use coffer_kms::{
    AliasName, CreateKey, Decrypt, Encrypt, Error, GenerateDataKey, ImportKeyMaterial, KeyRef,
    KeyState, Origin, Page, Plaintext, Tag, WrappingAlgorithm, WrappingKeySpec,
};

use std::sync::atomic::{AtomicBool, Ordering};

use super::*;

#[test]
fn state_survives_a_restart() {
    let f = Fixture::new();
    let a = alice();
    let enabled = f
        .kms
        .create_key(
            &a,
            CreateKey {
                description: "kept".into(),
                tags: vec![Tag::new("env", "prod").unwrap()],
                ..CreateKey::default()
            },
        )
        .unwrap();
    let disabled = f.create(&a);
    f.kms.disable_key(&a, &key_ref(disabled)).unwrap();
    let doomed = f.create(&a);
    let delete_date = f
        .kms
        .schedule_key_deletion(&a, &key_ref(doomed), 30)
        .unwrap();
    let alias = AliasName::parse("alias/kept").unwrap();
    f.kms
        .create_alias(&a, &alias, &key_ref(enabled.key_id))
        .unwrap();
    f.kms
        .create_key_version(&a, &key_ref(enabled.key_id))
        .unwrap();
    let generated = f
        .kms
        .generate_data_key(
            &a,
            GenerateDataKey::new(KeyRef::Alias(alias.clone())).with_context(ctx(&[("a", "b")])),
        )
        .unwrap();
    let external = f
        .kms
        .create_key(
            &a,
            CreateKey {
                origin: Origin::External,
                ..CreateKey::default()
            },
        )
        .unwrap()
        .key_id;
    let params = f
        .kms
        .get_parameters_for_import(
            &a,
            &key_ref(external),
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingKeySpec::Rsa2048,
        )
        .unwrap();
    let before = f.kms.describe_key(&a, &key_ref(enabled.key_id)).unwrap();

    let f = f.reopen();
    assert_eq!(
        f.kms.describe_key(&a, &key_ref(enabled.key_id)).unwrap(),
        before
    );
    assert_eq!(
        f.kms
            .describe_key(&a, &key_ref(disabled))
            .unwrap()
            .key_state,
        KeyState::Disabled
    );
    let meta = f.kms.describe_key(&a, &key_ref(doomed)).unwrap();
    assert_eq!(meta.key_state, KeyState::PendingDeletion);
    assert_eq!(meta.delete_date, Some(delete_date));
    assert_eq!(
        f.kms
            .list_resource_tags(&a, &key_ref(enabled.key_id))
            .unwrap(),
        vec![Tag::new("env", "prod").unwrap()]
    );
    let decrypted = f
        .kms
        .decrypt(
            &a,
            Decrypt::new(generated.ciphertext_blob, ctx(&[("a", "b")])),
        )
        .unwrap();
    assert_eq!(
        decrypted.plaintext.expose_secret(),
        generated.plaintext.expose_secret()
    );
    assert_eq!(
        f.kms.list_aliases(&a, Page::default()).unwrap().total_count,
        1
    );
    // An import token handed out before the restart still works.
    let wrapped = {
        use aws_lc_rs::rsa::{
            OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
        };
        let public = PublicEncryptingKey::from_der(&params.public_key_der).unwrap();
        let mut out = vec![0u8; 256];
        OaepPublicEncryptingKey::new(public)
            .unwrap()
            .encrypt(&OAEP_SHA256_MGF1SHA256, &[9; 32], &mut out, None)
            .unwrap();
        out
    };
    f.kms
        .import_key_material(
            &a,
            ImportKeyMaterial {
                key: key_ref(external),
                import_token: params.import_token,
                encrypted_key_material: wrapped,
                material_expire: None,
            },
        )
        .unwrap();
    // The deletion scheduled before the restart still happens.
    assert_eq!(f.advance_and_tick(30 * DAY).deleted, vec![doomed]);
}

#[test]
fn another_root_key_cannot_open_the_store() {
    let f = Fixture::new();
    f.create(&alice());
    let path = f.path();
    let Fixture { kms, clock, dir } = f;
    drop(kms);
    let e = Kms::open(
        &path,
        &RootKey::from_bytes([0x22; 32]),
        Config::default(),
        clock.clone(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::WrongRootKey), "{e:?}");
    assert_eq!(e.code(), "InternalFailure");
    drop(dir);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn files_on_disk_contain_no_key_material_plaintext_or_tokens() {
    let f = Fixture::new();
    let a = alice();
    // BYOK material we know, a data key we are handed, and a secret we encrypt.
    let material: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(97) ^ 0x3c).collect();
    let external = f
        .kms
        .create_key(
            &a,
            CreateKey {
                origin: Origin::External,
                ..CreateKey::default()
            },
        )
        .unwrap()
        .key_id;
    let params = f
        .kms
        .get_parameters_for_import(
            &a,
            &key_ref(external),
            WrappingAlgorithm::RsaesPkcs1V15,
            WrappingKeySpec::Rsa2048,
        )
        .unwrap();
    let wrapped = {
        use aws_lc_rs::rsa::{Pkcs1PublicEncryptingKey, PublicEncryptingKey};
        let public = PublicEncryptingKey::from_der(&params.public_key_der).unwrap();
        let mut out = vec![0u8; 256];
        Pkcs1PublicEncryptingKey::new(public)
            .unwrap()
            .encrypt(&material, &mut out)
            .unwrap();
        out
    };
    let token = params.import_token.expose_secret().to_owned();
    f.kms
        .import_key_material(
            &a,
            ImportKeyMaterial {
                key: key_ref(external),
                import_token: params.import_token,
                encrypted_key_material: wrapped,
                material_expire: None,
            },
        )
        .unwrap();
    let kms_key = f.create(&a);
    let data_keys: Vec<Vec<u8>> = [kms_key, external]
        .into_iter()
        .map(|k| {
            f.kms
                .generate_data_key(&a, GenerateDataKey::new(k))
                .unwrap()
                .plaintext
                .expose_secret()
                .to_vec()
        })
        .collect();
    let secret = b"correct horse battery staple, very secret".to_vec();
    f.kms
        .encrypt(
            &a,
            Encrypt {
                key: key_ref(kms_key),
                plaintext: Plaintext::from_slice(&secret),
                context: ctx(&[]),
                dry_run: false,
            },
        )
        .unwrap();
    let store = f.path();
    let audit = Kms::audit_log_path(&store);
    let f = f.reopen();
    drop(f.kms);

    for path in [&store, &audit] {
        let bytes = std::fs::read(path).unwrap();
        assert!(!bytes.is_empty(), "{path:?}");
        assert!(
            !contains(&bytes, &material),
            "imported material in {path:?}"
        );
        for dk in &data_keys {
            assert!(!contains(&bytes, dk), "data key in {path:?}");
        }
        assert!(!contains(&bytes, &secret), "plaintext in {path:?}");
        assert!(
            !contains(&bytes, token.as_bytes()),
            "import token in {path:?}"
        );
        assert!(!contains(&bytes, &ROOT), "root key in {path:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{path:?}");
        }
    }
}

/// A store that fails every write once `fail` is set.
#[derive(Debug)]
struct FlakyStore {
    inner: coffer_records::MemoryRecordStore,
    fail: Arc<AtomicBool>,
}

impl coffer_records::RecordStore for FlakyStore {
    fn scan(
        &self,
        table: coffer_records::Table,
    ) -> coffer_records::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.inner.scan(table)
    }

    fn apply(&self, changes: &[coffer_records::Change]) -> coffer_records::Result<()> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(coffer_records::Error::Backend("disk full".into()));
        }
        self.inner.apply(changes)
    }

    fn scrub(&self) -> coffer_records::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failed_store_write_changes_nothing() {
    let fail = Arc::new(AtomicBool::new(false));
    let kms = Kms::with_store(
        Box::new(FlakyStore {
            inner: coffer_kms::memory_store(),
            fail: fail.clone(),
        }),
        Box::new(coffer_kms::MemoryAuditLog::new()),
        &RootKey::generate(),
        Config::default(),
        Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0))),
    )
    .unwrap();
    let a = alice();
    let id = kms.create_key(&a, CreateKey::default()).unwrap().key_id;
    fail.store(true, Ordering::SeqCst);

    let e = kms.create_key(&a, CreateKey::default()).unwrap_err();
    assert_eq!((e.code(), e.http_status()), ("InternalFailure", 500));
    assert!(kms.disable_key(&a, &key_ref(id)).is_err());
    assert!(kms.create_key_version(&a, &key_ref(id)).is_err());
    assert!(
        kms.create_alias(&a, &AliasName::parse("alias/x").unwrap(), &key_ref(id))
            .is_err()
    );

    let listed = kms
        .list_keys(&a, &coffer_kms::KeyFilter::default(), Page::default())
        .unwrap();
    assert_eq!(listed.total_count, 1);
    let meta = kms.describe_key(&a, &key_ref(id)).unwrap();
    assert_eq!(meta.key_state, KeyState::Enabled);
    assert_eq!(
        kms.list_key_versions(&a, &key_ref(id), Page::default())
            .unwrap()
            .total_count,
        1
    );
    assert!(
        kms.list_aliases(&a, Page::default())
            .unwrap()
            .items
            .is_empty()
    );
    // Cryptographic operations need no store write and keep working.
    assert!(kms.generate_data_key(&a, GenerateDataKey::new(id)).is_ok());
}
