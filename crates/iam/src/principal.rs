//! [`Principal`]: who a request comes from, once its signature was verified.

use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::policy::{Caller, PolicyDocument};

/// Who a request comes from, after its signature was verified.
///
/// Front-ends get one from [`Iam::credentials`](crate::Iam::credentials) (the principal of an
/// access key, and its secret to verify the signature with) or use [`Principal::Anonymous`] for
/// unsigned requests, and hand it back to [`Iam::authorize`](crate::Iam::authorize) and the other
/// checks. `Display` gives the short form the KMS audit log records (`root`, `ram-user/alice`,
/// `assumed-role/reader/session1`, `anonymous`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account's root identity.
    Root {
        /// The account id (owner of all buckets).
        account_id: String,
        /// The access key the request was signed with.
        access_key_id: String,
    },
    /// A RAM user, signing with one of its long-term access keys.
    User {
        /// The account the user belongs to.
        account_id: String,
        /// The user's own UID (what bucket policies name).
        user_id: String,
        /// The user name.
        user_name: String,
        /// The access key the request was signed with.
        access_key_id: String,
    },
    /// An STS session of a role, signing with temporary credentials from `AssumeRole`.
    RoleSession {
        /// The account the role belongs to.
        account_id: String,
        /// The role's UID.
        role_id: String,
        /// The role name.
        role_name: String,
        /// The `RoleSessionName` given to `AssumeRole`.
        session_name: String,
        /// The temporary access key id (`STS.…`).
        access_key_id: String,
        /// When the credentials stop being accepted.
        expiration: OffsetDateTime,
        /// The session policy given to `AssumeRole`, which narrows the role's policies.
        policy: Option<Arc<PolicyDocument>>,
    },
    /// No credentials were presented.
    Anonymous,
}

impl Principal {
    /// The access key id, for logs; `None` for anonymous.
    pub fn access_key_id(&self) -> Option<&str> {
        match self {
            Principal::Root { access_key_id, .. }
            | Principal::User { access_key_id, .. }
            | Principal::RoleSession { access_key_id, .. } => Some(access_key_id),
            Principal::Anonymous => None,
        }
    }

    /// What a per-identity budget (such as a replay guard's nonce share) counts against: the
    /// access key for the root and users, the role for STS sessions, so that minting sessions
    /// does not mint budgets; `None` for anonymous.
    pub fn budget_holder(&self) -> Option<&str> {
        match self {
            Principal::Root { access_key_id, .. } | Principal::User { access_key_id, .. } => {
                Some(access_key_id)
            }
            Principal::RoleSession { role_id, .. } => Some(role_id),
            Principal::Anonymous => None,
        }
    }

    /// The account the principal belongs to; `None` for anonymous.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Principal::Root { account_id, .. }
            | Principal::User { account_id, .. }
            | Principal::RoleSession { account_id, .. } => Some(account_id),
            Principal::Anonymous => None,
        }
    }

    /// The RAM ARN of the identity: `acs:ram::{uid}:root`, `acs:ram::{uid}:user/{name}`,
    /// `acs:ram::{uid}:role/{role}/{session}` (the forms of the Alibaba Cloud RAM and STS
    /// documentation); `None` for anonymous.
    pub fn arn(&self) -> Option<String> {
        match self {
            Principal::Root { account_id, .. } => Some(format!("acs:ram::{account_id}:root")),
            Principal::User {
                account_id,
                user_name,
                ..
            } => Some(format!("acs:ram::{account_id}:user/{user_name}")),
            Principal::RoleSession {
                account_id,
                role_name,
                session_name,
                ..
            } => Some(format!(
                "acs:ram::{account_id}:role/{role_name}/{session_name}"
            )),
            Principal::Anonymous => None,
        }
    }

    /// Whether no credentials were presented.
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Principal::Anonymous)
    }

    /// The principal as the policy evaluator sees it.
    pub fn caller(&self) -> Caller {
        match self {
            Principal::Root { account_id, .. } => Caller::Root {
                account_id: account_id.clone(),
            },
            Principal::User {
                account_id,
                user_id,
                user_name,
                ..
            } => Caller::User {
                account_id: account_id.clone(),
                user_id: user_id.clone(),
                user_name: user_name.clone(),
            },
            Principal::RoleSession {
                account_id,
                role_id,
                role_name,
                session_name,
                ..
            } => Caller::RoleSession {
                account_id: account_id.clone(),
                role_id: role_id.clone(),
                role_name: role_name.clone(),
                session_name: session_name.clone(),
            },
            Principal::Anonymous => Caller::Anonymous,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Root { .. } => f.write_str("root"),
            Principal::User { user_name, .. } => write!(f, "ram-user/{user_name}"),
            Principal::RoleSession {
                role_name,
                session_name,
                ..
            } => write!(f, "assumed-role/{role_name}/{session_name}"),
            Principal::Anonymous => f.write_str("anonymous"),
        }
    }
}
