//! Recomputing a presented signature and checking its time limits.

use coffer_types::AccessKeySecret;
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result, malformed};
use crate::presented::{Form, Presented};
use crate::request::{SignedRequest, X_OSS_CONTENT_SHA256};
use crate::v1::{sign_v1, string_to_sign_v1};
use crate::v4::{
    PRODUCT, SCOPE_TERMINATOR, UNSIGNED_PAYLOAD, canonical_request_v4, sign_v4, signing_key_v4,
    string_to_sign_v4,
};

/// How far a request time may be from the server's clock, past which OSS answers
/// `RequestTimeTooSkewed` (OSS documentation, "Include a V1 signature in the Authorization
/// header").
pub const MAX_SKEW: Duration = Duration::minutes(15);

/// Verifies that `presented` (from [`detect`](crate::detect) on the same `req`) was signed with
/// `secret`, and that the request is timely at `now`.
///
/// `region` is the region this server serves (`cn-hangzhou`); V4 credentials must name it.
/// The signature is checked before the clock, so a stale or expired request is only reported as
/// such once it is known to be authentic.
///
/// The body is not seen here: when `x-oss-content-sha256` is not `UNSIGNED-PAYLOAD` the caller
/// must check the body against it (the admin API does), or refuse the value with
/// [`require_unsigned_payload`] (the OSS API does, as OSS itself).
pub fn verify(
    req: &SignedRequest<'_>,
    presented: &Presented,
    secret: &AccessKeySecret,
    now: OffsetDateTime,
    region: &str,
) -> Result<()> {
    let (string_to_sign, canonical_request, expected) = match &presented.form {
        Form::V1 { date, .. } => {
            let string_to_sign = string_to_sign_v1(req, date)?;
            let expected = sign_v1(secret, &string_to_sign);
            (string_to_sign, None, expected)
        }
        Form::V4 {
            credential,
            additional_headers,
            timestamp,
            ..
        } => {
            if !timestamp.starts_with(credential.date.as_str()) || credential.date.len() != 8 {
                return Err(malformed("credential date does not match x-oss-date"));
            }
            if credential.region != region {
                return Err(Error::WrongRegion {
                    expected: region.to_owned(),
                });
            }
            if credential.product != PRODUCT {
                return Err(malformed("credential product must be oss"));
            }
            if credential.terminator != SCOPE_TERMINATOR {
                return Err(malformed("credential must end with aliyun_v4_request"));
            }
            let canonical_request = canonical_request_v4(req, additional_headers)?;
            let string_to_sign =
                string_to_sign_v4(timestamp, &credential.scope(), &canonical_request);
            let key = signing_key_v4(secret, &credential.date, region);
            let expected = sign_v4(&key, &string_to_sign);
            (string_to_sign, Some(canonical_request), expected)
        }
    };
    if !bool::from(expected.as_bytes().ct_eq(presented.signature.as_bytes())) {
        return Err(Error::SignatureDoesNotMatch {
            string_to_sign,
            canonical_request,
        });
    }
    check_time(presented, now)
}

/// [`Error::PayloadHashNotSupported`] unless a V4 request's `x-oss-content-sha256` is
/// `UNSIGNED-PAYLOAD` or absent. OSS accepts no other value, and refuses it before it looks at the
/// signature; V1 signs the header like any other `x-oss-` header and gives it no meaning.
pub fn require_unsigned_payload(req: &SignedRequest<'_>, presented: &Presented) -> Result<()> {
    if matches!(presented.form, Form::V4 { .. })
        && req
            .header(X_OSS_CONTENT_SHA256)?
            .is_some_and(|v| v != UNSIGNED_PAYLOAD)
    {
        return Err(Error::PayloadHashNotSupported);
    }
    Ok(())
}

fn check_time(presented: &Presented, now: OffsetDateTime) -> Result<()> {
    if let Some(request_time) = presented.request_time {
        let skew = if presented.scheme().is_presigned() {
            // A presigned URL may be used long after it was made; it only may not come from
            // the future.
            request_time - now
        } else {
            (request_time - now).abs()
        };
        if skew > MAX_SKEW {
            return Err(Error::RequestTimeTooSkewed {
                request_time,
                server_time: now,
            });
        }
    }
    if let Some(expires_at) = presented.expires_at.filter(|e| now > *e) {
        return Err(Error::Expired {
            expires_at,
            server_time: now,
        });
    }
    Ok(())
}
