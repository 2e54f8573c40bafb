//! Who is calling: [`Caller`], passed to every operation, recorded in the audit log and metering.

use crate::id::AccountId;

/// The identity an operation runs as. Authorization (RAM) is decided before the call, by the
/// front-end; the KMS uses the account to scope keys and aliases, and records the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The account whose keys are used.
    pub account_id: AccountId,
    /// Who, within the account: a RAM user, a role session, the root identity (free text for the
    /// audit log, e.g. `root` or `ram-user/alice`).
    pub principal: String,
    /// Which path the call came through.
    pub via: Via,
}

impl Caller {
    /// A caller of the KMS API.
    pub fn api(account_id: AccountId, principal: impl Into<String>) -> Self {
        Self {
            account_id,
            principal: principal.into(),
            via: Via::Api,
        }
    }

    /// The object store acting for `principal` on `resource` (SSE-KMS).
    pub fn oss(
        account_id: AccountId,
        principal: impl Into<String>,
        resource: impl Into<String>,
    ) -> Self {
        Self {
            account_id,
            principal: principal.into(),
            via: Via::Oss {
                resource: resource.into(),
            },
        }
    }

    /// The KMS itself (rotation, deletion, expiry in [`crate::Kms::tick`]; creating service keys).
    pub(crate) fn internal(account_id: AccountId, principal: &str) -> Self {
        Self {
            account_id,
            principal: principal.to_owned(),
            via: Via::Internal(KmsItself(())),
        }
    }
}

/// The path a call came through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Via {
    /// The KMS API front-end.
    Api,
    /// The object store's server-side encryption, for `resource` (e.g. `oss:bucket/key`).
    Oss {
        /// The object or upload the call serves.
        resource: String,
    },
    /// The KMS's own scheduled work or service-key management. Only the KMS can build one, so no
    /// front-end can record its calls as the KMS's own.
    Internal(KmsItself),
}

/// The private token of [`Via::Internal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsItself(());

impl Via {
    /// A short name for the audit log: `Api`, `Oss` or `Internal`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Via::Api => "Api",
            Via::Oss { .. } => "Oss",
            Via::Internal(_) => "Internal",
        }
    }

    /// The request context recorded in the audit log: the OSS resource, if any.
    pub fn resource(&self) -> Option<&str> {
        match self {
            Via::Oss { resource } => Some(resource),
            _ => None,
        }
    }
}
