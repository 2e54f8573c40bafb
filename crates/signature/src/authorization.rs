//! Parsing of the `Authorization` header and of the V4 credential.

use std::fmt;

use crate::error::{Error, Result, malformed};
use crate::v4::{ALGORITHM_V4, normalise_additional_headers};

const SCHEME_V1: &str = "OSS";

/// A parsed `Authorization` header.
///
/// `Debug` leaves the signature out: signatures are never logged. There is no `PartialEq`, so
/// that signatures are only ever compared in constant time, by [`verify`](crate::verify).
#[derive(Clone)]
pub enum AuthHeader {
    /// `OSS <ak>:<signature>`.
    V1 {
        /// The access key id.
        access_key_id: String,
        /// The base64 signature as presented.
        signature: String,
    },
    /// `OSS4-HMAC-SHA256 Credential=…[,AdditionalHeaders=…],Signature=…`.
    V4 {
        /// The access key id and scope.
        credential: Credential,
        /// AdditionalHeaders names, lower case, sorted, de-duplicated.
        additional_headers: Vec<String>,
        /// The hex signature as presented.
        signature: String,
    },
}

impl fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V1 { access_key_id, .. } => f
                .debug_struct("V1")
                .field("access_key_id", access_key_id)
                .field("signature", &"<redacted>")
                .finish(),
            Self::V4 {
                credential,
                additional_headers,
                ..
            } => f
                .debug_struct("V4")
                .field("credential", credential)
                .field("additional_headers", additional_headers)
                .field("signature", &"<redacted>")
                .finish(),
        }
    }
}

/// A V4 credential: `<ak>/<yyyymmdd>/<region>/<product>/<terminator>`, as presented. Whether
/// the scope is acceptable is decided by [`verify`](crate::verify), not by parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The access key id.
    pub access_key_id: String,
    /// The scope date, `yyyymmdd`.
    pub date: String,
    /// The region, without the `oss-` prefix (`cn-hangzhou`).
    pub region: String,
    /// The product, `oss` for coffer.
    pub product: String,
    /// The terminator, `aliyun_v4_request`.
    pub terminator: String,
}

impl Credential {
    /// Parses `<ak>/<yyyymmdd>/<region>/<product>/<terminator>`.
    pub fn parse(s: &str) -> Result<Self> {
        let mut parts = s.split('/');
        // An empty region is kept: it is the wrong region (`Error::WrongRegion`), as OSS
        // reports it, not a malformed credential.
        let mut next = |may_be_empty: bool| {
            parts
                .next()
                .filter(|p| may_be_empty || !p.is_empty())
                .map(str::to_owned)
                .ok_or(malformed(
                    "credential must be <ak>/<date>/<region>/<product>/<terminator>",
                ))
        };
        let credential = Self {
            access_key_id: next(false)?,
            date: next(false)?,
            region: next(true)?,
            product: next(false)?,
            terminator: next(false)?,
        };
        if parts.next().is_some() {
            return Err(malformed(
                "credential must be <ak>/<date>/<region>/<product>/<terminator>",
            ));
        }
        Ok(credential)
    }

    /// The scope as signed: `<date>/<region>/<product>/<terminator>`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.date, self.region, self.product, self.terminator
        )
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.access_key_id, self.scope())
    }
}

/// Parses an `Authorization` header value.
///
/// V4 fields are an unordered list split on `,` with surrounding whitespace ignored, so both
/// oss2's `Credential=…, Signature=…, AdditionalHeaders=…` and the v2 SDK's
/// `Credential=…,AdditionalHeaders=…,Signature=…` parse. Unknown or repeated fields are refused.
/// A scheme other than `OSS` or `OSS4-HMAC-SHA256` gives [`Error::UnsupportedScheme`].
pub fn parse_authorization(header: &str) -> Result<AuthHeader> {
    let header = header.trim_matches(is_space);
    let (scheme, rest) = match header.split_once(is_space) {
        Some((scheme, rest)) => (scheme, rest.trim_matches(is_space)),
        None => (header, ""),
    };
    match scheme {
        SCHEME_V1 => parse_v1(rest),
        ALGORITHM_V4 => parse_v4(rest),
        "" => Err(malformed("empty Authorization header")),
        _ => Err(Error::UnsupportedScheme),
    }
}

fn is_space(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn parse_v1(rest: &str) -> Result<AuthHeader> {
    let Some((access_key_id, signature)) = rest.split_once(':') else {
        return Err(malformed("V1 Authorization must be OSS <ak>:<signature>"));
    };
    if access_key_id.is_empty() || signature.is_empty() || rest.contains(is_space) {
        return Err(malformed("V1 Authorization must be OSS <ak>:<signature>"));
    }
    Ok(AuthHeader::V1 {
        access_key_id: access_key_id.to_owned(),
        signature: signature.to_owned(),
    })
}

fn parse_v4(rest: &str) -> Result<AuthHeader> {
    let mut credential = None;
    let mut additional = None;
    let mut signature = None;
    for field in rest.split(',') {
        let field = field.trim_matches(is_space);
        if field.is_empty() {
            continue;
        }
        let Some((name, value)) = field.split_once('=') else {
            return Err(malformed("V4 Authorization field without '='"));
        };
        let slot = match name.trim_matches(is_space) {
            "Credential" => &mut credential,
            "AdditionalHeaders" => &mut additional,
            "Signature" => &mut signature,
            _ => return Err(malformed("unknown field in V4 Authorization")),
        };
        if slot.replace(value.trim_matches(is_space)).is_some() {
            return Err(malformed("repeated field in V4 Authorization"));
        }
    }
    let credential =
        Credential::parse(credential.ok_or(malformed("V4 Authorization without Credential"))?)?;
    let signature = signature
        .filter(|s| !s.is_empty())
        .ok_or(malformed("V4 Authorization without Signature"))?;
    Ok(AuthHeader::V4 {
        credential,
        additional_headers: parse_additional_headers(additional.unwrap_or(""))?,
        signature: signature.to_owned(),
    })
}

/// `host;range` → `["host", "range"]`; empty → `[]`.
pub(crate) fn parse_additional_headers(list: &str) -> Result<Vec<String>> {
    if list.is_empty() {
        return Ok(Vec::new());
    }
    normalise_additional_headers(&list.split(';').collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_needs_exactly_five_non_empty_parts() {
        let c = Credential::parse("ak/20240221/cn-hangzhou/oss/aliyun_v4_request").unwrap();
        assert_eq!(
            c.to_string(),
            "ak/20240221/cn-hangzhou/oss/aliyun_v4_request"
        );
        for bad in [
            "",
            "ak",
            "ak/20240221/cn-hangzhou/oss",
            "ak/20240221/cn-hangzhou/oss/aliyun_v4_request/x",
            "ak//cn-hangzhou/oss/aliyun_v4_request",
            "/20240221/cn-hangzhou/oss/aliyun_v4_request",
        ] {
            assert!(Credential::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn debug_leaves_out_the_signature() {
        let h = parse_authorization("OSS ak:c2lnbmF0dXJl").unwrap();
        assert!(!format!("{h:?}").contains("c2lnbmF0dXJl"));
        let h = parse_authorization(
            "OSS4-HMAC-SHA256 Credential=ak/20240221/cn-hangzhou/oss/aliyun_v4_request,Signature=abcdef",
        )
        .unwrap();
        assert!(!format!("{h:?}").contains("abcdef"));
    }
}
