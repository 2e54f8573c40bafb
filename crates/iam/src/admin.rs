//! Identity management: users, access keys, groups, custom policies, roles and `AssumeRole`, each
//! authorized by the caller's own `ram:*` / `sts:*` permissions (names follow the Alibaba Cloud
//! RAM API reference; the admin API's shape is coffer's own).
//!
//! | operation | action | resource |
//! |---|---|---|
//! | create/get/delete a user | `ram:CreateUser` / `ram:GetUser` / `ram:DeleteUser` | `acs:ram::{uid}:user/{name}` |
//! | list users, groups, policies, roles | `ram:ListUsers` / `ram:ListGroups` / `ram:ListPolicies` / `ram:ListRoles` | `acs:ram::{uid}:*` |
//! | access keys of a user | `ram:CreateAccessKey` / `ram:ListAccessKeys` / `ram:UpdateAccessKey` / `ram:DeleteAccessKey` | the user |
//! | groups | `ram:CreateGroup` / `ram:GetGroup` / `ram:DeleteGroup` / `ram:AddUserToGroup` / `ram:RemoveUserFromGroup` | `…:group/{name}` |
//! | policies | `ram:CreatePolicy` / `ram:GetPolicy` / `ram:DeletePolicy` | `…:policy/{name}` |
//! | attach / detach | `ram:AttachPolicyToUser` / `…ToGroup` / `…ToRole`, `ram:DetachPolicyFrom…` | the user, group or role |
//! | roles | `ram:CreateRole` / `ram:GetRole` / `ram:DeleteRole` | `…:role/{name}` |
//! | AssumeRole | `sts:AssumeRole` **and** the role's trust policy | the role |
//! | GetCallerIdentity | none | — |
//!
//! Deleting a user also deletes its access keys and memberships; deleting a group or role drops
//! their memberships and attachments (and a role's sessions stop working); deleting a policy that
//! is still attached is refused (detaching a Deny must be a deliberate act).

use std::collections::BTreeSet;
use std::sync::Arc;

use coffer_types::AccessKeySecret;
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::directory::{Directory, Op, StoredPolicy, StoredRole};
use crate::policy::{Decision, PolicyDocument, PolicyKind, evaluate};
use crate::record::{
    AccessKeyRecord, GroupRecord, KeyStatus, PolicyRecord, RoleRecord, UserRecord,
};
use crate::seal::Purpose;
use crate::sts::{
    AssumeRoleRequest, AssumedRole, DEFAULT_SESSION_DURATION, MAX_SESSION_DURATION_RANGE,
    STS_ACCESS_KEY_PREFIX, SessionClaims,
};
use crate::{Conditions, EntityKind, Error, Iam, Principal, Result, keys, rfc3339};

/// RAM's limit on access keys per user.
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;

/// A user, as GetUser and ListUsers show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserInfo {
    /// The user's UID.
    pub user_id: String,
    /// The name.
    pub user_name: String,
    /// The display name (the name unless set).
    pub display_name: String,
    /// Free text.
    pub comments: String,
    /// RFC 3339.
    pub create_date: String,
    /// `acs:ram::{uid}:user/{name}`.
    pub arn: String,
    /// Groups the user is in.
    pub groups: Vec<String>,
    /// Policies attached to the user itself.
    pub policies: Vec<String>,
}

/// An access key without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccessKeyInfo {
    /// The id.
    pub access_key_id: String,
    /// `Active` or `Inactive`.
    pub status: String,
    /// RFC 3339.
    pub create_date: String,
    /// The owning user.
    pub user_name: String,
}

/// A new access key with its secret, shown once (CreateAccessKey).
#[derive(Debug)]
pub struct NewAccessKey {
    /// The key, as listed afterwards.
    pub info: AccessKeyInfo,
    /// The secret; never shown again.
    pub secret: AccessKeySecret,
}

/// A group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupInfo {
    /// The name.
    pub group_name: String,
    /// Free text.
    pub comments: String,
    /// RFC 3339.
    pub create_date: String,
    /// Members.
    pub users: Vec<String>,
    /// Attached policies.
    pub policies: Vec<String>,
}

/// A custom policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyInfo {
    /// The name.
    pub policy_name: String,
    /// Always `Custom`.
    pub policy_type: String,
    /// Free text.
    pub description: String,
    /// RFC 3339.
    pub create_date: String,
    /// How many users, groups and roles it is attached to.
    pub attachment_count: usize,
    /// Where it is attached: `user/alice`, `group/dev`, `role/reader`.
    pub attached_to: Vec<String>,
    /// The document text (GetPolicy and CreatePolicy only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_document: Option<String>,
}

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleInfo {
    /// The role's UID.
    pub role_id: String,
    /// The name.
    pub role_name: String,
    /// `acs:ram::{uid}:role/{name}`, what AssumeRole takes.
    pub arn: String,
    /// Free text.
    pub description: String,
    /// The trust policy text.
    pub assume_role_policy_document: String,
    /// Longest session, in seconds.
    pub max_session_duration: u32,
    /// RFC 3339.
    pub create_date: String,
    /// Attached policies.
    pub policies: Vec<String>,
}

/// Who the caller is (STS GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallerIdentity {
    /// The account.
    pub account_id: String,
    /// The caller's ARN.
    pub arn: String,
    /// `Account`, `RAMUser` or `AssumedRoleUser`.
    pub identity_type: String,
    /// The account UID, the user UID, or `{roleId}:{session}`.
    pub principal_id: String,
}

/// What a policy is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyTarget {
    /// A user, by name.
    User(String),
    /// A group, by name.
    Group(String),
    /// A role, by name.
    Role(String),
}

impl PolicyTarget {
    fn kind(&self) -> EntityKind {
        match self {
            PolicyTarget::User(_) => EntityKind::User,
            PolicyTarget::Group(_) => EntityKind::Group,
            PolicyTarget::Role(_) => EntityKind::Role,
        }
    }

    fn name(&self) -> &str {
        match self {
            PolicyTarget::User(n) | PolicyTarget::Group(n) | PolicyTarget::Role(n) => n,
        }
    }
}

/// Identity management on behalf of one caller; see [`Iam::admin`].
pub struct Admin<'a> {
    iam: &'a Iam,
    caller: &'a Principal,
    conditions: &'a Conditions,
}

/// Checks a RAM entity name: 1..=`max` characters of `[A-Za-z0-9._@-]`.
fn check_name(param: &'static str, name: &str, max: usize) -> Result<()> {
    if name.is_empty() || name.chars().count() > max {
        return Err(Error::invalid(
            param,
            format!("must be 1 to {max} characters long"),
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
    {
        return Err(Error::invalid(
            param,
            "may contain only letters, digits and . _ @ -",
        ));
    }
    Ok(())
}

fn check_text(param: &'static str, text: &str, max: usize) -> Result<()> {
    if text.chars().count() > max {
        return Err(Error::invalid(
            param,
            format!("must be at most {max} characters long"),
        ));
    }
    Ok(())
}

fn date(secs: i64) -> String {
    OffsetDateTime::from_unix_timestamp(secs)
        .map(rfc3339)
        .unwrap_or_default()
}

fn names(set: &BTreeSet<String>) -> Vec<String> {
    set.iter().cloned().collect()
}

impl<'a> Admin<'a> {
    pub(crate) fn new(iam: &'a Iam, caller: &'a Principal, conditions: &'a Conditions) -> Self {
        Self {
            iam,
            caller,
            conditions,
        }
    }

    fn arn(&self, relative: &str) -> String {
        format!("acs:ram::{}:{relative}", self.iam.account_id)
    }

    fn allow(&self, action: &'static str, relative: &str) -> Result<()> {
        self.iam
            .check(self.caller, action, &self.arn(relative), self.conditions)
    }

    fn now(&self) -> i64 {
        self.iam.now().unix_timestamp()
    }

    fn user_info(&self, u: &UserRecord) -> UserInfo {
        UserInfo {
            user_id: u.id.clone(),
            user_name: u.name.clone(),
            display_name: u.display_name.clone(),
            comments: u.comments.clone(),
            create_date: date(u.created),
            arn: self.arn(&format!("user/{}", u.name)),
            groups: names(&u.groups),
            policies: names(&u.policies),
        }
    }

    fn group_info(dir: &Directory, g: &GroupRecord) -> GroupInfo {
        GroupInfo {
            group_name: g.name.clone(),
            comments: g.comments.clone(),
            create_date: date(g.created),
            users: dir
                .users
                .values()
                .filter(|u| u.groups.contains(&g.name))
                .map(|u| u.name.clone())
                .collect(),
            policies: names(&g.policies),
        }
    }

    fn policy_info(dir: &Directory, p: &PolicyRecord, with_document: bool) -> PolicyInfo {
        let attached_to = attachments(dir, &p.name);
        PolicyInfo {
            policy_name: p.name.clone(),
            policy_type: "Custom".into(),
            description: p.description.clone(),
            create_date: date(p.created),
            attachment_count: attached_to.len(),
            attached_to,
            policy_document: with_document.then(|| p.document.clone()),
        }
    }

    fn role_info(&self, r: &RoleRecord) -> RoleInfo {
        RoleInfo {
            role_id: r.id.clone(),
            role_name: r.name.clone(),
            arn: self.arn(&format!("role/{}", r.name)),
            description: r.description.clone(),
            assume_role_policy_document: r.trust_policy.clone(),
            max_session_duration: r.max_session_duration,
            create_date: date(r.created),
            policies: names(&r.policies),
        }
    }

    // -- users ---------------------------------------------------------------------------------

    /// CreateUser.
    pub fn create_user(
        &self,
        name: &str,
        display_name: Option<&str>,
        comments: Option<&str>,
    ) -> Result<UserInfo> {
        check_name("UserName", name, 64)?;
        let display_name = display_name.filter(|d| !d.is_empty()).unwrap_or(name);
        check_text("DisplayName", display_name, 128)?;
        let comments = comments.unwrap_or("");
        check_text("Comments", comments, 128)?;
        self.allow("ram:CreateUser", &format!("user/{name}"))?;
        let created = self.now();
        let record = self.iam.write(|dir| {
            if dir.users.contains_key(name) {
                return Err(Error::EntityAlreadyExists {
                    kind: EntityKind::User,
                    name: name.to_owned(),
                });
            }
            let id = loop {
                let id = format!("2{}", coffer_crypto::random::digits(15));
                if id != self.iam.account_id && !dir.users.values().any(|u| u.id == id) {
                    break id;
                }
            };
            let record = UserRecord {
                id,
                name: name.to_owned(),
                display_name: display_name.to_owned(),
                comments: comments.to_owned(),
                created,
                groups: BTreeSet::new(),
                policies: BTreeSet::new(),
            };
            Ok((vec![Op::PutUser(record.clone())], record))
        })?;
        Ok(self.user_info(&record))
    }

    /// GetUser.
    pub fn user(&self, name: &str) -> Result<UserInfo> {
        self.allow("ram:GetUser", &format!("user/{name}"))?;
        let dir = self.iam.read();
        let user = dir
            .users
            .get(name)
            .ok_or_else(|| Error::not_found(EntityKind::User, name))?;
        Ok(self.user_info(user))
    }

    /// ListUsers.
    pub fn users(&self) -> Result<Vec<UserInfo>> {
        self.allow("ram:ListUsers", "*")?;
        let dir = self.iam.read();
        Ok(dir.users.values().map(|u| self.user_info(u)).collect())
    }

    /// DeleteUser, with its access keys (which stop working at once) and memberships.
    pub fn delete_user(&self, name: &str) -> Result<()> {
        self.allow("ram:DeleteUser", &format!("user/{name}"))?;
        self.iam.write(|dir| {
            if !dir.users.contains_key(name) {
                return Err(Error::not_found(EntityKind::User, name));
            }
            let mut ops: Vec<Op> = dir
                .access_keys
                .values()
                .filter(|k| k.user == name)
                .map(|k| Op::DeleteKey(k.id.clone()))
                .collect();
            ops.push(Op::DeleteUser(name.to_owned()));
            Ok((ops, ()))
        })
    }

    // -- access keys ---------------------------------------------------------------------------

    /// CreateAccessKey for `user` (at most [`MAX_ACCESS_KEYS_PER_USER`], active or not).
    pub fn create_access_key(&self, user: &str) -> Result<NewAccessKey> {
        self.allow("ram:CreateAccessKey", &format!("user/{user}"))?;
        let created = self.now();
        let secret = coffer_crypto::random::alphanumeric(30);
        let record = self.iam.write(|dir| {
            if !dir.users.contains_key(user) {
                return Err(Error::not_found(EntityKind::User, user));
            }
            let count = dir.access_keys.values().filter(|k| k.user == user).count();
            if count >= MAX_ACCESS_KEYS_PER_USER {
                return Err(Error::LimitExceeded(format!(
                    "user `{user}` already has {count} access keys; at most \
                     {MAX_ACCESS_KEYS_PER_USER} are allowed"
                )));
            }
            let id = loop {
                let id = format!("LTAI{}", &*coffer_crypto::random::alphanumeric(20));
                if id != self.iam.root_access_key_id && !dir.access_keys.contains_key(&id) {
                    break id;
                }
            };
            let sealed_secret = self.iam.sealer.seal(
                Purpose::AccessKeySecret,
                &[id.as_bytes()],
                secret.as_bytes(),
            );
            let record = AccessKeyRecord {
                id,
                user: user.to_owned(),
                status: KeyStatus::Active,
                created,
                sealed_secret,
            };
            Ok((vec![Op::PutKey(record.clone())], record))
        })?;
        Ok(NewAccessKey {
            info: key_info(&record),
            secret: AccessKeySecret::new(secret.as_str()),
        })
    }

    /// ListAccessKeys of `user`.
    pub fn access_keys(&self, user: &str) -> Result<Vec<AccessKeyInfo>> {
        self.allow("ram:ListAccessKeys", &format!("user/{user}"))?;
        let dir = self.iam.read();
        if !dir.users.contains_key(user) {
            return Err(Error::not_found(EntityKind::User, user));
        }
        Ok(dir
            .access_keys
            .values()
            .filter(|k| k.user == user)
            .map(key_info)
            .collect())
    }

    /// UpdateAccessKey: enables or disables a key of `user`; takes effect on the next request.
    pub fn update_access_key(&self, user: &str, id: &str, status: KeyStatus) -> Result<()> {
        self.allow("ram:UpdateAccessKey", &format!("user/{user}"))?;
        self.iam.write(|dir| {
            let mut key = user_key(dir, user, id)?.clone();
            key.status = status;
            Ok((vec![Op::PutKey(key)], ()))
        })
    }

    /// DeleteAccessKey of `user`; takes effect on the next request.
    pub fn delete_access_key(&self, user: &str, id: &str) -> Result<()> {
        self.allow("ram:DeleteAccessKey", &format!("user/{user}"))?;
        self.iam.write(|dir| {
            user_key(dir, user, id)?;
            Ok((vec![Op::DeleteKey(id.to_owned())], ()))
        })
    }

    // -- groups --------------------------------------------------------------------------------

    /// CreateGroup.
    pub fn create_group(&self, name: &str, comments: Option<&str>) -> Result<GroupInfo> {
        check_name("GroupName", name, 64)?;
        let comments = comments.unwrap_or("");
        check_text("Comments", comments, 128)?;
        self.allow("ram:CreateGroup", &format!("group/{name}"))?;
        let created = self.now();
        self.iam.write(|dir| {
            if dir.groups.contains_key(name) {
                return Err(Error::EntityAlreadyExists {
                    kind: EntityKind::Group,
                    name: name.to_owned(),
                });
            }
            let record = GroupRecord {
                name: name.to_owned(),
                comments: comments.to_owned(),
                created,
                policies: BTreeSet::new(),
            };
            let info = Self::group_info(dir, &record);
            Ok((vec![Op::PutGroup(record)], info))
        })
    }

    /// GetGroup, with its members.
    pub fn group(&self, name: &str) -> Result<GroupInfo> {
        self.allow("ram:GetGroup", &format!("group/{name}"))?;
        let dir = self.iam.read();
        let group = dir
            .groups
            .get(name)
            .ok_or_else(|| Error::not_found(EntityKind::Group, name))?;
        Ok(Self::group_info(&dir, group))
    }

    /// ListGroups.
    pub fn groups(&self) -> Result<Vec<GroupInfo>> {
        self.allow("ram:ListGroups", "*")?;
        let dir = self.iam.read();
        Ok(dir
            .groups
            .values()
            .map(|g| Self::group_info(&dir, g))
            .collect())
    }

    /// DeleteGroup: its members leave it (and lose its policies).
    pub fn delete_group(&self, name: &str) -> Result<()> {
        self.allow("ram:DeleteGroup", &format!("group/{name}"))?;
        self.iam.write(|dir| {
            if !dir.groups.contains_key(name) {
                return Err(Error::not_found(EntityKind::Group, name));
            }
            let mut ops: Vec<Op> = dir
                .users
                .values()
                .filter(|u| u.groups.contains(name))
                .map(|u| {
                    let mut u = u.clone();
                    u.groups.remove(name);
                    Op::PutUser(u)
                })
                .collect();
            ops.push(Op::DeleteGroup(name.to_owned()));
            Ok((ops, ()))
        })
    }

    /// AddUserToGroup (no change if the user is a member already).
    pub fn add_user_to_group(&self, group: &str, user: &str) -> Result<()> {
        self.allow("ram:AddUserToGroup", &format!("group/{group}"))?;
        self.iam.write(|dir| {
            if !dir.groups.contains_key(group) {
                return Err(Error::not_found(EntityKind::Group, group));
            }
            let mut u = dir
                .users
                .get(user)
                .ok_or_else(|| Error::not_found(EntityKind::User, user))?
                .clone();
            let ops = if u.groups.insert(group.to_owned()) {
                vec![Op::PutUser(u)]
            } else {
                Vec::new()
            };
            Ok((ops, ()))
        })
    }

    /// RemoveUserFromGroup.
    pub fn remove_user_from_group(&self, group: &str, user: &str) -> Result<()> {
        self.allow("ram:RemoveUserFromGroup", &format!("group/{group}"))?;
        self.iam.write(|dir| {
            if !dir.groups.contains_key(group) {
                return Err(Error::not_found(EntityKind::Group, group));
            }
            let mut u = dir
                .users
                .get(user)
                .ok_or_else(|| Error::not_found(EntityKind::User, user))?
                .clone();
            if !u.groups.remove(group) {
                return Err(Error::invalid(
                    "UserName",
                    format!("user `{user}` is not in group `{group}`"),
                ));
            }
            Ok((vec![Op::PutUser(u)], ()))
        })
    }

    // -- policies ------------------------------------------------------------------------------

    /// CreatePolicy: `document` must be a valid RAM policy (Alibaba Cloud RAM documentation,
    /// "Policy elements"), else
    /// [`Error::MalformedPolicy`] naming the element at fault.
    pub fn create_policy(
        &self,
        name: &str,
        document: &str,
        description: Option<&str>,
    ) -> Result<PolicyInfo> {
        check_name("PolicyName", name, 128)?;
        let description = description.unwrap_or("");
        check_text("Description", description, 1024)?;
        self.allow("ram:CreatePolicy", &format!("policy/{name}"))?;
        let parsed = Arc::new(PolicyDocument::parse_as(PolicyKind::Identity, document)?);
        let created = self.now();
        self.iam.write(|dir| {
            if dir.policies.contains_key(name) {
                return Err(Error::EntityAlreadyExists {
                    kind: EntityKind::Policy,
                    name: name.to_owned(),
                });
            }
            let record = PolicyRecord {
                name: name.to_owned(),
                description: description.to_owned(),
                document: document.to_owned(),
                created,
            };
            let info = Self::policy_info(dir, &record, true);
            Ok((
                vec![Op::PutPolicy(StoredPolicy {
                    record,
                    document: parsed.clone(),
                })],
                info,
            ))
        })
    }

    /// GetPolicy, with its document and attachments.
    pub fn policy(&self, name: &str) -> Result<PolicyInfo> {
        self.allow("ram:GetPolicy", &format!("policy/{name}"))?;
        let dir = self.iam.read();
        let p = dir
            .policies
            .get(name)
            .ok_or_else(|| Error::not_found(EntityKind::Policy, name))?;
        Ok(Self::policy_info(&dir, &p.record, true))
    }

    /// ListPolicies.
    pub fn policies(&self) -> Result<Vec<PolicyInfo>> {
        self.allow("ram:ListPolicies", "*")?;
        let dir = self.iam.read();
        Ok(dir
            .policies
            .values()
            .map(|p| Self::policy_info(&dir, &p.record, false))
            .collect())
    }

    /// DeletePolicy; refused with [`Error::DeleteConflict`] while it is attached.
    pub fn delete_policy(&self, name: &str) -> Result<()> {
        self.allow("ram:DeletePolicy", &format!("policy/{name}"))?;
        self.iam.write(|dir| {
            if !dir.policies.contains_key(name) {
                return Err(Error::not_found(EntityKind::Policy, name));
            }
            if let Some(first) = attachments(dir, name).into_iter().next() {
                return Err(Error::DeleteConflict {
                    kind: EntityKind::Policy,
                    name: name.to_owned(),
                    used_by: first.replace('/', " "),
                });
            }
            Ok((vec![Op::DeletePolicy(name.to_owned())], ()))
        })
    }

    /// AttachPolicyToUser / ToGroup / ToRole (no change if attached already).
    pub fn attach_policy(&self, name: &str, target: &PolicyTarget) -> Result<()> {
        let (action, relative) = match target {
            PolicyTarget::User(u) => ("ram:AttachPolicyToUser", format!("user/{u}")),
            PolicyTarget::Group(g) => ("ram:AttachPolicyToGroup", format!("group/{g}")),
            PolicyTarget::Role(r) => ("ram:AttachPolicyToRole", format!("role/{r}")),
        };
        self.allow(action, &relative)?;
        self.iam.write(|dir| {
            if !dir.policies.contains_key(name) {
                return Err(Error::not_found(EntityKind::Policy, name));
            }
            let op = edit_policies(dir, target, |set| set.insert(name.to_owned()))?;
            Ok((op.into_iter().collect(), ()))
        })
    }

    /// DetachPolicyFromUser / FromGroup / FromRole.
    pub fn detach_policy(&self, name: &str, target: &PolicyTarget) -> Result<()> {
        let (action, relative) = match target {
            PolicyTarget::User(u) => ("ram:DetachPolicyFromUser", format!("user/{u}")),
            PolicyTarget::Group(g) => ("ram:DetachPolicyFromGroup", format!("group/{g}")),
            PolicyTarget::Role(r) => ("ram:DetachPolicyFromRole", format!("role/{r}")),
        };
        self.allow(action, &relative)?;
        self.iam.write(|dir| {
            if !dir.policies.contains_key(name) {
                return Err(Error::not_found(EntityKind::Policy, name));
            }
            match edit_policies(dir, target, |set| set.remove(name))? {
                Some(op) => Ok((vec![op], ())),
                None => Err(Error::invalid(
                    "PolicyName",
                    format!(
                        "policy `{name}` is not attached to {} `{}`",
                        target.kind(),
                        target.name()
                    ),
                )),
            }
        })
    }

    // -- roles ---------------------------------------------------------------------------------

    /// CreateRole with its trust policy (who may assume it) and longest session (3600–43200
    /// seconds, default 3600).
    pub fn create_role(
        &self,
        name: &str,
        trust_policy: &str,
        description: Option<&str>,
        max_session_duration: Option<u32>,
    ) -> Result<RoleInfo> {
        check_name("RoleName", name, 64)?;
        let description = description.unwrap_or("");
        check_text("Description", description, 1024)?;
        let max_session_duration = max_session_duration.unwrap_or(3600);
        if !MAX_SESSION_DURATION_RANGE.contains(&max_session_duration) {
            return Err(Error::invalid(
                "MaxSessionDuration",
                "must be between 3600 and 43200 seconds",
            ));
        }
        self.allow("ram:CreateRole", &format!("role/{name}"))?;
        let trust = Arc::new(PolicyDocument::parse_as(PolicyKind::Trust, trust_policy)?);
        let created = self.now();
        let record = self.iam.write(|dir| {
            if dir
                .roles
                .keys()
                .any(|existing| existing.eq_ignore_ascii_case(name))
            {
                return Err(Error::EntityAlreadyExists {
                    kind: EntityKind::Role,
                    name: name.to_owned(),
                });
            }
            let id = loop {
                let id = format!("3{}", coffer_crypto::random::digits(17));
                if dir.role_by_id(&id).is_none() {
                    break id;
                }
            };
            let record = RoleRecord {
                id,
                name: name.to_owned(),
                description: description.to_owned(),
                created,
                trust_policy: trust_policy.to_owned(),
                max_session_duration,
                policies: BTreeSet::new(),
            };
            Ok((
                vec![Op::PutRole(StoredRole {
                    record: record.clone(),
                    trust: trust.clone(),
                })],
                record,
            ))
        })?;
        Ok(self.role_info(&record))
    }

    /// GetRole.
    pub fn role(&self, name: &str) -> Result<RoleInfo> {
        self.allow("ram:GetRole", &format!("role/{name}"))?;
        let dir = self.iam.read();
        let role = dir
            .roles
            .get(name)
            .ok_or_else(|| Error::not_found(EntityKind::Role, name))?;
        Ok(self.role_info(&role.record))
    }

    /// ListRoles.
    pub fn roles(&self) -> Result<Vec<RoleInfo>> {
        self.allow("ram:ListRoles", "*")?;
        let dir = self.iam.read();
        Ok(dir
            .roles
            .values()
            .map(|r| self.role_info(&r.record))
            .collect())
    }

    /// DeleteRole; its sessions are refused from the next request on.
    pub fn delete_role(&self, name: &str) -> Result<()> {
        self.allow("ram:DeleteRole", &format!("role/{name}"))?;
        self.iam.write(|dir| {
            if !dir.roles.contains_key(name) {
                return Err(Error::not_found(EntityKind::Role, name));
            }
            Ok((vec![Op::DeleteRole(name.to_owned())], ()))
        })
    }

    // -- STS -----------------------------------------------------------------------------------

    /// AssumeRole: temporary credentials for a session of the role (Alibaba Cloud STS API
    /// reference, "AssumeRole").
    ///
    /// `request.duration` must lie between 900 seconds (see [`Iam::with_min_session_duration`])
    /// and the role's `MaxSessionDuration`. The caller needs `sts:AssumeRole` on the role from its own policies (the root has it) and
    /// the role's trust policy must allow the caller (with `sts:ExternalId` as given). The
    /// session's rights are the role's policies, narrowed by `request.policy` if given.
    pub fn assume_role(&self, request: AssumeRoleRequest) -> Result<AssumedRole> {
        let account = &self.iam.account_id;
        let role_name = parse_role_arn(&request.role_arn, account)?;
        let session = &request.session_name;
        if !(2..=64).contains(&session.len())
            || !session
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'@' | b'_' | b'-'))
        {
            return Err(Error::invalid(
                "RoleSessionName",
                "must be 2 to 64 characters of letters, digits and . @ _ -",
            ));
        }
        let policy = match &request.policy {
            Some(text) => {
                PolicyDocument::parse_as(PolicyKind::Session, text)?;
                Some(text.clone())
            }
            None => None,
        };
        let (role, trust) = {
            let dir = self.iam.read();
            // Role names match case-insensitively, as Alibaba's are believed to (unconfirmed).
            let role = dir
                .roles
                .get(role_name)
                .or_else(|| {
                    dir.roles
                        .values()
                        .find(|r| r.record.name.eq_ignore_ascii_case(role_name))
                })
                .ok_or_else(|| Error::not_found(EntityKind::Role, role_name))?;
            (role.record.clone(), role.trust.clone())
        };
        let duration = request.duration.unwrap_or(DEFAULT_SESSION_DURATION);
        let max = Duration::seconds(i64::from(role.max_session_duration));
        let min = self.iam.min_session_duration;
        if duration < min || duration > max {
            return Err(Error::invalid(
                "DurationSeconds",
                format!(
                    "must be between {} and the role's MaxSessionDuration ({} seconds)",
                    min.whole_seconds(),
                    role.max_session_duration
                ),
            ));
        }
        let role_arn = self.arn(&format!("role/{}", role.name));
        self.iam
            .check(self.caller, "sts:AssumeRole", &role_arn, self.conditions)?;
        let mut conditions = self.conditions.clone();
        if let Some(external_id) = &request.external_id {
            conditions.insert(keys::STS_EXTERNAL_ID, external_id.clone());
        }
        let facts = self
            .iam
            .facts(self.caller, "sts:AssumeRole", role_arn.clone(), &conditions);
        if evaluate(&[&trust], &facts) != Decision::Allow {
            return Err(Error::AccessDenied {
                action: "sts:AssumeRole",
                resource: role_arn,
            });
        }
        let now = self.iam.now();
        let expiration = now + duration;
        let access_key_id = format!(
            "{STS_ACCESS_KEY_PREFIX}{}",
            &*coffer_crypto::random::alphanumeric(24)
        );
        let secret = coffer_crypto::random::alphanumeric(30);
        let claims = SessionClaims {
            format: SessionClaims::new_format(),
            access_key_id: access_key_id.clone(),
            secret: secret.to_string(),
            account_id: account.clone(),
            role_id: role.id.clone(),
            role_name: role.name.clone(),
            session_name: session.clone(),
            issued: now.unix_timestamp(),
            expiration: expiration.unix_timestamp(),
            policy,
        };
        let token = claims.seal(&self.iam.sealer);
        Ok(AssumedRole::new(
            format!("acs:ram::{account}:role/{}/{session}", role.name),
            format!("{}:{session}", role.id),
            access_key_id,
            AccessKeySecret::new(secret.as_str()),
            token,
            // Whole seconds: the token stores seconds.
            OffsetDateTime::from_unix_timestamp(expiration.unix_timestamp()).unwrap_or(expiration),
        ))
    }

    /// GetCallerIdentity: who the credentials belong to; needs no permission.
    pub fn caller_identity(&self) -> Result<CallerIdentity> {
        let account_id = self.iam.account_id.clone();
        let (identity_type, principal_id) = match self.caller {
            Principal::Root { .. } => ("Account", account_id.clone()),
            Principal::User { user_id, .. } => ("RAMUser", user_id.clone()),
            Principal::RoleSession {
                role_id,
                session_name,
                ..
            } => ("AssumedRoleUser", format!("{role_id}:{session_name}")),
            Principal::Anonymous => {
                return Err(Error::AccessDenied {
                    action: "sts:GetCallerIdentity",
                    resource: "*".into(),
                });
            }
        };
        Ok(CallerIdentity {
            account_id,
            arn: self.caller.arn().unwrap_or_default(),
            identity_type: identity_type.into(),
            principal_id,
        })
    }
}

fn key_info(k: &AccessKeyRecord) -> AccessKeyInfo {
    AccessKeyInfo {
        access_key_id: k.id.clone(),
        status: k.status.as_str().into(),
        create_date: date(k.created),
        user_name: k.user.clone(),
    }
}

fn user_key<'d>(dir: &'d Directory, user: &str, id: &str) -> Result<&'d AccessKeyRecord> {
    if !dir.users.contains_key(user) {
        return Err(Error::not_found(EntityKind::User, user));
    }
    dir.access_keys
        .get(id)
        .filter(|k| k.user == user)
        .ok_or_else(|| Error::not_found(EntityKind::AccessKey, id))
}

/// Where policy `name` is attached: `user/…`, `group/…`, `role/…`.
fn attachments(dir: &Directory, name: &str) -> Vec<String> {
    let users = dir
        .users
        .values()
        .filter(|u| u.policies.contains(name))
        .map(|u| format!("user/{}", u.name));
    let groups = dir
        .groups
        .values()
        .filter(|g| g.policies.contains(name))
        .map(|g| format!("group/{}", g.name));
    let roles = dir
        .roles
        .values()
        .filter(|r| r.record.policies.contains(name))
        .map(|r| format!("role/{}", r.record.name));
    users.chain(groups).chain(roles).collect()
}

/// Changes the policy set of `target` with `edit`; the write to make if `edit` changed it.
fn edit_policies(
    dir: &Directory,
    target: &PolicyTarget,
    edit: impl FnOnce(&mut BTreeSet<String>) -> bool,
) -> Result<Option<Op>> {
    let missing = || Error::not_found(target.kind(), target.name());
    Ok(match target {
        PolicyTarget::User(n) => {
            let mut u = dir.users.get(n).ok_or_else(missing)?.clone();
            edit(&mut u.policies).then_some(Op::PutUser(u))
        }
        PolicyTarget::Group(n) => {
            let mut g = dir.groups.get(n).ok_or_else(missing)?.clone();
            edit(&mut g.policies).then_some(Op::PutGroup(g))
        }
        PolicyTarget::Role(n) => {
            let mut r = dir.roles.get(n).ok_or_else(missing)?.clone();
            edit(&mut r.record.policies).then_some(Op::PutRole(r))
        }
    })
}

/// The role name of `acs:ram::{account}:role/{name}`.
fn parse_role_arn<'r>(arn: &'r str, account: &str) -> Result<&'r str> {
    let bad = || {
        Error::invalid(
            "RoleArn",
            format!("must be acs:ram::{account}:role/<name> (roles of this account)"),
        )
    };
    let rest = arn.strip_prefix("acs:ram::").ok_or_else(bad)?;
    let (acct, relative) = rest.split_once(':').ok_or_else(bad)?;
    let name = relative.strip_prefix("role/").ok_or_else(bad)?;
    if acct != account || name.is_empty() || name.contains('/') {
        return Err(bad());
    }
    Ok(name)
}
