//! Policy evaluation against worked examples and our own cases, malformed policies, and property
//! tests. The example policies E1–E15 and their decisions were worked out apart from this code,
//! from the rules of the Alibaba Cloud RAM documentation ("Policy elements", "Policy evaluation
//! logic") and the OSS documentation ("Bucket Policy"); keep them unchanged unless those rules
//! turn out to be misread.

use proptest::prelude::*;

use super::*;
use Decision::{Allow, ExplicitDeny, ImplicitDeny};

const ACCOUNT: &str = "1111111111111111";
const OTHER_ACCOUNT: &str = "2222222222222222";

/// One check of a request: action @ resource.
type Checks = &'static [(&'static str, &'static str)];
/// Condition keys and values.
type Context = &'static [(&'static str, &'static str)];

fn alice() -> Caller {
    Caller::User {
        account_id: ACCOUNT.into(),
        user_id: "2000000000000001".into(),
        user_name: "alice".into(),
    }
}

fn bob_of_other_account() -> Caller {
    Caller::User {
        account_id: OTHER_ACCOUNT.into(),
        user_id: "2000000000000002".into(),
        user_name: "bob".into(),
    }
}

fn root(account: &str) -> Caller {
    Caller::Root {
        account_id: account.into(),
    }
}

fn reader_session() -> Caller {
    Caller::RoleSession {
        account_id: ACCOUNT.into(),
        role_id: "300000000000000001".into(),
        role_name: "ossreader".into(),
        session_name: "alice".into(),
    }
}

fn parse(kind: PolicyKind, json: &str) -> PolicyDocument {
    PolicyDocument::parse_as(kind, json).unwrap_or_else(|e| panic!("{e}\n{json}"))
}

fn facts(caller: Caller, action: &str, resource: &str, context: &[(&str, &str)]) -> RequestFacts {
    context
        .iter()
        .fold(RequestFacts::new(caller, action, resource), |f, (k, v)| {
            f.with_value(k, *v)
        })
}

/// Evaluates one RAM policy for `facts` with [`evaluate`].
fn check(policy_json: &str, facts: RequestFacts, expected: Decision) {
    let policy = parse(PolicyKind::Identity, policy_json);
    assert_eq!(
        evaluate(&[&policy], &facts),
        expected,
        "{} @ {} with {facts:?}\n{policy_json}",
        facts.action(),
        facts.resource()
    );
}

/// The policies around one request, for [`check_request`].
#[derive(Default, Clone, Copy)]
struct Setup<'a> {
    identity: &'a [&'a str],
    session: Option<&'a str>,
    bucket: Option<&'a str>,
}

impl<'a> Setup<'a> {
    fn ram(self, identity: &'a [&'a str]) -> Self {
        Setup { identity, ..self }
    }

    fn session(self, session: &'a str) -> Self {
        Setup {
            session: Some(session),
            ..self
        }
    }

    fn bucket(self, bucket: &'a str) -> Self {
        Setup {
            bucket: Some(bucket),
            ..self
        }
    }
}

/// Evaluates every check of one request with [`evaluate_with_resource_policy`] and combines them
/// with [`Decision::all`], as the worked examples do.
fn check_request(
    id: &str,
    setup: Setup<'_>,
    caller: Caller,
    checks: &[(&str, &str)],
    context: &[(&str, &str)],
    expected: Decision,
) {
    let identity: Vec<PolicyDocument> = setup
        .identity
        .iter()
        .map(|p| parse(PolicyKind::Identity, p))
        .collect();
    let identity: Vec<&PolicyDocument> = identity.iter().collect();
    let session = setup.session.map(|p| parse(PolicyKind::Session, p));
    let bucket = setup.bucket.map(|p| parse(PolicyKind::Bucket, p));
    let decisions = checks.iter().map(|(action, resource)| {
        let f = facts(caller.clone(), action, resource, context);
        evaluate_with_resource_policy(&identity, session.as_ref(), bucket.as_ref(), &f)
    });
    assert_eq!(Decision::all(decisions), expected, "{id}");
}

// ---------------------------------------------------------------------------------------------
// The worked examples E1–E15.

// E1. Read-only on one bucket
const E1: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": ["oss:ListObjects", "oss:GetBucketInfo"], "Resource": ["acs:oss:*:1111111111111111:photos"]},
  {"Effect": "Allow", "Action": ["oss:GetObject"], "Resource": ["acs:oss:*:1111111111111111:photos/*"]}
]}"#;
// E2. Home directory (prefix-limited list + read/write)
const E2: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:ListObjects", "Resource": "acs:oss:*:1111111111111111:team", "Condition": {"StringLike": {"oss:Prefix": ["home/alice/*"]}}},
  {"Effect": "Allow", "Action": ["oss:GetObject", "oss:PutObject", "oss:DeleteObject"], "Resource": "acs:oss:*:1111111111111111:team/home/alice/*"}
]}"#;
// E3. Everything in OSS except deletes
const E3: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:*", "Resource": "*"},
  {"Effect": "Deny", "Action": ["oss:Delete*", "oss:AbortMultipartUpload"], "Resource": "*"}
]}"#;
// E4. Source-IP restriction
const E4: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:*", "Resource": ["acs:oss:*:1111111111111111:data", "acs:oss:*:1111111111111111:data/*"], "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "192.0.2.7"]}}}
]}"#;
// E5. HTTPS only (deny plain HTTP)
const E5: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:1111111111111111:docs/*"},
  {"Effect": "Deny", "Action": "oss:*", "Resource": "*", "Condition": {"Bool": {"acs:SecureTransport": ["false"]}}}
]}"#;
// E6. Time-boxed access
const E6: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": ["oss:GetObject", "oss:ListObjects"], "Resource": ["acs:oss:*:1111111111111111:audit", "acs:oss:*:1111111111111111:audit/*"], "Condition": {"DateGreaterThanEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}, "DateLessThan": {"acs:CurrentTime": "2025-02-01T00:00:00Z"}}}
]}"#;
// E7. Bucket-encryption admin with a named CMK
const E7: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": ["oss:PutBucketEncryption", "oss:GetBucketEncryption", "oss:DeleteBucketEncryption"], "Resource": "acs:oss:*:1111111111111111:secure"},
  {"Effect": "Allow", "Action": ["kms:List*", "kms:DescribeKey"], "Resource": "acs:kms:*:1111111111111111:*"}
]}"#;
// E8. Uploader for an SSE-KMS bucket pinned to one CMK
const E8: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": ["oss:PutObject", "oss:AbortMultipartUpload", "oss:ListParts"], "Resource": "acs:oss:*:1111111111111111:secure/*"},
  {"Effect": "Allow", "Action": ["kms:List*", "kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt"], "Resource": "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001"}
]}"#;
// E9. Downloader for SSE-KMS objects
const E9: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:1111111111111111:secure/*"},
  {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "acs:kms:*:1111111111111111:key/*"}
]}"#;
// E10. NotAction: everything except KMS
const E10: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "NotAction": ["kms:*", "ram:*"], "Resource": "*"}
]}"#;
// E11. Require SSE-KMS on upload (coffer condition key)
const E11: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:PutObject", "Resource": "acs:oss:*:1111111111111111:vault/*"},
  {"Effect": "Deny", "Action": "oss:PutObject", "Resource": "acs:oss:*:1111111111111111:vault/*", "Condition": {"StringNotEquals": {"oss:x-oss-server-side-encryption": "KMS"}}}
]}"#;
// E12. KMS use limited by key tag
const E12: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*", "Condition": {"StringEqualsIgnoreCase": {"kms:tag/Project": ["Apollo"]}}}
]}"#;
// E13. Single-character wildcard in resource
const E13: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:1111111111111111:logs-202?/*"}
]}"#;
// E14. STS session policy narrows a role
const E14: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:*", "Resource": "*"}
]}"#;
const E14_SESSION: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": "oss:GetObject", "Resource": "acs:oss:*:1111111111111111:share/*"}
]}"#;
// E15. Bucket policy: cross-account read, network fence
const E15: &str = r#"{"Version": "1", "Statement": [
  {"Effect": "Allow", "Action": ["oss:GetObject"], "Principal": ["2222222222222222"], "Resource": ["acs:oss:*:1111111111111111:pub/*"]},
  {"Effect": "Deny", "Action": ["oss:*"], "Principal": ["*"], "Resource": ["acs:oss:*:1111111111111111:pub/*"], "Condition": {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/8"]}}}
]}"#;

/// E1–E13: identity policies of alice, a RAM user of the owning account.
#[rustfmt::skip]
const IDENTITY_EXAMPLES: &[(&str, &str, Checks, Context, Decision)] = &[
    // E1.1 GetObject photos/2024/a.jpg
    ("E1.1", E1, &[("oss:GetObject", "acs:oss:*:1111111111111111:photos/2024/a.jpg")], &[], Allow),
    // E1.2 PutObject photos/new.jpg
    ("E1.2", E1, &[("oss:PutObject", "acs:oss:*:1111111111111111:photos/new.jpg")], &[], ImplicitDeny),
    // E1.3 GetObject videos/a.mp4
    ("E1.3", E1, &[("oss:GetObject", "acs:oss:*:1111111111111111:videos/a.mp4")], &[], ImplicitDeny),
    // E2.1 ListObjects team prefix=home/alice/
    ("E2.1", E2, &[("oss:ListObjects", "acs:oss:*:1111111111111111:team")], &[("oss:Prefix", "home/alice/")], Allow),
    // E2.2 ListObjects team prefix=home/bob/
    ("E2.2", E2, &[("oss:ListObjects", "acs:oss:*:1111111111111111:team")], &[("oss:Prefix", "home/bob/")], ImplicitDeny),
    // E2.3 ListObjects team (no prefix)
    ("E2.3", E2, &[("oss:ListObjects", "acs:oss:*:1111111111111111:team")], &[], ImplicitDeny),
    // E2.4 PutObject team/home/alice/cv.pdf
    ("E2.4", E2, &[("oss:PutObject", "acs:oss:*:1111111111111111:team/home/alice/cv.pdf")], &[], Allow),
    // E3.1 DeleteObject logs/x
    ("E3.1", E3, &[("oss:DeleteObject", "acs:oss:*:1111111111111111:logs/x")], &[], ExplicitDeny),
    // E3.2 PutObject logs/x
    ("E3.2", E3, &[("oss:PutObject", "acs:oss:*:1111111111111111:logs/x")], &[], Allow),
    // E3.3 DeleteBucket logs
    ("E3.3", E3, &[("oss:DeleteBucket", "acs:oss:*:1111111111111111:logs")], &[], ExplicitDeny),
    // E4.1 GetObject data/a from 10.1.2.3
    ("E4.1", E4, &[("oss:GetObject", "acs:oss:*:1111111111111111:data/a")], &[("acs:SourceIp", "10.1.2.3")], Allow),
    // E4.2 GetObject data/a from 192.0.2.7
    ("E4.2", E4, &[("oss:GetObject", "acs:oss:*:1111111111111111:data/a")], &[("acs:SourceIp", "192.0.2.7")], Allow),
    // E4.3 GetObject data/a from 198.51.100.9
    ("E4.3", E4, &[("oss:GetObject", "acs:oss:*:1111111111111111:data/a")], &[("acs:SourceIp", "198.51.100.9")], ImplicitDeny),
    // E5.1 GetObject docs/a over HTTPS
    ("E5.1", E5, &[("oss:GetObject", "acs:oss:*:1111111111111111:docs/a")], &[("acs:SecureTransport", "true")], Allow),
    // E5.2 GetObject docs/a over HTTP
    ("E5.2", E5, &[("oss:GetObject", "acs:oss:*:1111111111111111:docs/a")], &[("acs:SecureTransport", "false")], ExplicitDeny),
    // E6.1 GetObject audit/r at 2025-01-15T12:00:00Z
    ("E6.1", E6, &[("oss:GetObject", "acs:oss:*:1111111111111111:audit/r")], &[("acs:CurrentTime", "2025-01-15T12:00:00Z")], Allow),
    // E6.2 GetObject audit/r at 2025-02-01T00:00:00Z
    ("E6.2", E6, &[("oss:GetObject", "acs:oss:*:1111111111111111:audit/r")], &[("acs:CurrentTime", "2025-02-01T00:00:00Z")], ImplicitDeny),
    // E6.3 GetObject audit/r at 2024-12-31T23:59:59Z
    ("E6.3", E6, &[("oss:GetObject", "acs:oss:*:1111111111111111:audit/r")], &[("acs:CurrentTime", "2024-12-31T23:59:59Z")], ImplicitDeny),
    // E7.1 PutBucketEncryption secure, KMSMasterKeyID=K1
    ("E7.1", E7, &[("oss:PutBucketEncryption", "acs:oss:*:1111111111111111:secure"), ("kms:DescribeKey", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001")], &[], Allow),
    // E7.2 kms:GenerateDataKey on K1
    ("E7.2", E7, &[("kms:GenerateDataKey", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001")], &[], ImplicitDeny),
    // E7.3 PutBucketEncryption other
    ("E7.3", E7, &[("oss:PutBucketEncryption", "acs:oss:*:1111111111111111:other")], &[], ImplicitDeny),
    // E8.1 PutObject secure/a (SSE-KMS, K1)
    ("E8.1", E8, &[("oss:PutObject", "acs:oss:*:1111111111111111:secure/a"), ("kms:GenerateDataKey", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001"), ("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001")], &[], Allow),
    // E8.2 PutObject secure/a (SSE-KMS, K2)
    ("E8.2", E8, &[("oss:PutObject", "acs:oss:*:1111111111111111:secure/a"), ("kms:GenerateDataKey", "acs:kms:cn-hangzhou:1111111111111111:key/22222222-aaaa-4bbb-8ccc-000000000002"), ("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/22222222-aaaa-4bbb-8ccc-000000000002")], &[], ImplicitDeny),
    // E8.3 GetObject secure/a
    ("E8.3", E8, &[("oss:GetObject", "acs:oss:*:1111111111111111:secure/a"), ("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001")], &[], ImplicitDeny),
    // E9.1 GetObject secure/a (SSE-KMS, K2)
    ("E9.1", E9, &[("oss:GetObject", "acs:oss:*:1111111111111111:secure/a"), ("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/22222222-aaaa-4bbb-8ccc-000000000002")], &[], Allow),
    // E9.2 GetObject secure/a (SSE-OSS)
    ("E9.2", E9, &[("oss:GetObject", "acs:oss:*:1111111111111111:secure/a")], &[], Allow),
    // E9.3 PutObject secure/b (SSE-KMS, K1)
    ("E9.3", E9, &[("oss:PutObject", "acs:oss:*:1111111111111111:secure/b"), ("kms:GenerateDataKey", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001"), ("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001")], &[], ImplicitDeny),
    // E10.1 oss:GetObject any
    ("E10.1", E10, &[("oss:GetObject", "acs:oss:*:1111111111111111:x/y")], &[], Allow),
    // E10.2 kms:Decrypt K1
    ("E10.2", E10, &[("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001")], &[], ImplicitDeny),
    // E11.1 PutObject vault/a with x-oss-server-side-encryption: KMS
    ("E11.1", E11, &[("oss:PutObject", "acs:oss:*:1111111111111111:vault/a")], &[("oss:x-oss-server-side-encryption", "KMS")], Allow),
    // E11.2 PutObject vault/a with AES256
    ("E11.2", E11, &[("oss:PutObject", "acs:oss:*:1111111111111111:vault/a")], &[("oss:x-oss-server-side-encryption", "AES256")], ExplicitDeny),
    // E11.3 PutObject vault/a without the header
    ("E11.3", E11, &[("oss:PutObject", "acs:oss:*:1111111111111111:vault/a")], &[], ExplicitDeny),
    // E12.1 kms:Decrypt on key tagged Project=apollo
    ("E12.1", E12, &[("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001")], &[("kms:tag/Project", "apollo")], Allow),
    // E12.2 kms:Decrypt on key tagged Project=Gemini
    ("E12.2", E12, &[("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/22222222-aaaa-4bbb-8ccc-000000000002")], &[("kms:tag/Project", "Gemini")], ImplicitDeny),
    // E12.3 kms:Decrypt on untagged key
    ("E12.3", E12, &[("kms:Decrypt", "acs:kms:cn-hangzhou:1111111111111111:key/22222222-aaaa-4bbb-8ccc-000000000002")], &[], ImplicitDeny),
    // E13.1 GetObject logs-2024/x
    ("E13.1", E13, &[("oss:GetObject", "acs:oss:*:1111111111111111:logs-2024/x")], &[], Allow),
    // E13.2 GetObject logs-20245/x
    ("E13.2", E13, &[("oss:GetObject", "acs:oss:*:1111111111111111:logs-20245/x")], &[], ImplicitDeny),
    // E13.3 GetObject LOGS-2024/x
    ("E13.3", E13, &[("oss:GetObject", "acs:oss:*:1111111111111111:LOGS-2024/x")], &[], ImplicitDeny),
];

#[test]
fn spec_examples_for_identity_policies() {
    for &(id, policy, checks, context, expected) in IDENTITY_EXAMPLES {
        let identity = [policy];
        let setup = Setup::default().ram(&identity);
        check_request(id, setup, alice(), checks, context, expected);
        // For a RAM user of the owning account without a bucket policy, the full flow is plain
        // evaluation of the user's policies.
        let plain = Decision::all(checks.iter().map(|(action, resource)| {
            let policy = parse(PolicyKind::Identity, policy);
            evaluate(&[&policy], &facts(alice(), action, resource, context))
        }));
        assert_eq!(plain, expected, "{id} with evaluate");
    }
}

#[test]
fn spec_example_e3_actions_ignore_case() {
    let f = facts(
        alice(),
        "OSS:deleteobject",
        "acs:oss:*:1111111111111111:logs/x",
        &[],
    );
    check(E3, f, ExplicitDeny);
}

#[test]
fn spec_example_e10_not_action_allow_is_not_a_deny() {
    let kms = r#"{"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}"#;
    let identity = [E10, kms];
    let setup = Setup::default().ram(&identity);
    let checks: Checks = &[(
        "kms:Decrypt",
        "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001",
    )];
    check_request("E10 + kms policy", setup, alice(), checks, &[], Allow);
}

#[test]
fn spec_example_e14_session_policy_narrows_a_role() {
    let setup = Setup::default().ram(&[E14]).session(E14_SESSION);
    #[rustfmt::skip]
    let cases = [
        ("E14.1", [("oss:GetObject", "acs:oss:*:1111111111111111:share/a")], Allow),
        ("E14.2", [("oss:PutObject", "acs:oss:*:1111111111111111:share/a")], ImplicitDeny),
        ("E14.3", [("oss:GetObject", "acs:oss:*:1111111111111111:private/a")], ImplicitDeny),
    ];
    for (id, checks, expected) in cases {
        check_request(id, setup, reader_session(), &checks, &[], expected);
    }
}

#[test]
fn spec_example_e15_bucket_policy_cross_account_read_and_network_fence() {
    let setup = Setup::default().bucket(E15);
    let checks: Checks = &[("oss:GetObject", "acs:oss:*:1111111111111111:pub/a")];
    #[rustfmt::skip]
    let cases = [
        ("E15.1", root(OTHER_ACCOUNT), [("acs:SourceIp", "10.0.0.5")], Allow),
        ("E15.2", root(OTHER_ACCOUNT), [("acs:SourceIp", "203.0.113.5")], ExplicitDeny),
        ("E15.3", root(ACCOUNT), [("acs:SourceIp", "203.0.113.5")], ExplicitDeny),
        ("E15.4", root(ACCOUNT), [("acs:SourceIp", "10.0.0.5")], Allow),
    ];
    for (id, caller, context, expected) in cases {
        check_request(id, setup, caller, checks, &context, expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Our own cases: matching.

#[test]
fn action_wildcards() {
    for (pattern, action, expected) in [
        ("*", "oss:GetObject", Allow),
        ("*", "kms:Decrypt", Allow),
        ("oss:*", "oss:PutBucketEncryption", Allow),
        ("oss:*", "kms:Decrypt", ImplicitDeny),
        ("oss:Get*", "oss:GetObjectAcl", Allow),
        ("oss:Get*", "oss:PutObject", ImplicitDeny),
        ("oss:?etObject", "oss:GetObject", Allow),
        ("oss:?etObject", "oss:GGetObject", ImplicitDeny),
        ("kms:ReEncrypt*", "kms:ReEncryptFrom", Allow),
        ("kms:ReEncrypt*", "kms:ReEncryptTo", Allow),
        ("OSS:GETOBJECT", "oss:GetObject", Allow),
        ("oss:GetObject", "oss:getobject", Allow),
        ("*:Decrypt", "kms:Decrypt", Allow),
        ("oss:GetObject", "oss:GetObjectVersion", ImplicitDeny),
    ] {
        let policy = format!(
            r#"{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": "{pattern}", "Resource": "*"}}]}}"#
        );
        check(
            &policy,
            facts(alice(), action, "acs:oss:*:1111111111111111:b/k", &[]),
            expected,
        );
    }
}

#[test]
fn resource_wildcards_are_case_sensitive_and_field_bound() {
    for (pattern, resource, expected) in [
        ("*", "acs:oss:*:1111111111111111:b/k", Allow),
        ("acs:oss:*:*:*", "acs:oss:*:1111111111111111:b/k", Allow),
        (
            "acs:oss:*:1111111111111111:*",
            "acs:oss:*:1111111111111111:*",
            Allow,
        ),
        (
            "acs:oss:*:1111111111111111:b/*",
            "acs:oss:*:1111111111111111:b/deep/k",
            Allow,
        ),
        (
            "acs:oss:*:1111111111111111:b/*",
            "acs:oss:*:1111111111111111:b",
            ImplicitDeny,
        ),
        (
            "acs:oss:*:1111111111111111:b*",
            "acs:oss:*:1111111111111111:b2/k",
            Allow,
        ),
        (
            "acs:oss:*:1111111111111111:b/K*",
            "acs:oss:*:1111111111111111:b/k1",
            ImplicitDeny,
        ),
        (
            "acs:oss:*:1111111111111111:b/?",
            "acs:oss:*:1111111111111111:b/é",
            Allow,
        ),
        (
            "acs:oss:cn-hangzhou:1111111111111111:b",
            "acs:oss:*:1111111111111111:b",
            Allow,
        ),
        (
            "acs:oss:*:2222222222222222:b/*",
            "acs:oss:*:1111111111111111:b/k",
            ImplicitDeny,
        ),
        // A `*` in the account field cannot swallow a colon of the object key.
        (
            "acs:oss:*:2222222222222222:photos/*",
            "acs:oss:*:1111111111111111:x/a:2222222222222222:photos/b",
            ImplicitDeny,
        ),
        (
            "acs:kms:*:1111111111111111:key/*",
            "acs:kms:cn-hangzhou:1111111111111111:key/k1",
            Allow,
        ),
        (
            "acs:kms:cn-beijing:1111111111111111:key/*",
            "acs:kms:cn-hangzhou:1111111111111111:key/k1",
            ImplicitDeny,
        ),
        (
            "acs:kms:*:1111111111111111:key/*",
            "acs:kms:cn-hangzhou:1111111111111111:alias/a",
            ImplicitDeny,
        ),
    ] {
        let policy = format!(
            r#"{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": ["{pattern}"]}}]}}"#
        );
        check(
            &policy,
            facts(alice(), "oss:GetObject", resource, &[]),
            expected,
        );
    }
}

#[test]
fn not_action_in_a_deny_denies_everything_else() {
    let policy = r#"{"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "oss:*", "Resource": "*"},
        {"Effect": "Deny", "NotAction": ["oss:Get*", "oss:List*"], "Resource": "acs:oss:*:1111111111111111:archive/*"}]}"#;
    let at = |action: &str, resource: &str| facts(alice(), action, resource, &[]);
    check(
        policy,
        at("oss:GetObject", "acs:oss:*:1111111111111111:archive/a"),
        Allow,
    );
    check(
        policy,
        at("oss:PutObject", "acs:oss:*:1111111111111111:archive/a"),
        ExplicitDeny,
    );
    check(
        policy,
        at("oss:PutObject", "acs:oss:*:1111111111111111:live/a"),
        Allow,
    );
}

#[test]
fn deny_in_one_policy_beats_allow_in_another_in_any_order() {
    let allow = parse(
        PolicyKind::Identity,
        r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
    );
    let deny = parse(
        PolicyKind::Identity,
        r#"{"Version": "1", "Statement": [{"Effect": "Deny", "Action": "oss:DeleteBucket", "Resource": "*"}]}"#,
    );
    let f = facts(
        alice(),
        "oss:DeleteBucket",
        "acs:oss:*:1111111111111111:b",
        &[],
    );
    assert_eq!(evaluate(&[&allow, &deny], &f), ExplicitDeny);
    assert_eq!(evaluate(&[&deny, &allow], &f), ExplicitDeny);
    assert_eq!(evaluate(&[&allow], &f), Allow);
    assert_eq!(evaluate(&[], &f), ImplicitDeny);
}

// ---------------------------------------------------------------------------------------------
// Our own cases: conditions.

/// Condition block (JSON), request context, decision for an Allow of everything under it.
#[rustfmt::skip]
const CONDITION_CASES: &[(&str, Context, Decision)] = &[
    // StringEquals: case-sensitive; values OR-ed; missing key is false.
    (r#"{"StringEquals": {"oss:Prefix": "a/"}}"#, &[("oss:Prefix", "a/")], Allow),
    (r#"{"StringEquals": {"oss:Prefix": "a/"}}"#, &[("oss:Prefix", "A/")], ImplicitDeny),
    (r#"{"StringEquals": {"oss:Prefix": "a/"}}"#, &[], ImplicitDeny),
    (r#"{"StringEquals": {"oss:Prefix": ["x/", "a/"]}}"#, &[("oss:Prefix", "a/")], Allow),
    (r#"{"StringEquals": {"oss:Prefix": "a*"}}"#, &[("oss:Prefix", "ab")], ImplicitDeny),
    (r#"{"StringEquals": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "100")], Allow),
    // StringNotEquals: true only if no value matches; missing key is true.
    (r#"{"StringNotEquals": {"oss:Prefix": ["x/", "a/"]}}"#, &[("oss:Prefix", "a/")], ImplicitDeny),
    (r#"{"StringNotEquals": {"oss:Prefix": ["x/", "a/"]}}"#, &[("oss:Prefix", "b/")], Allow),
    (r#"{"StringNotEquals": {"oss:Prefix": ["x/", "a/"]}}"#, &[], Allow),
    // StringEqualsIgnoreCase / StringNotEqualsIgnoreCase.
    (r#"{"StringEqualsIgnoreCase": {"acs:UserAgent": "aliyun-sdk-python"}}"#, &[("acs:UserAgent", "Aliyun-SDK-Python")], Allow),
    (r#"{"StringEqualsIgnoreCase": {"acs:UserAgent": "aliyun-sdk-python"}}"#, &[("acs:UserAgent", "curl")], ImplicitDeny),
    (r#"{"StringEqualsIgnoreCase": {"acs:UserAgent": "aliyun-sdk-python"}}"#, &[], ImplicitDeny),
    (r#"{"StringNotEqualsIgnoreCase": {"acs:UserAgent": "aliyun-sdk-python"}}"#, &[("acs:UserAgent", "ALIYUN-SDK-PYTHON")], ImplicitDeny),
    (r#"{"StringNotEqualsIgnoreCase": {"acs:UserAgent": "aliyun-sdk-python"}}"#, &[("acs:UserAgent", "curl")], Allow),
    (r#"{"StringNotEqualsIgnoreCase": {"acs:UserAgent": "aliyun-sdk-python"}}"#, &[], Allow),
    // StringLike / StringNotLike: `*` and `?`, case-sensitive.
    (r#"{"StringLike": {"acs:UserAgent": "aliyun-sdk-*"}}"#, &[("acs:UserAgent", "aliyun-sdk-js/6.0")], Allow),
    (r#"{"StringLike": {"acs:UserAgent": "aliyun-sdk-*"}}"#, &[("acs:UserAgent", "Aliyun-sdk-js")], ImplicitDeny),
    (r#"{"StringLike": {"oss:Prefix": "logs/202?/*"}}"#, &[("oss:Prefix", "logs/2024/x")], Allow),
    (r#"{"StringLike": {"oss:Prefix": "logs/202?/*"}}"#, &[("oss:Prefix", "logs/20245/x")], ImplicitDeny),
    (r#"{"StringLike": {"oss:Prefix": "logs/*"}}"#, &[], ImplicitDeny),
    (r#"{"StringNotLike": {"oss:Prefix": ["private/*", "secret/*"]}}"#, &[("oss:Prefix", "secret/a")], ImplicitDeny),
    (r#"{"StringNotLike": {"oss:Prefix": ["private/*", "secret/*"]}}"#, &[("oss:Prefix", "public/a")], Allow),
    (r#"{"StringNotLike": {"oss:Prefix": ["private/*", "secret/*"]}}"#, &[], Allow),
    // Numeric operators: exact decimals; a non-number in the request passes nothing.
    (r#"{"NumericEquals": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "100")], Allow),
    (r#"{"NumericEquals": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "100.00")], Allow),
    (r#"{"NumericEquals": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "99")], ImplicitDeny),
    (r#"{"NumericEquals": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "lots")], ImplicitDeny),
    (r#"{"NumericEquals": {"oss:max-keys": 100}}"#, &[], ImplicitDeny),
    (r#"{"NumericNotEquals": {"oss:max-keys": "100"}}"#, &[("oss:max-keys", "100")], ImplicitDeny),
    (r#"{"NumericNotEquals": {"oss:max-keys": "100"}}"#, &[("oss:max-keys", "5")], Allow),
    (r#"{"NumericNotEquals": {"oss:max-keys": "100"}}"#, &[], Allow),
    (r#"{"NumericLessThan": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "99")], Allow),
    (r#"{"NumericLessThan": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "100")], ImplicitDeny),
    (r#"{"NumericLessThan": {"oss:max-keys": -1.5}}"#, &[("oss:max-keys", "-2")], Allow),
    (r#"{"NumericLessThanEquals": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "100")], Allow),
    (r#"{"NumericLessThanEquals": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "100.5")], ImplicitDeny),
    (r#"{"NumericGreaterThan": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "101")], Allow),
    (r#"{"NumericGreaterThan": {"oss:max-keys": 100}}"#, &[("oss:max-keys", "100")], ImplicitDeny),
    (r#"{"NumericGreaterThanEquals": {"oss:max-keys": "9007199254740993"}}"#, &[("oss:max-keys", "9007199254740993")], Allow),
    (r#"{"NumericGreaterThanEquals": {"oss:max-keys": "9007199254740993"}}"#, &[("oss:max-keys", "9007199254740992")], ImplicitDeny),
    // Date operators: RFC 3339, compared as instants.
    (r#"{"DateEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T08:00:00+08:00")], Allow),
    (r#"{"DateEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T00:00:01Z")], ImplicitDeny),
    (r#"{"DateEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "yesterday")], ImplicitDeny),
    (r#"{"DateNotEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T00:00:00Z")], ImplicitDeny),
    (r#"{"DateNotEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-06-01T00:00:00Z")], Allow),
    (r#"{"DateNotEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[], Allow),
    (r#"{"DateLessThan": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2024-12-31T23:59:59Z")], Allow),
    (r#"{"DateLessThan": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T00:00:00Z")], ImplicitDeny),
    (r#"{"DateLessThanEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T00:00:00Z")], Allow),
    (r#"{"DateLessThanEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T00:00:00.5Z")], ImplicitDeny),
    (r#"{"DateGreaterThan": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T00:00:01Z")], Allow),
    (r#"{"DateGreaterThan": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T00:00:00Z")], ImplicitDeny),
    (r#"{"DateGreaterThanEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[("acs:CurrentTime", "2025-01-01T00:00:00Z")], Allow),
    (r#"{"DateGreaterThanEquals": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#, &[], ImplicitDeny),
    // Bool: true/false in any case (and HTTPS/HTTP); JSON booleans accepted in the policy.
    (r#"{"Bool": {"acs:SecureTransport": true}}"#, &[("acs:SecureTransport", "true")], Allow),
    (r#"{"Bool": {"acs:SecureTransport": true}}"#, &[("acs:SecureTransport", "TRUE")], Allow),
    (r#"{"Bool": {"acs:SecureTransport": true}}"#, &[("acs:SecureTransport", "false")], ImplicitDeny),
    (r#"{"Bool": {"acs:SecureTransport": true}}"#, &[], ImplicitDeny),
    (r#"{"Bool": {"acs:SecureTransport": "HTTPS"}}"#, &[("acs:SecureTransport", "true")], Allow),
    (r#"{"Bool": {"acs:MFAPresent": "false"}}"#, &[("acs:MFAPresent", "false")], Allow),
    // IpAddress / NotIpAddress: IPv4 and IPv6, CIDR or single address.
    (r#"{"IpAddress": {"acs:SourceIp": "192.0.2.0/24"}}"#, &[("acs:SourceIp", "192.0.2.200")], Allow),
    (r#"{"IpAddress": {"acs:SourceIp": "192.0.2.0/24"}}"#, &[("acs:SourceIp", "192.0.3.1")], ImplicitDeny),
    (r#"{"IpAddress": {"acs:SourceIp": "192.0.2.0/24"}}"#, &[("acs:SourceIp", "::ffff:192.0.2.9")], Allow),
    (r#"{"IpAddress": {"acs:SourceIp": "192.0.2.0/24"}}"#, &[("acs:SourceIp", "not-an-ip")], ImplicitDeny),
    (r#"{"IpAddress": {"acs:SourceIp": "192.0.2.0/24"}}"#, &[], ImplicitDeny),
    (r#"{"IpAddress": {"acs:SourceIp": ["2001:db8::/32", "10.0.0.1"]}}"#, &[("acs:SourceIp", "2001:db8:1::5")], Allow),
    (r#"{"IpAddress": {"acs:SourceIp": ["2001:db8::/32", "10.0.0.1"]}}"#, &[("acs:SourceIp", "10.0.0.1")], Allow),
    (r#"{"IpAddress": {"acs:SourceIp": ["2001:db8::/32", "10.0.0.1"]}}"#, &[("acs:SourceIp", "10.0.0.2")], ImplicitDeny),
    (r#"{"IpAddress": {"acs:SourceIp": "::1"}}"#, &[("acs:SourceIp", "::1")], Allow),
    (r#"{"NotIpAddress": {"acs:SourceIp": "2001:db8::/32"}}"#, &[("acs:SourceIp", "2001:db8::1")], ImplicitDeny),
    (r#"{"NotIpAddress": {"acs:SourceIp": "2001:db8::/32"}}"#, &[("acs:SourceIp", "2001:db9::1")], Allow),
    (r#"{"NotIpAddress": {"acs:SourceIp": "2001:db8::/32"}}"#, &[], Allow),
    // Keys under one operator are AND-ed, and so are operators.
    (r#"{"StringEquals": {"oss:Prefix": "a/", "oss:Delimiter": "/"}}"#, &[("oss:Prefix", "a/"), ("oss:Delimiter", "/")], Allow),
    (r#"{"StringEquals": {"oss:Prefix": "a/", "oss:Delimiter": "/"}}"#, &[("oss:Prefix", "a/")], ImplicitDeny),
    (r#"{"StringLike": {"oss:Prefix": "a/*"}, "IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}"#, &[("oss:Prefix", "a/b"), ("acs:SourceIp", "10.9.9.9")], Allow),
    (r#"{"StringLike": {"oss:Prefix": "a/*"}, "IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}"#, &[("oss:Prefix", "a/b"), ("acs:SourceIp", "11.9.9.9")], ImplicitDeny),
    // Condition key names and operator names are case-insensitive.
    (r#"{"IpAddress": {"ACS:SOURCEIP": "10.0.0.0/8"}}"#, &[("acs:SourceIp", "10.0.0.1")], Allow),
    (r#"{"ipaddress": {"acs:SourceIp": "10.0.0.0/8"}}"#, &[("Acs:sourceIP", "10.0.0.1")], Allow),
    // Several request values for one key: positive operators need one to match, negated ones none.
    (r#"{"StringEquals": {"oss:RequestObjectTag/env": "prod"}}"#, &[("oss:RequestObjectTag/env", "dev"), ("oss:RequestObjectTag/env", "prod")], Allow),
    (r#"{"StringNotEquals": {"oss:RequestObjectTag/env": "prod"}}"#, &[("oss:RequestObjectTag/env", "dev"), ("oss:RequestObjectTag/env", "prod")], ImplicitDeny),
    // The other condition keys coffer knows behave like any string key.
    (r#"{"StringEquals": {"acs:AccessId": "LTAI00000000000000000000"}}"#, &[("acs:AccessId", "LTAI00000000000000000000")], Allow),
    (r#"{"StringEquals": {"oss:BucketTag/team": "a"}}"#, &[("oss:BucketTag/team", "a")], Allow),
    (r#"{"StringEquals": {"oss:ExistingObjectTag/team": "a"}}"#, &[("oss:ExistingObjectTag/team", "b")], ImplicitDeny),
    (r#"{"StringEquals": {"oss:x-oss-server-side-encryption-key-id": "k1"}}"#, &[("oss:x-oss-server-side-encryption-key-id", "k1")], Allow),
];

#[test]
fn condition_operators() {
    for &(condition, context, expected) in CONDITION_CASES {
        let policy = format!(
            r#"{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {condition}}}]}}"#
        );
        check(
            &policy,
            facts(
                alice(),
                "oss:ListObjects",
                "acs:oss:*:1111111111111111:b",
                context,
            ),
            expected,
        );
        // The same block on a Deny flips Allow into ExplicitDeny: the block is evaluated the
        // same way whatever the effect.
        let deny = format!(
            r#"{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": "*", "Resource": "*"}}, {{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {condition}}}]}}"#
        );
        let flipped = if expected == Allow {
            ExplicitDeny
        } else {
            Allow
        };
        check(
            &deny,
            facts(
                alice(),
                "oss:ListObjects",
                "acs:oss:*:1111111111111111:b",
                context,
            ),
            flipped,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Our own cases: the OSS combination of identity policies and a bucket policy.

const ALLOW_ALL: &str =
    r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#;
const DENY_ALL: &str =
    r#"{"Version": "1", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}]}"#;
const GET_PUB: Checks = &[("oss:GetObject", "acs:oss:*:1111111111111111:pub/a")];

fn bucket_policy(effect: &str, principal: &str, condition: Option<&str>) -> String {
    let condition = condition
        .map(|c| format!(r#", "Condition": {c}"#))
        .unwrap_or_default();
    format!(
        r#"{{"Version": "1", "Statement": [{{"Effect": "{effect}", "Action": "oss:*", "Principal": {principal}, "Resource": ["acs:oss:*:1111111111111111:pub", "acs:oss:*:1111111111111111:pub/*"]{condition}}}]}}"#
    )
}

#[test]
fn bucket_policy_combination() {
    let always = Some(r#"{"StringNotEquals": {"coffer:never-set": "x"}}"#);
    let allow_alice = bucket_policy("Allow", r#"["2000000000000001"]"#, None);
    let allow_bob = bucket_policy("Allow", r#"["2000000000000002"]"#, None);
    let allow_other_account = bucket_policy("Allow", r#"["2222222222222222"]"#, None);
    let allow_anyone = bucket_policy("Allow", r#""*""#, None);
    let allow_empty = bucket_policy("Allow", "[]", None);
    let allow_unnamed = bucket_policy("Allow", "[]", None).replace(r#""Principal": [], "#, "");
    assert!(!allow_unnamed.contains("Principal"));
    let deny_unnamed = bucket_policy("Deny", "[]", None).replace(r#""Principal": [], "#, "");
    let deny_unnamed_cond = bucket_policy("Deny", "[]", always).replace(r#""Principal": [], "#, "");
    let deny_anyone = bucket_policy("Deny", r#"["*"]"#, None);
    let deny_anyone_cond = bucket_policy("Deny", r#"["*"]"#, always);
    let deny_owner = bucket_policy("Deny", r#"["1111111111111111"]"#, None);
    let allow_session = bucket_policy(
        "Allow",
        r#"["arn:sts::1111111111111111:assumed-role/OSSReader/*"]"#,
        None,
    );
    let allow_role_uid = bucket_policy("Allow", r#"["300000000000000001"]"#, None);
    let none = Setup::default();
    #[rustfmt::skip]
    let cases = [
        // Root of the owning account needs no policy; another account's root gets nothing.
        ("owner root", none, root(ACCOUNT), Allow),
        ("foreign root", none, root(OTHER_ACCOUNT), ImplicitDeny),
        ("anonymous", none, Caller::Anonymous, ImplicitDeny),
        // A RAM user of the owning account: RAM policy or bucket policy, either suffices.
        ("user without policies", none, alice(), ImplicitDeny),
        ("user with RAM allow", none.ram(&[ALLOW_ALL]), alice(), Allow),
        ("user with bucket allow", none.bucket(&allow_alice), alice(), Allow),
        ("user with RAM deny, bucket allow", none.ram(&[DENY_ALL]).bucket(&allow_alice), alice(), ExplicitDeny),
        ("user with RAM allow, bucket deny", none.ram(&[ALLOW_ALL]).bucket(&deny_anyone), alice(), ExplicitDeny),
        ("user not named by the bucket policy", none.bucket(&allow_bob), alice(), ImplicitDeny),
        // Another account's user: its RAM policies never grant here; only the bucket policy can.
        ("foreign user with RAM allow", none.ram(&[ALLOW_ALL]), bob_of_other_account(), ImplicitDeny),
        ("foreign user named by uid", none.bucket(&allow_bob), bob_of_other_account(), Allow),
        ("foreign user under a named account", none.bucket(&allow_other_account), bob_of_other_account(), ImplicitDeny),
        ("foreign root under its account uid", none.bucket(&allow_other_account), root(OTHER_ACCOUNT), Allow),
        ("foreign user with own deny", none.ram(&[DENY_ALL]).bucket(&allow_bob), bob_of_other_account(), ExplicitDeny),
        // `*` (or `[]`) covers anonymous callers.
        ("anonymous under *", none.bucket(&allow_anyone), Caller::Anonymous, Allow),
        ("anonymous under []", none.bucket(&allow_empty), Caller::Anonymous, Allow),
        ("anonymous under a uid", none.bucket(&allow_bob), Caller::Anonymous, ImplicitDeny),
        // No Principal at all reads as `[]`, that is `*`.
        ("anonymous under no Principal", none.bucket(&allow_unnamed), Caller::Anonymous, Allow),
        ("user under deny with no Principal", none.ram(&[ALLOW_ALL]).bucket(&deny_unnamed), alice(), ExplicitDeny),
        ("owner under deny with no Principal", none.bucket(&deny_unnamed), root(ACCOUNT), Allow),
        ("owner under conditional deny with no Principal", none.bucket(&deny_unnamed_cond), root(ACCOUNT), ExplicitDeny),
        // The owner and `*`: not bound without Condition, bound with one, always bound by name.
        ("owner under deny * without condition", none.bucket(&deny_anyone), root(ACCOUNT), Allow),
        ("owner under deny * with condition", none.bucket(&deny_anyone_cond), root(ACCOUNT), ExplicitDeny),
        ("owner under deny by uid", none.bucket(&deny_owner), root(ACCOUNT), ExplicitDeny),
        ("owner's user under deny *", none.ram(&[ALLOW_ALL]).bucket(&deny_anyone), alice(), ExplicitDeny),
        // Role sessions: by STS session ARN (wildcards, role name in any case) or by role UID.
        ("session by ARN", none.bucket(&allow_session), reader_session(), Allow),
        ("session by role uid", none.bucket(&allow_role_uid), reader_session(), Allow),
        ("user is not a session", none.bucket(&allow_session), alice(), ImplicitDeny),
        // A session policy must allow too, even when the bucket policy would.
        ("session policy silent", none.ram(&[ALLOW_ALL]).session(E14_SESSION).bucket(&allow_session), reader_session(), ImplicitDeny),
        ("session policy deny", none.ram(&[ALLOW_ALL]).session(DENY_ALL), reader_session(), ExplicitDeny),
        ("session policy allow", none.ram(&[ALLOW_ALL]).session(ALLOW_ALL), reader_session(), Allow),
        ("session policy alone", none.session(ALLOW_ALL), reader_session(), ImplicitDeny),
    ];
    for (id, setup, caller, expected) in cases {
        check_request(id, setup, caller, GET_PUB, &[], expected);
    }
}

#[test]
fn owner_keeps_bucket_policy_management() {
    let always = Some(r#"{"StringNotEquals": {"coffer:never-set": "x"}}"#);
    let deny = bucket_policy("Deny", r#""*""#, always);
    let setup = Setup::default().bucket(&deny);
    #[rustfmt::skip]
    let cases = [
        ("oss:PutBucketPolicy", root(ACCOUNT), Allow),
        ("oss:GetBucketPolicy", root(ACCOUNT), Allow),
        ("oss:deletebucketpolicy", root(ACCOUNT), Allow),
        ("oss:PutBucketPolicy", alice(), ExplicitDeny),
        ("oss:PutBucketAcl", root(ACCOUNT), ExplicitDeny),
    ];
    for (action, caller, expected) in cases {
        let checks = [(action, "acs:oss:*:1111111111111111:pub")];
        check_request(action, setup, caller, &checks, &[], expected);
    }
}

#[test]
fn kms_checks_use_the_key_account() {
    let key: Checks = &[(
        "kms:Decrypt",
        "acs:kms:cn-hangzhou:1111111111111111:key/11111111-aaaa-4bbb-8ccc-000000000001",
    )];
    let none = Setup::default();
    #[rustfmt::skip]
    let cases = [
        ("owner root", none, root(ACCOUNT), Allow),
        ("foreign root", none, root(OTHER_ACCOUNT), ImplicitDeny),
        ("user", none.ram(&[ALLOW_ALL]), alice(), Allow),
        ("foreign user", none.ram(&[ALLOW_ALL]), bob_of_other_account(), ImplicitDeny),
    ];
    for (id, setup, caller, expected) in cases {
        check_request(id, setup, caller, key, &[], expected);
    }
}

#[test]
fn trust_policies_name_who_may_assume_a_role() {
    let trust = parse(
        PolicyKind::Trust,
        r#"{"Version": "1", "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"RAM": ["acs:ram::1111111111111111:root", "acs:ram::2222222222222222:user/bob"],
                           "Service": "oss.aliyuncs.com"}},
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": "acs:ram::3333333333333333:role/Builder"},
             "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}}]}"#,
    );
    let role = "acs:ram::1111111111111111:role/ossreader";
    let assume = |caller: Caller, context: &[(&str, &str)]| {
        evaluate(&[&trust], &facts(caller, "sts:AssumeRole", role, context))
    };
    assert_eq!(assume(alice(), &[]), Allow);
    assert_eq!(assume(root(ACCOUNT), &[]), Allow);
    assert_eq!(assume(reader_session(), &[]), Allow);
    assert_eq!(assume(bob_of_other_account(), &[]), Allow);
    assert_eq!(assume(root(OTHER_ACCOUNT), &[]), ImplicitDeny);
    assert_eq!(
        assume(
            Caller::Service {
                name: "OSS.aliyuncs.com".into()
            },
            &[]
        ),
        Allow
    );
    assert_eq!(
        assume(
            Caller::Service {
                name: "kms.aliyuncs.com".into()
            },
            &[]
        ),
        ImplicitDeny
    );
    assert_eq!(assume(Caller::Anonymous, &[]), ImplicitDeny);
    let builder = Caller::RoleSession {
        account_id: "3333333333333333".into(),
        role_id: "1".into(),
        role_name: "builder".into(),
        session_name: "ci".into(),
    };
    assert_eq!(assume(builder.clone(), &[("sts:ExternalId", "abc")]), Allow);
    assert_eq!(assume(builder, &[]), ImplicitDeny);
    let other_action = facts(alice(), "sts:GetCallerIdentity", role, &[]);
    assert_eq!(evaluate(&[&trust], &other_action), ImplicitDeny);
}

#[test]
fn original_text_is_kept() {
    let text = "{ \"Statement\": [{\"Resource\": \"*\", \"Effect\": \"Allow\", \"Sid\": \"s1\",\n  \"Action\": \"oss:*\"}], \"Version\": \"1\" }";
    let policy = PolicyDocument::parse(text).unwrap();
    assert_eq!(policy.text(), text);
    assert_eq!(policy.kind(), PolicyKind::Identity);
    assert_eq!(policy.statements().len(), 1);
    assert_eq!(policy.statements()[0].sid(), Some("s1"));
    assert_eq!(policy.statements()[0].effect(), Effect::Allow);
}

#[test]
fn bucket_policies_must_stay_inside_their_bucket() {
    let check_scope = |resource: &str| {
        let text = format!(
            r#"{{"Version": "1", "Statement": [{{"Effect": "Allow", "Action": "oss:GetObject", "Principal": "*", "Resource": ["acs:oss:*:1111111111111111:pub/*", "{resource}"]}}]}}"#
        );
        parse(PolicyKind::Bucket, &text).check_bucket_scope(ACCOUNT, "pub")
    };
    assert_eq!(check_scope("acs:oss:*:1111111111111111:pub"), Ok(()));
    assert_eq!(check_scope("acs:oss:*:1111111111111111:pub/a/b*"), Ok(()));
    assert_eq!(check_scope("acs:oss::1111111111111111:pub/x"), Ok(()));
    for outside in [
        "*",
        "acs:oss:*:1111111111111111:pub2",
        "acs:oss:*:1111111111111111:pu*",
        "acs:oss:*:*:pub/*",
        "acs:oss:*:2222222222222222:pub/*",
        "acs:kms:*:1111111111111111:pub/*",
    ] {
        let err = check_scope(outside).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "malformed policy: Statement[0].Resource[1]: `{outside}` is outside bucket `pub`; a bucket policy may only name acs:oss:*:1111111111111111:pub or acs:oss:*:1111111111111111:pub/..."
            )
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed policies.

/// Kind, text, the error's message.
#[rustfmt::skip]
const MALFORMED: &[(PolicyKind, &str, &str)] = &[
    (PolicyKind::Identity, "",
        r#"policy is not valid JSON: EOF while parsing a value at line 1 column 0"#),
    (PolicyKind::Identity, "[]",
        r#"malformed policy: must be a JSON object, not an array"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": []} trailing"#,
        r#"policy is not valid JSON: trailing characters at line 1 column 35"#),
    (PolicyKind::Identity, r#"{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: missing Version"#),
    (PolicyKind::Identity, r#"{"Version": "2", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: Version: must be "1", not "2""#),
    (PolicyKind::Identity, r#"{"Version": 1, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: Version: must be the string "1", not a number"#),
    (PolicyKind::Identity, r#"{"Version": "1"}"#,
        r#"malformed policy: missing Statement"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": []}"#,
        r#"malformed policy: Statement: must contain at least one statement"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#,
        r#"malformed policy: Statement: must be an array of statements, not an object"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Id": "x", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: unknown element `Id`"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        r#"policy is not valid JSON: member `Version` appears twice at line 1 column 26"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": ["Allow"]}"#,
        r#"malformed policy: Statement[0]: a statement must be an object, not a string"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0]: missing Effect"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "allow", "Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0].Effect: must be "Allow" or "Deny", not "allow""#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": true, "Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0].Effect: must be "Allow" or "Deny", not a boolean"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0]: unknown element `effect` (element names are case-sensitive: did you mean `Effect`?)"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0]: missing Action (or NotAction)"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "kms:*", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0]: has both Action and NotAction; use exactly one"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0].Action: must list at least one value"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": ["oss:GetObject", 7], "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0].Action[1]: must be a string, not a number"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0].Action: `GetObject` is not an action of the form service:Name (or `*`)"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0].Action: `oss:` is not an action of the form service:Name (or `*`)"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*"}]}"#,
        r#"malformed policy: Statement[0]: missing Resource"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": {"a": 1}}]}"#,
        r#"malformed policy: Statement[0].Resource: must be a string or an array of strings, not an object"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "photos/*"}]}"#,
        r#"malformed policy: Statement[0].Resource: `photos/*` is not `*` or a resource name of the form acs:service:region:account:relative-id"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:oss:*:1:b"}]}"#,
        r#"malformed policy: Statement[0].Resource: `arn:oss:*:1:b` is not `*` or a resource name of the form acs:service:region:account:relative-id"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "NotResource": "acs:oss:*:1:b"}]}"#,
        r#"malformed policy: Statement[0].NotResource: NotResource is not supported; list the resources in Resource instead"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}]}"#,
        r#"malformed policy: Statement[0].Principal: a RAM policy cannot have a Principal; only bucket and trust policies do"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Sid": 1, "Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
        r#"malformed policy: Statement[0].Sid: must be a string, not a number"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualz": {"oss:Prefix": "a"}}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEqualz: unknown condition operator `StringEqualz`"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEqualsIfExists": {"oss:Prefix": "a"}}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEqualsIfExists: the IfExists suffix in `StringEqualsIfExists` is not supported"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"ForAnyValue:StringEquals": {"oss:Prefix": "a"}}}]}"#,
        r#"malformed policy: Statement[0].Condition.ForAnyValue:StringEquals: the set qualifier in `ForAnyValue:StringEquals` is not supported"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}]}"#,
        r#"malformed policy: Statement[0].Condition: must name at least one condition operator (omit Condition instead)"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": []}]}"#,
        r#"malformed policy: Statement[0].Condition: must be an object of condition operators, not an array"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {}}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEquals: must name at least one condition key"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": "oss:Prefix"}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEquals: must be an object of condition keys, not a string"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"Prefix": "a"}}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEquals.Prefix: `Prefix` is not a condition key of the form service:Name"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"oss:Prefix": []}}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEquals.oss:Prefix: must list at least one value"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"oss:Prefix": null}}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEquals.oss:Prefix: condition values must be strings, numbers or booleans, not null"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"oss:Prefix": [["a"]]}}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEquals.oss:Prefix: condition values must be strings, numbers or booleans, not an array"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"oss:Prefix": {"a": "b"}}}}]}"#,
        r#"malformed policy: Statement[0].Condition.StringEquals.oss:Prefix: condition values must be strings, numbers or booleans, not an object"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"oss:max-keys": "ten"}}}]}"#,
        r#"malformed policy: Statement[0].Condition.NumericLessThan.oss:max-keys: `ten` is not a decimal number"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NumericLessThan": {"oss:max-keys": true}}}]}"#,
        r#"malformed policy: Statement[0].Condition.NumericLessThan.oss:max-keys: `true` is not a decimal number"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"DateLessThan": {"acs:CurrentTime": "2025-01-01"}}}]}"#,
        r#"malformed policy: Statement[0].Condition.DateLessThan.acs:CurrentTime: `2025-01-01` is not an ISO 8601 date-time such as 2025-01-01T00:00:00Z"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"acs:SecureTransport": "yes"}}}]}"#,
        r#"malformed policy: Statement[0].Condition.Bool.acs:SecureTransport: `yes` is not true or false"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"acs:SourceIp": ["10.0.0.0/8", "10.0.0.0/33"]}}}]}"#,
        r#"malformed policy: Statement[0].Condition.IpAddress.acs:SourceIp: `10.0.0.0/33` is not an IP address or CIDR block"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"NotIpAddress": {"acs:SourceIp": "localhost"}}}]}"#,
        r#"malformed policy: Statement[0].Condition.NotIpAddress.acs:SourceIp: `localhost` is not an IP address or CIDR block"#),
    (PolicyKind::Identity, r#"{"Version": "1", "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}, "IpAddress": {"acs:SourceIp": "192.0.2.0/24"}}}]}"#,
        r#"policy is not valid JSON: member `IpAddress` appears twice at line 1 column 152"#),
    (PolicyKind::Session, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}]}"#,
        r#"malformed policy: Statement[0].Principal: a session policy cannot have a Principal; only bucket and trust policies do"#),
    (PolicyKind::Bucket, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:GetObject", "Principal": {"RAM": "*"}, "Resource": "acs:oss:*:1:b/*"}]}"#,
        r#"malformed policy: Statement[0].Principal: a bucket policy Principal is a list of UIDs, STS session ARNs or "*", not an object"#),
    (PolicyKind::Bucket, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:GetObject", "Principal": ["alice"], "Resource": "acs:oss:*:1:b/*"}]}"#,
        r#"malformed policy: Statement[0].Principal: `alice` is not "*", a UID or an STS session ARN (arn:sts::{uid}:assumed-role/{role}/{session})"#),
    (PolicyKind::Bucket, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "oss:GetObject", "Principal": ["arn:sts::1:assumed-role/r"], "Resource": "acs:oss:*:1:b/*"}]}"#,
        r#"malformed policy: Statement[0].Principal: `arn:sts::1:assumed-role/r` is not "*", a UID or an STS session ARN (arn:sts::{uid}:assumed-role/{role}/{session})"#),
    (PolicyKind::Trust, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}"#,
        r#"malformed policy: Statement[0]: missing Principal, which a trust policy requires"#),
    (PolicyKind::Trust, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": ["1"]}]}"#,
        r#"malformed policy: Statement[0].Principal: a trust policy Principal is an object with RAM, Service or Federated lists, not an array"#),
    (PolicyKind::Trust, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"AWS": "1"}}]}"#,
        r#"malformed policy: Statement[0].Principal: unknown principal type `AWS`; expected RAM, Service or Federated"#),
    (PolicyKind::Trust, r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"RAM": "acs:ram::1:group/g"}}]}"#,
        r#"malformed policy: Statement[0].Principal.RAM: `acs:ram::1:group/g` is not acs:ram::{uid}:root, acs:ram::{uid}:user/{name} or acs:ram::{uid}:role/{name}"#),
];

#[test]
fn malformed_policies_are_refused_with_a_clear_message() {
    for &(kind, text, expected) in MALFORMED {
        let err = PolicyDocument::parse_as(kind, text)
            .expect_err(&format!("{kind} should be refused: {text}"));
        assert_eq!(err.to_string(), expected, "{text}");
    }
}

#[test]
fn size_limits_depend_on_the_kind() {
    // A valid policy padded with whitespace to an exact length.
    let padded = |len: usize| {
        let base = r#"{"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}]}"#;
        format!("{base}{}", " ".repeat(len - base.len()))
    };
    let without_principal = |len: usize| {
        padded(len).replace(r#", "Principal": "*""#, "")
            + &" ".repeat(r#", "Principal": "*""#.len())
    };
    assert!(PolicyDocument::parse_as(PolicyKind::Identity, &without_principal(6144)).is_ok());
    assert_eq!(
        PolicyDocument::parse_as(PolicyKind::Identity, &without_principal(6145))
            .unwrap_err()
            .to_string(),
        "a RAM policy is 6145 characters long; at most 6144 are allowed"
    );
    assert!(PolicyDocument::parse_as(PolicyKind::Session, &without_principal(2048)).is_ok());
    assert!(matches!(
        PolicyDocument::parse_as(PolicyKind::Session, &without_principal(2049)),
        Err(PolicyError::TooLarge { max: 2048, .. })
    ));
    assert!(PolicyDocument::parse_as(PolicyKind::Bucket, &padded(16384)).is_ok());
    assert_eq!(
        PolicyDocument::parse_as(PolicyKind::Bucket, &padded(16385))
            .unwrap_err()
            .to_string(),
        "a bucket policy is 16385 bytes long; at most 16384 are allowed"
    );
    // RAM limits count characters, not bytes.
    let sid = "é".repeat(3100);
    let wide = format!(
        r#"{{"Version": "1", "Statement": [{{"Sid": "{sid}", "Effect": "Allow", "Action": "*", "Resource": "*"}}]}}"#
    );
    assert!(wide.len() > 6144 && wide.chars().count() <= 6144);
    assert!(PolicyDocument::parse(&wide).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Property tests.

const GEN_ACTIONS: &[&str] = &[
    "*",
    "oss:*",
    "oss:Get*",
    "oss:GetObject",
    "oss:PutObject",
    "oss:?utObject",
    "OSS:deleteobject",
    "oss:PutBucketPolicy",
    "kms:*",
    "kms:Decrypt",
    "kms:List*",
    "sts:AssumeRole",
];
const GEN_RESOURCES: &[&str] = &[
    "*",
    "acs:oss:*:1111111111111111:*",
    "acs:oss:*:1111111111111111:b/*",
    "acs:oss:*:*:b",
    "acs:oss:*:2222222222222222:b/k?",
    "acs:kms:*:1111111111111111:key/*",
    "acs:kms:cn-hangzhou:*:*",
];
const GEN_CONDITIONS: &[&str] = &[
    r#"{"IpAddress": {"acs:SourceIp": "10.0.0.0/8"}}"#,
    r#"{"NotIpAddress": {"acs:SourceIp": ["2001:db8::/32", "192.0.2.7"]}}"#,
    r#"{"StringLike": {"oss:Prefix": "a*"}}"#,
    r#"{"StringNotEquals": {"oss:Prefix": "x"}}"#,
    r#"{"Bool": {"acs:SecureTransport": "false"}}"#,
    r#"{"DateLessThan": {"acs:CurrentTime": "2025-01-01T00:00:00Z"}}"#,
    r#"{"NumericGreaterThan": {"oss:max-keys": 10}, "StringEqualsIgnoreCase": {"acs:UserAgent": "X"}}"#,
];
const GEN_PRINCIPALS: &[&str] = &[
    r#""*""#,
    "[]",
    r#"["1111111111111111"]"#,
    r#"["2222222222222222", "2000000000000001"]"#,
    r#"["arn:sts::1111111111111111:assumed-role/ossreader/*"]"#,
];
const GEN_REQUEST_ACTIONS: &[&str] = &[
    "oss:GetObject",
    "oss:PutObject",
    "oss:DeleteObject",
    "oss:ListBuckets",
    "oss:PutBucketPolicy",
    "oss:GetBucketPolicy",
    "kms:Decrypt",
    "kms:ListKeys",
    "sts:AssumeRole",
    "OSS:getobject",
];
const GEN_REQUEST_RESOURCES: &[&str] = &[
    "acs:oss:*:1111111111111111:b",
    "acs:oss:*:1111111111111111:b/k1",
    "acs:oss:*:1111111111111111:*",
    "acs:oss:*:2222222222222222:b/k1",
    "acs:oss:*:1111111111111111:other/a:b",
    "acs:kms:cn-hangzhou:1111111111111111:key/k1",
    "acs:ram::1111111111111111:role/ossreader",
];
const GEN_CONTEXT: &[(&str, &str)] = &[
    ("acs:SourceIp", "10.1.2.3"),
    ("acs:SourceIp", "2001:db8::1"),
    ("acs:SourceIp", "203.0.113.5"),
    ("oss:Prefix", "abc"),
    ("oss:Prefix", "x"),
    ("acs:SecureTransport", "false"),
    ("acs:SecureTransport", "true"),
    ("acs:CurrentTime", "2024-06-01T00:00:00Z"),
    ("acs:CurrentTime", "2026-06-01T00:00:00Z"),
    ("oss:max-keys", "100"),
    ("acs:UserAgent", "x"),
];

/// A generated statement: indexes into the tables above.
#[derive(Debug, Clone)]
struct GenStatement {
    allow: bool,
    not_action: bool,
    actions: Vec<usize>,
    resources: Vec<usize>,
    condition: Option<usize>,
    principal: usize,
}

fn gen_statement(effects: impl Strategy<Value = bool>) -> impl Strategy<Value = GenStatement> {
    (
        effects,
        any::<bool>(),
        prop::collection::vec(0..GEN_ACTIONS.len(), 1..3),
        prop::collection::vec(0..GEN_RESOURCES.len(), 1..3),
        prop::option::of(0..GEN_CONDITIONS.len()),
        0..GEN_PRINCIPALS.len(),
    )
        .prop_map(
            |(allow, not_action, actions, resources, condition, principal)| GenStatement {
                allow,
                not_action,
                actions,
                resources,
                condition,
                principal,
            },
        )
}

fn gen_policy(
    effects: impl Strategy<Value = bool> + Clone,
) -> impl Strategy<Value = Vec<GenStatement>> {
    prop::collection::vec(gen_statement(effects), 1..4)
}

fn render(kind: PolicyKind, statements: &[GenStatement]) -> String {
    let list = |items: &[usize], table: &[&str]| {
        serde_json::to_string(&items.iter().map(|&i| table[i]).collect::<Vec<_>>())
            .expect("strings serialize")
    };
    let statements: Vec<String> = statements
        .iter()
        .map(|s| {
            let mut out = format!(
                r#"{{"Effect": "{}", "{}": {}, "Resource": {}"#,
                if s.allow { "Allow" } else { "Deny" },
                if s.not_action { "NotAction" } else { "Action" },
                list(&s.actions, GEN_ACTIONS),
                list(&s.resources, GEN_RESOURCES),
            );
            if kind == PolicyKind::Bucket {
                out += &format!(r#", "Principal": {}"#, GEN_PRINCIPALS[s.principal]);
            }
            if let Some(c) = s.condition {
                out += &format!(r#", "Condition": {}"#, GEN_CONDITIONS[c]);
            }
            out + "}"
        })
        .collect();
    format!(
        r#"{{"Version": "1", "Statement": [{}]}}"#,
        statements.join(", ")
    )
}

fn gen_caller() -> impl Strategy<Value = Caller> {
    prop_oneof![
        Just(alice()),
        Just(bob_of_other_account()),
        Just(root(ACCOUNT)),
        Just(root(OTHER_ACCOUNT)),
        Just(reader_session()),
        Just(Caller::Anonymous),
        Just(Caller::Service {
            name: "oss.aliyuncs.com".into()
        }),
    ]
}

fn gen_facts() -> impl Strategy<Value = RequestFacts> {
    (
        gen_caller(),
        0..GEN_REQUEST_ACTIONS.len(),
        0..GEN_REQUEST_RESOURCES.len(),
        prop::collection::vec(0..GEN_CONTEXT.len(), 0..5),
    )
        .prop_map(|(caller, action, resource, context)| {
            let context: Vec<(&str, &str)> = context.iter().map(|&i| GEN_CONTEXT[i]).collect();
            facts(
                caller,
                GEN_REQUEST_ACTIONS[action],
                GEN_REQUEST_RESOURCES[resource],
                &context,
            )
        })
}

fn parse_all(kind: PolicyKind, policies: &[Vec<GenStatement>]) -> Vec<PolicyDocument> {
    policies
        .iter()
        .map(|p| parse(kind, &render(kind, p)))
        .collect()
}

/// A Deny that matches `facts` exactly, in a policy of `kind`. In a bucket policy it names
/// everyone, owner included (a `*` with a Condition that always holds).
fn matching_deny(kind: PolicyKind, facts: &RequestFacts) -> PolicyDocument {
    let extra = if kind == PolicyKind::Bucket {
        r#", "Principal": "*", "Condition": {"StringNotEquals": {"coffer:never-set": "x"}}"#
    } else {
        ""
    };
    let text = format!(
        r#"{{"Version": "1", "Statement": [{{"Effect": "Deny", "Action": {}, "Resource": {}{extra}}}]}}"#,
        serde_json::to_string(facts.action()).expect("strings serialize"),
        serde_json::to_string(facts.resource()).expect("strings serialize"),
    );
    parse(kind, &text)
}

fn refs(policies: &[PolicyDocument]) -> Vec<&PolicyDocument> {
    policies.iter().collect()
}

proptest! {
    #[test]
    fn policies_without_allow_never_allow(
        identity in prop::collection::vec(gen_policy(Just(false)), 0..3),
        session in prop::option::of(gen_policy(Just(false))),
        bucket in prop::option::of(gen_policy(Just(false))),
        facts in gen_facts(),
    ) {
        let identity = parse_all(PolicyKind::Identity, &identity);
        let session = session.map(|s| parse(PolicyKind::Session, &render(PolicyKind::Session, &s)));
        let bucket = bucket.map(|b| parse(PolicyKind::Bucket, &render(PolicyKind::Bucket, &b)));
        prop_assert_ne!(evaluate(&refs(&identity), &facts), Allow);
        if let Some(bucket) = &bucket {
            prop_assert_ne!(evaluate(&[bucket], &facts), Allow);
        }
        // In the full flow only ownership allows without an Allow statement.
        let owner_root = matches!(facts.caller(), Caller::Root { account_id }
            if Some(account_id.as_str()) == facts.resource_account());
        if !owner_root {
            let decision = evaluate_with_resource_policy(
                &refs(&identity), session.as_ref(), bucket.as_ref(), &facts);
            prop_assert_ne!(decision, Allow);
        }
    }

    #[test]
    fn a_matching_deny_always_wins(
        identity in prop::collection::vec(gen_policy(any::<bool>()), 0..3),
        bucket in prop::option::of(gen_policy(any::<bool>())),
        facts in gen_facts(),
    ) {
        let mut identity = parse_all(PolicyKind::Identity, &identity);
        let bucket = bucket.map(|b| parse(PolicyKind::Bucket, &render(PolicyKind::Bucket, &b)));

        // Added to the bucket policy: binds every caller, except the owner's root managing the
        // bucket policy itself.
        let bucket_deny = matching_deny(PolicyKind::Bucket, &facts);
        let exempt = matches!(facts.caller(), Caller::Root { account_id }
                if Some(account_id.as_str()) == facts.resource_account())
            && facts.action().to_ascii_lowercase().ends_with("bucketpolicy");
        let decision = evaluate_with_resource_policy(&refs(&identity), None, Some(&bucket_deny), &facts);
        prop_assert_eq!(decision, if exempt { Allow } else { ExplicitDeny });

        // Added as a session policy.
        let session_deny = matching_deny(PolicyKind::Session, &facts);
        let decision = evaluate_with_resource_policy(
            &refs(&identity), Some(&session_deny), bucket.as_ref(), &facts);
        prop_assert_eq!(decision, ExplicitDeny);

        // Added to the identity policies.
        identity.push(matching_deny(PolicyKind::Identity, &facts));
        prop_assert_eq!(evaluate(&refs(&identity), &facts), ExplicitDeny);
        if matches!(facts.caller(), Caller::User { .. } | Caller::RoleSession { .. }) {
            let decision = evaluate_with_resource_policy(&refs(&identity), None, bucket.as_ref(), &facts);
            prop_assert_eq!(decision, ExplicitDeny);
        }
    }

    #[test]
    fn generated_policies_parse_and_keep_their_text(policy in gen_policy(any::<bool>())) {
        for kind in [PolicyKind::Identity, PolicyKind::Bucket] {
            let text = render(kind, &policy);
            match PolicyDocument::parse_as(kind, &text) {
                Ok(parsed) => prop_assert_eq!(parsed.text(), text.as_str()),
                Err(e) => prop_assert!(false, "{}\n{}", e, text),
            }
        }
    }

    #[test]
    fn parse_never_panics_on_arbitrary_strings(text in any::<String>()) {
        for kind in [PolicyKind::Identity, PolicyKind::Session, PolicyKind::Bucket, PolicyKind::Trust] {
            let _ = PolicyDocument::parse_as(kind, &text);
        }
    }

    #[test]
    fn parse_never_panics_on_json_like_strings(
        text in r#"[\[\]{}":, 0-9a-zA-Z*?/.\-]{0,200}"#,
    ) {
        for kind in [PolicyKind::Identity, PolicyKind::Bucket, PolicyKind::Trust] {
            let _ = PolicyDocument::parse_as(kind, &text);
        }
    }

    #[test]
    fn parse_never_panics_on_damaged_policies(
        policy in gen_policy(any::<bool>()),
        cut in any::<prop::sample::Index>(),
        cut_len in 0usize..20,
        insert in r#"[\[\]{}":, 0-9a-zA-Z*]{0,8}"#,
    ) {
        for kind in [PolicyKind::Identity, PolicyKind::Bucket] {
            let text: Vec<char> = render(kind, &policy).chars().collect();
            let at = cut.index(text.len());
            let end = (at + cut_len).min(text.len());
            let damaged: String = text[..at].iter().copied()
                .chain(insert.chars())
                .chain(text[end..].iter().copied())
                .collect();
            let _ = PolicyDocument::parse_as(kind, &damaged);
        }
    }
}
