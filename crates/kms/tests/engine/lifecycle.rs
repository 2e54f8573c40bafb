//! Key lifecycle: creation, states and their transitions, deletion, listing, tags.

use coffer_kms::{
    CreateKey, Decrypt, Error, GenerateDataKey, KeyFilter, KeyRef, KeySpec, KeyState, Origin, Page,
    RotationPolicy, Tag, key_arn,
};

use super::*;

#[test]
fn create_disable_enable_schedule_cancel_follows_the_state_machine() {
    let f = Fixture::new();
    let a = alice();
    let meta = f.kms.create_key(&a, CreateKey::default()).unwrap();
    assert_eq!(meta.key_state, KeyState::Enabled);
    assert_eq!(meta.key_spec, KeySpec::Aes256);
    assert_eq!(meta.origin, Origin::AliyunKms);
    assert_eq!(meta.creator, "1234567890123456");
    assert_eq!(
        meta.arn,
        format!("acs:kms:cn-hangzhou:1234567890123456:key/{}", meta.key_id)
    );
    assert!(meta.primary_key_version.is_some());
    assert_eq!(meta.last_rotation_date, Some(f.now()));
    let key = key_ref(meta.key_id);
    let state = |f: &Fixture| f.kms.describe_key(&a, &key).unwrap().key_state;
    let blob = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(meta.key_id))
        .unwrap()
        .ciphertext_blob;
    let decrypt = |f: &Fixture| f.kms.decrypt(&a, Decrypt::new(blob.clone(), ctx(&[])));

    f.kms.disable_key(&a, &key).unwrap();
    assert_eq!(state(&f), KeyState::Disabled);
    f.kms.disable_key(&a, &key).unwrap(); // idempotent
    assert_eq!(
        code(
            f.kms
                .generate_data_key(&a, GenerateDataKey::new(meta.key_id))
        ),
        "Rejected.Disabled"
    );
    assert_eq!(code(decrypt(&f)), "Rejected.Disabled");

    f.kms.enable_key(&a, &key).unwrap();
    assert_eq!(state(&f), KeyState::Enabled);
    assert!(decrypt(&f).is_ok());

    let delete_date = f.kms.schedule_key_deletion(&a, &key, 7).unwrap();
    assert_eq!(delete_date, f.now() + 7 * DAY);
    let meta = f.kms.describe_key(&a, &key).unwrap();
    assert_eq!(meta.key_state, KeyState::PendingDeletion);
    assert_eq!(meta.delete_date, Some(delete_date));
    assert_eq!(code(decrypt(&f)), "Rejected.PendingDeletion");
    assert_eq!(
        code(f.kms.enable_key(&a, &key)),
        "Rejected.StateModifiedFailed"
    );
    assert_eq!(
        code(f.kms.disable_key(&a, &key)),
        "Rejected.StateModifiedFailed"
    );
    assert_eq!(
        code(f.kms.schedule_key_deletion(&a, &key, 7)),
        "Rejected.StateModifiedFailed"
    );

    f.kms.cancel_key_deletion(&a, &key).unwrap();
    let meta = f.kms.describe_key(&a, &key).unwrap();
    assert_eq!(meta.key_state, KeyState::Disabled);
    assert_eq!(meta.delete_date, None);
    assert_eq!(
        code(f.kms.cancel_key_deletion(&a, &key)),
        "Rejected.StateModifiedFailed"
    );
    f.kms.enable_key(&a, &key).unwrap();
    assert_eq!(decrypt(&f).unwrap().plaintext.len(), 32);
}

#[test]
fn deletion_after_the_window_makes_every_ciphertext_unrecoverable_forever() {
    let f = Fixture::new();
    let a = alice();
    let id = f.create(&a);
    let key = key_ref(id);
    let alias = coffer_kms::AliasName::parse("alias/doomed").unwrap();
    f.kms.create_alias(&a, &alias, &key).unwrap();
    let blob = f
        .kms
        .generate_data_key(
            &a,
            GenerateDataKey::new(id).with_context(ctx(&[("k", "v")])),
        )
        .unwrap()
        .ciphertext_blob;
    f.kms.schedule_key_deletion(&a, &key, 7).unwrap();

    let report = f.advance_and_tick(6 * DAY);
    assert!(report.deleted.is_empty());
    assert_eq!(
        f.kms.describe_key(&a, &key).unwrap().key_state,
        KeyState::PendingDeletion
    );

    let report = f.advance_and_tick(DAY);
    assert_eq!(report.deleted, vec![id]);
    assert_eq!(code(f.kms.describe_key(&a, &key)), "Forbidden.KeyNotFound");
    let decrypt = |f: &Fixture| {
        f.kms
            .decrypt(&a, Decrypt::new(blob.clone(), ctx(&[("k", "v")])))
    };
    assert!(matches!(decrypt(&f), Err(Error::CiphertextKeyNotFound)));
    assert_eq!(
        code(f.kms.describe_key(&a, &KeyRef::Alias(alias.clone()))),
        "Forbidden.AliasNotFound"
    );
    assert_eq!(
        code(f.kms.cancel_key_deletion(&a, &key)),
        "Forbidden.KeyNotFound"
    );
    assert!(
        f.kms
            .list_aliases(&a, Page::default())
            .unwrap()
            .items
            .is_empty()
    );

    // Nothing brings it back: not a restart, not time.
    let f = f.reopen();
    assert!(matches!(decrypt(&f), Err(Error::CiphertextKeyNotFound)));
    f.advance_and_tick(400 * DAY);
    assert!(matches!(decrypt(&f), Err(Error::CiphertextKeyNotFound)));
}

#[test]
fn pending_window_is_7_to_366_days() {
    let f = Fixture::new();
    let a = alice();
    let key = key_ref(f.create(&a));
    assert_eq!(
        code(f.kms.schedule_key_deletion(&a, &key, 6)),
        "InvalidParameter"
    );
    assert_eq!(
        code(f.kms.schedule_key_deletion(&a, &key, 367)),
        "InvalidParameter"
    );
    f.kms.schedule_key_deletion(&a, &key, 366).unwrap();
}

#[test]
fn create_key_validates_its_parameters() {
    let f = Fixture::new();
    let a = alice();
    let sm4 = f
        .kms
        .create_key(
            &a,
            CreateKey {
                key_spec: KeySpec::Sm4,
                ..CreateKey::default()
            },
        )
        .unwrap();
    assert_eq!(sm4.key_spec, KeySpec::Sm4);
    let external = f
        .kms
        .create_key(
            &a,
            CreateKey {
                origin: Origin::External,
                ..CreateKey::default()
            },
        )
        .unwrap();
    assert_eq!(external.key_state, KeyState::PendingImport);
    assert_eq!(external.primary_key_version, None);
    let bad = |req: CreateKey| code(f.kms.create_key(&a, req));
    assert_eq!(
        bad(CreateKey {
            origin: Origin::External,
            rotation: RotationPolicy::Automatic(30 * DAY),
            ..CreateKey::default()
        }),
        "Rejected.UnsupportedOperation"
    );
    assert_eq!(
        bad(CreateKey {
            rotation: RotationPolicy::Automatic(6 * DAY),
            ..CreateKey::default()
        }),
        "InvalidParameter"
    );
    assert_eq!(
        bad(CreateKey {
            rotation: RotationPolicy::Automatic(366 * DAY),
            ..CreateKey::default()
        }),
        "InvalidParameter"
    );
    assert_eq!(
        bad(CreateKey {
            description: "x".repeat(8193),
            ..CreateKey::default()
        }),
        "InvalidParameter"
    );
    assert_eq!(
        bad(CreateKey {
            tags: (0..21)
                .map(|i| Tag::new(format!("k{i}"), "v").unwrap())
                .collect(),
            ..CreateKey::default()
        }),
        "Rejected.LimitExceeded"
    );
    let rotating = f
        .kms
        .create_key(
            &a,
            CreateKey {
                rotation: RotationPolicy::Automatic(30 * DAY),
                ..CreateKey::default()
            },
        )
        .unwrap();
    assert_eq!(rotating.rotation_interval, Some(30 * DAY));
    assert_eq!(rotating.next_rotation_date, Some(f.now() + 30 * DAY));
}

#[test]
fn list_keys_pages_in_creation_order_and_filters() {
    let f = Fixture::new();
    let a = alice();
    let ids: Vec<KeyId> = (0..5).map(|_| f.create(&a)).collect();
    f.create(&bob());
    f.kms.disable_key(&a, &key_ref(ids[3])).unwrap();

    let page = f
        .kms
        .list_keys(&a, &KeyFilter::default(), Page::new(2, 2).unwrap())
        .unwrap();
    assert_eq!(page.total_count, 5);
    assert_eq!(
        page.items.iter().map(|k| k.key_id).collect::<Vec<_>>(),
        ids[2..4]
    );
    assert_eq!(
        page.items[0].key_arn,
        key_arn("cn-hangzhou", &a.account_id, &ids[2])
    );
    let disabled = f
        .kms
        .list_keys(
            &a,
            &KeyFilter {
                key_states: vec![KeyState::Disabled],
                ..KeyFilter::default()
            },
            Page::default(),
        )
        .unwrap();
    assert_eq!(disabled.items.len(), 1);
    assert_eq!(disabled.items[0].key_id, ids[3]);
}

#[test]
fn keys_of_another_account_are_not_found() {
    let f = Fixture::new();
    let a = alice();
    let b = bob();
    let id = f.create(&a);
    let blob = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(id))
        .unwrap()
        .ciphertext_blob;
    assert_eq!(
        code(f.kms.describe_key(&b, &key_ref(id))),
        "Forbidden.KeyNotFound"
    );
    let arn = KeyRef::parse(&key_arn("cn-hangzhou", &a.account_id, &id)).unwrap();
    assert_eq!(code(f.kms.describe_key(&b, &arn)), "Forbidden.KeyNotFound");
    assert!(f.kms.describe_key(&a, &arn).is_ok());
    let other_region = KeyRef::parse(&key_arn("cn-beijing", &a.account_id, &id)).unwrap();
    assert_eq!(
        code(f.kms.describe_key(&a, &other_region)),
        "Forbidden.KeyNotFound"
    );
    // Another account's blob reads as an invalid blob, not as a key that exists elsewhere.
    assert!(matches!(
        f.kms.decrypt(&b, Decrypt::new(blob, ctx(&[]))),
        Err(Error::CiphertextKeyNotFound)
    ));
    assert_eq!(
        Error::CiphertextKeyNotFound.code(),
        Error::InvalidCiphertext.code()
    );
    assert_eq!(
        code(f.kms.disable_key(&b, &key_ref(id))),
        "Forbidden.KeyNotFound"
    );
}

#[test]
fn description_and_tags_can_be_changed_in_any_state() {
    let f = Fixture::new();
    let a = alice();
    let key = key_ref(f.create(&a));
    f.kms.schedule_key_deletion(&a, &key, 30).unwrap();
    f.kms
        .update_key_description(&a, &key, "for backups")
        .unwrap();
    assert_eq!(
        f.kms.describe_key(&a, &key).unwrap().description,
        "for backups"
    );
    f.kms
        .tag_resource(
            &a,
            &key,
            vec![
                Tag::new("env", "prod").unwrap(),
                Tag::new("team", "a").unwrap(),
            ],
        )
        .unwrap();
    f.kms
        .tag_resource(&a, &key, vec![Tag::new("env", "dev").unwrap()])
        .unwrap();
    f.kms.untag_resource(&a, &key, &["team".into()]).unwrap();
    assert_eq!(
        f.kms.list_resource_tags(&a, &key).unwrap(),
        vec![Tag::new("env", "dev").unwrap()]
    );
}

/// The key state × operation rules, for the states not covered above: an EXTERNAL key awaiting
/// import.
#[test]
fn pending_import_key_follows_the_state_matrix() {
    let f = Fixture::new();
    let a = alice();
    let key = key_ref(
        f.kms
            .create_key(
                &a,
                CreateKey {
                    origin: Origin::External,
                    ..CreateKey::default()
                },
            )
            .unwrap()
            .key_id,
    );
    assert_eq!(
        code(
            f.kms
                .generate_data_key(&a, GenerateDataKey::new(key.clone()))
        ),
        "Rejected.PendingImport"
    );
    assert_eq!(
        code(f.kms.enable_key(&a, &key)),
        "Rejected.StateModifiedFailed"
    );
    assert_eq!(
        code(f.kms.disable_key(&a, &key)),
        "Rejected.StateModifiedFailed"
    );
    assert_eq!(
        code(f.kms.create_key_version(&a, &key)),
        "Rejected.UnsupportedOperation"
    );
    f.kms
        .create_alias(
            &a,
            &coffer_kms::AliasName::parse("alias/ext").unwrap(),
            &key,
        )
        .unwrap();
    f.kms.schedule_key_deletion(&a, &key, 7).unwrap();
    // No material: cancelling brings it back to PendingImport, not Disabled.
    f.kms.cancel_key_deletion(&a, &key).unwrap();
    assert_eq!(
        f.kms.describe_key(&a, &key).unwrap().key_state,
        KeyState::PendingImport
    );
}
