//! Aliases, the reserved `alias/acs/` space, and the OSS default key.

use coffer_kms::{
    AliasName, GenerateDataKey, KeyFilter, KeyRef, KeyState, OSS_DEFAULT_ALIAS, Page,
    RotationPolicy, alias_arn,
};

use super::*;

fn name(s: &str) -> AliasName {
    AliasName::parse(s).unwrap()
}

#[test]
fn aliases_are_created_resolved_updated_listed_and_deleted() {
    let f = Fixture::new();
    let a = alice();
    let (k1, k2) = (f.create(&a), f.create(&a));
    let alias = name("alias/app");
    f.kms.create_alias(&a, &alias, &key_ref(k1)).unwrap();
    f.kms
        .create_alias(&a, &name("alias/app2"), &key_ref(k1))
        .unwrap();
    assert_eq!(
        code(f.kms.create_alias(&a, &alias, &key_ref(k2))),
        "AliasAlreadyExists"
    );

    let by_alias = KeyRef::Alias(alias.clone());
    let generated = f
        .kms
        .generate_data_key(&a, GenerateDataKey::new(by_alias.clone()))
        .unwrap();
    assert_eq!(
        generated.key_id, k1,
        "the response names the key, never the alias"
    );
    let by_arn = KeyRef::parse(&alias_arn("cn-hangzhou", &a.account_id, &alias)).unwrap();
    assert_eq!(f.kms.describe_key(&a, &by_arn).unwrap().key_id, k1);

    f.kms.update_alias(&a, &alias, &key_ref(k2)).unwrap();
    assert_eq!(f.kms.describe_key(&a, &by_alias).unwrap().key_id, k2);
    let list = f.kms.list_aliases(&a, Page::default()).unwrap();
    assert_eq!(list.total_count, 2);
    assert_eq!(list.items[0].alias_name, alias);
    assert_eq!(
        list.items[0].alias_arn,
        "acs:kms:cn-hangzhou:1234567890123456:alias/app"
    );
    let of_k1 = f
        .kms
        .list_aliases_by_key_id(&a, &key_ref(k1), Page::default())
        .unwrap();
    assert_eq!(of_k1.items.len(), 1);
    assert_eq!(of_k1.items[0].alias_name, name("alias/app2"));

    f.kms.delete_alias(&a, &alias).unwrap();
    assert_eq!(
        code(f.kms.describe_key(&a, &by_alias)),
        "Forbidden.AliasNotFound"
    );
    assert_eq!(
        code(f.kms.delete_alias(&a, &alias)),
        "Forbidden.AliasNotFound"
    );
    assert_eq!(
        code(f.kms.update_alias(&a, &alias, &key_ref(k2))),
        "Forbidden.AliasNotFound"
    );
    // The key outlives its alias; another account has its own alias namespace.
    assert!(f.kms.describe_key(&a, &key_ref(k2)).is_ok());
    let b = bob();
    let kb = f.create(&b);
    f.kms
        .create_alias(&b, &name("alias/app2"), &key_ref(kb))
        .unwrap();
    assert_eq!(
        f.kms
            .describe_key(&a, &KeyRef::Alias(name("alias/app2")))
            .unwrap()
            .key_id,
        k1
    );
}

#[test]
fn alias_rules_are_enforced() {
    let f = Fixture::new();
    let a = alice();
    let k = f.create(&a);
    f.kms
        .create_alias(&a, &name("alias/first"), &key_ref(k))
        .unwrap();
    assert!(AliasName::parse("no-prefix").is_err());
    assert!(KeyRef::parse("alias/has space").is_err());
    assert_eq!(
        code(f.kms.create_alias(
            &a,
            &name("alias/second"),
            &KeyRef::Alias(name("alias/first"))
        )),
        "InvalidParameter"
    );
    for reserved in ["alias/acs/oss", "alias/acs/mine"] {
        let r = name(reserved);
        assert_eq!(
            code(f.kms.create_alias(&a, &r, &key_ref(k))),
            "Unsupported.Alias"
        );
        assert_eq!(
            code(f.kms.update_alias(&a, &r, &key_ref(k))),
            "Unsupported.Alias"
        );
        assert_eq!(code(f.kms.delete_alias(&a, &r)), "Unsupported.Alias");
    }
    let doomed = f.create(&a);
    f.kms
        .schedule_key_deletion(&a, &key_ref(doomed), 7)
        .unwrap();
    assert_eq!(
        code(f.kms.create_alias(&a, &name("alias/x"), &key_ref(doomed))),
        "Rejected.StateModifiedFailed"
    );
    assert_eq!(
        code(
            f.kms
                .update_alias(&a, &name("alias/first"), &key_ref(doomed))
        ),
        "Rejected.PendingDeletion"
    );
    for i in 1..50 {
        f.kms
            .create_alias(&a, &name(&format!("alias/n{i}")), &key_ref(k))
            .unwrap();
    }
    assert_eq!(
        code(f.kms.create_alias(&a, &name("alias/n50"), &key_ref(k))),
        "Rejected.LimitExceeded"
    );
}

#[test]
fn the_oss_default_key_is_created_once_even_under_concurrent_first_use() {
    let f = Fixture::new();
    let a = alice();
    let ids: Vec<KeyId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| f.kms.default_oss_key(&a.account_id).unwrap().key_id))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let keys = f
        .kms
        .list_keys(&a, &KeyFilter::default(), Page::default())
        .unwrap();
    assert_eq!(keys.total_count, 1);
    let meta = f.kms.describe_key(&a, &key_ref(ids[0])).unwrap();
    assert!(meta.is_service_key);
    assert_eq!(meta.creator, "Oss");
    assert_eq!(meta.key_state, KeyState::Enabled);
    let aliases = f.kms.list_aliases(&a, Page::default()).unwrap();
    assert_eq!(aliases.items.len(), 1);
    assert_eq!(aliases.items[0].alias_name.as_str(), OSS_DEFAULT_ALIAS);
    // Other accounts get their own.
    assert_ne!(
        f.kms.default_oss_key(&bob().account_id).unwrap().key_id,
        ids[0]
    );
    // Survives a restart as the same key.
    let f = f.reopen();
    assert_eq!(f.kms.default_oss_key(&a.account_id).unwrap().key_id, ids[0]);
}

#[test]
fn users_can_use_but_not_manage_the_oss_default_key() {
    let f = Fixture::new();
    let a = alice();
    let id = f.kms.default_oss_key(&a.account_id).unwrap().key_id;
    let by_alias = KeyRef::parse(OSS_DEFAULT_ALIAS).unwrap();
    let oss = alice_via_oss("oss:bucket/object");
    let dk = f
        .kms
        .generate_data_key(&oss, GenerateDataKey::new(by_alias.clone()))
        .unwrap();
    assert_eq!(dk.key_id, id);
    let key = key_ref(id);
    for result in [
        f.kms.disable_key(&a, &key),
        f.kms.enable_key(&a, &key),
        f.kms.schedule_key_deletion(&a, &key, 7).map(|_| ()),
        f.kms
            .update_rotation_policy(&a, &key, RotationPolicy::Disabled),
        f.kms.create_key_version(&a, &key).map(|_| ()),
    ] {
        assert_eq!(code(result), "Rejected.UnsupportedOperation");
    }
    // Users may still point their own aliases at it.
    f.kms.create_alias(&a, &name("alias/mine"), &key).unwrap();
}
