//! Which authentication a request presents: header or presigned, V1 or V4, or none.

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::authorization::{AuthHeader, Credential, parse_additional_headers, parse_authorization};
use crate::date::{parse_iso8601_basic, parse_request_date};
use crate::error::{Error, Result, malformed};
use crate::request::{
    AUTHORIZATION, SECURITY_TOKEN_HEADER, SignedRequest, X_OSS_DATE, X_OSS_SECURITY_TOKEN,
};
use crate::v1;
use crate::v4::{ALGORITHM_V4, Q_SIGNATURE};

/// The longest validity a V4 presigned URL may claim (7 days).
pub const MAX_PRESIGNED_EXPIRY: Duration = Duration::days(7);

pub(crate) const Q_V1_ACCESS_KEY_ID: &str = "OSSAccessKeyId";
pub(crate) const Q_V1_EXPIRES: &str = "Expires";
pub(crate) const Q_V1_SIGNATURE: &str = "Signature";
pub(crate) const Q_V1_SECURITY_TOKEN: &str = "security-token";
pub(crate) const Q_SIGNATURE_VERSION: &str = "x-oss-signature-version";
pub(crate) const Q_CREDENTIAL: &str = "x-oss-credential";
pub(crate) const Q_DATE: &str = "x-oss-date";
pub(crate) const Q_EXPIRES: &str = "x-oss-expires";
pub(crate) const Q_ADDITIONAL_HEADERS: &str = "x-oss-additional-headers";
pub(crate) const Q_SECURITY_TOKEN: &str = "x-oss-security-token";

/// The four ways a request can be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Authorization: OSS <ak>:<signature>`.
    V1Header,
    /// `?OSSAccessKeyId=…&Expires=…&Signature=…`.
    V1Query,
    /// `Authorization: OSS4-HMAC-SHA256 …`.
    V4Header,
    /// `?x-oss-signature-version=OSS4-HMAC-SHA256&…&x-oss-signature=…`.
    V4Query,
}

impl Scheme {
    /// Whether the signature travels in the query string (a presigned URL).
    pub fn is_presigned(self) -> bool {
        matches!(self, Self::V1Query | Self::V4Query)
    }
}

/// The authentication a request presents, parsed but not yet verified.
///
/// Built only by [`detect`]; hand it to [`verify`](crate::verify) together with the secret of
/// [`access_key_id`](Self::access_key_id). `Debug` leaves out the signature and the security
/// token.
#[derive(Clone)]
pub struct Presented {
    pub(crate) access_key_id: String,
    pub(crate) security_token: Option<String>,
    pub(crate) signature: String,
    pub(crate) request_time: Option<OffsetDateTime>,
    pub(crate) expires_at: Option<OffsetDateTime>,
    pub(crate) form: Form,
}

#[derive(Clone)]
pub(crate) enum Form {
    /// `date` is what fills the V1 date line: the `x-oss-date`/`Date` value, or `Expires`.
    V1 { presigned: bool, date: String },
    /// `timestamp` is the raw `x-oss-date` the string to sign repeats.
    V4 {
        presigned: bool,
        credential: Credential,
        additional_headers: Vec<String>,
        timestamp: String,
    },
}

impl Presented {
    /// Which of the four forms the request uses.
    pub fn scheme(&self) -> Scheme {
        match self.form {
            Form::V1 {
                presigned: false, ..
            } => Scheme::V1Header,
            Form::V1 {
                presigned: true, ..
            } => Scheme::V1Query,
            Form::V4 {
                presigned: false, ..
            } => Scheme::V4Header,
            Form::V4 {
                presigned: true, ..
            } => Scheme::V4Query,
        }
    }

    /// The access key id whose secret the server must look up.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// The STS security token, from `x-oss-security-token` (header or V4 query), the v2 SDK's
    /// unsigned `security-token` header (V1 header form) or the V1 `security-token` query
    /// parameter. The server must check that it belongs to [`access_key_id`](Self::access_key_id).
    pub fn security_token(&self) -> Option<&str> {
        self.security_token.as_deref()
    }

    /// The time the request claims to be made: `x-oss-date` (or `Date`) for the header forms,
    /// `x-oss-date` for V4 presigned, `None` for V1 presigned, which carries only an expiry.
    pub fn request_time(&self) -> Option<OffsetDateTime> {
        self.request_time
    }

    /// When a presigned URL stops being valid; `None` for the header forms.
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    /// The V4 credential with its scope; `None` for V1.
    pub fn credential(&self) -> Option<&Credential> {
        match &self.form {
            Form::V4 { credential, .. } => Some(credential),
            Form::V1 { .. } => None,
        }
    }
}

impl fmt::Debug for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Presented")
            .field("scheme", &self.scheme())
            .field("access_key_id", &self.access_key_id)
            .field("credential", &self.credential())
            .field("has_security_token", &self.security_token.is_some())
            .field("request_time", &self.request_time)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Finds the authentication `req` presents, checking its structure only; `Ok(None)` means
/// anonymous (no `Authorization` header and no signature parameters).
///
/// A request that presents more than one mechanism, a partial set of presigned parameters, an
/// unparsable date or expiry, or a V4 expiry beyond [`MAX_PRESIGNED_EXPIRY`] is
/// [`Error::Malformed`]. A header-signed request without a date is [`Error::MissingDate`].
pub fn detect(req: &SignedRequest<'_>) -> Result<Option<Presented>> {
    let authorization = req.header(AUTHORIZATION)?;
    let v1_query = [Q_V1_ACCESS_KEY_ID, Q_V1_SIGNATURE]
        .iter()
        .any(|q| req.has_query_param(q));
    let v4_query = [Q_SIGNATURE_VERSION, Q_CREDENTIAL, Q_SIGNATURE]
        .iter()
        .any(|q| req.has_query_param(q));
    let mechanisms =
        usize::from(authorization.is_some()) + usize::from(v1_query) + usize::from(v4_query);
    if mechanisms > 1 {
        return Err(malformed("more than one authentication mechanism"));
    }
    if let Some(authorization) = authorization {
        return match parse_authorization(authorization)? {
            AuthHeader::V1 {
                access_key_id,
                signature,
            } => v1_header(req, access_key_id, signature),
            AuthHeader::V4 {
                credential,
                additional_headers,
                signature,
            } => v4_header(req, credential, additional_headers, signature),
        }
        .map(Some);
    }
    if v1_query {
        return v1_presigned(req).map(Some);
    }
    if v4_query {
        return v4_presigned(req).map(Some);
    }
    Ok(None)
}

fn v1_header(
    req: &SignedRequest<'_>,
    access_key_id: String,
    signature: String,
) -> Result<Presented> {
    let date = v1::header_date(req)?;
    let request_time = parse_request_date(date).ok_or(malformed("unparsable request date"))?;
    let security_token = match req.header(X_OSS_SECURITY_TOKEN)? {
        Some(t) => Some(t),
        None => req.header(SECURITY_TOKEN_HEADER)?,
    };
    Ok(Presented {
        access_key_id,
        security_token: security_token.map(str::to_owned),
        signature,
        request_time: Some(request_time),
        expires_at: None,
        form: Form::V1 {
            presigned: false,
            date: date.to_owned(),
        },
    })
}

fn v4_header(
    req: &SignedRequest<'_>,
    credential: Credential,
    additional_headers: Vec<String>,
    signature: String,
) -> Result<Presented> {
    let timestamp = req.header(X_OSS_DATE)?.ok_or(Error::MissingDate)?;
    let request_time =
        parse_iso8601_basic(timestamp).ok_or(malformed("x-oss-date must be yyyymmddThhmmssZ"))?;
    Ok(Presented {
        access_key_id: credential.access_key_id.clone(),
        security_token: req.header(X_OSS_SECURITY_TOKEN)?.map(str::to_owned),
        signature,
        request_time: Some(request_time),
        expires_at: None,
        form: Form::V4 {
            presigned: false,
            credential,
            additional_headers,
            timestamp: timestamp.to_owned(),
        },
    })
}

fn v1_presigned(req: &SignedRequest<'_>) -> Result<Presented> {
    let access_key_id = required(req, Q_V1_ACCESS_KEY_ID)?;
    let expires = required(req, Q_V1_EXPIRES)?;
    let signature = required(req, Q_V1_SIGNATURE)?;
    let expires_at = parse_seconds(expires)
        .and_then(|s| i64::try_from(s).ok())
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or(malformed("Expires must be a unix time in seconds"))?;
    Ok(Presented {
        access_key_id: access_key_id.to_owned(),
        security_token: req.query_param(Q_V1_SECURITY_TOKEN)?.map(str::to_owned),
        signature: signature.to_owned(),
        request_time: None,
        expires_at: Some(expires_at),
        form: Form::V1 {
            presigned: true,
            date: expires.to_owned(),
        },
    })
}

fn v4_presigned(req: &SignedRequest<'_>) -> Result<Presented> {
    if required(req, Q_SIGNATURE_VERSION)? != ALGORITHM_V4 {
        return Err(Error::UnsupportedScheme);
    }
    let credential = Credential::parse(required(req, Q_CREDENTIAL)?)?;
    let timestamp = required(req, Q_DATE)?;
    let request_time =
        parse_iso8601_basic(timestamp).ok_or(malformed("x-oss-date must be yyyymmddThhmmssZ"))?;
    let expires_in = parse_seconds(required(req, Q_EXPIRES)?)
        .and_then(|s| i64::try_from(s).ok())
        .map(Duration::seconds)
        .ok_or(malformed("x-oss-expires must be a number of seconds"))?;
    if expires_in > MAX_PRESIGNED_EXPIRY {
        return Err(malformed("x-oss-expires exceeds 604800 seconds"));
    }
    let expires_at = request_time
        .checked_add(expires_in)
        .ok_or(malformed("x-oss-date plus x-oss-expires is out of range"))?;
    let signature = required(req, Q_SIGNATURE)?;
    let additional_headers =
        parse_additional_headers(req.query_param(Q_ADDITIONAL_HEADERS)?.unwrap_or(""))?;
    Ok(Presented {
        access_key_id: credential.access_key_id.clone(),
        security_token: req.query_param(Q_SECURITY_TOKEN)?.map(str::to_owned),
        signature: signature.to_owned(),
        request_time: Some(request_time),
        expires_at: Some(expires_at),
        form: Form::V4 {
            presigned: true,
            credential,
            additional_headers,
            timestamp: timestamp.to_owned(),
        },
    })
}

fn required<'a>(req: &SignedRequest<'a>, name: &str) -> Result<&'a str> {
    req.query_param(name)?
        .filter(|v| !v.is_empty())
        .ok_or(malformed("a presigned URL lacks a required parameter"))
}

/// Plain decimal digits only: `str::parse` would also accept a leading `+`.
fn parse_seconds(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
