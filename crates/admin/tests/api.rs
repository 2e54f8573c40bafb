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

/// Reads one HTTP/1.1 request or response with a `content-length` from `stream`.
fn read_message(stream: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if raw.len() >= end + 4 + len {
                return raw;
            }
        }
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "the peer closed mid-message");
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Sends `request` as is to the server and returns the error code of the JSON reply, or "" for
/// a success.
fn send_raw(s: &Server, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect(s.endpoint.trim_start_matches("http://")).unwrap();
    stream.write_all(request).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = String::from_utf8_lossy(&raw[..end])
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = serde_json::from_slice(&raw[end + 4..]).unwrap();
    (status, body["Code"].as_str().unwrap_or("").to_owned())
}

/// Calls `op` through a recording relay and returns the exact bytes the client sent.
fn captured(s: &Server, op: Operation, params: &Value) -> Vec<u8> {
    use std::io::Write;
    let relay = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let relay_endpoint = format!("http://{}", relay.local_addr().unwrap());
    let server_addr = s.endpoint.trim_start_matches("http://").to_owned();
    let recorder = std::thread::spawn(move || {
        let (mut client, _) = relay.accept().unwrap();
        let request = read_message(&mut client);
        let mut upstream = std::net::TcpStream::connect(server_addr).unwrap();
        upstream.write_all(&request).unwrap();
        let mut response = Vec::new();
        std::io::Read::read_to_end(&mut upstream, &mut response).unwrap();
        client.write_all(&response).unwrap();
        request
    });
    let c = AdminClient::new(
        &relay_endpoint,
        ROOT_AK,
        AccessKeySecret::new(ROOT_SK),
        REGION,
    )
    .unwrap();
    c.call(op, params).unwrap();
    recorder.join().unwrap()
}

#[test]
fn a_replayed_request_is_refused() {
    let s = start();
    let root = client(&s, ROOT_AK, ROOT_SK);
    let create_user = captured(&s, Operation::CreateUser, &json!({"UserName": "eve"}));
    let create_key = captured(&s, Operation::CreateAccessKey, &json!({"UserName": "eve"}));
    // Replaying the key creation does not mint another secret.
    assert_eq!(
        send_raw(&s, &create_key),
        (400, "SignatureNonceUsed".into())
    );
    let keys = root
        .call(Operation::ListAccessKeys, &json!({"UserName": "eve"}))
        .unwrap();
    assert_eq!(keys.to_string().matches("AccessKeyId").count(), 1, "{keys}");
    // Nor does replaying the user's creation bring back a deleted user.
    let id = keys
        .pointer("/AccessKeys/0/AccessKeyId")
        .unwrap()
        .as_str()
        .unwrap();
    root.call(
        Operation::DeleteAccessKey,
        &json!({"UserName": "eve", "UserAccessKeyId": id}),
    )
    .unwrap();
    root.call(Operation::DeleteUser, &json!({"UserName": "eve"}))
        .unwrap();
    assert_eq!(
        send_raw(&s, &create_user),
        (400, "SignatureNonceUsed".into())
    );
    assert_eq!(
        code(root.call(Operation::GetUser, &json!({"UserName": "eve"}))),
        (404, "EntityNotExist.User".into())
    );
}

#[test]
fn the_nonce_is_covered_by_the_signature() {
    let s = start();
    let request = captured(&s, Operation::ListUsers, &json!({}));
    let text = String::from_utf8(request).unwrap();
    let stripped: String = text
        .split_inclusive("\r\n")
        .filter(|l| !l.starts_with("x-oss-signature-nonce:"))
        .collect();
    // Dropping the nonce to get past the guard breaks the signature.
    assert_eq!(
        send_raw(&s, stripped.as_bytes()),
        (400, "SignatureDoesNotMatch".into())
    );
}
