//! Key versions, manual and automatic rotation.

use std::sync::Arc;

use coffer_kms::{
    AutomaticRotation, CreateKey, Decrypt, GenerateDataKey, KeyVersionId, MemoryAuditLog, Page,
    RotationPolicy,
};

use super::*;

#[test]
fn ciphertexts_from_before_and_after_a_rotation_both_decrypt() {
    let f = Fixture::new();
    let a = alice();
    let id = f.create(&a);
    let key = key_ref(id);
    let v1 = f
        .kms
        .describe_key(&a, &key)
        .unwrap()
        .primary_key_version
        .unwrap();
    let before = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(id))
        .unwrap();
    assert_eq!(before.key_version_id, v1);

    f.clock.advance(DAY);
    let v2 = f.kms.create_key_version(&a, &key).unwrap();
    assert_eq!(v2.creation_date, f.now());
    let meta = f.kms.describe_key(&a, &key).unwrap();
    assert_eq!(meta.primary_key_version, Some(v2.key_version_id));
    assert_ne!(v2.key_version_id, v1);
    assert_eq!(meta.last_rotation_date, Some(f.now()));

    let after = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(id))
        .unwrap();
    assert_eq!(after.key_version_id, v2.key_version_id);
    for (generated, version) in [(&before, v1), (&after, v2.key_version_id)] {
        let d = f
            .kms
            .decrypt(
                &a,
                Decrypt::new(generated.ciphertext_blob.clone(), ctx(&[])),
            )
            .unwrap();
        assert_eq!(d.key_version_id, version);
        assert_eq!(
            d.plaintext.expose_secret(),
            generated.plaintext.expose_secret()
        );
    }

    let versions = f.kms.list_key_versions(&a, &key, Page::default()).unwrap();
    assert_eq!(
        versions
            .items
            .iter()
            .map(|v| v.key_version_id)
            .collect::<Vec<_>>(),
        vec![v1, v2.key_version_id]
    );
    assert_eq!(
        f.kms.describe_key_version(&a, &key, &v1).unwrap().key_id,
        id
    );
    assert_eq!(
        code(
            f.kms
                .describe_key_version(&a, &key, &KeyVersionId::random())
        ),
        "Forbidden.KeyVersionNotFound"
    );
    // Versions survive a restart in order, and old blobs still decrypt.
    let f = f.reopen();
    let versions = f.kms.list_key_versions(&a, &key, Page::default()).unwrap();
    assert_eq!(versions.items[0].key_version_id, v1);
    assert!(
        f.kms
            .decrypt(&a, Decrypt::new(before.ciphertext_blob.clone(), ctx(&[])))
            .is_ok()
    );
}

#[test]
fn automatic_rotation_happens_in_tick_when_due() {
    let f = Fixture::new();
    let a = alice();
    let id = f
        .kms
        .create_key(
            &a,
            CreateKey {
                rotation: RotationPolicy::Automatic(30 * DAY),
                ..CreateKey::default()
            },
        )
        .unwrap()
        .key_id;
    let key = key_ref(id);
    let v1 = f.kms.describe_key(&a, &key).unwrap().primary_key_version;
    let old = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(id))
        .unwrap();

    assert!(f.advance_and_tick(29 * DAY).rotated.is_empty());
    assert_eq!(f.advance_and_tick(DAY).rotated, vec![id]);
    let meta = f.kms.describe_key(&a, &key).unwrap();
    assert_ne!(meta.primary_key_version, v1);
    assert_eq!(meta.automatic_rotation, AutomaticRotation::Enabled);
    assert_eq!(meta.last_rotation_date, Some(f.now()));
    assert_eq!(meta.next_rotation_date, Some(f.now() + 30 * DAY));
    assert!(
        f.kms
            .decrypt(&a, Decrypt::new(old.ciphertext_blob, ctx(&[])))
            .is_ok()
    );
    // A second tick at the same time has nothing to do.
    assert!(f.kms.tick(f.now()).unwrap().rotated.is_empty());

    // A disabled key is not rotated; turning rotation off stops it.
    f.kms.disable_key(&a, &key).unwrap();
    assert!(f.advance_and_tick(31 * DAY).rotated.is_empty());
    f.kms.enable_key(&a, &key).unwrap();
    assert_eq!(f.kms.tick(f.now()).unwrap().rotated, vec![id]);
    f.kms
        .update_rotation_policy(&a, &key, RotationPolicy::Disabled)
        .unwrap();
    assert!(f.advance_and_tick(100 * DAY).rotated.is_empty());
    let meta = f.kms.describe_key(&a, &key).unwrap();
    assert_eq!(meta.automatic_rotation, AutomaticRotation::Disabled);
    assert_eq!(meta.next_rotation_date, None);
    assert_eq!(
        f.kms
            .list_key_versions(&a, &key, Page::default())
            .unwrap()
            .total_count,
        3
    );

    // Turning it on again with an interval already exceeded rotates at the next tick.
    f.kms
        .update_rotation_policy(&a, &key, RotationPolicy::Automatic(7 * DAY))
        .unwrap();
    assert_eq!(f.kms.tick(f.now()).unwrap().rotated, vec![id]);
}

#[test]
fn rotation_policy_limits_and_states() {
    let f = Fixture::new();
    let a = alice();
    let key = key_ref(f.create(&a));
    let set = |d: Duration| {
        f.kms
            .update_rotation_policy(&a, &key, RotationPolicy::Automatic(d))
    };
    assert_eq!(code(set(6 * DAY)), "InvalidParameter");
    assert_eq!(code(set(731 * DAY)), "InvalidParameter");
    set(7 * DAY).unwrap();
    set(730 * DAY).unwrap();
    f.kms.disable_key(&a, &key).unwrap();
    assert_eq!(code(set(30 * DAY)), "Rejected.Disabled");
    assert_eq!(
        code(f.kms.create_key_version(&a, &key)),
        "Rejected.Disabled"
    );
    f.kms.schedule_key_deletion(&a, &key, 7).unwrap();
    assert_eq!(
        code(f.kms.create_key_version(&a, &key)),
        "Rejected.PendingDeletion"
    );
}

#[test]
fn a_minimum_gap_between_manual_versions_can_be_configured() {
    let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0)));
    let kms = Kms::with_store(
        Box::new(coffer_kms::memory_store()),
        Box::new(MemoryAuditLog::new()),
        &RootKey::generate(),
        Config {
            min_key_version_interval: Some(7 * DAY),
            ..Config::default()
        },
        clock.clone(),
    )
    .unwrap();
    let a = alice();
    let key = key_ref(kms.create_key(&a, CreateKey::default()).unwrap().key_id);
    assert_eq!(
        code(kms.create_key_version(&a, &key)),
        "Rejected.LimitExceeded"
    );
    clock.advance(7 * DAY);
    kms.create_key_version(&a, &key).unwrap();
}
