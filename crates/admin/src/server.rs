//! The admin dialect of the shared HTTP edge (`coffer_http`): its span fields, JSON errors,
//! `InternalError` for panics; and authenticating each request with its OSS signature.

use std::future::Future;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use coffer_http::RequestBody;
use coffer_iam::{Conditions, Iam, Principal};
use coffer_kms::Kms;
use coffer_signature::replay::{Refusal, ReplayGuard, SpentNonces};
use coffer_signature::{MAX_SKEW, Scheme, SignedRequest};
use coffer_types::RequestId;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;
use sha2::Digest;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tracing::{info, info_span};

use crate::error::{ApiError, codes};
use crate::ops::{Operation, Params};

/// Largest request body: a policy document is at most 6 KiB, a session policy 2 KiB.
pub const MAX_BODY: usize = 64 * 1024;

/// The V4 header carrying the body's SHA-256; admin requests must send the real digest.
const X_OSS_CONTENT_SHA256: &str = "x-oss-content-sha256";
/// A fresh value per request, signed like every `x-oss-*` header (V1 and V4), so a captured
/// request cannot be sent again: replays would mint access keys or re-create deleted users.
pub const X_OSS_SIGNATURE_NONCE: &str = "x-oss-signature-nonce";
/// Longest accepted nonce, in bytes.
const MAX_NONCE_LEN: usize = 128;
/// Most nonces one identity has live at once (identity changes are rare; AssumeRole is the busy
/// one).
const REPLAY_SHARE: usize = 1 << 16;

/// Everything an admin request needs: the identities, the KMS whose usage and trail it serves,
/// and the region V4 signatures name.
pub struct AdminService {
    iam: Arc<Iam>,
    kms: Option<Arc<Kms>>,
    region: String,
    replay: ReplayGuard,
}

impl AdminService {
    /// A service over `iam`, accepting V4 signatures scoped to `region`.
    pub fn new(iam: Arc<Iam>, region: impl Into<String>) -> Self {
        Self {
            iam,
            kms: None,
            region: region.into(),
            replay: ReplayGuard::new(2 * MAX_SKEW.whole_seconds(), REPLAY_SHARE),
        }
    }

    /// Serves `kms`'s usage counters and audit trail at `/kms/GetUsage` and
    /// `/kms/ListAuditRecords`; without it they answer `ServiceUnavailable`.
    #[must_use]
    pub fn with_kms(mut self, kms: Arc<Kms>) -> Self {
        self.kms = Some(kms);
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

impl AdminService {
    /// Runs `op` with the JSON object `params` for `principal`, whom the caller has already
    /// authenticated (the web console's session), under `conditions` (the request's time,
    /// transport and source): the same operations and `ram:*`/`sts:*` authorization as a signed
    /// request, without the signature and nonce checks that belong to the wire. Returns the
    /// reply's fields.
    pub async fn invoke(
        &self,
        principal: &Principal,
        conditions: Conditions,
        op: Operation,
        params: Value,
    ) -> Result<Value, ApiError> {
        let body = serde_json::to_vec(&params).map_err(ApiError::internal)?;
        let params = Params::parse(&body)?;
        self.execute(principal.clone(), conditions, op, params)
            .await
    }

    /// Runs an authenticated operation, signed or from [`AdminService::invoke`]: the identity
    /// operations through `ops`, the two KMS reads through [`crate::kms`].
    async fn execute(
        &self,
        principal: Principal,
        conditions: Conditions,
        op: Operation,
        params: Params,
    ) -> Result<Value, ApiError> {
        // Writes commit to the identity store (an fsync), and the audit trail is a file read in
        // full: both stay off the async workers.
        let iam = self.iam.clone();
        if op.service() == "kms" {
            let kms = self.kms.clone().ok_or_else(|| {
                ApiError::new(codes::SERVICE_UNAVAILABLE, "This server runs no KMS.")
            })?;
            return tokio::task::spawn_blocking(move || {
                crate::kms::run(&iam, &kms, &principal, &conditions, op, &params)
            })
            .await
            .map_err(ApiError::internal)?;
        }
        tokio::task::spawn_blocking(move || run_logged(&iam, &principal, &conditions, op, &params))
            .await
            .map_err(ApiError::internal)?
    }
}

/// Serves the admin API on `listener` behind `edge` until `shutdown` resolves, then waits for
/// the requests in flight to finish.
pub async fn serve(
    edge: coffer_http::Edge,
    listener: TcpListener,
    service: Arc<AdminService>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    edge.serve(listener, Arc::new(Admin(service)), shutdown)
        .await
}

/// The admin dialect of the shared request envelope.
struct Admin(Arc<AdminService>);

type Exchange = coffer_http::Exchange<RequestId>;

impl coffer_http::Dialect for Admin {
    type Reply = Value;
    type Error = ApiError;
    type RequestId = RequestId;
    type Body = Full<Bytes>;
    const API: &'static str = "admin";

    fn request_id(&self) -> RequestId {
        RequestId::random()
    }

    fn span(&self, _req: &Request<RequestBody>, ex: &Exchange) -> tracing::Span {
        info_span!(
            "admin",
            request_id = %ex.request_id,
            op = tracing::field::Empty,
            access_key_id = tracing::field::Empty,
        )
    }

    async fn dispatch(&self, req: Request<RequestBody>, ex: &Exchange) -> Result<Value, ApiError> {
        dispatch(&self.0, req, ex).await
    }

    fn internal_error(&self, what: &str) -> ApiError {
        ApiError::internal(what.to_owned())
    }

    fn failure<'a>(&self, err: &'a ApiError) -> coffer_http::Failure<'a> {
        coffer_http::Failure {
            status: err.status,
            code: err.code.as_str().into(),
            cause: err.cause.as_deref().map(|c| c as &dyn std::fmt::Debug),
        }
    }

    fn respond(&self, outcome: Result<Value, ApiError>, ex: &Exchange) -> Response<Full<Bytes>> {
        let request_id = ex.request_id.as_str();
        let (status, body) = match outcome {
            Ok(mut value) => {
                if let Value::Object(map) = &mut value {
                    map.insert("RequestId".into(), Value::String(request_id.to_owned()));
                }
                (
                    StatusCode::OK,
                    serde_json::to_vec(&value).unwrap_or_default(),
                )
            }
            Err(e) => (e.status, e.to_json(request_id, &ex.host)),
        };
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        let headers = resp.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json;charset=utf-8"),
        );
        if let Ok(v) = http::HeaderValue::from_str(request_id) {
            headers.insert("x-acs-request-id", v);
        }
        resp
    }
}

async fn dispatch(
    svc: &AdminService,
    req: Request<RequestBody>,
    ex: &Exchange,
) -> Result<Value, ApiError> {
    let (head, body) = req.into_parts();
    if head.method != Method::POST {
        return Err(ApiError::new(
            codes::METHOD_NOT_ALLOWED,
            "Admin requests are POST /{service}/{Action}.",
        ));
    }
    let path = head.uri.path().trim_start_matches('/');
    let (service, action) = path.split_once('/').unwrap_or((path, ""));
    let op = Operation::parse(service, action).ok_or_else(|| {
        ApiError::new(
            codes::INVALID_ACTION,
            format!("The action /{service}/{action} is not known; use POST /ram/{{Action}}, /sts/{{Action}} or /kms/{{Action}}."),
        )
    })?;
    ex.set_op(op.name());
    if head.uri.query().is_some_and(|q| !q.is_empty()) {
        return Err(ApiError::invalid(
            "Query",
            "admin requests carry their parameters in a JSON body, signed in the Authorization header",
        ));
    }
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| ApiError::invalid("Body", format!("must be at most {MAX_BODY} bytes")))?
        .to_bytes();

    let mut headers = Vec::with_capacity(head.headers.len());
    for (name, value) in &head.headers {
        let value = value
            .to_str()
            .map_err(|_| ApiError::invalid(name.as_str(), "header values must be text"))?;
        headers.push((name.as_str().to_owned(), value.to_owned()));
    }
    let signed = SignedRequest {
        method: "POST",
        bucket: Some(service),
        key: Some(action),
        query: &[],
        headers: &headers,
    };
    let presented = coffer_signature::detect(&signed)?.ok_or_else(|| {
        ApiError::new(
            codes::INCOMPLETE_SIGNATURE,
            "Admin requests must be signed (Authorization: OSS4-HMAC-SHA256 … or OSS …).",
        )
    })?;
    tracing::Span::current().record("access_key_id", presented.access_key_id());
    let now = OffsetDateTime::now_utc();
    let (principal, secret) =
        svc.iam
            .credentials(presented.access_key_id(), presented.security_token(), now)?;
    coffer_signature::verify(&signed, &presented, &secret, now, &svc.region)?;
    check_body(&presented, &head.headers, &body)?;
    spend_nonce(&svc.replay, &principal, &presented, &head.headers, now)?;

    let mut conditions = Conditions::new()
        .current_time(now)
        .secure_transport(ex.secure)
        .source_ip(ex.peer.ip());
    if let Some(agent) = head
        .headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        conditions = conditions.user_agent(agent);
    }
    let params = Params::parse(&body)?;
    svc.execute(principal, conditions, op, params).await
}

fn run_logged(
    iam: &Iam,
    principal: &Principal,
    conditions: &Conditions,
    op: Operation,
    params: &Params,
) -> Result<Value, ApiError> {
    let value = crate::ops::run(iam, principal, conditions, op, params)?;
    let reads = ["Get", "List"];
    if !reads.iter().any(|r| op.name().starts_with(r)) && op != Operation::AssumeRole {
        info!(op = op.name(), by = %principal, "identity change");
    }
    Ok(value)
}

/// Spends the request's signed nonce; called only once the signature verified, so only holders of
/// a secret spend, each within its own share.
fn spend_nonce(
    replay: &ReplayGuard,
    principal: &Principal,
    presented: &coffer_signature::Presented,
    headers: &http::HeaderMap,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let nonce = headers
        .get(X_OSS_SIGNATURE_NONCE)
        .and_then(|v| v.to_str().ok())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::new(
                codes::INCOMPLETE_SIGNATURE,
                format!(
                    "Admin requests must carry a fresh {X_OSS_SIGNATURE_NONCE} header, signed."
                ),
            )
        })?;
    if nonce.len() > MAX_NONCE_LEN {
        return Err(ApiError::invalid(
            X_OSS_SIGNATURE_NONCE,
            format!("must be at most {MAX_NONCE_LEN} bytes"),
        ));
    }
    let access_key_id = presented.access_key_id();
    let share = principal.budget_holder().unwrap_or(access_key_id);
    replay
        .check(share, access_key_id, nonce, now.unix_timestamp())
        .map_err(|refusal| match refusal {
            Refusal::Replayed => ApiError::new(
                codes::SIGNATURE_NONCE_USED,
                "The request signature nonce has been used recently; each request needs a new \
                 one.",
            ),
            Refusal::Full => ApiError::new(
                codes::SERVICE_UNAVAILABLE,
                "Too many recent requests from this identity; retry later.",
            ),
            Refusal::Unavailable => ApiError::new(
                codes::SERVICE_UNAVAILABLE,
                "The signature nonce could not be checked; retry later.",
            ),
        })
}

/// The signature covers the body only through a digest: V4's `x-oss-content-sha256` must be the
/// body's real SHA-256 (no `UNSIGNED-PAYLOAD`), V1's `Content-MD5` must match a non-empty body.
fn check_body(
    presented: &coffer_signature::Presented,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let ok = match presented.scheme() {
        Scheme::V4Header | Scheme::V4Query => header(X_OSS_CONTENT_SHA256)
            .is_some_and(|h| h.eq_ignore_ascii_case(&hex::encode(sha2::Sha256::digest(body)))),
        Scheme::V1Header | Scheme::V1Query => {
            body.is_empty()
                || header("content-md5").is_some_and(|h| {
                    h == base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(body))
                })
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            codes::CONTENT_MISMATCH,
            "The body must be covered by the signature: send its SHA-256 in x-oss-content-sha256 \
             (V4) or its Content-MD5 (V1).",
        ))
    }
}
