//! [`Conditions`]: the condition-key values a front-end observed about a request.

use std::net::IpAddr;

use time::OffsetDateTime;

use crate::policy::RequestFacts;

/// Condition keys (Alibaba Cloud RAM documentation, "Policy elements"; OSS documentation, "Bucket
/// Policy") that every front-end can fill.
pub mod keys {
    /// Client IP address (the socket peer).
    pub const SOURCE_IP: &str = "acs:SourceIp";
    /// `true` when the request came over TLS.
    pub const SECURE_TRANSPORT: &str = "acs:SecureTransport";
    /// Server receive time, RFC 3339.
    pub const CURRENT_TIME: &str = "acs:CurrentTime";
    /// The `User-Agent` header.
    pub const USER_AGENT: &str = "acs:UserAgent";
    /// The access key id used (filled by `Iam` from the principal).
    pub const ACCESS_ID: &str = "acs:AccessId";
    /// Always `false` for API keys (filled by `Iam`).
    pub const MFA_PRESENT: &str = "acs:MFAPresent";
    /// `prefix` of ListObjects.
    pub const OSS_PREFIX: &str = "oss:Prefix";
    /// `delimiter` of ListObjects.
    pub const OSS_DELIMITER: &str = "oss:Delimiter";
    /// `sts:ExternalId` of AssumeRole, for trust policies.
    pub const STS_EXTERNAL_ID: &str = "sts:ExternalId";
}

/// What a front-end observed about a request, for policy conditions: the values of condition keys
/// such as `acs:SourceIp` or `oss:Prefix`.
///
/// Built once per request at the edge and passed to every check of that request. Keys the
/// request has no value for are simply absent (a positive operator on them is false, a negated
/// one true). `acs:CurrentTime` is filled from the [`Iam`](crate::Iam)'s clock when not given;
/// `acs:AccessId` and `acs:MFAPresent` are always filled from the principal.
///
/// ```
/// use coffer_iam::Conditions;
/// let c = Conditions::new()
///     .source_ip("10.1.2.3".parse().unwrap())
///     .secure_transport(false)
///     .user_agent("aliyun-sdk-python/2.18")
///     .with("oss:Prefix", "home/alice/");
/// assert_eq!(c.get("oss:prefix"), Some("home/alice/"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// (key, value) in insertion order; a key may repeat (several values).
    values: Vec<(String, String)>,
}

impl Conditions {
    /// No values yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `acs:CurrentTime` (the server's receive time).
    #[must_use]
    pub fn current_time(self, now: OffsetDateTime) -> Self {
        self.with(keys::CURRENT_TIME, crate::rfc3339(now))
    }

    /// Sets `acs:SourceIp` (IPv4-mapped IPv6 addresses are given as IPv4).
    #[must_use]
    pub fn source_ip(self, ip: IpAddr) -> Self {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.with(keys::SOURCE_IP, ip.to_string())
    }

    /// Sets `acs:SecureTransport`.
    #[must_use]
    pub fn secure_transport(self, secure: bool) -> Self {
        self.with(keys::SECURE_TRANSPORT, secure.to_string())
    }

    /// Sets `acs:UserAgent`.
    #[must_use]
    pub fn user_agent(self, user_agent: &str) -> Self {
        self.with(keys::USER_AGENT, user_agent)
    }

    /// Adds a value for any condition key and returns the conditions.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert(key, value);
        self
    }

    /// Adds a value for any condition key.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        self.values.push((key.to_owned(), value.into()));
    }

    /// The first value of `key` (any case).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Whether `key` has a value (any case).
    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Copies every value into `facts`.
    pub(crate) fn apply_to(&self, facts: &mut RequestFacts) {
        for (k, v) in &self.values {
            facts.insert_value(k, v.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_in_the_forms_the_operators_read() {
        let c = Conditions::new()
            .current_time(time::macros::datetime!(2025-01-15 12:00:00.5 UTC))
            .source_ip("::ffff:10.0.0.1".parse().unwrap())
            .secure_transport(true);
        assert_eq!(c.get("acs:currenttime"), Some("2025-01-15T12:00:00Z"));
        assert_eq!(c.get(keys::SOURCE_IP), Some("10.0.0.1"));
        assert_eq!(c.get(keys::SECURE_TRANSPORT), Some("true"));
        assert!(!c.has(keys::USER_AGENT));
    }
}
