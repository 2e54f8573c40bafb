//! Identity and access for coffer: who a request comes from ([`Principal`]), how an access key id
//! resolves to its secret ([`Iam::secret_for`]), and whether a principal may perform an action on
//! a resource ([`Iam::authorize`]), which yields a [`Grant`] — the only way to obtain one.
//!
//! Today the account has one identity, its root key pair, plus anonymous callers who may use what a
//! public ACL opens. RAM users, policies and STS build on the same seam. This crate does no I/O
//! and knows nothing of HTTP.

mod action;
pub mod policy;

use coffer_types::AccessKeySecret;

pub use action::Action;

/// Who a request comes from, after its signature was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// The account's root identity.
    Root {
        /// The account id (owner of all buckets).
        account_id: String,
        /// The access key the request was signed with.
        access_key_id: String,
    },
    /// No credentials were presented.
    Anonymous,
}

impl Principal {
    /// The access key id, for logs; `None` for anonymous.
    pub fn access_key_id(&self) -> Option<&str> {
        match self {
            Principal::Root { access_key_id, .. } => Some(access_key_id),
            Principal::Anonymous => None,
        }
    }
}

/// What an ACL opens to anonymous callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicAccess {
    /// Nothing.
    None,
    /// Reading objects.
    Read,
    /// Reading and writing objects.
    ReadWrite,
}

/// The resource an action is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The account (ListBuckets).
    Account,
    /// A bucket.
    Bucket(String),
    /// An object in a bucket.
    Object {
        /// Its bucket.
        bucket: String,
        /// Its key.
        key: String,
    },
}

impl Resource {
    /// The RAM resource name, e.g. `acs:oss:*:1234:bkt/key`.
    pub fn arn(&self, account_id: &str) -> String {
        match self {
            Resource::Account => format!("acs:oss:*:{account_id}:*"),
            Resource::Bucket(b) => format!("acs:oss:*:{account_id}:{b}"),
            Resource::Object { bucket, key } => format!("acs:oss:*:{account_id}:{bucket}/{key}"),
        }
    }
}

/// Proof that `principal` may perform `action` on `resource`. Only [`Iam::authorize`] makes one,
/// so an operation that takes `&Grant` cannot run unauthorized.
#[derive(Debug, Clone)]
pub struct Grant {
    principal: Principal,
    action: Action,
    resource: Resource,
}

impl Grant {
    /// Who was granted.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// What was granted.
    pub fn action(&self) -> Action {
        self.action
    }

    /// On what.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// Whether this grant covers `action` on `resource`.
    pub fn covers(&self, action: Action, resource: &Resource) -> bool {
        self.action == action && &self.resource == resource
    }
}

/// Why authentication or authorization failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The access key id is unknown or disabled.
    #[error("the access key id does not exist or is disabled")]
    InvalidAccessKeyId,
    /// The principal may not do this.
    #[error("access denied: {action} on {resource}")]
    AccessDenied {
        /// The RAM action.
        action: &'static str,
        /// The resource name.
        resource: String,
    },
}

/// The account's identities and what they may do.
pub struct Iam {
    account_id: String,
    root_access_key_id: String,
    root_secret: AccessKeySecret,
}

impl Iam {
    /// An account with one root key pair.
    pub fn new(
        account_id: String,
        root_access_key_id: String,
        root_secret: AccessKeySecret,
    ) -> Self {
        Self {
            account_id,
            root_access_key_id,
            root_secret,
        }
    }

    /// The account id (bucket owner).
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The secret of an access key and the principal it stands for.
    pub fn secret_for(&self, access_key_id: &str) -> Result<(Principal, &AccessKeySecret), Error> {
        if access_key_id == self.root_access_key_id {
            Ok((
                Principal::Root {
                    account_id: self.account_id.clone(),
                    access_key_id: access_key_id.to_owned(),
                },
                &self.root_secret,
            ))
        } else {
            Err(Error::InvalidAccessKeyId)
        }
    }

    /// Decides whether `principal` may perform `action` on `resource`. `public` is what the
    /// resource's ACL opens to anonymous callers.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: Action,
        resource: Resource,
        public: PublicAccess,
    ) -> Result<Grant, Error> {
        let allowed = match principal {
            Principal::Root { account_id, .. } => *account_id == self.account_id,
            Principal::Anonymous => match public {
                PublicAccess::None => false,
                PublicAccess::Read => action.is_object_read(),
                PublicAccess::ReadWrite => action.is_object_read() || action.is_object_write(),
            },
        };
        if allowed {
            Ok(Grant {
                principal: principal.clone(),
                action,
                resource,
            })
        } else {
            Err(Error::AccessDenied {
                action: action.as_str(),
                resource: resource.arn(&self.account_id),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iam() -> Iam {
        Iam::new("1000".into(), "AK".into(), AccessKeySecret::new("secret"))
    }

    #[test]
    fn root_is_allowed_and_unknown_keys_are_refused() {
        let iam = iam();
        let (p, s) = iam.secret_for("AK").unwrap();
        assert!(s.ct_eq("secret"));
        assert!(
            iam.authorize(
                &p,
                Action::DeleteBucket,
                Resource::Bucket("b".into()),
                PublicAccess::None
            )
            .is_ok()
        );
        assert_eq!(
            iam.secret_for("other").unwrap_err(),
            Error::InvalidAccessKeyId
        );
    }

    #[test]
    fn anonymous_gets_only_what_the_acl_opens() {
        let iam = iam();
        let obj = || Resource::Object {
            bucket: "b".into(),
            key: "k".into(),
        };
        let anon = Principal::Anonymous;
        assert!(
            iam.authorize(&anon, Action::GetObject, obj(), PublicAccess::None)
                .is_err()
        );
        assert!(
            iam.authorize(&anon, Action::GetObject, obj(), PublicAccess::Read)
                .is_ok()
        );
        assert!(
            iam.authorize(&anon, Action::PutObject, obj(), PublicAccess::Read)
                .is_err()
        );
        assert!(
            iam.authorize(&anon, Action::PutObject, obj(), PublicAccess::ReadWrite)
                .is_ok()
        );
        assert!(
            iam.authorize(
                &anon,
                Action::DeleteBucket,
                Resource::Bucket("b".into()),
                PublicAccess::ReadWrite
            )
            .is_err()
        );
    }
}
