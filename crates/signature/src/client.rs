//! Signing on the client side, for coffer's own CLI and benchmark tools.
//!
//! Each helper adds what the scheme needs to a copy of the request, then signs that copy through
//! the same canonicalisation [`verify`](crate::verify) uses, so a request signed here verifies
//! exactly when the server would accept it.

use std::fmt;

use coffer_types::AccessKeySecret;
use time::{Duration, OffsetDateTime};

use crate::date::{format_iso8601_basic, format_rfc1123};
use crate::error::{Result, malformed};
use crate::presented::{
    MAX_PRESIGNED_EXPIRY, Q_ADDITIONAL_HEADERS, Q_CREDENTIAL, Q_DATE, Q_EXPIRES, Q_SECURITY_TOKEN,
    Q_SIGNATURE_VERSION, Q_V1_ACCESS_KEY_ID, Q_V1_EXPIRES, Q_V1_SECURITY_TOKEN, Q_V1_SIGNATURE,
};
use crate::request::{
    AUTHORIZATION, DATE, SignedRequest, X_OSS_CONTENT_SHA256, X_OSS_DATE, X_OSS_SECURITY_TOKEN,
};
use crate::v1::{header_date, sign_v1, string_to_sign_v1};
use crate::v4::{
    ALGORITHM_V4, Q_SIGNATURE, UNSIGNED_PAYLOAD, canonical_request_v4, is_default_signed_header,
    normalise_additional_headers, scope_v4, sign_v4, signing_key_v4, string_to_sign_v4,
};

/// An access key to sign with, and the STS token that goes with a temporary one.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// The access key id.
    pub access_key_id: &'a str,
    /// Its secret.
    pub secret: &'a AccessKeySecret,
    /// The STS security token, for temporary keys.
    pub security_token: Option<&'a str>,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .field("security_token", &self.security_token.map(|_| "<redacted>"))
            .finish()
    }
}

/// Signs `req` with V1 in the `Authorization` header.
///
/// Returns the headers to set on the request, each replacing any header of the same name:
/// `date` (from `now`), `x-oss-security-token` when the credentials have one, and
/// `authorization`. If `req` already has `x-oss-date`, that value is what gets signed, as the
/// server expects.
pub fn sign_request_v1(
    req: &SignedRequest<'_>,
    credentials: &Credentials<'_>,
    now: OffsetDateTime,
) -> Result<Vec<(String, String)>> {
    let mut set = vec![(DATE.to_owned(), format_rfc1123(now))];
    if let Some(token) = credentials.security_token {
        set.push((X_OSS_SECURITY_TOKEN.to_owned(), token.to_owned()));
    }
    let headers = replace_headers(req.headers, &set);
    let signed = SignedRequest {
        headers: &headers,
        ..*req
    };
    let string_to_sign = string_to_sign_v1(&signed, header_date(&signed)?)?;
    let signature = sign_v1(credentials.secret, &string_to_sign);
    set.push((
        AUTHORIZATION.to_owned(),
        format!("OSS {}:{signature}", credentials.access_key_id),
    ));
    Ok(set)
}

/// Signs `req` with V4 in the `Authorization` header, in the v2 SDK's layout.
///
/// `additional_headers` names headers to sign beyond the default set (`host`, …); each must be
/// present in `req`. Returns the headers to set, each replacing any header of the same name:
/// `x-oss-date` (from `now`), `x-oss-content-sha256` (the request's own value, else
/// `UNSIGNED-PAYLOAD`), `x-oss-security-token` when the credentials have one, and
/// `authorization`.
pub fn sign_request_v4(
    req: &SignedRequest<'_>,
    credentials: &Credentials<'_>,
    region: &str,
    now: OffsetDateTime,
    additional_headers: &[&str],
) -> Result<Vec<(String, String)>> {
    let additional = client_additional_headers(additional_headers)?;
    let timestamp = format_iso8601_basic(now);
    let payload = req
        .header(X_OSS_CONTENT_SHA256)?
        .unwrap_or(UNSIGNED_PAYLOAD)
        .to_owned();
    let mut set = vec![
        (X_OSS_DATE.to_owned(), timestamp.clone()),
        (X_OSS_CONTENT_SHA256.to_owned(), payload),
    ];
    if let Some(token) = credentials.security_token {
        set.push((X_OSS_SECURITY_TOKEN.to_owned(), token.to_owned()));
    }
    let headers = replace_headers(req.headers, &set);
    let signed = SignedRequest {
        headers: &headers,
        ..*req
    };
    let signature = signature_v4(&signed, credentials, region, &timestamp, &additional)?;

    let mut authorization = format!(
        "{ALGORITHM_V4} Credential={}/{}",
        credentials.access_key_id,
        scope_v4(&timestamp[..8], region)
    );
    if !additional.is_empty() {
        authorization.push_str(",AdditionalHeaders=");
        authorization.push_str(&additional.join(";"));
    }
    authorization.push_str(",Signature=");
    authorization.push_str(&signature);
    set.push((AUTHORIZATION.to_owned(), authorization));
    Ok(set)
}

/// Presigns `req` with V1, valid until `expires`.
///
/// Returns the query parameters to append, decoded (percent-encode them, e.g. with
/// [`uri_encode`](crate::uri_encode), when building the URL: the base64 signature contains `+`
/// and `/`). `req.query` must not already hold presigned parameters.
pub fn presign_v1(
    req: &SignedRequest<'_>,
    credentials: &Credentials<'_>,
    expires: OffsetDateTime,
) -> Result<Vec<(String, String)>> {
    let reserved = [
        Q_V1_ACCESS_KEY_ID,
        Q_V1_EXPIRES,
        Q_V1_SIGNATURE,
        Q_V1_SECURITY_TOKEN,
    ];
    if reserved.iter().any(|q| req.has_query_param(q)) {
        return Err(malformed(
            "the request already carries presigned parameters",
        ));
    }
    let expires = expires.unix_timestamp();
    if expires < 0 {
        return Err(malformed("Expires must not be before 1970"));
    }
    let expires = expires.to_string();
    let mut params = vec![
        (
            Q_V1_ACCESS_KEY_ID.to_owned(),
            credentials.access_key_id.to_owned(),
        ),
        (Q_V1_EXPIRES.to_owned(), expires.clone()),
    ];
    if let Some(token) = credentials.security_token {
        params.push((Q_V1_SECURITY_TOKEN.to_owned(), token.to_owned()));
    }
    let query = [req.query, &params].concat();
    let signed = SignedRequest {
        query: &query,
        ..*req
    };
    let signature = sign_v1(credentials.secret, &string_to_sign_v1(&signed, &expires)?);
    params.push((Q_V1_SIGNATURE.to_owned(), signature));
    Ok(params)
}

/// Presigns `req` with V4, made at `now` and valid for `expires_in` (at most 7 days; whole
/// seconds).
///
/// `additional_headers` are headers the URL's user must send unchanged (each present in `req`).
/// Returns the query parameters to append, decoded (percent-encode them when building the
/// URL). `req.query` must not already hold presigned parameters.
pub fn presign_v4(
    req: &SignedRequest<'_>,
    credentials: &Credentials<'_>,
    region: &str,
    now: OffsetDateTime,
    expires_in: Duration,
    additional_headers: &[&str],
) -> Result<Vec<(String, String)>> {
    let reserved = [
        Q_SIGNATURE_VERSION,
        Q_CREDENTIAL,
        Q_DATE,
        Q_EXPIRES,
        Q_ADDITIONAL_HEADERS,
        Q_SECURITY_TOKEN,
        Q_SIGNATURE,
    ];
    if reserved.iter().any(|q| req.has_query_param(q)) {
        return Err(malformed(
            "the request already carries presigned parameters",
        ));
    }
    if expires_in.is_negative() || expires_in > MAX_PRESIGNED_EXPIRY {
        return Err(malformed(
            "presigned expiry must be between 0 and 604800 seconds",
        ));
    }
    let additional = client_additional_headers(additional_headers)?;
    let timestamp = format_iso8601_basic(now);
    let mut params = vec![
        (Q_SIGNATURE_VERSION.to_owned(), ALGORITHM_V4.to_owned()),
        (
            Q_CREDENTIAL.to_owned(),
            format!(
                "{}/{}",
                credentials.access_key_id,
                scope_v4(&timestamp[..8], region)
            ),
        ),
        (Q_DATE.to_owned(), timestamp.clone()),
        (Q_EXPIRES.to_owned(), expires_in.whole_seconds().to_string()),
    ];
    if !additional.is_empty() {
        params.push((Q_ADDITIONAL_HEADERS.to_owned(), additional.join(";")));
    }
    if let Some(token) = credentials.security_token {
        params.push((Q_SECURITY_TOKEN.to_owned(), token.to_owned()));
    }
    let query = [req.query, &params].concat();
    let signed = SignedRequest {
        query: &query,
        ..*req
    };
    let signature = signature_v4(&signed, credentials, region, &timestamp, &additional)?;
    params.push((Q_SIGNATURE.to_owned(), signature));
    Ok(params)
}

fn signature_v4(
    signed: &SignedRequest<'_>,
    credentials: &Credentials<'_>,
    region: &str,
    timestamp: &str,
    additional: &[String],
) -> Result<String> {
    let date = &timestamp[..8];
    let canonical_request = canonical_request_v4(signed, additional)?;
    let string_to_sign = string_to_sign_v4(timestamp, &scope_v4(date, region), &canonical_request);
    Ok(sign_v4(
        &signing_key_v4(credentials.secret, date, region),
        &string_to_sign,
    ))
}

/// Like the v2 SDK, leaves out names V4 signs anyway, so the AdditionalHeaders list stays the
/// same whatever the caller passes.
fn client_additional_headers(names: &[&str]) -> Result<Vec<String>> {
    let mut names = normalise_additional_headers(names)?;
    names.retain(|n| !is_default_signed_header(n));
    Ok(names)
}

fn replace_headers(
    headers: &[(String, String)],
    set: &[(String, String)],
) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| !set.iter().any(|(s, _)| s.eq_ignore_ascii_case(n)))
        .chain(set)
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_neither_secret_nor_token() {
        let secret = AccessKeySecret::new("very-secret-value");
        let credentials = Credentials {
            access_key_id: "ak",
            secret: &secret,
            security_token: Some("sts-token-value"),
        };
        let shown = format!("{credentials:?}");
        assert!(shown.contains("ak"));
        assert!(!shown.contains("very-secret"));
        assert!(!shown.contains("sts-token"));
    }
}
