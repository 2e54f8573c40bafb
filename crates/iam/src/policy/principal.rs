//! The `Principal` element of bucket policies and trust policies (OSS documentation, "Bucket
//! Policy"; Alibaba Cloud RAM documentation, "Policy elements").

use super::document::string_list;
use super::error::PolicyError;
use super::json::Json;
use super::matcher::{Arn, glob, glob_ignore_case};
use super::{Caller, PolicyKind};

/// Who a statement of a resource-side policy speaks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PrincipalSet {
    /// Bucket policy: a list of UIDs, STS session ARNs or `*`.
    Oss(Vec<OssPrincipal>),
    /// Trust policy: `{"RAM": [...], "Service": [...], "Federated": [...]}`.
    Trust {
        ram: Vec<RamPrincipal>,
        /// Service names such as `oss.aliyuncs.com`, compared case-insensitively.
        service: Vec<String>,
        /// Kept for round trips; federation is out of scope, so these never match.
        federated: Vec<String>,
    },
}

/// One entry of a bucket policy's `Principal` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum OssPrincipal {
    /// `*`: everyone, anonymous callers included.
    Anyone,
    /// An account UID (its root only: coffer's choice), a RAM user's UID or a role's UID.
    Uid(String),
    /// `arn:sts::{uid}:assumed-role/{role}/{session}`; role and session may hold wildcards.
    RoleSession {
        account: String,
        role: String,
        session: String,
    },
}

/// One entry of a trust policy's `RAM` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RamPrincipal {
    /// `acs:ram::{uid}:root`: any identity of that account (its own policies still apply).
    Account(String),
    /// `acs:ram::{uid}:user/{name}`.
    User { account: String, name: String },
    /// `acs:ram::{uid}:role/{name}`: sessions of that role.
    Role { account: String, name: String },
}

impl PrincipalSet {
    /// A bucket policy's `*`: everyone (also what `[]` and an absent `Principal` mean).
    pub(super) fn anyone() -> Self {
        PrincipalSet::Oss(vec![OssPrincipal::Anyone])
    }

    /// Parses a `Principal` element in a policy of `kind`.
    pub(super) fn parse(kind: PolicyKind, here: &str, json: &Json) -> Result<Self, PolicyError> {
        match kind {
            PolicyKind::Bucket => {
                // `[]` means `*` (OSS documentation, "Bucket Policy").
                if matches!(json, Json::Array(items) if items.is_empty()) {
                    return Ok(PrincipalSet::anyone());
                }
                if let Json::Object(_) = json {
                    return Err(PolicyError::malformed(
                        here,
                        "a bucket policy Principal is a list of UIDs, STS session ARNs or \"*\", \
                         not an object",
                    ));
                }
                let entries = string_list(here, json)?;
                entries
                    .iter()
                    .map(|e| parse_oss(e).ok_or_else(|| bad_oss(here, e)))
                    .collect::<Result<_, _>>()
                    .map(PrincipalSet::Oss)
            }
            PolicyKind::Trust => parse_trust(here, json),
            PolicyKind::Identity | PolicyKind::Session => Err(PolicyError::malformed(
                here,
                format!("{kind} cannot have a Principal; only bucket and trust policies do"),
            )),
        }
    }

    /// Whether the statement speaks about `caller`.
    ///
    /// For bucket policies, `is_owner` says the caller is the bucket owner's root and
    /// `has_condition` whether the statement has a Condition: a `*` without Condition does not
    /// apply to the owner, a `*` with one does (OSS documentation, "Bucket Policy"). Naming the
    /// owner's UID always applies.
    pub(super) fn matches(&self, caller: &Caller, is_owner: bool, has_condition: bool) -> bool {
        match self {
            PrincipalSet::Oss(entries) => {
                let named = entries.iter().any(|e| e.names(caller));
                let anyone = entries.contains(&OssPrincipal::Anyone);
                named || (anyone && (has_condition || !is_owner))
            }
            PrincipalSet::Trust { ram, service, .. } => {
                ram.iter().any(|r| r.names(caller))
                    || matches!(caller, Caller::Service { name }
                        if service.iter().any(|s| s.eq_ignore_ascii_case(name)))
            }
        }
    }
}

impl OssPrincipal {
    /// Whether this entry names `caller` explicitly (`*` names nobody in particular).
    fn names(&self, caller: &Caller) -> bool {
        match (self, caller) {
            (OssPrincipal::Anyone, _) => false,
            (OssPrincipal::Uid(uid), Caller::Root { account_id }) => account_id == uid,
            (OssPrincipal::Uid(uid), Caller::User { user_id, .. }) => user_id == uid,
            (OssPrincipal::Uid(uid), Caller::RoleSession { role_id, .. }) => role_id == uid,
            (
                OssPrincipal::RoleSession {
                    account,
                    role,
                    session,
                },
                Caller::RoleSession {
                    account_id,
                    role_name,
                    session_name,
                    ..
                },
            ) => {
                // Role names compare case-insensitively, as Alibaba's are believed to
                // (unconfirmed).
                account == account_id
                    && glob_ignore_case(role, role_name)
                    && glob(session, session_name)
            }
            _ => false,
        }
    }
}

impl RamPrincipal {
    fn names(&self, caller: &Caller) -> bool {
        match (self, caller) {
            (RamPrincipal::Account(uid), Caller::Root { account_id })
            | (RamPrincipal::Account(uid), Caller::User { account_id, .. })
            | (RamPrincipal::Account(uid), Caller::RoleSession { account_id, .. }) => {
                account_id == uid
            }
            (
                RamPrincipal::User { account, name },
                Caller::User {
                    account_id,
                    user_name,
                    ..
                },
            ) => account == account_id && glob(name, user_name),
            (
                RamPrincipal::Role { account, name },
                Caller::RoleSession {
                    account_id,
                    role_name,
                    ..
                },
            ) => account == account_id && glob_ignore_case(name, role_name),
            _ => false,
        }
    }
}

fn is_uid(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_oss(entry: &str) -> Option<OssPrincipal> {
    if entry == "*" {
        return Some(OssPrincipal::Anyone);
    }
    if is_uid(entry) {
        return Some(OssPrincipal::Uid(entry.to_owned()));
    }
    let arn = Arn::split(entry)?;
    let (role, session) = arn
        .relative
        .strip_prefix("assumed-role/")?
        .split_once('/')?;
    let well_formed = arn.scheme == "arn"
        && arn.service == "sts"
        && arn.region.is_empty()
        && is_uid(arn.account)
        && !role.is_empty()
        && !session.is_empty();
    well_formed.then(|| OssPrincipal::RoleSession {
        account: arn.account.to_owned(),
        role: role.to_owned(),
        session: session.to_owned(),
    })
}

fn bad_oss(here: &str, entry: &str) -> PolicyError {
    PolicyError::malformed(
        here,
        format!(
            "`{entry}` is not \"*\", a UID or an STS session ARN \
             (arn:sts::{{uid}}:assumed-role/{{role}}/{{session}})"
        ),
    )
}

fn parse_trust(here: &str, json: &Json) -> Result<PrincipalSet, PolicyError> {
    let Json::Object(members) = json else {
        return Err(PolicyError::malformed(
            here,
            format!(
                "a trust policy Principal is an object with RAM, Service or Federated lists, not {}",
                json.kind()
            ),
        ));
    };
    if members.is_empty() {
        return Err(PolicyError::malformed(
            here,
            "must name at least one of RAM, Service or Federated",
        ));
    }
    let (mut ram, mut service, mut federated) = (Vec::new(), Vec::new(), Vec::new());
    for (name, value) in members {
        let at = format!("{here}.{name}");
        match name.as_str() {
            "RAM" => {
                for entry in string_list(&at, value)? {
                    ram.push(parse_ram(&entry).ok_or_else(|| {
                        PolicyError::malformed(
                            &at,
                            format!(
                                "`{entry}` is not acs:ram::{{uid}}:root, \
                                 acs:ram::{{uid}}:user/{{name}} or acs:ram::{{uid}}:role/{{name}}"
                            ),
                        )
                    })?);
                }
            }
            "Service" => service = string_list(&at, value)?,
            "Federated" => federated = string_list(&at, value)?,
            other => {
                return Err(PolicyError::malformed(
                    here,
                    format!("unknown principal type `{other}`; expected RAM, Service or Federated"),
                ));
            }
        }
    }
    if service.iter().chain(&federated).any(|s| s.is_empty()) {
        return Err(PolicyError::malformed(
            here,
            "principal names cannot be empty",
        ));
    }
    Ok(PrincipalSet::Trust {
        ram,
        service,
        federated,
    })
}

fn parse_ram(entry: &str) -> Option<RamPrincipal> {
    if is_uid(entry) {
        return Some(RamPrincipal::Account(entry.to_owned()));
    }
    let arn = Arn::split(entry)?;
    if arn.scheme != "acs" || arn.service != "ram" || !arn.region.is_empty() || !is_uid(arn.account)
    {
        return None;
    }
    let account = arn.account.to_owned();
    if arn.relative == "root" {
        return Some(RamPrincipal::Account(account));
    }
    let (kind, name) = arn.relative.split_once('/')?;
    if name.is_empty() {
        return None;
    }
    let name = name.to_owned();
    match kind {
        "user" => Some(RamPrincipal::User { account, name }),
        "role" => Some(RamPrincipal::Role { account, name }),
        _ => None,
    }
}
