//! The operations of the admin API: one closed [`Operation`] enum, RAM/STS API names and
//! parameters, each a thin call into [`coffer_iam::Admin`] (which checks the caller's `ram:*` /
//! `sts:*` permission) and a JSON reply in RAM's shape.

use coffer_iam::{
    AssumeRoleRequest, Conditions, Iam, KeyStatus, NewAccessKey, PolicyTarget, Principal,
};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Every operation the admin API serves, as `POST /{service}/{name}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Operation {
    CreateUser,
    GetUser,
    ListUsers,
    DeleteUser,
    CreateAccessKey,
    ListAccessKeys,
    UpdateAccessKey,
    DeleteAccessKey,
    CreateGroup,
    GetGroup,
    ListGroups,
    DeleteGroup,
    AddUserToGroup,
    RemoveUserFromGroup,
    CreatePolicy,
    GetPolicy,
    ListPolicies,
    DeletePolicy,
    AttachPolicyToUser,
    AttachPolicyToGroup,
    AttachPolicyToRole,
    DetachPolicyFromUser,
    DetachPolicyFromGroup,
    DetachPolicyFromRole,
    CreateRole,
    GetRole,
    ListRoles,
    DeleteRole,
    AssumeRole,
    GetCallerIdentity,
    GetUsage,
    ListAuditRecords,
}

impl Operation {
    /// Every operation.
    pub const ALL: &'static [Operation] = &[
        Operation::CreateUser,
        Operation::GetUser,
        Operation::ListUsers,
        Operation::DeleteUser,
        Operation::CreateAccessKey,
        Operation::ListAccessKeys,
        Operation::UpdateAccessKey,
        Operation::DeleteAccessKey,
        Operation::CreateGroup,
        Operation::GetGroup,
        Operation::ListGroups,
        Operation::DeleteGroup,
        Operation::AddUserToGroup,
        Operation::RemoveUserFromGroup,
        Operation::CreatePolicy,
        Operation::GetPolicy,
        Operation::ListPolicies,
        Operation::DeletePolicy,
        Operation::AttachPolicyToUser,
        Operation::AttachPolicyToGroup,
        Operation::AttachPolicyToRole,
        Operation::DetachPolicyFromUser,
        Operation::DetachPolicyFromGroup,
        Operation::DetachPolicyFromRole,
        Operation::CreateRole,
        Operation::GetRole,
        Operation::ListRoles,
        Operation::DeleteRole,
        Operation::AssumeRole,
        Operation::GetCallerIdentity,
        Operation::GetUsage,
        Operation::ListAuditRecords,
    ];

    /// The API name (`CreateUser`), as in RAM and STS.
    pub fn name(self) -> &'static str {
        match self {
            Operation::CreateUser => "CreateUser",
            Operation::GetUser => "GetUser",
            Operation::ListUsers => "ListUsers",
            Operation::DeleteUser => "DeleteUser",
            Operation::CreateAccessKey => "CreateAccessKey",
            Operation::ListAccessKeys => "ListAccessKeys",
            Operation::UpdateAccessKey => "UpdateAccessKey",
            Operation::DeleteAccessKey => "DeleteAccessKey",
            Operation::CreateGroup => "CreateGroup",
            Operation::GetGroup => "GetGroup",
            Operation::ListGroups => "ListGroups",
            Operation::DeleteGroup => "DeleteGroup",
            Operation::AddUserToGroup => "AddUserToGroup",
            Operation::RemoveUserFromGroup => "RemoveUserFromGroup",
            Operation::CreatePolicy => "CreatePolicy",
            Operation::GetPolicy => "GetPolicy",
            Operation::ListPolicies => "ListPolicies",
            Operation::DeletePolicy => "DeletePolicy",
            Operation::AttachPolicyToUser => "AttachPolicyToUser",
            Operation::AttachPolicyToGroup => "AttachPolicyToGroup",
            Operation::AttachPolicyToRole => "AttachPolicyToRole",
            Operation::DetachPolicyFromUser => "DetachPolicyFromUser",
            Operation::DetachPolicyFromGroup => "DetachPolicyFromGroup",
            Operation::DetachPolicyFromRole => "DetachPolicyFromRole",
            Operation::CreateRole => "CreateRole",
            Operation::GetRole => "GetRole",
            Operation::ListRoles => "ListRoles",
            Operation::DeleteRole => "DeleteRole",
            Operation::AssumeRole => "AssumeRole",
            Operation::GetCallerIdentity => "GetCallerIdentity",
            Operation::GetUsage => "GetUsage",
            Operation::ListAuditRecords => "ListAuditRecords",
        }
    }

    /// `ram`, `sts` or `kms`: the first path segment.
    pub fn service(self) -> &'static str {
        match self {
            Operation::AssumeRole | Operation::GetCallerIdentity => "sts",
            Operation::GetUsage | Operation::ListAuditRecords => "kms",
            _ => "ram",
        }
    }

    /// The operation at `/{service}/{name}`.
    pub fn parse(service: &str, name: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|op| op.service() == service && op.name() == name)
    }
}

/// The JSON object of a request's parameters.
pub(crate) struct Params(Map<String, Value>);

impl Params {
    pub(crate) fn parse(body: &[u8]) -> Result<Self, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::invalid("Body", "must be a JSON object")),
            Err(e) => Err(ApiError::invalid("Body", format!("is not JSON: {e}"))),
        }
    }

    pub(crate) fn optional(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(name, "must be a string")),
        }
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.optional(name)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ApiError::missing(name))
    }

    /// A whole number, given as a JSON number or as decimal text (RPC parameters are text).
    pub(crate) fn number(&self, name: &str) -> Result<Option<u64>, ApiError> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => n
                .as_u64()
                .map(Some)
                .ok_or_else(|| ApiError::invalid(name, "must be a whole number")),
            Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => s
                .parse()
                .map(Some)
                .map_err(|_| ApiError::invalid(name, "is out of range")),
            Some(_) => Err(ApiError::invalid(name, "must be a whole number")),
        }
    }
}

fn to_value(v: impl serde::Serialize) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(ApiError::internal)
}

fn access_key_json(key: &NewAccessKey) -> Value {
    json!({
        "AccessKeyId": key.info.access_key_id,
        "AccessKeySecret": key.secret.expose_secret(),
        "Status": key.info.status,
        "CreateDate": key.info.create_date,
        "UserName": key.info.user_name,
    })
}

/// Runs `op` for `principal` and returns the reply's fields (the server adds `RequestId`).
pub(crate) fn run(
    iam: &Iam,
    principal: &Principal,
    conditions: &Conditions,
    op: Operation,
    p: &Params,
) -> Result<Value, ApiError> {
    use Operation as O;
    let admin = iam.admin(principal, conditions);
    let target = |kind: &str| -> Result<PolicyTarget, ApiError> {
        Ok(match kind {
            "User" => PolicyTarget::User(p.required("UserName")?.to_owned()),
            "Group" => PolicyTarget::Group(p.required("GroupName")?.to_owned()),
            _ => PolicyTarget::Role(p.required("RoleName")?.to_owned()),
        })
    };
    let empty = || Ok(json!({}));
    match op {
        O::CreateUser => Ok(json!({"User": to_value(admin.create_user(
            p.required("UserName")?,
            p.optional("DisplayName")?,
            p.optional("Comments")?,
        )?)?})),
        O::GetUser => Ok(json!({"User": to_value(admin.user(p.required("UserName")?)?)?})),
        O::ListUsers => Ok(json!({"Users": to_value(admin.users()?)?})),
        O::DeleteUser => {
            admin.delete_user(p.required("UserName")?)?;
            empty()
        }
        O::CreateAccessKey => {
            let key = admin.create_access_key(p.required("UserName")?)?;
            Ok(json!({"AccessKey": access_key_json(&key)}))
        }
        O::ListAccessKeys => Ok(json!({
            "AccessKeys": to_value(admin.access_keys(p.required("UserName")?)?)?
        })),
        O::UpdateAccessKey => {
            let status = p.required("Status")?;
            let status = KeyStatus::parse(status)
                .ok_or_else(|| ApiError::invalid("Status", "must be Active or Inactive"))?;
            admin.update_access_key(
                p.required("UserName")?,
                p.required("UserAccessKeyId")?,
                status,
            )?;
            empty()
        }
        O::DeleteAccessKey => {
            admin.delete_access_key(p.required("UserName")?, p.required("UserAccessKeyId")?)?;
            empty()
        }
        O::CreateGroup => Ok(json!({"Group": to_value(admin.create_group(
            p.required("GroupName")?,
            p.optional("Comments")?,
        )?)?})),
        O::GetGroup => Ok(json!({"Group": to_value(admin.group(p.required("GroupName")?)?)?})),
        O::ListGroups => Ok(json!({"Groups": to_value(admin.groups()?)?})),
        O::DeleteGroup => {
            admin.delete_group(p.required("GroupName")?)?;
            empty()
        }
        O::AddUserToGroup => {
            admin.add_user_to_group(p.required("GroupName")?, p.required("UserName")?)?;
            empty()
        }
        O::RemoveUserFromGroup => {
            admin.remove_user_from_group(p.required("GroupName")?, p.required("UserName")?)?;
            empty()
        }
        O::CreatePolicy => Ok(json!({"Policy": to_value(admin.create_policy(
            p.required("PolicyName")?,
            p.required("PolicyDocument")?,
            p.optional("Description")?,
        )?)?})),
        O::GetPolicy => Ok(json!({"Policy": to_value(admin.policy(p.required("PolicyName")?)?)?})),
        O::ListPolicies => Ok(json!({"Policies": to_value(admin.policies()?)?})),
        O::DeletePolicy => {
            admin.delete_policy(p.required("PolicyName")?)?;
            empty()
        }
        O::AttachPolicyToUser | O::AttachPolicyToGroup | O::AttachPolicyToRole => {
            let kind = op.name().trim_start_matches("AttachPolicyTo");
            admin.attach_policy(p.required("PolicyName")?, &target(kind)?)?;
            empty()
        }
        O::DetachPolicyFromUser | O::DetachPolicyFromGroup | O::DetachPolicyFromRole => {
            let kind = op.name().trim_start_matches("DetachPolicyFrom");
            admin.detach_policy(p.required("PolicyName")?, &target(kind)?)?;
            empty()
        }
        O::CreateRole => {
            let max = p
                .number("MaxSessionDuration")?
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
            Ok(json!({"Role": to_value(admin.create_role(
                p.required("RoleName")?,
                p.required("AssumeRolePolicyDocument")?,
                p.optional("Description")?,
                max,
            )?)?}))
        }
        O::GetRole => Ok(json!({"Role": to_value(admin.role(p.required("RoleName")?)?)?})),
        O::ListRoles => Ok(json!({"Roles": to_value(admin.roles()?)?})),
        O::DeleteRole => {
            admin.delete_role(p.required("RoleName")?)?;
            empty()
        }
        O::AssumeRole => {
            let duration = p
                .number("DurationSeconds")?
                .map(|s| time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)));
            let assumed = admin.assume_role(AssumeRoleRequest {
                role_arn: p.required("RoleArn")?.to_owned(),
                session_name: p.required("RoleSessionName")?.to_owned(),
                duration,
                policy: p.optional("Policy")?.map(str::to_owned),
                external_id: p.optional("ExternalId")?.map(str::to_owned),
            })?;
            let expiration = assumed
                .expiration
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(ApiError::internal)?;
            Ok(json!({
                "AssumedRoleUser": {
                    "Arn": assumed.arn,
                    "AssumedRoleId": assumed.assumed_role_id,
                },
                "Credentials": {
                    "AccessKeyId": assumed.access_key_id,
                    "AccessKeySecret": assumed.access_key_secret.expose_secret(),
                    "SecurityToken": assumed.security_token.expose_secret(),
                    "Expiration": expiration,
                },
            }))
        }
        O::GetCallerIdentity => Ok(to_value(admin.caller_identity()?)?),
        O::GetUsage | O::ListAuditRecords => Err(ApiError::internal(format!(
            "{} is served by the KMS reads, not by RAM",
            op.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_parses_back_from_its_path() {
        for op in Operation::ALL {
            assert_eq!(Operation::parse(op.service(), op.name()), Some(*op));
        }
        assert_eq!(Operation::parse("sts", "CreateUser"), None);
        assert_eq!(Operation::parse("ram", "createuser"), None);
    }

    #[test]
    fn params_accept_text_numbers_and_refuse_wrong_types() {
        let p = Params::parse(br#"{"A":"x","N":"3600","M":7200,"B":true}"#).unwrap();
        assert_eq!(p.required("A").unwrap(), "x");
        assert_eq!(p.number("N").unwrap(), Some(3600));
        assert_eq!(p.number("M").unwrap(), Some(7200));
        assert!(p.required("B").is_err());
        assert!(p.required("Z").is_err());
        assert_eq!(p.optional("Z").unwrap(), None);
        assert!(Params::parse(b"[1]").is_err());
        assert!(Params::parse(b"{").is_err());
        assert!(Params::parse(b"  ").unwrap().0.is_empty());
    }
}
