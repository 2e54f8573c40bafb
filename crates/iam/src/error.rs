//! Why authentication, authorization or an identity-management operation failed.

use std::fmt;
use std::sync::Arc;

use crate::policy::PolicyError;

/// The kinds of RAM entities, for error messages and codes (`EntityNotExist.User`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntityKind {
    /// A RAM user.
    User,
    /// A user group.
    Group,
    /// A role.
    Role,
    /// A custom policy.
    Policy,
    /// An access key.
    AccessKey,
}

impl EntityKind {
    /// The name RAM uses in error codes: `User`, `Group`, `Role`, `Policy`, `AccessKey`.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::User => "User",
            EntityKind::Group => "Group",
            EntityKind::Role => "Role",
            EntityKind::Policy => "Policy",
            EntityKind::AccessKey => "AccessKey",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EntityKind::User => "user",
            EntityKind::Group => "group",
            EntityKind::Role => "role",
            EntityKind::Policy => "policy",
            EntityKind::AccessKey => "access key",
        })
    }
}

/// Why an [`Iam`](crate::Iam) operation failed.
///
/// The first five variants are what authenticating and authorizing a request can yield; the
/// others come from identity management (the admin API, `AssumeRole`, bucket policies). Each
/// front-end maps them to its own wire codes in one table (OSS: `oss::error`; KMS API:
/// `kms-api::error`; admin API: `admin::error`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No such access key (never existed, deleted, or an STS key id without its token's proof).
    #[error("the access key id does not exist")]
    InvalidAccessKeyId,
    /// The access key exists but is `Inactive`.
    #[error("the access key is disabled")]
    AccessKeyDisabled,
    /// The STS security token is missing, damaged, forged, belongs to another access key, or its
    /// role was deleted.
    #[error("the security token is not valid for this access key")]
    InvalidSecurityToken,
    /// The STS credentials expired.
    #[error("the security token expired at {expiration}")]
    SecurityTokenExpired {
        /// When it expired, RFC 3339.
        expiration: String,
    },
    /// The principal may not do this.
    #[error("access denied: {action} on {resource}")]
    AccessDenied {
        /// The RAM action.
        action: &'static str,
        /// The resource name.
        resource: String,
    },
    /// The named entity does not exist.
    #[error("the {kind} `{name}` does not exist")]
    EntityNotExist {
        /// What kind of entity.
        kind: EntityKind,
        /// Its name (or id, for access keys).
        name: String,
    },
    /// An entity of that kind and name exists already.
    #[error("the {kind} `{name}` already exists")]
    EntityAlreadyExists {
        /// What kind of entity.
        kind: EntityKind,
        /// Its name.
        name: String,
    },
    /// The entity is still in use: a policy attached somewhere cannot be deleted.
    #[error("the {kind} `{name}` is still attached to {used_by}; detach it first")]
    DeleteConflict {
        /// What kind of entity.
        kind: EntityKind,
        /// Its name.
        name: String,
        /// What uses it, e.g. `user alice`.
        used_by: String,
    },
    /// A quota is reached (two access keys per user, as RAM allows).
    #[error("limit exceeded: {0}")]
    LimitExceeded(String),
    /// A parameter is missing or out of its allowed form.
    #[error("invalid {name}: {reason}")]
    InvalidParameter {
        /// The parameter, as the API names it (`UserName`, `DurationSeconds`).
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A policy document was refused by the grammar (or is too large).
    #[error(transparent)]
    MalformedPolicy(#[from] PolicyError),
    /// The bucket has no bucket policy.
    #[error("the bucket has no bucket policy")]
    NoSuchBucketPolicy,
    /// The identity store failed or holds something this version cannot read. The cause is for
    /// the log, never for the client.
    #[error("identity store failure: {0}")]
    Internal(#[source] Arc<dyn std::error::Error + Send + Sync>),
}

impl Error {
    pub(crate) fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Internal(Arc::new(e))
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Error::internal(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            what.into(),
        ))
    }

    pub(crate) fn invalid(name: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidParameter {
            name,
            reason: reason.into(),
        }
    }

    pub(crate) fn not_found(kind: EntityKind, name: &str) -> Self {
        Error::EntityNotExist {
            kind,
            name: name.to_owned(),
        }
    }
}

impl From<coffer_records::Error> for Error {
    fn from(e: coffer_records::Error) -> Self {
        Error::internal(e)
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
