//! Authentication: which access key signed a request, proven by its RPC v1 or ACS3 signature,
//! with coffer's checks around it: request time within 15 minutes, signature method and version,
//! every `x-acs-*` header and `host` signed, the body hash, a fresh nonce. The error codes are the
//! KMS API's (`IllegalTimestamp`, `IncompleteSignature`, `SignatureDoesNotMatch`); the window and
//! the nonce memory are coffer's choice.
//!
//! Order of checks: the signature fields' shape, the request time, the access key, the signature
//! (compared in constant time), and last the nonce, so that only a verified request can spend
//! one. Secrets come from [`Iam::credentials`]; nothing here logs a secret, a signature or a
//! token.
//!
//! STS: a `SecurityToken` parameter (RPC v1) or `x-acs-security-token` header (ACS3) is signed
//! like any other field and checked by [`Iam::credentials`] against the temporary access key it
//! was issued with; an expired or foreign token is refused.

use coffer_iam::{Iam, Principal};
use coffer_signature::replay::{Refusal, ReplayGuard};
use http::HeaderMap;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{ApiError, codes};
use crate::params::Params;
use crate::signature::{acs3, rpc};

/// Largest accepted distance between a request's time and the server's.
pub(crate) const MAX_SKEW: time::Duration = time::Duration::minutes(15);
/// Longest accepted signature nonce, in bytes (SDKs send 32 to 36).
const MAX_NONCE_LEN: usize = 128;

/// Which signature a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// RPC v1, HMAC-SHA1, in the `Signature` parameter.
    Rpc,
    /// `ACS3-HMAC-SHA256`, in the `Authorization` header.
    Acs3,
}

/// What authentication needs of a request.
pub(crate) struct SignedParts<'a> {
    pub(crate) method: &'a str,
    /// The path as received (always `/` once routed).
    pub(crate) path: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) params: &'a Params,
    pub(crate) body: &'a [u8],
}

/// A verified request's signer.
#[derive(Debug)]
pub(crate) struct Authenticated {
    pub(crate) principal: Principal,
    pub(crate) access_key_id: String,
    pub(crate) scheme: Scheme,
}

/// Verifies the request's signature and returns who signed it. Unsigned requests are refused:
/// the KMS API has no anonymous access.
pub(crate) fn authenticate(
    iam: &Iam,
    replay: &ReplayGuard,
    req: &SignedParts<'_>,
    now: OffsetDateTime,
) -> Result<Authenticated, ApiError> {
    let authorization = header(req.headers, "authorization")?;
    match authorization {
        Some(value) if value.starts_with(acs3::SCHEME_PREFIX) => {
            authenticate_acs3(iam, replay, req, value, now)
        }
        _ if req.params.get(rpc::SIGNATURE).is_some() => authenticate_rpc(iam, replay, req, now),
        Some(_) => Err(ApiError::new(
            codes::INCOMPLETE_SIGNATURE,
            "The Authorization header uses an unsupported scheme; sign with ACS3-HMAC-SHA256 or \
             with the Signature parameter (HMAC-SHA1).",
        )),
        None => Err(ApiError::missing(rpc::SIGNATURE)),
    }
}

fn authenticate_rpc(
    iam: &Iam,
    replay: &ReplayGuard,
    req: &SignedParts<'_>,
    now: OffsetDateTime,
) -> Result<Authenticated, ApiError> {
    let params = req.params;
    let presented = params.required(rpc::SIGNATURE)?;
    let access_key_id = params.required("AccessKeyId")?;
    let method = params.required("SignatureMethod")?;
    if method != rpc::SIGNATURE_METHOD {
        return Err(incomplete(format!(
            "SignatureMethod {method:?} is not supported; use {}.",
            rpc::SIGNATURE_METHOD
        )));
    }
    let version = params.required("SignatureVersion")?;
    if version != rpc::SIGNATURE_VERSION {
        return Err(incomplete(format!(
            "SignatureVersion {version:?} is not supported; use {}.",
            rpc::SIGNATURE_VERSION
        )));
    }
    if params.optional("SignatureType").is_some() {
        return Err(incomplete(
            "SignatureType must be empty: bearer tokens are not supported.",
        ));
    }
    let nonce = params.required("SignatureNonce")?;
    check_nonce_shape(nonce)?;
    check_time("Timestamp", params.optional("Timestamp"), now)?;
    let (principal, secret) =
        iam.credentials(access_key_id, params.optional("SecurityToken"), now)?;
    let canonical = rpc::canonical_query(params.iter());
    let string_to_sign = rpc::string_to_sign(req.method, &canonical);
    if !rpc::verify(secret.expose_secret(), &string_to_sign, presented) {
        // Do not change the layout: the old SDK splits this message on ':' and compares the
        // second part with its own string to sign to tell a wrong secret from a signing bug.
        return Err(ApiError::new(
            codes::SIGNATURE_DOES_NOT_MATCH,
            format!(
                "Specified signature is not matched with our calculation. server string to sign \
                 is:{string_to_sign}"
            ),
        ));
    }
    spend_nonce(replay, &principal, access_key_id, nonce, now)?;
    Ok(Authenticated {
        principal,
        access_key_id: access_key_id.to_owned(),
        scheme: Scheme::Rpc,
    })
}

fn authenticate_acs3(
    iam: &Iam,
    replay: &ReplayGuard,
    req: &SignedParts<'_>,
    authorization: &str,
    now: OffsetDateTime,
) -> Result<Authenticated, ApiError> {
    if !authorization.starts_with(&format!("{} ", acs3::ALGORITHM)) {
        return Err(ApiError::invalid(
            "Authorization",
            format!("the only ACS3 algorithm supported is {}", acs3::ALGORITHM),
        ));
    }
    let auth = acs3::parse_authorization(authorization).ok_or_else(|| {
        incomplete(
            "The Authorization header is malformed; expected ACS3-HMAC-SHA256 \
             Credential=<AccessKeyId>,SignedHeaders=<names>,Signature=<64 hex digits>.",
        )
    })?;
    let signed: Vec<&str> = auth.header_names().collect();
    if !signed.contains(&"host") {
        return Err(incomplete("SignedHeaders must include host."));
    }
    for name in req.headers.keys() {
        let name = name.as_str();
        if name.starts_with("x-acs-") && !signed.contains(&name) {
            return Err(incomplete(format!(
                "The header {name} is present but not in SignedHeaders."
            )));
        }
    }
    if header(req.headers, "x-acs-accesskey-id")?.is_some_and(|id| id != auth.access_key_id) {
        return Err(incomplete(
            "x-acs-accesskey-id differs from the Credential of the Authorization header.",
        ));
    }
    let nonce = header(req.headers, "x-acs-signature-nonce")?
        .filter(|n| !n.is_empty())
        .ok_or_else(|| incomplete("The x-acs-signature-nonce header is required."))?;
    check_nonce_shape(nonce)?;
    check_time("x-acs-date", header(req.headers, "x-acs-date")?, now)?;
    let claimed_hash = header(req.headers, "x-acs-content-sha256")?
        .ok_or_else(|| incomplete("The x-acs-content-sha256 header is required."))?;
    let token = header(req.headers, "x-acs-security-token")?;
    let (principal, secret) = iam.credentials(auth.access_key_id, token, now)?;
    let body_hash = acs3::payload_hash(req.body);
    if !claimed_hash.eq_ignore_ascii_case(&body_hash) {
        return Err(ApiError::new(
            codes::SIGNATURE_DOES_NOT_MATCH,
            "The x-acs-content-sha256 header is not the SHA-256 of the request body.",
        ));
    }
    let mut headers = Vec::with_capacity(signed.len());
    for name in &signed {
        let mut values = Vec::new();
        for v in req.headers.get_all(*name) {
            values.push(
                v.to_str()
                    .map_err(|_| ApiError::invalid(name, "the header is not text"))?,
            );
        }
        headers.push((*name, acs3::canonical_header_value(values.into_iter())));
    }
    let canonical_query = acs3::canonical_query(
        req.params
            .query()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let canonical_request = acs3::canonical_request(
        req.method,
        req.path,
        &canonical_query,
        &headers,
        auth.signed_headers,
        claimed_hash,
    );
    let string_to_sign = acs3::string_to_sign(&canonical_request);
    if !acs3::verify(secret.expose_secret(), &string_to_sign, auth.signature) {
        return Err(ApiError::new(
            codes::SIGNATURE_DOES_NOT_MATCH,
            format!(
                "The request signature does not conform to Aliyun standards. server string to \
                 sign is:{}",
                string_to_sign.replace('\n', "\\n")
            ),
        ));
    }
    spend_nonce(replay, &principal, auth.access_key_id, nonce, now)?;
    Ok(Authenticated {
        principal,
        access_key_id: auth.access_key_id.to_owned(),
        scheme: Scheme::Acs3,
    })
}

fn incomplete(message: impl Into<String>) -> ApiError {
    ApiError::new(codes::INCOMPLETE_SIGNATURE, message)
}

/// A header's value as text; `None` if absent.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|v| {
            v.to_str()
                .map_err(|_| ApiError::invalid(name, "the header is not text"))
        })
        .transpose()
}

fn check_nonce_shape(nonce: &str) -> Result<(), ApiError> {
    if nonce.len() > MAX_NONCE_LEN {
        return Err(ApiError::invalid(
            "SignatureNonce",
            "it is longer than 128 bytes",
        ));
    }
    Ok(())
}

/// The request time: `YYYY-MM-DDThh:mm:ssZ` (fractional seconds and offsets accepted), within
/// [`MAX_SKEW`] of `now`.
fn check_time(name: &str, value: Option<&str>, now: OffsetDateTime) -> Result<(), ApiError> {
    let illegal = |why: &str| {
        ApiError::new(
            codes::ILLEGAL_TIMESTAMP,
            format!("The input parameter {name:?} {why}."),
        )
    };
    let value = value
        .ok_or_else(|| illegal("that is mandatory for processing this request is not supplied"))?;
    let time = OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| illegal("must be in the format YYYY-MM-DDThh:mm:ssZ"))?;
    if (time - now).abs() > MAX_SKEW {
        return Err(illegal(
            "is more than 15 minutes away from the server's time; check the client's clock",
        ));
    }
    Ok(())
}

fn spend_nonce(
    replay: &ReplayGuard,
    principal: &Principal,
    access_key_id: &str,
    nonce: &str,
    now: OffsetDateTime,
) -> Result<(), ApiError> {
    let share = principal.budget_holder().unwrap_or(access_key_id);
    replay
        .check(share, access_key_id, nonce, now.unix_timestamp())
        .map_err(|refusal| match refusal {
            Refusal::Replayed => ApiError::new(
                codes::SIGNATURE_NONCE_USED,
                "The request signature nonce has been used recently.",
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

#[cfg(test)]
mod tests {
    use coffer_types::AccessKeySecret;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2024-05-06 07:08:09 UTC);
    const TIMESTAMP: &str = "2024-05-06T07:08:09Z";

    fn iam() -> Iam {
        Iam::new(
            "1234567890123456".into(),
            "testid".into(),
            AccessKeySecret::new("testsecret"),
        )
    }

    fn guard() -> ReplayGuard {
        ReplayGuard::new(1800, 100)
    }

    /// A signed RPC v1 request's query string: the usual parameters with `extra` replacing or
    /// adding some (`<absent>` removes one), all signed with `secret`.
    fn rpc_query(extra: &[(&str, &str)], secret: &str) -> String {
        let mut params: Vec<(String, String)> = [
            ("Action", "DescribeKey"),
            ("Version", "2016-01-20"),
            ("Format", "JSON"),
            ("KeyId", "alias/a b*~+/="),
            ("Timestamp", TIMESTAMP),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureVersion", "1.0"),
            ("SignatureNonce", "nonce-1"),
            ("SignatureType", ""),
            ("AccessKeyId", "testid"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in extra {
            params.retain(|(name, _)| name != k);
            if *v != "<absent>" {
                params.push((k.to_string(), v.to_string()));
            }
        }
        let canonical = rpc::canonical_query(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let signature = rpc::sign(secret, &rpc::string_to_sign("POST", &canonical));
        params.push(("Signature".into(), signature));
        encode_query(&params)
    }

    fn encode_query(params: &[(String, String)]) -> String {
        params
            .iter()
            .map(|(k, v)| {
                let mut s = String::new();
                crate::signature::percent_encode(k, &mut s);
                s.push('=');
                crate::signature::percent_encode(v, &mut s);
                s
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    fn run(
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
        guard: &ReplayGuard,
    ) -> Result<Authenticated, ApiError> {
        let form = (!body.is_empty()).then_some(body);
        let params = Params::parse(query, form)?;
        authenticate(
            &iam(),
            guard,
            &SignedParts {
                method: "POST",
                path: "/",
                headers,
                params: &params,
                body,
            },
            NOW,
        )
    }

    fn rpc_check(extra: &[(&str, &str)], secret: &str, expected: Result<(), &str>) {
        let query = rpc_query(extra, secret);
        let got = run(&query, &HeaderMap::new(), b"", &guard())
            .map(|_| ())
            .map_err(|e| e.code);
        assert_eq!(got, expected, "{extra:?}");
    }

    #[test]
    fn rpc_signatures_verify_and_name_the_root_principal() {
        let a = run(
            &rpc_query(&[], "testsecret"),
            &HeaderMap::new(),
            b"",
            &guard(),
        )
        .unwrap();
        assert_eq!(a.scheme, Scheme::Rpc);
        assert_eq!(a.access_key_id, "testid");
        assert_eq!(
            a.principal,
            Principal::Root {
                account_id: "1234567890123456".into(),
                access_key_id: "testid".into()
            }
        );
        // Fractional seconds and a SecurityToken (accepted, see the module docs).
        rpc_check(
            &[("Timestamp", "2024-05-06T07:08:09.123Z")],
            "testsecret",
            Ok(()),
        );
        rpc_check(&[("SecurityToken", "CAIS+token/=")], "testsecret", Ok(()));
    }

    #[test]
    fn rpc_failures_have_the_spec_codes() {
        rpc_check(&[], "wrong", Err("SignatureDoesNotMatch"));
        rpc_check(
            &[("AccessKeyId", "other")],
            "testsecret",
            Err("InvalidAccessKeyId.NotFound"),
        );
        rpc_check(
            &[("AccessKeyId", "<absent>")],
            "testsecret",
            Err("MissingParameter"),
        );
        rpc_check(
            &[("SignatureNonce", "<absent>")],
            "testsecret",
            Err("MissingParameter"),
        );
        rpc_check(
            &[("SignatureMethod", "HMAC-SHA256")],
            "testsecret",
            Err("IncompleteSignature"),
        );
        rpc_check(
            &[("SignatureVersion", "2.0")],
            "testsecret",
            Err("IncompleteSignature"),
        );
        rpc_check(
            &[("SignatureType", "BEARERTOKEN")],
            "testsecret",
            Err("IncompleteSignature"),
        );
        rpc_check(
            &[("Timestamp", "<absent>")],
            "testsecret",
            Err("IllegalTimestamp"),
        );
        rpc_check(
            &[("Timestamp", "2024/05/06 07:08:09")],
            "testsecret",
            Err("IllegalTimestamp"),
        );
        rpc_check(
            &[("Timestamp", "2024-05-06T06:53:08Z")],
            "testsecret",
            Err("IllegalTimestamp"),
        );
        rpc_check(
            &[("Timestamp", "2024-05-06T07:23:10Z")],
            "testsecret",
            Err("IllegalTimestamp"),
        );
        rpc_check(
            &[("Timestamp", "2024-05-06T07:23:09Z")],
            "testsecret",
            Ok(()),
        );
        rpc_check(
            &[("SignatureNonce", &"n".repeat(129))],
            "testsecret",
            Err("InvalidParameter"),
        );
        let unsigned = run(
            "Action=DescribeKey&Version=2016-01-20",
            &HeaderMap::new(),
            b"",
            &guard(),
        );
        assert_eq!(unsigned.unwrap_err().code, "MissingParameter");
    }

    #[test]
    fn a_changed_parameter_or_body_breaks_the_rpc_signature() {
        let query = rpc_query(&[], "testsecret");
        let changed = query.replace("DescribeKey", "DisableKey");
        let e = run(&changed, &HeaderMap::new(), b"", &guard()).unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        // The message ends with the server's string to sign after the only ':'.
        let (_, sts) = e.message.split_once(':').unwrap();
        assert!(
            sts.starts_with("POST&%2F&AccessKeyId%3Dtestid%26Action%3DDisableKey"),
            "{sts}"
        );
        // Body parameters are signed too.
        let e = run(&query, &HeaderMap::new(), b"Extra=1", &guard()).unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
    }

    #[test]
    fn a_nonce_is_spent_only_by_a_verified_request() {
        let guard = guard();
        let bad = rpc_query(&[], "wrong");
        assert!(run(&bad, &HeaderMap::new(), b"", &guard).is_err());
        let good = rpc_query(&[], "testsecret");
        assert!(run(&good, &HeaderMap::new(), b"", &guard).is_ok());
        let e = run(&good, &HeaderMap::new(), b"", &guard).unwrap_err();
        assert_eq!(e.code, "SignatureNonceUsed");
    }

    /// An ACS3 request as the Tea SDK builds it, signed with `secret`, then `edit`ed.
    fn acs3_request(
        secret: &str,
        body: &[u8],
        edit: impl FnOnce(&mut Vec<(String, String)>),
    ) -> (String, HeaderMap) {
        let query = vec![
            ("KeyId".to_owned(), "alias/a b*~".to_owned()),
            ("EncryptionContext".to_owned(), "{\"k\":\"é\"}".to_owned()),
        ];
        let mut headers: Vec<(String, String)> = [
            ("accept", "application/json"),
            ("host", "127.0.0.1:9001"),
            ("x-acs-action", "DescribeKey"),
            ("x-acs-version", "2016-01-20"),
            ("x-acs-date", TIMESTAMP),
            ("x-acs-signature-nonce", "nonce-2"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        headers.push(("x-acs-content-sha256".into(), acs3::payload_hash(body)));
        headers.sort();
        let signed_headers = headers
            .iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(";");
        let canonical_headers: Vec<(&str, String)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        let canonical_query =
            acs3::canonical_query(query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let request = acs3::canonical_request(
            "POST",
            "/",
            &canonical_query,
            &canonical_headers,
            &signed_headers,
            &acs3::payload_hash(body),
        );
        let signature = acs3::sign(secret, &acs3::string_to_sign(&request));
        headers.push((
            "authorization".into(),
            format!("ACS3-HMAC-SHA256 Credential=testid,SignedHeaders={signed_headers},Signature={signature}"),
        ));
        edit(&mut headers);
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let query: Vec<(String, String)> = query;
        (encode_query(&query).replace("%20", "+"), map)
    }

    fn acs3_check(
        secret: &str,
        body: &[u8],
        edit: impl FnOnce(&mut Vec<(String, String)>),
        expected: Result<(), &str>,
    ) {
        let (query, headers) = acs3_request(secret, body, edit);
        let got = run(&query, &headers, body, &guard())
            .map(|_| ())
            .map_err(|e| e.code);
        assert_eq!(got, expected);
    }

    fn set(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
        headers.retain(|(k, _)| k != name);
        headers.push((name.to_owned(), value.to_owned()));
    }

    #[test]
    fn acs3_signatures_verify() {
        let (query, headers) = acs3_request("testsecret", b"", |_| {});
        let a = run(&query, &headers, b"", &guard()).unwrap();
        assert_eq!(a.scheme, Scheme::Acs3);
        assert_eq!(a.access_key_id, "testid");
        acs3_check("testsecret", b"Description=x+y", |_| {}, Ok(()));
    }

    #[test]
    fn acs3_failures_have_the_spec_codes() {
        acs3_check("wrong", b"", |_| {}, Err("SignatureDoesNotMatch"));
        // The body must be what was hashed.
        let (query, headers) = acs3_request("testsecret", b"A=1", |_| {});
        let e = run(&query, &headers, b"A=2", &guard()).unwrap_err();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        // Signed headers cannot change; unsigned x-acs-* headers are refused.
        acs3_check(
            "testsecret",
            b"",
            |h| set(h, "x-acs-action", "DisableKey"),
            Err("SignatureDoesNotMatch"),
        );
        acs3_check(
            "testsecret",
            b"",
            |h| set(h, "host", "evil:1"),
            Err("SignatureDoesNotMatch"),
        );
        acs3_check(
            "testsecret",
            b"",
            |h| set(h, "x-acs-extra", "1"),
            Err("IncompleteSignature"),
        );
        acs3_check(
            "testsecret",
            b"",
            |h| set(h, "x-acs-accesskey-id", "other"),
            Err("IncompleteSignature"),
        );
        // Unsigned ordinary headers may change (proxies add some).
        acs3_check("testsecret", b"", |h| set(h, "via", "proxy"), Ok(()));
        acs3_check(
            "testsecret",
            b"",
            |h| {
                set(
                    h,
                    "authorization",
                    "ACS3-HMAC-SM3 Credential=testid,SignedHeaders=host,Signature=00",
                )
            },
            Err("InvalidParameter"),
        );
        acs3_check(
            "testsecret",
            b"",
            |h| set(h, "authorization", "ACS3-HMAC-SHA256 Credential=testid"),
            Err("IncompleteSignature"),
        );
        acs3_check(
            "testsecret",
            b"",
            |h| set(h, "authorization", "OSS testid:abc"),
            Err("IncompleteSignature"),
        );
    }

    #[test]
    fn acs3_without_host_date_or_nonce_is_refused() {
        // Re-signing without one of the headers: a signature over fewer headers.
        let (query, mut headers) = acs3_request("testsecret", b"", |_| {});
        headers.remove("x-acs-date");
        assert_eq!(
            run(&query, &headers, b"", &guard()).unwrap_err().code,
            "IllegalTimestamp"
        );
        let (query, mut headers) = acs3_request("testsecret", b"", |_| {});
        headers.remove("x-acs-signature-nonce");
        assert_eq!(
            run(&query, &headers, b"", &guard()).unwrap_err().code,
            "IncompleteSignature"
        );
        let (query, mut headers) = acs3_request("testsecret", b"", |_| {});
        headers.remove("x-acs-content-sha256");
        assert_eq!(
            run(&query, &headers, b"", &guard()).unwrap_err().code,
            "IncompleteSignature"
        );
        let sig = "0".repeat(64);
        acs3_check(
            "testsecret",
            b"",
            |h| {
                set(
                    h,
                    "authorization",
                    &format!(
                        "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature={sig}"
                    ),
                )
            },
            Err("IncompleteSignature"),
        );
    }

    #[test]
    fn acs3_replays_are_refused() {
        let guard = guard();
        let (query, headers) = acs3_request("testsecret", b"", |_| {});
        assert!(run(&query, &headers, b"", &guard).is_ok());
        let e = run(&query, &headers, b"", &guard).unwrap_err();
        assert_eq!(e.code, "SignatureNonceUsed");
    }
}
