//! [`RequestFacts`]: what a front-end observed about a request, in no protocol's vocabulary.

use std::net::IpAddr;

use coffer_iam::{Action, Conditions, keys};
use time::OffsetDateTime;

/// The facts about one request that policies may test, filled in by the front-end (OSS today;
/// any other dialect the same way) and turned into condition keys here.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// The socket peer (`acs:SourceIp`).
    pub source_ip: Option<IpAddr>,
    /// Whether the request came over TLS (`acs:SecureTransport`).
    pub secure_transport: bool,
    /// When the server received it (`acs:CurrentTime`).
    pub received: OffsetDateTime,
    /// The client's user agent (`acs:UserAgent`).
    pub user_agent: Option<String>,
    /// A listing's prefix (`oss:Prefix`, tested on ListObjects only).
    pub list_prefix: Option<String>,
    /// A listing's delimiter (`oss:Delimiter`, tested on ListObjects only).
    pub list_delimiter: Option<String>,
    /// Request headers a write's policy may test, as (lower-case name, value); each is the
    /// condition key `oss:<name>` on `oss:PutObject` (e.g. `oss:x-oss-server-side-encryption`).
    pub write_headers: Vec<(String, String)>,
    /// Tags the write gives the object (`oss:RequestObjectTag/<key>` on `oss:PutObject`).
    pub object_tags: Vec<(String, String)>,
    /// The request creates an object and sets its ACL: it also needs `oss:PutObjectAcl`.
    pub sets_object_acl: bool,
    /// The request creates an object and sets its tags: it also needs `oss:PutObjectTagging`.
    pub sets_object_tags: bool,
}

impl RequestFacts {
    /// Facts with nothing observed but the receive time (internal callers, tests).
    pub fn at(received: OffsetDateTime) -> Self {
        Self {
            source_ip: None,
            secure_transport: false,
            received,
            user_agent: None,
            list_prefix: None,
            list_delimiter: None,
            write_headers: Vec::new(),
            object_tags: Vec::new(),
            sets_object_acl: false,
            sets_object_tags: false,
        }
    }

    /// The condition values every check of the request shares: source address, transport, time,
    /// user agent.
    pub fn shared_conditions(&self) -> Conditions {
        let mut c = Conditions::new()
            .current_time(self.received)
            .secure_transport(self.secure_transport);
        if let Some(ip) = self.source_ip {
            c = c.source_ip(ip);
        }
        if let Some(agent) = &self.user_agent {
            c = c.user_agent(agent);
        }
        c
    }

    /// The shared conditions plus the keys that belong to `action`: `oss:Prefix` and
    /// `oss:Delimiter` for listings; the write headers and request tags for writes.
    pub fn conditions_for(&self, action: Action) -> Conditions {
        let mut c = self.shared_conditions();
        match action {
            Action::ListObjects => {
                if let Some(p) = &self.list_prefix {
                    c.insert(keys::OSS_PREFIX, p.clone());
                }
                if let Some(d) = &self.list_delimiter {
                    c.insert(keys::OSS_DELIMITER, d.clone());
                }
            }
            Action::PutObject => {
                for (name, value) in &self.write_headers {
                    c.insert(&format!("oss:{name}"), value.clone());
                }
                for (k, v) in &self.object_tags {
                    c.insert(&format!("oss:RequestObjectTag/{k}"), v.clone());
                }
            }
            _ => {}
        }
        c
    }
}
