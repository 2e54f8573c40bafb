//! Authentication: which principal signed a request, proven by its V1 or V4 signature.

use coffer_iam::{Iam, Principal};
use coffer_signature::{Error as SigError, SignedRequest};
use time::OffsetDateTime;

use crate::error::{OssError, codes};

/// Verifies the request's signature, if it carries one, and returns who sent it.
pub fn authenticate(
    iam: &Iam,
    req: &SignedRequest<'_>,
    now: OffsetDateTime,
    region: &str,
) -> Result<Principal, OssError> {
    let Some(presented) = coffer_signature::detect(req).map_err(signature_error)? else {
        return Ok(Principal::Anonymous);
    };
    let (principal, secret) = iam.secret_for(presented.access_key_id())?;
    coffer_signature::verify(req, &presented, secret, now, region).map_err(signature_error)?;
    Ok(principal)
}

fn signature_error(e: SigError) -> OssError {
    match e {
        SigError::SignatureDoesNotMatch {
            string_to_sign,
            canonical_request,
        } => {
            let mut err = OssError::new(
                codes::SIGNATURE_DOES_NOT_MATCH,
                "The request signature we calculated does not match the signature you provided. \
                 Check your key and signing method.",
            )
            .detail("StringToSign", string_to_sign);
            if let Some(c) = canonical_request {
                err = err.detail("CanonicalRequest", c);
            }
            err
        }
        SigError::RequestTimeTooSkewed {
            request_time,
            server_time,
        } => OssError::new(
            codes::REQUEST_TIME_TOO_SKEWED,
            "The difference between the request time and the current time is too large.",
        )
        .detail(
            "RequestTime",
            coffer_signature::format_rfc1123(request_time),
        )
        .detail("ServerTime", coffer_signature::format_rfc1123(server_time))
        .detail("MaxAllowedSkewMilliseconds", "900000"),
        SigError::Expired { .. } => OssError::new(codes::ACCESS_DENIED, "Request has expired."),
        SigError::WrongRegion { expected } => OssError::new(
            codes::SIGNATURE_DOES_NOT_MATCH,
            format!("The V4 credential scope names another region; this server serves {expected}."),
        ),
        SigError::MissingDate => OssError::new(
            codes::ACCESS_DENIED,
            "The request must carry a Date or x-oss-date header.",
        ),
        SigError::UnsupportedScheme => OssError::new(
            codes::ACCESS_DENIED,
            "The authorization scheme is not supported; use OSS (V1) or OSS4-HMAC-SHA256 (V4).",
        ),
        other => OssError::invalid_argument("Authorization", "", other.to_string()),
    }
}
