//! The KMS dialect of the shared HTTP edge (`coffer_http`): its request ids, span fields, JSON
//! errors and `InternalFailure` for panics; and the request pipeline (route → parameters →
//! authentication → action → authorization → operation → JSON).

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use coffer_http::RequestBody;
use coffer_iam::{Conditions, Iam, Principal};
use coffer_kms::{AccountId, Caller, Kms};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use rand::RngCore;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tracing::{info_span, warn};

use crate::action::{self, Action};
use crate::auth::{self, MAX_SKEW, SignedParts};
use crate::error::{ApiError, codes};
use crate::ops::{self, Ctx};
use crate::params::Params;
use coffer_signature::replay::{ReplayGuard, SpentNonces};

/// Largest request body read, in bytes. The largest legitimate one (a 6 KiB Encrypt plaintext and
/// an 8 KiB context, base64 and form-encoded) is well under it.
const MAX_BODY_LEN: usize = 256 * 1024;
/// Most (access key, nonce) pairs one identity has live at once: about 70 requests per second
/// sustained over the replay window, a few MiB; a busier identity is refused, others are not.
const REPLAY_SHARE: usize = 1 << 17;
/// The audit principal of requests signed with the account's root key.
const ROOT_PRINCIPAL: &str = "root";

/// The KMS API over one KMS engine, authenticating against one IAM.
pub struct KmsApiService {
    kms: Arc<Kms>,
    iam: Arc<Iam>,
    region: String,
    replay: ReplayGuard,
}

impl KmsApiService {
    /// A service over `kms`, authenticating and authorizing with `iam`, answering for `region`
    /// (DescribeRegions, and the `HostId` of errors when a request has no `Host`). The region
    /// in ARNs is the engine's own; the two should agree.
    pub fn new(kms: Arc<Kms>, iam: Arc<Iam>, region: String) -> Self {
        if kms.region() != region {
            warn!(
                api_region = %region,
                kms_region = %kms.region(),
                "the KMS API and the KMS engine name different regions"
            );
        }
        Self {
            kms,
            iam,
            region,
            replay: ReplayGuard::new(2 * MAX_SKEW.whole_seconds(), REPLAY_SHARE),
        }
    }
}

impl KmsApiService {
    /// Sets how many nonces one identity may have live at once (the default suits production;
    /// tests lower it to fill a share cheaply).
    #[must_use]
    pub fn replay_share(mut self, share: usize) -> Self {
        self.replay = self.replay.with_share_capacity(share);
        self
    }

    /// Spends every signature nonce also in `shared`, the nonce store of every node of the
    /// deployment: a request accepted by one node is refused as a replay by all the others.
    #[must_use]
    pub fn with_shared_nonces(mut self, shared: Arc<dyn SpentNonces>) -> Self {
        self.replay = self.replay.with_shared(shared);
        self
    }
}

/// Why an in-process call ([`KmsApiService::invoke`]) failed: the KMS API's error code and
/// message, as a signed request would have received them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The KMS error code (`Forbidden.NoPermission`, `Forbidden.KeyNotFound`, ...).
    pub code: &'static str,
    /// Its message.
    pub message: String,
}

impl KmsApiService {
    /// Runs the action named `action` with `params` for `principal`, whom the caller has already
    /// authenticated (the web console's session): the same action table, authorization
    /// (`kms:<Action>` on the key's ARN, the root on its account) and engine calls as a signed
    /// request, without the signature and nonce checks that belong to the wire. `conditions` are
    /// the caller's request facts (source address, transport, time, user agent) that policies
    /// test. Returns the JSON body the API would have sent.
    pub async fn invoke(
        &self,
        principal: &Principal,
        conditions: Conditions,
        action: &str,
        params: &[(&str, &str)],
        request_id: &str,
    ) -> Result<serde_json::Value, Refusal> {
        let refuse = |e: ApiError| {
            if e.status.is_server_error() {
                tracing::error!(code = e.code, cause = ?e.cause, "KMS action failed");
            }
            Refusal {
                code: e.code,
                message: e.message,
            }
        };
        let action = Action::parse(action).ok_or_else(|| {
            refuse(ApiError::new(
                codes::INVALID_ACTION,
                format!("Specified api {action:?} is not found."),
            ))
        })?;
        let params = Params::from_pairs(params).map_err(refuse)?;
        let key = policy_key(&self.kms, &self.iam, &params);
        let caller = authorize(
            &self.iam,
            principal,
            action,
            self.kms.region(),
            &key,
            &conditions,
        )
        .map_err(refuse)?;
        let ctx = Ctx {
            kms: &self.kms,
            caller,
            region: &self.region,
            request_id,
        };
        let body = ops::run(ctx, action, &params).await.map_err(refuse)?;
        serde_json::from_slice(&body).map_err(|e| refuse(ApiError::internal(e)))
    }
}

impl std::fmt::Debug for KmsApiService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KmsApiService")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

type Body = Full<Bytes>;

/// Serves KMS API requests on `listener` behind `edge` until `shutdown` resolves, then waits
/// for the requests in flight to finish.
pub async fn serve(
    edge: coffer_http::Edge,
    listener: TcpListener,
    service: Arc<KmsApiService>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    edge.serve(listener, Arc::new(KmsDialect(service)), shutdown)
        .await
}

/// The KMS dialect of the shared request envelope.
struct KmsDialect(Arc<KmsApiService>);

type Exchange = coffer_http::Exchange<String>;

impl coffer_http::Dialect for KmsDialect {
    type Reply = Vec<u8>;
    type Error = ApiError;
    type RequestId = String;
    type Body = Body;
    const API: &'static str = "KMS";

    fn request_id(&self) -> String {
        new_request_id()
    }

    fn span(&self, req: &Request<RequestBody>, ex: &Exchange) -> tracing::Span {
        info_span!(
            "kms_request",
            request_id = %ex.request_id,
            method = %req.method(),
            peer = %ex.peer,
            op = tracing::field::Empty,
            access_key_id = tracing::field::Empty,
        )
    }

    async fn dispatch(
        &self,
        req: Request<RequestBody>,
        ex: &Exchange,
    ) -> Result<Vec<u8>, ApiError> {
        dispatch(&self.0, ex, req).await
    }

    fn internal_error(&self, what: &str) -> ApiError {
        ApiError::internal(what.to_owned())
    }

    fn failure<'a>(&self, err: &'a ApiError) -> coffer_http::Failure<'a> {
        coffer_http::Failure {
            status: err.status,
            code: err.code.into(),
            cause: err.cause.as_deref().map(|c| c as &dyn std::fmt::Debug),
        }
    }

    fn respond(&self, outcome: Result<Vec<u8>, ApiError>, ex: &Exchange) -> Response<Body> {
        let (status, body) = match outcome {
            Ok(body) => (StatusCode::OK, body),
            Err(err) => {
                let host_id = if ex.host.is_empty() {
                    format!("kms.{}.aliyuncs.com", self.0.region)
                } else {
                    ex.host.clone()
                };
                (err.status, err.to_json(&ex.request_id, &host_id))
            }
        };
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json;charset=utf-8"),
        );
        if let Ok(v) = HeaderValue::from_str(&ex.request_id) {
            headers.insert("x-acs-request-id", v);
        }
        response
    }
}

/// A request id shaped like Alibaba's: an upper-case UUID (version 4 layout).
fn new_request_id() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

async fn dispatch(
    svc: &KmsApiService,
    ex: &Exchange,
    req: Request<RequestBody>,
) -> Result<Vec<u8>, ApiError> {
    let (head, body) = req.into_parts();
    if head.uri.path() != "/" {
        return Err(ApiError::new(
            codes::INVALID_ACTION,
            "The KMS API is served at the path /.",
        ));
    }
    if head.method != Method::GET && head.method != Method::POST {
        return Err(ApiError::new(
            codes::UNSUPPORTED_HTTP_METHOD,
            "This http method is not supported; use GET or POST.",
        ));
    }
    let body = read_body(body).await?;
    let form = is_form(&head.headers).then_some(&body[..]);
    let params = Params::parse(head.uri.query().unwrap_or(""), form)?;
    let authenticated = auth::authenticate(
        &svc.iam,
        &svc.replay,
        &SignedParts {
            method: head.method.as_str(),
            path: head.uri.path(),
            headers: &head.headers,
            params: &params,
            body: &body,
        },
        OffsetDateTime::now_utc(),
    )?;
    let span = tracing::Span::current();
    span.record("access_key_id", authenticated.access_key_id.as_str());
    let action = action::select(&params, &head.headers, authenticated.scheme)?;
    ex.set_op(action.as_str());
    let key = policy_key(&svc.kms, &svc.iam, &params);
    let caller = authorize(
        &svc.iam,
        &authenticated.principal,
        action,
        svc.kms.region(),
        &key,
        &connection_conditions(ex, &head.headers),
    )?;
    let ctx = Ctx {
        kms: &svc.kms,
        caller,
        region: &svc.region,
        request_id: &ex.request_id,
    };
    ops::run(ctx, action, &params).await
}

/// Whether the body is a form whose parameters count (the SDKs put API parameters in the query,
/// users may add form parameters; both count). Other bodies are still hashed by ACS3 but carry no
/// parameters.
fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

async fn read_body(body: RequestBody) -> Result<Bytes, ApiError> {
    match Limited::new(body, MAX_BODY_LEN).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(ApiError::invalid(
            "Body",
            "the request body is larger than 256 KiB",
        )),
        Err(e) => Err(ApiError::invalid(
            "Body",
            format!("the request body could not be read: {e}"),
        )),
    }
}

/// Decides whether `principal` may perform `action`, and the caller the engine sees.
///
/// Interim rule until `coffer_iam` has `kms:*` actions and KMS resources: only the account's root
/// identity may call the KMS API, for every action (what RAM allows the root account anyway).
/// `action.ram_action()` names the permission a RAM user will need.
/// The key id a request acts on, for its policy check: from `KeyId` (an id, alias or ARN),
/// `AliasName`, or the key named inside `CiphertextBlob`; `*` for actions on no single key
/// (CreateKey, ListKeys, ...). A name that resolves to no key is checked as given; the action
/// then fails with its own not-found error.
fn policy_key(kms: &Kms, iam: &Iam, params: &Params) -> String {
    let Ok(account) = AccountId::parse(iam.account_id()) else {
        return "*".to_owned();
    };
    let lookup = Caller::api(account, ROOT_PRINCIPAL);
    let named = params
        .optional("KeyId")
        .or_else(|| params.optional("AliasName"));
    if let Some(given) = named {
        return coffer_kms::KeyRef::parse(given)
            .and_then(|key| kms.resolve_key_id(&lookup, &key))
            .map(|id| id.to_string())
            .unwrap_or_else(|_| given.to_owned());
    }
    params
        .optional("CiphertextBlob")
        .and_then(|blob| coffer_kms::CiphertextBlob::from_base64(blob).ok())
        .and_then(|b| b.key_version())
        .map_or_else(|| "*".to_owned(), |(key_id, _)| key_id.to_string())
}

/// The condition values of a request from its connection and head, as every front-end sets
/// them: `acs:SecureTransport` (TLS to coffer itself), `acs:SourceIp` (the socket peer),
/// `acs:CurrentTime` and `acs:UserAgent` ("Policy elements" and "Condition keys" of the RAM
/// documentation).
fn connection_conditions(ex: &Exchange, headers: &HeaderMap) -> Conditions {
    let mut conditions = Conditions::new()
        .current_time(OffsetDateTime::now_utc())
        .secure_transport(ex.secure)
        .source_ip(ex.peer.ip());
    if let Some(agent) = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        conditions = conditions.user_agent(agent);
    }
    conditions
}

fn authorize(
    iam: &Iam,
    principal: &Principal,
    action: Action,
    region: &str,
    key: &str,
    conditions: &Conditions,
) -> Result<Caller, ApiError> {
    let denied = || {
        ApiError::new(
            codes::NO_PERMISSION,
            format!(
                "You are not authorized to do action {} on this resource.",
                action.ram_action()
            ),
        )
    };
    let account = || {
        AccountId::parse(iam.account_id())
            .map_err(|e| ApiError::internal(format!("the account id is not a KMS account id: {e}")))
    };
    match principal {
        Principal::Root { account_id, .. } if account_id == iam.account_id() => {
            Ok(Caller::api(account()?, ROOT_PRINCIPAL))
        }
        Principal::Anonymous => Err(denied()),
        // RAM users and role sessions need the action on the key's ARN (`key/*` for actions on
        // no single key).
        other => {
            let arn = iam.kms_key_arn(region, key);
            iam.check_kms(other, action.ram_action(), &arn, conditions)
                .map_err(|_| denied())?;
            Ok(Caller::api(account()?, other.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use coffer_types::AccessKeySecret;

    use super::*;

    #[test]
    fn request_ids_are_upper_case_uuids() {
        let id = new_request_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(
            id.bytes()
                .all(|b| b == b'-' || b.is_ascii_digit() || b.is_ascii_uppercase())
        );
        assert_ne!(id, new_request_id());
    }

    #[test]
    fn form_bodies_are_recognised_by_media_type() {
        let check = |ct: Option<&str>, expected: bool| {
            let mut h = HeaderMap::new();
            if let Some(ct) = ct {
                h.insert(http::header::CONTENT_TYPE, ct.parse().unwrap());
            }
            assert_eq!(is_form(&h), expected, "{ct:?}");
        };
        check(Some("application/x-www-form-urlencoded"), true);
        check(
            Some("Application/X-WWW-Form-Urlencoded; charset=UTF-8"),
            true,
        );
        check(Some("application/json"), false);
        check(None, false);
    }

    #[test]
    fn only_the_accounts_root_is_authorized() {
        let iam = Iam::new(
            "1234567890123456".into(),
            "ak".into(),
            AccessKeySecret::new("s"),
        );
        let root = Principal::Root {
            account_id: "1234567890123456".into(),
            access_key_id: "ak".into(),
        };
        let none = Conditions::new();
        let caller = authorize(&iam, &root, Action::Encrypt, "cn-hangzhou", "*", &none).unwrap();
        assert_eq!(caller.account_id.as_str(), "1234567890123456");
        assert_eq!(caller.principal, "root");
        assert_eq!(caller.via, coffer_kms::Via::Api);
        let other = Principal::Root {
            account_id: "1".into(),
            access_key_id: "ak".into(),
        };
        let e = authorize(&iam, &other, Action::Encrypt, "cn-hangzhou", "*", &none).unwrap_err();
        assert_eq!((e.code, e.status.as_u16()), ("Forbidden.NoPermission", 403));
        assert!(e.message.contains("kms:Encrypt"));
        let e = authorize(
            &iam,
            &Principal::Anonymous,
            Action::ListKeys,
            "cn-hangzhou",
            "*",
            &none,
        )
        .unwrap_err();
        assert_eq!(e.code, "Forbidden.NoPermission");
    }
}
