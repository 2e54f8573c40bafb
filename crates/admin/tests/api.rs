//! The admin API over real HTTP: a server on 127.0.0.1:0 and the blocking client.

// Test setup fails loudly; clippy.toml allows unwrap only inside #[test] functions.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use coffer_admin::client::{AdminClient, ClientError};
use coffer_admin::{AdminService, Operation};
use coffer_iam::Iam;
use coffer_types::AccessKeySecret;
use serde_json::{Value, json};

const ACCOUNT: &str = "1111111111111111";
const ROOT_AK: &str = "LTAIadminTestRootKey0000";
const ROOT_SK: &str = "adminTestRootSecret0000000000x";
const REGION: &str = "cn-hangzhou";

struct Server {
    endpoint: String,
    _runtime: tokio::runtime::Runtime,
}

fn start() -> Server {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let iam = Arc::new(Iam::new(
        ACCOUNT.into(),
        ROOT_AK.into(),
        AccessKeySecret::new(ROOT_SK),
    ));
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(coffer_admin::serve(
        coffer_http::Edge::default(),
        listener,
        Arc::new(AdminService::new(iam, REGION)),
        std::future::pending(),
    ));
    Server {
        endpoint,
        _runtime: runtime,
    }
}

fn client(s: &Server, ak: &str, sk: &str) -> AdminClient {
    AdminClient::new(&s.endpoint, ak, AccessKeySecret::new(sk), REGION).unwrap()
}

fn code(r: Result<Value, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Api { status, code, .. }) => (status, code),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[test]
fn root_manages_users_and_users_need_ram_permissions() {
    let s = start();
    let root = client(&s, ROOT_AK, ROOT_SK);
    let user = root
        .call(Operation::CreateUser, &json!({"UserName": "alice"}))
        .unwrap();
    assert_eq!(user["User"]["UserName"], "alice");
    assert!(user["RequestId"].as_str().is_some_and(|r| !r.is_empty()));
    let key = root
        .call(Operation::CreateAccessKey, &json!({"UserName": "alice"}))
        .unwrap();
    let ak = key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned();
    let sk = key["AccessKey"]["AccessKeySecret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(sk.len(), 30);

    let alice = client(&s, &ak, &sk);
    assert_eq!(
        code(alice.call(Operation::ListUsers, &json!({}))),
        (403, "NoPermission".into())
    );
    let who = alice
        .call(Operation::GetCallerIdentity, &json!({}))
        .unwrap();
    assert_eq!(who["IdentityType"], "RAMUser");

    let policy = json!({"Version": "1", "Statement": [
        {"Effect": "Allow", "Action": "ram:List*", "Resource": "*"}]});
    root.call(
        Operation::CreatePolicy,
        &json!({"PolicyName": "lister", "PolicyDocument": policy.to_string()}),
    )
    .unwrap();
    root.call(
        Operation::AttachPolicyToUser,
        &json!({"PolicyName": "lister", "UserName": "alice"}),
    )
    .unwrap();
    let users = alice.call(Operation::ListUsers, &json!({})).unwrap();
    assert_eq!(users["Users"][0]["UserName"], "alice");
    assert_eq!(users["Users"][0]["Policies"][0], "lister");

    // Errors carry RAM codes.
    assert_eq!(
        code(root.call(Operation::CreateUser, &json!({"UserName": "alice"}))),
        (409, "EntityAlreadyExists.User".into())
    );
    assert_eq!(
        code(root.call(Operation::GetUser, &json!({"UserName": "bob"}))),
        (404, "EntityNotExist.User".into())
    );
    assert_eq!(
        code(root.call(Operation::CreateUser, &json!({}))),
        (400, "MissingParameter.UserName".into())
    );
    assert_eq!(
        code(root.call(
            Operation::CreatePolicy,
            &json!({"PolicyName": "bad", "PolicyDocument": "{\"Version\":\"1\"}"})
        )),
        (400, "InvalidParameter.PolicyGrammar".into())
    );
    root.call(Operation::CreateAccessKey, &json!({"UserName": "alice"}))
        .unwrap();
    assert_eq!(
        code(root.call(Operation::CreateAccessKey, &json!({"UserName": "alice"}))),
        (409, "LimitExceeded".into())
    );

    // Disabled, then deleted, keys are refused.
    root.call(
        Operation::UpdateAccessKey,
        &json!({"UserName": "alice", "UserAccessKeyId": ak, "Status": "Inactive"}),
    )
    .unwrap();
    assert_eq!(
        code(alice.call(Operation::GetCallerIdentity, &json!({}))),
        (403, "InvalidAccessKeyId.Inactive".into())
    );
    root.call(
        Operation::DeleteAccessKey,
        &json!({"UserName": "alice", "UserAccessKeyId": ak}),
    )
    .unwrap();
    assert_eq!(
        code(alice.call(Operation::GetCallerIdentity, &json!({}))),
        (404, "InvalidAccessKeyId.NotFound".into())
    );
}

#[test]
fn bad_signatures_are_refused() {
    let s = start();
    let wrong = client(&s, ROOT_AK, "not-the-secret");
    assert_eq!(
        code(wrong.call(Operation::ListUsers, &json!({}))),
        (400, "SignatureDoesNotMatch".into())
    );
    let other_region = AdminClient::new(
        &s.endpoint,
        ROOT_AK,
        AccessKeySecret::new(ROOT_SK),
        "us-east-1",
    )
    .unwrap();
    assert_eq!(
        code(other_region.call(Operation::ListUsers, &json!({}))).0,
        400
    );
}

#[test]
fn assume_role_gives_working_sts_credentials() {
    let s = start();
    let root = client(&s, ROOT_AK, ROOT_SK);
    let trust = json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"RAM": [format!("acs:ram::{ACCOUNT}:root")]}}]});
    let role = root
        .call(
            Operation::CreateRole,
            &json!({"RoleName": "reader", "AssumeRolePolicyDocument": trust.to_string(),
                    "MaxSessionDuration": "7200"}),
        )
        .unwrap();
    let arn = role["Role"]["Arn"].as_str().unwrap().to_owned();
    assert_eq!(arn, format!("acs:ram::{ACCOUNT}:role/reader"));
    let assumed = root
        .call(
            Operation::AssumeRole,
            &json!({"RoleArn": arn, "RoleSessionName": "s1", "DurationSeconds": 900}),
        )
        .unwrap();
    let c = &assumed["Credentials"];
    assert!(c["AccessKeyId"].as_str().unwrap().starts_with("STS."));
    assert!(c["Expiration"].as_str().unwrap().ends_with('Z'));
    let session = client(
        &s,
        c["AccessKeyId"].as_str().unwrap(),
        c["AccessKeySecret"].as_str().unwrap(),
    )
    .with_security_token(c["SecurityToken"].as_str().unwrap());
    let who = session
        .call(Operation::GetCallerIdentity, &json!({}))
        .unwrap();
    assert_eq!(who["IdentityType"], "AssumedRoleUser");
    assert_eq!(who["Arn"], format!("acs:ram::{ACCOUNT}:role/reader/s1"));
    // Without its token the STS key is refused.
    let tokenless = client(
        &s,
        c["AccessKeyId"].as_str().unwrap(),
        c["AccessKeySecret"].as_str().unwrap(),
    );
    assert_eq!(
        code(tokenless.call(Operation::GetCallerIdentity, &json!({}))).1,
        "InvalidSecurityToken.Malformed"
    );
    assert_eq!(
        code(root.call(
            Operation::AssumeRole,
            &json!({"RoleArn": format!("acs:ram::{ACCOUNT}:role/reader"), "RoleSessionName": "s1",
                    "DurationSeconds": 60}),
        )),
        (400, "InvalidParameter.DurationSeconds".into())
    );
}
