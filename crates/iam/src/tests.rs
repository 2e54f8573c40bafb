//! Tests of `Iam`: the identity store (keys, limits, persistence, sealing), STS sessions with an
//! explicit clock, authorization of users, groups, roles and bucket policies, and a property test
//! that nothing is allowed without an Allow.

use std::sync::Arc;

use proptest::prelude::*;
use time::macros::datetime;

use super::*;

const ACCOUNT: &str = "1111111111111111";
const ROOT_AK: &str = "LTAIrootrootrootrootroot";
const T0: OffsetDateTime = datetime!(2025-01-15 12:00:00 UTC);

fn root_account() -> RootAccount {
    RootAccount {
        account_id: ACCOUNT.into(),
        access_key_id: ROOT_AK.into(),
        secret: AccessKeySecret::new("root-secret"),
    }
}

fn root() -> Principal {
    Principal::Root {
        account_id: ACCOUNT.into(),
        access_key_id: ROOT_AK.into(),
    }
}

struct Fixture {
    iam: Iam,
    clock: Arc<ManualClock>,
    store: Arc<coffer_records::MemoryRecordStore>,
}

fn fixture() -> Fixture {
    let store = Arc::new(crate::memory_store());
    let clock = Arc::new(ManualClock::new(T0));
    let iam = Iam::open(root_account(), store.clone(), &RootKey::from_bytes([9; 32]))
        .unwrap()
        .with_clock(clock.clone());
    Fixture { iam, clock, store }
}

fn none() -> Conditions {
    Conditions::new()
}

impl Fixture {
    fn admin<T>(&self, f: impl FnOnce(Admin<'_>) -> Result<T>) -> T {
        let root = root();
        let c = none();
        f(self.iam.admin(&root, &c)).unwrap()
    }

    /// A user with one access key; returns its principal.
    fn user(&self, name: &str) -> (Principal, NewAccessKey) {
        self.admin(|a| a.create_user(name, None, None));
        let key = self.admin(|a| a.create_access_key(name));
        let (p, secret) = self
            .iam
            .credentials(&key.info.access_key_id, None, T0)
            .unwrap();
        assert!(secret.ct_eq(key.secret.expose_secret()));
        (p, key)
    }

    fn policy(&self, name: &str, document: &str) {
        self.admin(|a| a.create_policy(name, document, None));
    }

    fn attach(&self, name: &str, target: PolicyTarget) {
        self.admin(|a| a.attach_policy(name, &target));
    }

    fn can(&self, p: &Principal, action: Action, resource: Resource) -> bool {
        self.iam
            .authorize(p, action, resource, PublicAccess::None)
            .is_ok()
    }
}

fn obj(bucket: &str, key: &str) -> Resource {
    Resource::Object {
        bucket: bucket.into(),
        key: key.into(),
    }
}

fn allow(action: &str, resource: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":"{action}","Resource":"{resource}"}}]}}"#
    )
}

fn deny(action: &str, resource: &str) -> String {
    allow(action, resource).replace("Allow", "Deny")
}

// -- identity store -------------------------------------------------------------------------------

#[test]
fn a_user_has_at_most_two_access_keys() {
    let f = fixture();
    let (_, first) = f.user("alice");
    let second = f.admin(|a| a.create_access_key("alice"));
    assert_ne!(first.info.access_key_id, second.info.access_key_id);
    assert!(first.info.access_key_id.starts_with("LTAI"));
    assert_eq!(first.info.access_key_id.len(), 24);
    assert_eq!(first.secret.expose_secret().len(), 30);
    let root = root();
    let third = f.iam.admin(&root, &none()).create_access_key("alice");
    assert!(matches!(third, Err(Error::LimitExceeded(_))), "{third:?}");
    // Disabled keys still count, as in RAM; deleting one makes room.
    f.admin(|a| a.update_access_key("alice", &second.info.access_key_id, KeyStatus::Inactive));
    assert!(
        f.iam
            .admin(&root, &none())
            .create_access_key("alice")
            .is_err()
    );
    f.admin(|a| a.delete_access_key("alice", &second.info.access_key_id));
    f.admin(|a| a.create_access_key("alice"));
    assert_eq!(f.admin(|a| a.access_keys("alice")).len(), 2);
    let secret = first.secret.expose_secret().as_bytes();
    for (_, value) in coffer_records::RecordStore::scan(&*f.store, store::ACCESS_KEYS).unwrap() {
        assert!(!value.windows(secret.len()).any(|w| w == secret));
    }
}

#[test]
fn disabled_and_deleted_keys_are_refused() {
    let f = fixture();
    let (_, key) = f.user("alice");
    let id = key.info.access_key_id.clone();
    f.admin(|a| a.update_access_key("alice", &id, KeyStatus::Inactive));
    assert!(matches!(
        f.iam.credentials(&id, None, T0),
        Err(Error::AccessKeyDisabled)
    ));
    f.admin(|a| a.update_access_key("alice", &id, KeyStatus::Active));
    assert!(f.iam.credentials(&id, None, T0).is_ok());
    f.admin(|a| a.delete_access_key("alice", &id));
    assert!(matches!(
        f.iam.credentials(&id, None, T0),
        Err(Error::InvalidAccessKeyId)
    ));
    assert!(matches!(
        f.iam.credentials("LTAInosuchkeynosuchkey00", None, T0),
        Err(Error::InvalidAccessKeyId)
    ));
}

#[test]
fn deleting_a_user_revokes_its_keys() {
    let f = fixture();
    let (_, key) = f.user("alice");
    f.admin(|a| a.delete_user("alice"));
    assert!(matches!(
        f.iam.credentials(&key.info.access_key_id, None, T0),
        Err(Error::InvalidAccessKeyId)
    ));
    // A new user of the same name gets nothing of the old one.
    f.admin(|a| a.create_user("alice", None, None));
    assert!(f.admin(|a| a.access_keys("alice")).is_empty());
}

#[test]
fn secrets_are_sealed_in_the_store_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iam.redb");
    let key = RootKey::from_bytes([5; 32]);
    let (id, secret) = {
        let store = Arc::new(crate::open_redb_store(&path).unwrap());
        let iam = Iam::open(root_account(), store, &key).unwrap();
        let root = root();
        let c = none();
        let admin = iam.admin(&root, &c);
        admin.create_user("alice", None, None).unwrap();
        admin.create_group("dev", None).unwrap();
        admin.add_user_to_group("dev", "alice").unwrap();
        admin
            .create_policy("read", &allow("oss:GetObject", "*"), None)
            .unwrap();
        admin
            .attach_policy("read", &PolicyTarget::Group("dev".into()))
            .unwrap();
        let k = admin.create_access_key("alice").unwrap();
        (
            k.info.access_key_id.clone(),
            k.secret.expose_secret().to_owned(),
        )
    };
    let raw = std::fs::read(&path).unwrap();
    assert!(
        !raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
        "the secret is stored in plain"
    );
    let store = Arc::new(crate::open_redb_store(&path).unwrap());
    let iam = Iam::open(root_account(), store.clone(), &key).unwrap();
    let (p, s) = iam.credentials(&id, None, T0).unwrap();
    assert!(s.ct_eq(&secret));
    assert!(
        iam.authorize(&p, Action::GetObject, obj("b", "k"), PublicAccess::None)
            .is_ok()
    );
    drop(iam);
    let wrong = Iam::open(root_account(), store, &RootKey::from_bytes([6; 32]));
    assert!(matches!(wrong, Err(Error::Internal(_))));
}

#[test]
fn names_and_duplicates_are_checked() {
    let f = fixture();
    let root = root();
    let c = none();
    let a = f.iam.admin(&root, &c);
    a.create_user("alice", None, None).unwrap();
    assert!(matches!(
        a.create_user("alice", None, None),
        Err(Error::EntityAlreadyExists {
            kind: EntityKind::User,
            ..
        })
    ));
    for bad in ["", "a b", "a/b", &"x".repeat(65)] {
        assert!(
            matches!(
                a.create_user(bad, None, None),
                Err(Error::InvalidParameter {
                    name: "UserName",
                    ..
                })
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        a.user("bob"),
        Err(Error::EntityNotExist {
            kind: EntityKind::User,
            ..
        })
    ));
    assert!(matches!(
        a.create_access_key("bob"),
        Err(Error::EntityNotExist { .. })
    ));
}

#[test]
fn malformed_policies_are_refused_with_the_element_named() {
    let f = fixture();
    let root = root();
    let c = none();
    let a = f.iam.admin(&root, &c);
    let err = a
        .create_policy(
            "p",
            r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject"}]}"#,
            None,
        )
        .unwrap_err();
    assert!(matches!(err, Error::MalformedPolicy(_)), "{err:?}");
    assert!(err.to_string().contains("Resource"), "{err}");
    assert!(matches!(
        a.create_policy("p", "{not json", None),
        Err(Error::MalformedPolicy(_))
    ));
    assert!(a.policies().unwrap().is_empty());
}

#[test]
fn attached_policies_cannot_be_deleted() {
    let f = fixture();
    f.user("alice");
    f.policy("p", &allow("oss:*", "*"));
    f.attach("p", PolicyTarget::User("alice".into()));
    let root = root();
    let c = none();
    let a = f.iam.admin(&root, &c);
    assert!(matches!(
        a.delete_policy("p"),
        Err(Error::DeleteConflict { .. })
    ));
    assert_eq!(a.policy("p").unwrap().attached_to, ["user/alice"]);
    a.detach_policy("p", &PolicyTarget::User("alice".into()))
        .unwrap();
    a.delete_policy("p").unwrap();
}

// -- STS ------------------------------------------------------------------------------------------

const TRUST_ACCOUNT: &str = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::1111111111111111:root"]}}]}"#;

fn role_arn(name: &str) -> String {
    format!("acs:ram::{ACCOUNT}:role/{name}")
}

fn assume(f: &Fixture, caller: &Principal, request: AssumeRoleRequest) -> Result<AssumedRole> {
    let c = none();
    f.iam.admin(caller, &c).assume_role(request)
}

fn request(role: &str, session: &str) -> AssumeRoleRequest {
    AssumeRoleRequest {
        role_arn: role_arn(role),
        session_name: session.into(),
        ..Default::default()
    }
}

fn session_principal(f: &Fixture, creds: &AssumedRole, now: OffsetDateTime) -> Result<Principal> {
    f.iam
        .credentials(
            &creds.access_key_id,
            Some(creds.security_token.expose_secret()),
            now,
        )
        .map(|(p, s)| {
            assert!(s.ct_eq(creds.access_key_secret.expose_secret()));
            p
        })
}

#[test]
fn sts_credentials_work_until_they_expire() {
    let f = fixture();
    f.admin(|a| a.create_role("reader", TRUST_ACCOUNT, None, None));
    f.policy("read", &allow("oss:GetObject", "*"));
    f.attach("read", PolicyTarget::Role("reader".into()));
    let creds = assume(&f, &root(), request("reader", "s1")).unwrap();
    assert!(creds.access_key_id.starts_with("STS."));
    assert_eq!(creds.expiration, T0 + time::Duration::hours(1));
    assert_eq!(creds.arn, format!("acs:ram::{ACCOUNT}:role/reader/s1"));
    assert!(!format!("{creds:?}").contains(creds.security_token.expose_secret()));

    let p = session_principal(&f, &creds, T0 + time::Duration::minutes(59)).unwrap();
    assert!(matches!(&p, Principal::RoleSession { role_name, .. } if role_name == "reader"));
    assert!(f.can(&p, Action::GetObject, obj("b", "k")));
    assert!(!f.can(&p, Action::PutObject, obj("b", "k")));

    let expired = session_principal(&f, &creds, T0 + time::Duration::hours(1));
    assert!(
        matches!(expired, Err(Error::SecurityTokenExpired { .. })),
        "{expired:?}"
    );

    // The token is needed, and only with its own key.
    assert!(matches!(
        f.iam.credentials(&creds.access_key_id, None, T0),
        Err(Error::InvalidSecurityToken)
    ));
    let other = assume(&f, &root(), request("reader", "s2")).unwrap();
    assert!(matches!(
        f.iam.credentials(
            &creds.access_key_id,
            Some(other.security_token.expose_secret()),
            T0
        ),
        Err(Error::InvalidSecurityToken)
    ));
    assert!(matches!(
        f.iam
            .credentials(&creds.access_key_id, Some("CAESforged"), T0),
        Err(Error::InvalidSecurityToken)
    ));
}

#[test]
fn the_clock_decides_expiry_of_custom_durations() {
    let f = fixture();
    f.admin(|a| a.create_role("reader", TRUST_ACCOUNT, None, Some(7200)));
    f.clock.advance(std::time::Duration::from_secs(600));
    let creds = assume(
        &f,
        &root(),
        AssumeRoleRequest {
            duration: Some(time::Duration::seconds(900)),
            ..request("reader", "short")
        },
    )
    .unwrap();
    let issued = T0 + time::Duration::minutes(10);
    assert_eq!(creds.expiration, issued + time::Duration::seconds(900));
    assert!(session_principal(&f, &creds, issued + time::Duration::seconds(899)).is_ok());
    assert!(session_principal(&f, &creds, issued + time::Duration::seconds(900)).is_err());
    for bad in [899, 7201] {
        let r = assume(
            &f,
            &root(),
            AssumeRoleRequest {
                duration: Some(time::Duration::seconds(bad)),
                ..request("reader", "x1")
            },
        );
        assert!(
            matches!(
                r,
                Err(Error::InvalidParameter {
                    name: "DurationSeconds",
                    ..
                })
            ),
            "{bad}"
        );
    }
}

#[test]
fn a_zero_minimum_makes_credentials_that_are_expired_on_arrival() {
    let f = fixture();
    let iam = f.iam.with_min_session_duration(time::Duration::ZERO);
    let root = root();
    let c = none();
    iam.admin(&root, &c)
        .create_role("reader", TRUST_ACCOUNT, None, None)
        .unwrap();
    let creds = iam
        .admin(&root, &c)
        .assume_role(AssumeRoleRequest {
            duration: Some(time::Duration::ZERO),
            ..request("reader", "gone")
        })
        .unwrap();
    let r = iam.credentials(
        &creds.access_key_id,
        Some(creds.security_token.expose_secret()),
        T0,
    );
    assert!(
        matches!(r, Err(Error::SecurityTokenExpired { .. })),
        "{r:?}"
    );
}

#[test]
fn deleting_a_role_revokes_its_sessions() {
    let f = fixture();
    f.admin(|a| a.create_role("reader", TRUST_ACCOUNT, None, None));
    let creds = assume(&f, &root(), request("reader", "s1")).unwrap();
    f.admin(|a| a.delete_role("reader"));
    f.admin(|a| a.create_role("reader", TRUST_ACCOUNT, None, None));
    assert!(matches!(
        session_principal(&f, &creds, T0),
        Err(Error::InvalidSecurityToken)
    ));
}

#[test]
fn assume_role_needs_the_trust_policy_and_the_callers_permission() {
    let f = fixture();
    let trust_alice = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"RAM":["acs:ram::1111111111111111:user/alice"]},"Condition":{"StringEquals":{"sts:ExternalId":"abc"}}}]}"#;
    f.admin(|a| a.create_role("ops", trust_alice, None, None));
    let (alice, _) = f.user("alice");
    let (bob, _) = f.user("bob");
    // Alice is trusted, but her own policies do not allow sts:AssumeRole yet.
    let with_id = || AssumeRoleRequest {
        external_id: Some("abc".into()),
        ..request("ops", "alice-1")
    };
    assert!(matches!(
        assume(&f, &alice, with_id()),
        Err(Error::AccessDenied { .. })
    ));
    f.policy("assume", &allow("sts:AssumeRole", "acs:ram:*:*:role/*"));
    f.attach("assume", PolicyTarget::User("alice".into()));
    f.attach("assume", PolicyTarget::User("bob".into()));
    assert!(assume(&f, &alice, with_id()).is_ok());
    // Wrong external id, or a caller the trust policy does not name.
    let wrong = AssumeRoleRequest {
        external_id: Some("xyz".into()),
        ..request("ops", "alice-1")
    };
    assert!(matches!(
        assume(&f, &alice, wrong),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        assume(&f, &bob, with_id()),
        Err(Error::AccessDenied { .. })
    ));
    assert!(matches!(
        assume(&f, &Principal::Anonymous, with_id()),
        Err(Error::AccessDenied { .. })
    ));
    // Parameters.
    assert!(matches!(
        assume(&f, &alice, request("nosuch", "s1")),
        Err(Error::EntityNotExist { .. })
    ));
    assert!(matches!(
        assume(&f, &alice, request("ops", "x")),
        Err(Error::InvalidParameter {
            name: "RoleSessionName",
            ..
        })
    ));
    let mut other_account = request("ops", "s1");
    other_account.role_arn = "acs:ram::2222222222222222:role/ops".into();
    assert!(matches!(
        assume(&f, &alice, other_account),
        Err(Error::InvalidParameter {
            name: "RoleArn",
            ..
        })
    ));
}

#[test]
fn a_session_policy_narrows_the_role() {
    let f = fixture();
    f.admin(|a| a.create_role("all", TRUST_ACCOUNT, None, None));
    f.policy("all", &allow("oss:*", "*"));
    f.attach("all", PolicyTarget::Role("all".into()));
    let creds = assume(
        &f,
        &root(),
        AssumeRoleRequest {
            policy: Some(allow("oss:GetObject", "acs:oss:*:*:share/*")),
            ..request("all", "narrow")
        },
    )
    .unwrap();
    let p = session_principal(&f, &creds, T0).unwrap();
    assert!(f.can(&p, Action::GetObject, obj("share", "a")));
    assert!(!f.can(&p, Action::PutObject, obj("share", "a")));
    assert!(!f.can(&p, Action::GetObject, obj("private", "a")));
    let bad = assume(
        &f,
        &root(),
        AssumeRoleRequest {
            policy: Some("{}".into()),
            ..request("all", "narrow")
        },
    );
    assert!(matches!(bad, Err(Error::MalformedPolicy(_))));
}

// -- authorization --------------------------------------------------------------------------------

#[test]
fn users_have_nothing_until_a_policy_allows() {
    let f = fixture();
    let (alice, _) = f.user("alice");
    assert!(!f.can(&alice, Action::GetObject, obj("b", "k")));
    assert!(!f.can(&alice, Action::ListBuckets, Resource::Account));
    f.policy(
        "read-b",
        &allow("oss:GetObject", "acs:oss:*:1111111111111111:b/*"),
    );
    f.attach("read-b", PolicyTarget::User("alice".into()));
    assert!(f.can(&alice, Action::GetObject, obj("b", "k")));
    assert!(!f.can(&alice, Action::GetObject, obj("c", "k")));
    assert!(!f.can(&alice, Action::PutObject, obj("b", "k")));
    // The root needs no policy.
    assert!(f.can(&root(), Action::DeleteBucket, Resource::Bucket("b".into())));
}

#[test]
fn group_policies_apply_to_members_and_deny_wins() {
    let f = fixture();
    let (alice, _) = f.user("alice");
    f.admin(|a| a.create_group("dev", None));
    f.policy("all", &allow("oss:*", "*"));
    f.policy("no-delete", &deny("oss:Delete*", "*"));
    f.attach("all", PolicyTarget::User("alice".into()));
    f.attach("no-delete", PolicyTarget::Group("dev".into()));
    assert!(f.can(&alice, Action::DeleteObject, obj("b", "k")));
    f.admin(|a| a.add_user_to_group("dev", "alice"));
    assert!(!f.can(&alice, Action::DeleteObject, obj("b", "k")));
    assert!(f.can(&alice, Action::PutObject, obj("b", "k")));
    f.admin(|a| a.remove_user_from_group("dev", "alice"));
    assert!(f.can(&alice, Action::DeleteObject, obj("b", "k")));
    f.admin(|a| a.add_user_to_group("dev", "alice"));
    f.admin(|a| a.delete_group("dev"));
    assert!(f.can(&alice, Action::DeleteObject, obj("b", "k")));
}

#[test]
fn bucket_policies_grant_and_deny() {
    let f = fixture();
    let (alice, _) = f.user("alice");
    let Principal::User { user_id, .. } = &alice else {
        unreachable!()
    };
    let policy = format!(
        r#"{{"Version":"1","Statement":[
            {{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["{user_id}"],"Resource":["acs:oss:*:{ACCOUNT}:pub/*"]}},
            {{"Effect":"Deny","Action":["oss:*"],"Principal":["*"],"Resource":["acs:oss:*:{ACCOUNT}:pub/*"],"Condition":{{"NotIpAddress":{{"acs:SourceIp":["10.0.0.0/8"]}}}}}}]}}"#
    );
    let document = f.iam.parse_bucket_policy("pub", &policy).unwrap();
    let inside = Conditions::new().source_ip("10.0.0.5".parse().unwrap());
    let outside = Conditions::new().source_ip("203.0.113.5".parse().unwrap());
    let authorize = |p: &Principal, action, doc, c: &Conditions| {
        f.iam
            .authorize_with(p, action, obj("pub", "a"), doc, PublicAccess::None, c)
            .is_ok()
    };
    let get = |p: &Principal, c: &Conditions| authorize(p, Action::GetObject, Some(&document), c);
    assert!(get(&alice, &inside));
    assert!(!get(&alice, &outside));
    // The owner is fenced by a conditional `*` Deny too (worked example E15.3 of the policy
    // tests), not by the Allow.
    assert!(get(&root(), &inside));
    assert!(!get(&root(), &outside));
    assert!(!authorize(
        &alice,
        Action::PutObject,
        Some(&document),
        &inside
    ));
    // Without the bucket's policy, nothing of it applies.
    assert!(!authorize(&alice, Action::GetObject, None, &inside));
    assert!(authorize(&root(), Action::GetObject, None, &outside));
    // Malformed or out-of-bucket policies are refused.
    assert!(matches!(
        f.iam.parse_bucket_policy("pub", "{\"Version\":\"1\"}"),
        Err(Error::MalformedPolicy(_))
    ));
    let elsewhere = policy.replace(":pub/*", ":other/*");
    assert!(matches!(
        f.iam.parse_bucket_policy("pub", &elsewhere),
        Err(Error::MalformedPolicy(_))
    ));
}

#[test]
fn legacy_bucket_policies_are_listed_until_forgotten() {
    let f = fixture();
    let policy = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["*"],"Resource":["acs:oss:*:{ACCOUNT}:old/*"]}}]}}"#
    );
    assert!(f.iam.legacy_bucket_policies().is_empty());
    f.iam.put_legacy_bucket_policy("old", &policy).unwrap();
    assert_eq!(
        f.iam.legacy_bucket_policies(),
        vec![("old".to_owned(), policy)]
    );
    f.iam.forget_legacy_bucket_policy("old").unwrap();
    f.iam.forget_legacy_bucket_policy("old").unwrap();
    assert!(f.iam.legacy_bucket_policies().is_empty());
}

#[test]
fn acls_open_object_reads_to_users_without_policies() {
    let f = fixture();
    let (alice, _) = f.user("alice");
    let read = |public| {
        f.iam
            .authorize(&alice, Action::GetObject, obj("b", "k"), public)
            .is_ok()
    };
    assert!(!read(PublicAccess::None));
    assert!(read(PublicAccess::Read));
    assert!(
        f.iam
            .authorize(
                &alice,
                Action::DeleteBucket,
                Resource::Bucket("b".into()),
                PublicAccess::ReadWrite
            )
            .is_err()
    );
    // An explicit Deny is not overridden by the ACL.
    f.policy("no", &deny("oss:GetObject", "*"));
    f.attach("no", PolicyTarget::User("alice".into()));
    assert!(!read(PublicAccess::Read));
    // Anonymous callers get only what the ACL opens.
    let anon = Principal::Anonymous;
    assert!(
        f.iam
            .authorize(&anon, Action::GetObject, obj("b", "k"), PublicAccess::Read)
            .is_ok()
    );
    assert!(
        f.iam
            .authorize(&anon, Action::PutObject, obj("b", "k"), PublicAccess::Read)
            .is_err()
    );
}

#[test]
fn conditions_are_evaluated_from_the_request() {
    let f = fixture();
    let (alice, _) = f.user("alice");
    f.policy(
        "home",
        r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:ListObjects","Resource":"acs:oss:*:1111111111111111:team","Condition":{"StringLike":{"oss:Prefix":["home/alice/*"]},"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}"#,
    );
    f.attach("home", PolicyTarget::User("alice".into()));
    let list = |c: Conditions| {
        f.iam
            .authorize_with(
                &alice,
                Action::ListObjects,
                Resource::Bucket("team".into()),
                None,
                PublicAccess::None,
                &c,
            )
            .is_ok()
    };
    let ip = || Conditions::new().source_ip("10.9.9.9".parse().unwrap());
    assert!(list(ip().with(keys::OSS_PREFIX, "home/alice/")));
    assert!(!list(ip().with(keys::OSS_PREFIX, "home/bob/")));
    assert!(!list(ip()));
    assert!(!list(
        Conditions::new()
            .source_ip("192.0.2.1".parse().unwrap())
            .with(keys::OSS_PREFIX, "home/alice/")
    ));
}

#[test]
fn kms_checks_follow_the_callers_policies() {
    let f = fixture();
    let (alice, _) = f.user("alice");
    let k1 = f.iam.kms_key_arn("cn-hangzhou", "key-1");
    assert_eq!(k1, format!("acs:kms:cn-hangzhou:{ACCOUNT}:key/key-1"));
    let c = none();
    assert!(f.iam.check_kms(&root(), "kms:Decrypt", &k1, &c).is_ok());
    assert!(f.iam.check_kms(&alice, "kms:Decrypt", &k1, &c).is_err());
    assert!(
        f.iam
            .check_kms(&Principal::Anonymous, "kms:Decrypt", &k1, &c)
            .is_err()
    );
    f.policy(
        "decrypt",
        &allow("kms:Decrypt", "acs:kms:*:1111111111111111:key/*"),
    );
    f.attach("decrypt", PolicyTarget::User("alice".into()));
    assert!(f.iam.check_kms(&alice, "kms:Decrypt", &k1, &c).is_ok());
    let denied = f
        .iam
        .check_kms(&alice, "kms:GenerateDataKey", &k1, &c)
        .unwrap_err();
    assert!(
        matches!(&denied, Error::AccessDenied { action: "kms:GenerateDataKey", resource } if *resource == k1)
    );
}

#[test]
fn ram_administration_needs_ram_permissions() {
    let f = fixture();
    let (alice, _) = f.user("alice");
    let c = none();
    let as_alice = f.iam.admin(&alice, &c);
    assert!(matches!(
        as_alice.create_user("mallory", None, None),
        Err(Error::AccessDenied {
            action: "ram:CreateUser",
            ..
        })
    ));
    assert!(as_alice.users().is_err());
    assert!(
        f.iam
            .admin(&Principal::Anonymous, &c)
            .create_user("mallory", None, None)
            .is_err()
    );
    f.policy("user-admin", &allow("ram:*User", "acs:ram:*:*:user/*"));
    f.attach("user-admin", PolicyTarget::User("alice".into()));
    let as_alice = f.iam.admin(&alice, &c);
    as_alice.create_user("carol", None, None).unwrap();
    // ram:*User does not cover ListUsers' resource or other actions.
    assert!(as_alice.users().is_err());
    assert!(as_alice.create_access_key("carol").is_err());
    assert_eq!(as_alice.caller_identity().unwrap().identity_type, "RAMUser");
}

// -- property: nothing without an Allow -----------------------------------------------------------

fn arb_action() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "*",
        "oss:*",
        "oss:GetObject",
        "oss:Put*",
        "oss:List*",
        "OSS:deleteobject",
        "kms:*",
        "kms:Decrypt",
        "ram:*",
        "sts:AssumeRole",
    ])
}

fn arb_resource() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "*",
        "acs:oss:*:1111111111111111:*",
        "acs:oss:*:1111111111111111:b",
        "acs:oss:*:*:b/*",
        "acs:kms:*:1111111111111111:key/*",
        "acs:ram:*:*:*",
    ])
}

fn arb_condition() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "",
        r#","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#,
        r#","Condition":{"NotIpAddress":{"acs:SourceIp":"10.0.0.0/8"}}"#,
        r#","Condition":{"StringNotEquals":{"oss:Prefix":"x"}}"#,
        r#","Condition":{"Bool":{"acs:SecureTransport":"false"}}"#,
    ])
}

/// A statement that can only ever deny: `Deny`, or an `Allow` of an action no request has.
fn arb_statement(bucket: bool) -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        prop::collection::vec(arb_action(), 1..3),
        any::<bool>(),
        prop::collection::vec(arb_resource(), 1..3),
        arb_condition(),
    )
        .prop_map(move |(not_action, actions, deny, resources, condition)| {
            let actions: Vec<String> = actions.iter().map(|a| format!("\"{a}\"")).collect();
            let (effect, key, actions) = if deny {
                (
                    "Deny",
                    if not_action { "NotAction" } else { "Action" },
                    actions.join(","),
                )
            } else {
                // Allows nothing a request can ask for.
                ("Allow", "Action", "\"none:Nothing\"".to_owned())
            };
            let resources = if bucket {
                "\"acs:oss:*:1111111111111111:b/*\",\"acs:oss:*:1111111111111111:b\"".to_owned()
            } else {
                resources
                    .iter()
                    .map(|r| format!("\"{r}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let principal = if bucket { r#","Principal":["*"]"# } else { "" };
            format!(
                r#"{{"Effect":"{effect}","{key}":[{actions}],"Resource":[{resources}]{principal}{condition}}}"#
            )
        })
}

fn arb_policy(bucket: bool) -> impl Strategy<Value = String> {
    prop::collection::vec(arb_statement(bucket), 1..4)
        .prop_map(|s| format!(r#"{{"Version":"1","Statement":[{}]}}"#, s.join(",")))
}

const ACTIONS: [Action; 6] = [
    Action::GetObject,
    Action::PutObject,
    Action::DeleteObject,
    Action::ListObjects,
    Action::PutBucketEncryption,
    Action::PutBucketPolicy,
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_set_of_policies_without_an_allow_lets_a_ram_user_do_anything(
        user_policies in prop::collection::vec(arb_policy(false), 0..3),
        group_policies in prop::collection::vec(arb_policy(false), 0..3),
        bucket_policy in prop::option::of(arb_policy(true)),
        action in 0..ACTIONS.len(),
        ip in prop::sample::select(vec!["10.1.1.1", "192.0.2.1"]),
        key in prop::sample::select(vec!["k", "x/y"]),
    ) {
        let f = fixture();
        let (alice, _) = f.user("alice");
        f.admin(|a| a.create_group("g", None));
        f.admin(|a| a.add_user_to_group("g", "alice"));
        for (i, p) in user_policies.iter().enumerate() {
            f.policy(&format!("u{i}"), p);
            f.attach(&format!("u{i}"), PolicyTarget::User("alice".into()));
        }
        for (i, p) in group_policies.iter().enumerate() {
            f.policy(&format!("g{i}"), p);
            f.attach(&format!("g{i}"), PolicyTarget::Group("g".into()));
        }
        let bucket_policy = bucket_policy
            .as_deref()
            .map(|p| f.iam.parse_bucket_policy("b", p).unwrap());
        let c = Conditions::new().source_ip(ip.parse().unwrap()).with(keys::OSS_PREFIX, "p");
        let action = ACTIONS[action];
        let resource = if action.is_object_read() || action.is_object_write() {
            obj("b", key)
        } else {
            Resource::Bucket("b".into())
        };
        prop_assert!(f.iam.authorize_with(
            &alice, action, resource, bucket_policy.as_ref(), PublicAccess::None, &c,
        ).is_err());
        let k = f.iam.kms_key_arn("cn-hangzhou", "k1");
        prop_assert!(f.iam.check_kms(&alice, "kms:Decrypt", &k, &c).is_err());
        prop_assert!(f.iam.admin(&alice, &c).create_user("mallory", None, None).is_err());
    }
}
