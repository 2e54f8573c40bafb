//! Authentication: which principal signed a request, proven by its V1 or V4 signature (with the
//! STS security token for temporary credentials).

use coffer_iam::{Iam, Principal};
use coffer_signature::{Error as SigError, SignedRequest};
use time::OffsetDateTime;

use crate::error::{OssError, codes};

/// Verifies the request's signature, if it carries one, and returns who sent it.
///
/// Temporary (`STS.`) access keys need their security token, which the request carries in
/// `x-oss-security-token` (header, or V4 query), `security-token` (V1 query, or the v2 SDK's V1
/// header); unknown or disabled keys are `InvalidAccessKeyId`, a bad token `InvalidSecurityToken`
/// and an expired one `SecurityTokenExpired`, all 403.
pub fn authenticate(
    iam: &Iam,
    req: &SignedRequest<'_>,
    now: OffsetDateTime,
    region: &str,
) -> Result<Principal, OssError> {
    let Some(presented) = coffer_signature::detect(req).map_err(signature_error)? else {
        return Ok(Principal::Anonymous);
    };
    coffer_signature::require_unsigned_payload(req, &presented).map_err(signature_error)?;
    let (principal, secret) =
        iam.credentials(presented.access_key_id(), presented.security_token(), now)?;
    coffer_signature::verify(req, &presented, &secret, now, region).map_err(signature_error)?;
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
        // OSS answers a credential scope naming another (or no) region with 400, not 403
        // ("0002-00000226"), in the words it uses for presigned URLs too.
        SigError::WrongRegion { .. } => OssError::new(
            codes::INVALID_SIGNING_REGION,
            "The signing region in credential is invalid.",
        ),
        SigError::MissingDate => OssError::new(
            codes::ACCESS_DENIED,
            "The request must carry a Date or x-oss-date header.",
        ),
        SigError::PayloadHashNotSupported => OssError::new(
            codes::PAYLOAD_HASH_NOT_SUPPORTED,
            "The x-oss-content-sha256 only supports UNSIGNED-PAYLOAD.",
        )
        .detail("ArgumentName", "x-oss-content-sha256"),
        SigError::UnsupportedScheme => OssError::new(
            codes::ACCESS_DENIED,
            "The authorization scheme is not supported; use OSS (V1) or OSS4-HMAC-SHA256 (V4).",
        ),
        other => OssError::invalid_argument("Authorization", "", other.to_string()),
    }
}
