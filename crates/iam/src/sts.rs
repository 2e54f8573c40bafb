//! STS: temporary credentials for a role session (Alibaba Cloud STS API reference, "AssumeRole"),
//! carried in a self-contained security token.
//!
//! The token is the session's claims sealed under the iam sealing key (purpose `SessionToken`):
//!
//! ```text
//! token  = "CAES" ‖ base64url-nopad(sealed)
//! sealed = seal(SessionToken, binding = ["sts"], postcard(SessionClaims))   (format byte 1 inside)
//! ```
//!
//! so the server validates a token without a lookup: it opens (authentic and made by this server),
//! names the presented access key id, has not expired, and its role still exists with the same
//! UID — deleting a role revokes all its sessions. The temporary secret travels inside the token,
//! encrypted; nothing about a session is stored.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use coffer_types::AccessKeySecret;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use zeroize::{Zeroize, Zeroizing};

use crate::seal::{Purpose, Sealer};

/// Temporary access key ids start with this, as Alibaba's STS ones do.
pub const STS_ACCESS_KEY_PREFIX: &str = "STS.";
/// Tokens start with this, like Alibaba's.
const TOKEN_PREFIX: &str = "CAES";
/// Do not change: every token issued so far is bound to it.
const TOKEN_BINDING: &[u8] = b"sts";
/// Do not change: the claims layout of tokens issued so far.
const CLAIMS_FORMAT_1: u8 = 1;
/// Longest token text accepted; a real one is well under 4 KiB (a 2048-character session policy
/// at most).
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// Shortest session `AssumeRole` grants.
pub const MIN_SESSION_DURATION: Duration = Duration::seconds(900);
/// Session length when `DurationSeconds` is not given.
pub const DEFAULT_SESSION_DURATION: Duration = Duration::seconds(3600);
/// Allowed range of a role's `MaxSessionDuration`, in seconds.
pub const MAX_SESSION_DURATION_RANGE: std::ops::RangeInclusive<u32> = 3600..=43200;

/// What a token says about its session.
#[derive(Serialize, Deserialize)]
pub(crate) struct SessionClaims {
    pub(crate) format: u8,
    pub(crate) access_key_id: String,
    pub(crate) secret: String,
    pub(crate) account_id: String,
    pub(crate) role_id: String,
    pub(crate) role_name: String,
    pub(crate) session_name: String,
    pub(crate) issued: i64,
    pub(crate) expiration: i64,
    /// The session policy's text, if `AssumeRole` had one.
    pub(crate) policy: Option<String>,
}

impl Drop for SessionClaims {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl SessionClaims {
    pub(crate) fn seal(&self, sealer: &Sealer) -> String {
        let plain = Zeroizing::new(postcard::to_stdvec(self).expect("claims always serialize"));
        let sealed = sealer.seal(Purpose::SessionToken, &[TOKEN_BINDING], &plain);
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(sealed))
    }

    /// The claims of a token this server issued; `None` for anything else.
    pub(crate) fn open(sealer: &Sealer, token: &str) -> Option<Self> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD
            .decode(token.strip_prefix(TOKEN_PREFIX)?)
            .ok()?;
        let plain = sealer.open(Purpose::SessionToken, &[TOKEN_BINDING], &sealed)?;
        let claims: SessionClaims = postcard::from_bytes(&plain).ok()?;
        (claims.format == CLAIMS_FORMAT_1).then_some(claims)
    }

    pub(crate) fn new_format() -> u8 {
        CLAIMS_FORMAT_1
    }
}

/// The parameters of `AssumeRole`.
#[derive(Debug, Clone, Default)]
pub struct AssumeRoleRequest {
    /// `acs:ram::{uid}:role/{name}`.
    pub role_arn: String,
    /// 2–64 characters of `[A-Za-z0-9.@_-]`.
    pub session_name: String,
    /// From [`MIN_SESSION_DURATION`] to the role's maximum; [`DEFAULT_SESSION_DURATION`] if
    /// `None`.
    pub duration: Option<Duration>,
    /// A session policy (JSON text) that narrows the role's policies.
    pub policy: Option<String>,
    /// Checked against the trust policy's `sts:ExternalId` condition.
    pub external_id: Option<String>,
}

/// An STS security token: opaque text a client sends with its temporary access key. No `Debug`
/// of its content.
pub struct SecurityToken(String);

impl SecurityToken {
    /// The token text. Every use is a place to audit.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecurityToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityToken(<redacted>)")
    }
}

impl Drop for SecurityToken {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// What `AssumeRole` returns: the session's identity and its temporary credentials.
#[derive(Debug)]
pub struct AssumedRole {
    /// `acs:ram::{uid}:role/{role}/{session}`.
    pub arn: String,
    /// `{roleId}:{session}`.
    pub assumed_role_id: String,
    /// `STS.` and 24 characters.
    pub access_key_id: String,
    /// The temporary secret.
    pub access_key_secret: AccessKeySecret,
    /// The token to send with every request (`x-oss-security-token`, `SecurityToken`).
    pub security_token: SecurityToken,
    /// When the credentials stop being accepted.
    pub expiration: OffsetDateTime,
}

impl AssumedRole {
    pub(crate) fn new(
        arn: String,
        assumed_role_id: String,
        access_key_id: String,
        access_key_secret: AccessKeySecret,
        token: String,
        expiration: OffsetDateTime,
    ) -> Self {
        Self {
            arn,
            assumed_role_id,
            access_key_id,
            access_key_secret,
            security_token: SecurityToken(token),
            expiration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_crypto::RootKey;

    fn claims() -> SessionClaims {
        SessionClaims {
            format: CLAIMS_FORMAT_1,
            access_key_id: "STS.abc".into(),
            secret: "s3cr3t-value-of-the-session".into(),
            account_id: "1111111111111111".into(),
            role_id: "300000000000000001".into(),
            role_name: "reader".into(),
            session_name: "s1".into(),
            issued: 100,
            expiration: 3700,
            policy: None,
        }
    }

    #[test]
    fn tokens_open_only_here_and_hide_the_secret() {
        let sealer = Sealer::new(&RootKey::from_bytes([3; 32]));
        let token = claims().seal(&sealer);
        assert!(token.starts_with("CAES"));
        assert!(!token.contains("s3cr3t"));
        let back = SessionClaims::open(&sealer, &token).unwrap();
        assert_eq!(back.access_key_id, "STS.abc");
        assert_eq!(back.secret, "s3cr3t-value-of-the-session");
        let other = Sealer::new(&RootKey::from_bytes([4; 32]));
        assert!(SessionClaims::open(&other, &token).is_none());
        let mut bad = token.clone().into_bytes();
        let last = bad.len() - 2;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert!(SessionClaims::open(&sealer, &String::from_utf8(bad).unwrap()).is_none());
        assert!(SessionClaims::open(&sealer, "CAES").is_none());
        assert!(SessionClaims::open(&sealer, "garbage").is_none());
        assert!(SessionClaims::open(&sealer, &token[4..]).is_none());
    }

    #[test]
    fn debug_hides_token() {
        let t = SecurityToken("CAESsecret".into());
        assert_eq!(format!("{t:?}"), "SecurityToken(<redacted>)");
    }
}

#[cfg(test)]
mod golden {
    //! A token issued by the first release; new code must keep accepting it until it expires.

    use super::*;
    use coffer_crypto::RootKey;

    const TOKEN_V1: &str = "CAESATUq0MHxF3hEYHwUPjMtqGS56fJAcWzjsuV8j3ijuU6I0m9n54Lnwdz17zM7THXoE4liQjJNh364JIZBcs9YBoW-RngBNl2BJVh_vIL6EKV5gQmv2IeBuoYyXS0ODEAXlX8lU1ufKLcEwUdKcA";

    #[test]
    fn format_1_tokens_still_open() {
        let sealer = Sealer::new(&RootKey::from_bytes([3; 32]));
        let c = SessionClaims::open(&sealer, TOKEN_V1).unwrap();
        assert_eq!(
            (
                c.access_key_id.as_str(),
                c.secret.as_str(),
                c.role_name.as_str(),
                c.expiration,
                c.policy.as_deref()
            ),
            ("STS.golden", "golden-secret", "reader", 3700, Some("{}"))
        );
    }
}
