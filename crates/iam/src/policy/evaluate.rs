//! Deciding a request against policies (Alibaba Cloud RAM documentation, "Policy evaluation
//! logic"; OSS documentation, "Bucket Policy").

use std::collections::HashMap;

use super::Effect;
use super::document::{Actions, PolicyDocument, PolicyKind, Statement};
use super::matcher::{Arn, action_matches, resource_matches};

/// Who is asking, as far as policies care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No signature: matches only `*` principals of bucket policies.
    Anonymous,
    /// An account's root identity; allowed everything on its own account's resources.
    Root {
        /// The account UID (16 digits).
        account_id: String,
    },
    /// A RAM user.
    User {
        /// The UID of the account the user belongs to.
        account_id: String,
        /// The user's own UID (what a bucket policy `Principal` names).
        user_id: String,
        /// The user name (what a trust policy's `acs:ram::{uid}:user/{name}` names).
        user_name: String,
    },
    /// An STS session of a RAM role.
    RoleSession {
        /// The UID of the account the role belongs to.
        account_id: String,
        /// The role's UID (what a bucket policy `Principal` names).
        role_id: String,
        /// The role name.
        role_name: String,
        /// The `RoleSessionName` given to `AssumeRole`.
        session_name: String,
    },
    /// A cloud service acting as itself, e.g. `oss.aliyuncs.com` (trust policies' `Service`).
    Service {
        /// The service name.
        name: String,
    },
}

impl Caller {
    /// The account the caller belongs to; `None` for anonymous callers and services.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Caller::Root { account_id }
            | Caller::User { account_id, .. }
            | Caller::RoleSession { account_id, .. } => Some(account_id),
            Caller::Anonymous | Caller::Service { .. } => None,
        }
    }
}

/// Everything a policy can ask about one check of one request: who, which action on which
/// resource, and the values of condition keys.
///
/// A request that needs several checks (CopyObject: `oss:GetObject` on the source and
/// `oss:PutObject` on the destination; SSE-KMS: the KMS key) makes one `RequestFacts` per check
/// and combines the decisions with [`Decision::all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestFacts {
    caller: Caller,
    action: String,
    resource: String,
    /// Condition key (lower-cased) → the request's values for it.
    context: HashMap<String, Vec<String>>,
}

impl RequestFacts {
    /// Facts for `caller` performing `action` (`oss:GetObject`) on `resource`, an ARN as RAM
    /// policies name resources (`acs:oss:*:{owner}:{bucket}/{key}`,
    /// `acs:kms:{region}:{owner}:key/{KeyId}`),
    /// with no condition keys yet.
    pub fn new(caller: Caller, action: impl Into<String>, resource: impl Into<String>) -> Self {
        RequestFacts {
            caller,
            action: action.into(),
            resource: resource.into(),
            context: HashMap::new(),
        }
    }

    /// Adds a value for a condition key (`acs:SourceIp`, `oss:Prefix`, …) and returns the facts.
    /// Key names are case-insensitive; a key may have several values.
    #[must_use]
    pub fn with_value(mut self, key: &str, value: impl Into<String>) -> Self {
        self.insert_value(key, value);
        self
    }

    /// Adds a value for a condition key; see [`RequestFacts::with_value`].
    ///
    /// Values are text in the form the operators read: `acs:SourceIp` an IP address,
    /// `acs:CurrentTime` an RFC 3339 date-time such as `2025-01-15T12:00:00Z`,
    /// `acs:SecureTransport` `true` or `false`, numbers in decimal.
    pub fn insert_value(&mut self, key: &str, value: impl Into<String>) {
        self.context
            .entry(key.to_lowercase())
            .or_default()
            .push(value.into());
    }

    /// Who is asking.
    pub fn caller(&self) -> &Caller {
        &self.caller
    }

    /// The action, as given.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The resource ARN.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The request's values for a condition key (any case); empty when the key is absent.
    pub fn values(&self, key: &str) -> &[String] {
        self.context
            .get(&key.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    /// The account that owns the resource: the account field of its ARN. `None` when the resource
    /// is not an ARN or names no single account.
    pub fn resource_account(&self) -> Option<&str> {
        Arn::split(&self.resource)
            .map(|arn| arn.account)
            .filter(|a| !a.is_empty() && !a.contains(['*', '?']))
    }

    /// Whether the caller is the root of the account that owns the resource.
    fn is_owner_root(&self) -> bool {
        matches!(&self.caller, Caller::Root { account_id }
            if Some(account_id.as_str()) == self.resource_account())
    }

    /// Whether the caller belongs to the account that owns the resource.
    fn is_same_account(&self) -> bool {
        self.caller.account_id().is_some() && self.caller.account_id() == self.resource_account()
    }
}

/// The outcome of evaluating policies for one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// A statement allows the request and none denies it.
    Allow,
    /// A Deny statement matches; nothing can override it.
    ExplicitDeny,
    /// Nothing allows the request. For OSS data APIs the object and bucket ACLs may still allow
    /// it; everywhere else this is a refusal.
    ImplicitDeny,
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(self) -> bool {
        self == Decision::Allow
    }

    /// Combines the checks of one request: an explicit deny if any check is one, Allow if every
    /// check allows (and there is at least one), an implicit deny otherwise.
    pub fn all(decisions: impl IntoIterator<Item = Decision>) -> Decision {
        let mut result = None;
        for d in decisions {
            result = Some(match (result, d) {
                (_, Decision::ExplicitDeny) => return Decision::ExplicitDeny,
                (None | Some(Decision::Allow), Decision::Allow) => Decision::Allow,
                _ => Decision::ImplicitDeny,
            });
        }
        result.unwrap_or(Decision::ImplicitDeny)
    }
}

/// Decides one check against one policy set (Alibaba Cloud RAM documentation, "Policy evaluation
/// logic"): [`Decision::ExplicitDeny`] if any Deny statement of any policy matches, else
/// [`Decision::Allow`] if any Allow statement matches, else [`Decision::ImplicitDeny`]. The order
/// of policies and statements does not matter.
///
/// A statement matches when its action list covers `facts.action()` (case-insensitively; with
/// `NotAction`, when the list does *not* cover it), one of its resources covers
/// `facts.resource()` (case-sensitively), its `Principal` — in bucket and trust policies — names
/// the caller, and every clause of its `Condition` holds.
///
/// This applies statements as written and nothing else: no root privilege, no cross-account
/// rules. Those belong to [`evaluate_with_resource_policy`].
pub fn evaluate(policies: &[&PolicyDocument], facts: &RequestFacts) -> Decision {
    let mut allowed = false;
    for policy in policies {
        for statement in policy.statements() {
            if applies(policy.kind(), statement, facts) {
                match statement.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Decides one check of an OSS (or KMS) request the way OSS combines RAM policies with a bucket
/// policy (OSS documentation, "Bucket Policy"; RAM documentation, "Policy evaluation logic"):
///
/// 1. **Session policy** (`session`, the `Policy` of `AssumeRole`): unless it allows, the request
///    is refused (STS API reference, "AssumeRole": effective rights are role policies ∩ session
///    policy).
/// 2. **Identity decision** A: the root of the account that owns the resource (the account field
///    of the resource ARN) is allowed without policies; a RAM user or role session of that
///    account gets [`evaluate`] over `identity` (the policies attached to the user and its groups,
///    or to the role); anonymous callers, services and identities of **other** accounts get an
///    implicit deny — RAM policies never grant on foreign resources. A foreign identity's own
///    explicit Deny still counts.
/// 3. **Resource decision** B: [`evaluate`] over `bucket`, where each statement applies only to
///    the principals it names. `Principal: "*"` without a Condition does not bind the bucket
///    owner's root; with a Condition it binds everyone, owner included (OSS documentation,
///    "Bucket Policy"). The owner's root is never refused `oss:PutBucketPolicy`,
///    `oss:GetBucketPolicy` or `oss:DeleteBucketPolicy` by the bucket policy, so it cannot lock
///    itself out (coffer's choice).
/// 4. **Combination**: any explicit deny wins; else the session policy must allow, and then an
///    Allow from A **or** B suffices. So a bucket policy can grant a RAM user of the owner's
///    account what its RAM policies do not, and is the only way to grant another account.
///
/// A [`Decision::ImplicitDeny`] result leaves the ACL fallback of OSS data APIs to the caller.
/// KMS checks use the same function with `bucket: None`.
pub fn evaluate_with_resource_policy(
    identity: &[&PolicyDocument],
    session: Option<&PolicyDocument>,
    bucket: Option<&PolicyDocument>,
    facts: &RequestFacts,
) -> Decision {
    let session = session.map(|s| evaluate(&[s], facts));

    let same_account = facts.is_same_account();
    let identity = match facts.caller() {
        Caller::Root { .. } if same_account => Decision::Allow,
        Caller::Root { .. } | Caller::Anonymous | Caller::Service { .. } => Decision::ImplicitDeny,
        Caller::User { .. } | Caller::RoleSession { .. } => match evaluate(identity, facts) {
            Decision::Allow if !same_account => Decision::ImplicitDeny,
            decision => decision,
        },
    };

    let owner_manages_policy = facts.is_owner_root()
        && [
            "oss:PutBucketPolicy",
            "oss:GetBucketPolicy",
            "oss:DeleteBucketPolicy",
        ]
        .iter()
        .any(|a| a.eq_ignore_ascii_case(facts.action()));
    let resource = match bucket {
        Some(policy) if !owner_manages_policy => evaluate(&[policy], facts),
        _ => Decision::ImplicitDeny,
    };

    if [session, Some(identity), Some(resource)].contains(&Some(Decision::ExplicitDeny)) {
        return Decision::ExplicitDeny;
    }
    if matches!(session, Some(Decision::ImplicitDeny)) {
        return Decision::ImplicitDeny;
    }
    if identity == Decision::Allow || resource == Decision::Allow {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// Whether `statement` (of a policy of `kind`) speaks about this check.
fn applies(kind: PolicyKind, statement: &Statement, facts: &RequestFacts) -> bool {
    let action_ok = match &statement.actions {
        Actions::Only(patterns) => patterns.iter().any(|p| action_matches(p, facts.action())),
        Actions::AllExcept(patterns) => !patterns.iter().any(|p| action_matches(p, facts.action())),
    };
    let resource_ok = statement.resources.as_ref().is_none_or(|patterns| {
        patterns
            .iter()
            .any(|p| resource_matches(p, facts.resource()))
    });
    let principal_ok = statement.principal.as_ref().is_none_or(|principal| {
        let is_owner = kind == PolicyKind::Bucket && facts.is_owner_root();
        principal.matches(facts.caller(), is_owner, statement.condition.is_some())
    });
    action_ok
        && resource_ok
        && principal_ok
        && statement
            .condition
            .as_ref()
            .is_none_or(|condition| condition.holds(facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_combines_checks() {
        use Decision::*;
        for (input, expected) in [
            (vec![], ImplicitDeny),
            (vec![Allow], Allow),
            (vec![Allow, Allow], Allow),
            (vec![Allow, ImplicitDeny], ImplicitDeny),
            (vec![ImplicitDeny, Allow], ImplicitDeny),
            (vec![Allow, ImplicitDeny, ExplicitDeny], ExplicitDeny),
            (vec![ExplicitDeny, Allow], ExplicitDeny),
        ] {
            assert_eq!(Decision::all(input.clone()), expected, "{input:?}");
        }
    }

    #[test]
    fn resource_account_is_the_arn_account_field() {
        let facts = |r: &str| RequestFacts::new(Caller::Anonymous, "oss:GetObject", r);
        assert_eq!(facts("acs:oss:*:111:b/k:x").resource_account(), Some("111"));
        assert_eq!(
            facts("acs:kms:cn-hangzhou:111:key/k").resource_account(),
            Some("111")
        );
        assert_eq!(facts("acs:oss:*:*:b").resource_account(), None);
        assert_eq!(facts("b/k").resource_account(), None);
    }

    #[test]
    fn condition_keys_ignore_case() {
        let facts = RequestFacts::new(Caller::Anonymous, "a:b", "*")
            .with_value("acs:SourceIP", "10.0.0.1")
            .with_value("ACS:sourceip", "10.0.0.2");
        assert_eq!(facts.values("acs:SourceIp"), ["10.0.0.1", "10.0.0.2"]);
        assert!(facts.values("oss:Prefix").is_empty());
    }
}
