//! Tests of the access layer over a real metadata store (redb in a temporary directory) and real
//! identities: bucket policies stored with their bucket and moved from older identity stores, the
//! ACL fallback, the extra permissions of object-creating writes, and request facts as conditions.

use coffer_iam::PolicyTarget;
use coffer_meta::PutCondition;
use coffer_meta::conformance::{bucket_name, object_key, test_bucket, test_object};
use coffer_meta_redb::RedbMetaStore;
use coffer_types::AccessKeySecret;
use time::macros::datetime;

use super::*;

const ACCOUNT: &str = "1111111111111111";

struct Fixture {
    _dir: tempfile::TempDir,
    iam: Arc<Iam>,
    meta: Arc<dyn MetaStore>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let meta = RedbMetaStore::open(&dir.path().join("meta.redb")).expect("open meta");
    let iam = Iam::new(
        ACCOUNT.into(),
        "LTAIrootrootrootroot".into(),
        AccessKeySecret::new("root-secret"),
    );
    Fixture {
        _dir: dir,
        iam: Arc::new(iam),
        meta: Arc::new(meta),
    }
}

impl Fixture {
    async fn access(&self) -> Access {
        Access::open(
            self.iam.clone(),
            self.meta.clone(),
            None,
            "cn-hangzhou".into(),
        )
        .await
        .expect("open access")
    }

    fn root(&self) -> Principal {
        Principal::Root {
            account_id: ACCOUNT.into(),
            access_key_id: "LTAIrootrootrootroot".into(),
        }
    }

    /// A RAM user with one access key and the given identity policy (if any).
    fn user(&self, name: &str, policy: Option<&str>) -> Principal {
        let root = self.root();
        let none = Conditions::new();
        let admin = self.iam.admin(&root, &none);
        admin.create_user(name, None, None).expect("user");
        if let Some(doc) = policy {
            admin.create_policy(name, doc, None).expect("policy");
            admin
                .attach_policy(name, &PolicyTarget::User(name.into()))
                .expect("attach");
        }
        let key = admin.create_access_key(name).expect("key");
        self.iam
            .credentials(&key.info.access_key_id, None, self.iam.now())
            .expect("credentials")
            .0
    }
}

fn facts() -> RequestFacts {
    RequestFacts::at(datetime!(2025-01-15 12:00:00 UTC))
}

fn read_policy(bucket: &str) -> String {
    format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":["oss:GetObject"],"Principal":["*"],"Resource":["acs:oss:*:{ACCOUNT}:{bucket}/*"]}}]}}"#
    )
}

async fn can(
    access: &Access,
    who: &Principal,
    action: Action,
    target: Target<'_>,
    facts: &RequestFacts,
) -> bool {
    match access.authorize(who, action, target, facts).await {
        Ok(grant) => {
            assert_eq!(grant.action(), action);
            true
        }
        Err(Error::Iam(coffer_iam::Error::AccessDenied { .. })) => false,
        Err(other) => panic!("unexpected error: {other}"),
    }
}

#[tokio::test]
async fn legacy_bucket_policies_move_into_their_buckets_once() {
    let f = fixture();
    f.meta
        .create_bucket(test_bucket("old"))
        .await
        .expect("bucket");
    f.meta
        .create_bucket(test_bucket("kept"))
        .await
        .expect("bucket");
    f.meta
        .set_bucket_policy(&bucket_name("kept"), Some(read_policy("kept")))
        .await
        .expect("policy");
    let stale = read_policy("kept").replace("GetObject", "ListObjects");
    for (bucket, text) in [
        ("old", read_policy("old")),
        ("gone", read_policy("gone")),
        // A crash after the move but before the identity store forgot it.
        ("kept", stale),
    ] {
        f.iam
            .put_legacy_bucket_policy(bucket, &text)
            .expect("legacy policy");
    }
    let access = f.access().await;
    let policy_of = |b: &'static str| {
        let meta = f.meta.clone();
        async move {
            meta.bucket(&bucket_name(b))
                .await
                .expect("read")
                .and_then(|r| r.policy)
        }
    };
    assert_eq!(policy_of("old").await, Some(read_policy("old")));
    assert_eq!(policy_of("kept").await, Some(read_policy("kept")));
    assert!(
        f.meta
            .bucket(&bucket_name("gone"))
            .await
            .expect("read")
            .is_none()
    );
    assert!(f.iam.legacy_bucket_policies().is_empty());
    // The moved policy decides: anyone may read objects of `old`.
    let anonymous = Principal::Anonymous;
    let (old, k) = (bucket_name("old"), object_key("k"));
    assert!(
        can(
            &access,
            &anonymous,
            Action::GetObject,
            Target::object(&old, &k),
            &facts()
        )
        .await
    );
    // Opening again changes nothing.
    drop(access);
    f.access().await;
    assert_eq!(policy_of("old").await, Some(read_policy("old")));
}

#[tokio::test]
async fn bucket_policy_is_stored_with_the_bucket_and_dies_with_it() {
    let f = fixture();
    let access = f.access().await;
    let root = f.root();
    let alice = f.user("alice", None);
    let (b, k) = (bucket_name("pub"), object_key("a"));
    let put = |text: String| {
        let access = &access;
        let root = &root;
        let b = &b;
        async move {
            let grant = access
                .authorize(root, Action::PutBucketPolicy, Target::bucket(b), &facts())
                .await
                .expect("grant");
            access.put_bucket_policy(&grant, b, &text).await
        }
    };
    assert!(matches!(
        put(read_policy("pub")).await,
        Err(Error::NoSuchBucket { .. })
    ));
    f.meta
        .create_bucket(test_bucket("pub"))
        .await
        .expect("bucket");
    assert!(
        !can(
            &access,
            &alice,
            Action::GetObject,
            Target::object(&b, &k),
            &facts()
        )
        .await
    );
    put(read_policy("pub")).await.expect("put policy");
    assert!(
        can(
            &access,
            &alice,
            Action::GetObject,
            Target::object(&b, &k),
            &facts()
        )
        .await
    );
    assert!(
        !can(
            &access,
            &alice,
            Action::PutObject,
            Target::object(&b, &k),
            &facts()
        )
        .await
    );
    // Malformed, or reaching outside the bucket: refused, nothing changed.
    for bad in ["{\"Version\":\"1\"}".to_owned(), read_policy("other")] {
        assert!(matches!(
            put(bad).await,
            Err(Error::Iam(coffer_iam::Error::MalformedPolicy(_)))
        ));
    }
    let get = access
        .authorize(&root, Action::GetBucketPolicy, Target::bucket(&b), &facts())
        .await
        .expect("grant");
    assert_eq!(
        access.bucket_policy(&get, &b).await.expect("policy"),
        read_policy("pub")
    );
    // A grant for another action does not do.
    assert!(matches!(
        access.delete_bucket_policy(&get, &b).await,
        Err(Error::Iam(coffer_iam::Error::AccessDenied { .. }))
    ));
    // Deleting the bucket is one write that takes the policy along.
    f.meta.delete_bucket(&b).await.expect("delete bucket");
    f.meta
        .create_bucket(test_bucket("pub"))
        .await
        .expect("bucket");
    assert!(
        !can(
            &access,
            &alice,
            Action::GetObject,
            Target::object(&b, &k),
            &facts()
        )
        .await
    );
    assert!(matches!(
        access.bucket_policy(&get, &b).await,
        Err(Error::Iam(coffer_iam::Error::NoSuchBucketPolicy))
    ));
}

#[tokio::test]
async fn acls_open_object_access_when_no_policy_decides() {
    let f = fixture();
    let access = f.access().await;
    let anonymous = Principal::Anonymous;
    let mut bucket = test_bucket("acl");
    bucket.acl = Acl::PublicRead;
    f.meta.create_bucket(bucket).await.expect("bucket");
    let b = bucket_name("acl");
    let mut private = test_object("private", 1, &[]);
    private.acl = Acl::Private;
    f.meta
        .put_object(&b, private, PutCondition::None)
        .await
        .expect("object");
    let (open, closed) = (object_key("open"), object_key("private"));
    let get = |k| Target::object(&b, k);
    assert!(can(&access, &anonymous, Action::GetObject, get(&open), &facts()).await);
    assert!(
        !can(
            &access,
            &anonymous,
            Action::GetObject,
            get(&closed),
            &facts()
        )
        .await
    );
    assert!(!can(&access, &anonymous, Action::PutObject, get(&open), &facts()).await);
    assert!(
        !can(
            &access,
            &anonymous,
            Action::ListObjects,
            Target::bucket(&b),
            &facts()
        )
        .await
    );
}

#[tokio::test]
async fn creating_writes_that_set_acl_or_tags_need_those_permissions_too() {
    let f = fixture();
    let access = f.access().await;
    let put_only = format!(
        r#"{{"Version":"1","Statement":[{{"Effect":"Allow","Action":["oss:PutObject"],"Resource":["acs:oss:*:{ACCOUNT}:wrt/*"]}}]}}"#
    );
    let alice = f.user("alice", Some(&put_only));
    f.meta
        .create_bucket(test_bucket("wrt"))
        .await
        .expect("bucket");
    let (b, k) = (bucket_name("wrt"), object_key("k"));
    let put = Target::object(&b, &k);
    assert!(can(&access, &alice, Action::PutObject, put, &facts()).await);
    let with_acl = RequestFacts {
        sets_object_acl: true,
        ..facts()
    };
    assert!(!can(&access, &alice, Action::PutObject, put, &with_acl).await);
    let with_tags = RequestFacts {
        sets_object_tags: true,
        ..facts()
    };
    assert!(!can(&access, &alice, Action::PutObject, put, &with_tags).await);
    assert!(can(&access, &f.root(), Action::PutObject, put, &with_acl).await);
}

#[tokio::test]
async fn request_facts_are_the_conditions_policies_test() {
    let f = fixture();
    let access = f.access().await;
    let fenced = format!(
        r#"{{"Version":"1","Statement":[
            {{"Effect":"Allow","Action":["oss:ListObjects"],"Resource":["acs:oss:*:{ACCOUNT}:team"],"Condition":{{"StringLike":{{"oss:Prefix":["home/alice/*"]}},"IpAddress":{{"acs:SourceIp":"10.0.0.0/8"}}}}}},
            {{"Effect":"Allow","Action":["oss:PutObject"],"Resource":["acs:oss:*:{ACCOUNT}:team/*"],"Condition":{{"StringEquals":{{"oss:x-oss-server-side-encryption":"KMS","oss:RequestObjectTag/team":"a"}}}}}}]}}"#
    );
    let alice = f.user("alice", Some(&fenced));
    f.meta
        .create_bucket(test_bucket("team"))
        .await
        .expect("bucket");
    let b = bucket_name("team");
    let list = |ip: &str, prefix: &str| RequestFacts {
        source_ip: Some(ip.parse().expect("ip")),
        list_prefix: Some(prefix.into()),
        ..facts()
    };
    let target = Target::bucket(&b);
    assert!(
        can(
            &access,
            &alice,
            Action::ListObjects,
            target,
            &list("10.1.2.3", "home/alice/x")
        )
        .await
    );
    assert!(
        !can(
            &access,
            &alice,
            Action::ListObjects,
            target,
            &list("10.1.2.3", "home/bob/")
        )
        .await
    );
    assert!(
        !can(
            &access,
            &alice,
            Action::ListObjects,
            target,
            &list("192.0.2.1", "home/alice/")
        )
        .await
    );
    let k = object_key("k");
    let write = |sse: &str, tag: &str| RequestFacts {
        write_headers: vec![("x-oss-server-side-encryption".into(), sse.into())],
        object_tags: vec![("team".into(), tag.into())],
        ..facts()
    };
    let put = Target::object(&b, &k);
    assert!(can(&access, &alice, Action::PutObject, put, &write("KMS", "a")).await);
    assert!(
        !can(
            &access,
            &alice,
            Action::PutObject,
            put,
            &write("AES256", "a")
        )
        .await
    );
    assert!(!can(&access, &alice, Action::PutObject, put, &write("KMS", "b")).await);
    // The grant carries the conditions it was decided under (for later kms:* checks).
    let grant = access
        .authorize(&alice, Action::PutObject, put, &write("KMS", "a"))
        .await
        .expect("grant");
    assert_eq!(
        grant.conditions().get("oss:x-oss-server-side-encryption"),
        Some("KMS")
    );
}

#[tokio::test]
async fn a_bucket_default_cmk_is_checked_on_the_key_its_alias_names() {
    use coffer_kms::{AliasName, Caller, CreateKey, KeyRef, Kms, RootKey};
    let f = fixture();
    let kms = Arc::new(
        Kms::open(
            &f._dir.path().join("kms.redb"),
            &RootKey::from_bytes([7; 32]),
            coffer_kms::Config::default(),
            Arc::new(coffer_kms::SystemClock),
        )
        .expect("kms"),
    );
    let owner = Caller::api(
        coffer_kms::AccountId::parse(ACCOUNT).expect("account"),
        "root",
    );
    let key = kms.create_key(&owner, CreateKey::default()).expect("key");
    let alias = AliasName::parse("alias/mine").expect("alias");
    kms.create_alias(&owner, &alias, &KeyRef::Id(key.key_id))
        .expect("alias");
    let access = Access::open(
        f.iam.clone(),
        f.meta.clone(),
        Some(kms),
        "cn-hangzhou".into(),
    )
    .await
    .expect("open access");
    let policy = format!(
        r#"{{"Version":"1","Statement":[
            {{"Effect":"Allow","Action":["oss:PutBucketEncryption"],"Resource":["acs:oss:*:{ACCOUNT}:enc"]}},
            {{"Effect":"Allow","Action":["kms:DescribeKey","kms:ListKeys"],"Resource":["acs:kms:*:{ACCOUNT}:key/{}"]}}]}}"#,
        key.key_id
    );
    let alice = f.user("alice", Some(&policy));
    f.meta
        .create_bucket(test_bucket("enc"))
        .await
        .expect("bucket");
    let b = bucket_name("enc");
    let grant = access
        .authorize(
            &alice,
            Action::PutBucketEncryption,
            Target::bucket(&b),
            &facts(),
        )
        .await
        .expect("grant");
    let check = |given: String| {
        let access = &access;
        let grant = &grant;
        async move {
            access
                .check_bucket_encryption_key(grant, &given)
                .await
                .is_ok()
        }
    };
    assert!(check(key.key_id.to_string()).await);
    assert!(
        check("alias/mine".into()).await,
        "the alias names the allowed key"
    );
    assert!(
        !check("alias/other".into()).await,
        "an unknown alias is checked as given"
    );
    let bob = f.user("bob", None);
    let root_grant = access
        .authorize(
            &f.root(),
            Action::PutBucketEncryption,
            Target::bucket(&b),
            &facts(),
        )
        .await
        .expect("grant");
    assert!(
        access
            .check_bucket_encryption_key(&root_grant, "alias/mine")
            .await
            .is_ok()
    );
    assert!(
        access
            .authorize(
                &bob,
                Action::PutBucketEncryption,
                Target::bucket(&b),
                &facts()
            )
            .await
            .is_err()
    );
}

#[test]
fn the_default_key_needs_no_allow_but_yields_to_an_explicit_deny() {
    let f = fixture();
    let rules = crate::kms::KeyRules {
        iam: f.iam.clone(),
        kms: None,
        region: "cn-hangzhou".into(),
    };
    let none = Conditions::new();
    let (default, named) = ("default-key-id", "named-key-id");
    let plain = f.user("plain", None);
    assert!(rules.check_decrypt(&plain, &none, default, default).is_ok());
    assert!(rules.check_decrypt(&plain, &none, named, default).is_err());
    let denied = f.user(
        "denied",
        Some(r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":["kms:Decrypt"],"Resource":["*"]}]}"#),
    );
    assert!(
        rules
            .check_decrypt(&denied, &none, default, default)
            .is_err()
    );
    let other = f.user(
        "other",
        Some(r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":["kms:Decrypt"],"Resource":["acs:kms:*:*:key/named-key-id"]}]}"#),
    );
    assert!(rules.check_decrypt(&other, &none, default, default).is_ok());
    assert!(
        rules
            .check_decrypt(&f.root(), &none, default, default)
            .is_ok()
    );
}

#[test]
fn uploads_under_the_default_key_yield_to_an_explicit_deny_of_generate_data_key() {
    let f = fixture();
    let rules = crate::kms::KeyRules {
        iam: f.iam.clone(),
        kms: None,
        region: "cn-hangzhou".into(),
    };
    let none = Conditions::new();
    let default = "default-key-id";
    let plain = f.user("plain", None);
    assert!(rules.check_default_encrypt(&plain, &none, default).is_ok());
    let denied = f.user(
        "denied",
        Some(r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":["kms:GenerateDataKey"],"Resource":["*"]}]}"#),
    );
    assert!(
        rules
            .check_default_encrypt(&denied, &none, default)
            .is_err()
    );
    let reader = f.user(
        "reader",
        Some(r#"{"Version":"1","Statement":[{"Effect":"Deny","Action":["kms:Decrypt"],"Resource":["*"]}]}"#),
    );
    assert!(rules.check_default_encrypt(&reader, &none, default).is_ok());
    assert!(
        rules
            .check_default_encrypt(&f.root(), &none, default)
            .is_ok()
    );
}
