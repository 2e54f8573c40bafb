//! `coffer admin`: RAM users, access keys, groups, policies, roles and STS through the admin API
//! of a running server.
//!
//! Where and as whom, first found wins: the endpoint from `--endpoint` / `COFFER_ADMIN_ENDPOINT`,
//! the profile's `admin-endpoint`, then `http://127.0.0.1:9002`; the key pair from
//! `--access-key-id` / `COFFER_ADMIN_ACCESS_KEY_ID`, `COFFER_ACCESS_KEY_ID`, the profile
//! (`--profile` / `COFFER_PROFILE`, else `default`), then `COFFER_ROOT_ACCESS_KEY_ID` (the
//! server's own root pair, on its host). Requests are signed (V4); a RAM user's keys work when
//! its policies allow the `ram:*` actions used. `--json` or `-o json` prints the API's JSON
//! replies. `--endpoint`, `--profile`, `--region` and the output options may come anywhere
//! after `admin`; the key pair flags right after it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use coffer_admin::Operation;
use coffer_admin::client::AdminClient;
use coffer_cli::profile::{ConfigFile, Profile, config_path};
use coffer_types::AccessKeySecret;
use serde_json::{Value, json};

#[derive(Args, Debug)]
pub(crate) struct AdminArgs {
    /// Admin API endpoint [default: the profile's admin-endpoint, else http://127.0.0.1:9002].
    #[arg(long, env = "COFFER_ADMIN_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// Profile of the config file (`coffer config`) whose admin endpoint and key pair to use.
    #[arg(long, env = "COFFER_PROFILE", global = true)]
    profile: Option<String>,
    // The key pair is not `global`: `access-key enable|disable|delete` take an access key id
    // as their argument, which a global `access_key_id` would capture.
    /// Access key id to sign with [default: $COFFER_ACCESS_KEY_ID, the profile's, then
    /// $COFFER_ROOT_ACCESS_KEY_ID].
    #[arg(long, env = "COFFER_ADMIN_ACCESS_KEY_ID")]
    access_key_id: Option<String>,
    /// Its secret [default: as for the id].
    #[arg(long, env = "COFFER_ADMIN_ACCESS_KEY_SECRET", hide_env_values = true)]
    access_key_secret: Option<String>,
    /// STS security token, when signing with temporary credentials.
    #[arg(long, env = "COFFER_ADMIN_SECURITY_TOKEN", hide_env_values = true)]
    security_token: Option<String>,
    /// PEM file of certificates to trust for an https:// endpoint, besides the system's roots
    /// (a self-signed server's certificate) [default: the profile's ca-file].
    #[arg(long, env = "COFFER_CA_FILE", global = true)]
    ca_file: Option<std::path::PathBuf>,
    /// Region the server serves (V4 signatures name it) [default: the profile's, else
    /// cn-hangzhou].
    #[arg(long, env = "COFFER_REGION", global = true)]
    region: Option<String>,
    /// Print the JSON replies instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Output format: `text` or `json` (the same as --json).
    #[arg(long, short = 'o', global = true, value_parser = ["text", "json"])]
    output: Option<String>,
    #[command(subcommand)]
    command: AdminCommand,
}

/// The admin endpoint and signing identity of `args`, as the module documentation orders them.
fn connect(args: &AdminArgs) -> Result<AdminClient> {
    let file = ConfigFile::load(&config_path()?)?;
    let profile = match &args.profile {
        Some(name) => file
            .profiles
            .get(name)
            .cloned()
            .with_context(|| format!("no profile `{name}` in the config file"))?,
        None => file.profiles.get("default").cloned().unwrap_or_default(),
    };
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let from_profile = |p: &Profile| (p.access_key_id.clone(), p.access_key_secret.clone());
    let (access_key_id, secret, token) = match (&args.access_key_id, &args.access_key_secret) {
        (Some(id), Some(secret)) => (id.clone(), secret.clone(), args.security_token.clone()),
        (Some(_), None) | (None, Some(_)) => {
            anyhow::bail!("give both --access-key-id and --access-key-secret, or neither")
        }
        (None, None) => match (env("COFFER_ACCESS_KEY_ID"), env("COFFER_ACCESS_KEY_SECRET")) {
            (Some(id), Some(secret)) => (id, secret, env("COFFER_SECURITY_TOKEN")),
            _ => match from_profile(&profile) {
                (Some(id), Some(secret)) => (id, secret, profile.security_token.clone()),
                _ => (
                    env("COFFER_ROOT_ACCESS_KEY_ID").context(
                        "no credentials: run `coffer config`, set COFFER_ACCESS_KEY_ID and \
                         COFFER_ACCESS_KEY_SECRET, or --access-key-id",
                    )?,
                    env("COFFER_ROOT_ACCESS_KEY_SECRET").context(
                        "no credentials: set COFFER_ROOT_ACCESS_KEY_SECRET (or \
                         --access-key-secret)",
                    )?,
                    None,
                ),
            },
        },
    };
    let token = args.security_token.clone().or(token);
    let endpoint = args
        .endpoint
        .clone()
        .or(profile.admin_endpoint)
        .unwrap_or_else(|| "http://127.0.0.1:9002".to_owned());
    let region = args
        .region
        .clone()
        .or(profile.region)
        .unwrap_or_else(|| "cn-hangzhou".to_owned());
    let client = AdminClient::new(
        endpoint.trim_end_matches('/'),
        access_key_id,
        AccessKeySecret::new(secret),
        region,
    )?;
    let client = match args.ca_file.clone().or(profile.ca_file.clone()) {
        Some(ca) => client.with_ca_file(&ca)?,
        None => client,
    };
    Ok(match token {
        Some(t) => client.with_security_token(t),
        None => client,
    })
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// RAM users.
    #[command(subcommand)]
    User(UserCommand),
    /// Access keys of RAM users (at most two each).
    #[command(subcommand)]
    AccessKey(AccessKeyCommand),
    /// User groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Custom policies and their attachments.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Roles that STS sessions assume.
    #[command(subcommand)]
    Role(RoleCommand),
    /// Temporary credentials.
    #[command(subcommand)]
    Sts(StsCommand),
}

#[derive(Subcommand, Debug)]
enum UserCommand {
    /// Creates a user and, unless --no-access-key, an access key pair for it.
    Create {
        name: String,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        comments: Option<String>,
        /// Do not create an access key.
        #[arg(long)]
        no_access_key: bool,
    },
    /// Shows a user, its groups and policies.
    Get { name: String },
    /// Lists users.
    List,
    /// Deletes a user and its access keys.
    Delete { name: String },
}

#[derive(Subcommand, Debug)]
enum AccessKeyCommand {
    /// Creates an access key pair; the secret is shown only now.
    Create {
        #[arg(long)]
        user: String,
    },
    /// Lists a user's access keys.
    List {
        #[arg(long)]
        user: String,
    },
    /// Disables a key: requests signed with it are refused.
    Disable {
        #[arg(long)]
        user: String,
        access_key_id: String,
    },
    /// Enables a disabled key again.
    Enable {
        #[arg(long)]
        user: String,
        access_key_id: String,
    },
    /// Deletes a key.
    Delete {
        #[arg(long)]
        user: String,
        access_key_id: String,
    },
}

#[derive(Subcommand, Debug)]
enum GroupCommand {
    /// Creates a group.
    Create {
        name: String,
        #[arg(long)]
        comments: Option<String>,
    },
    /// Shows a group and its members.
    Get { name: String },
    /// Lists groups.
    List,
    /// Deletes a group (its members leave it).
    Delete { name: String },
    /// Adds a user to a group.
    AddUser { group: String, user: String },
    /// Removes a user from a group.
    RemoveUser { group: String, user: String },
}

/// Exactly one of --user, --group, --role.
#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
struct Target {
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    group: Option<String>,
    #[arg(long)]
    role: Option<String>,
}

#[derive(Subcommand, Debug)]
enum PolicyCommand {
    /// Creates a custom policy from a JSON document.
    Create {
        name: String,
        #[arg(long, value_name = "FILE")]
        document: PathBuf,
        #[arg(long)]
        description: Option<String>,
    },
    /// Shows a policy, its document and attachments.
    Get { name: String },
    /// Lists policies.
    List,
    /// Deletes a policy (detach it everywhere first).
    Delete { name: String },
    /// Attaches a policy to a user, group or role.
    Attach {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Detaches a policy.
    Detach {
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand, Debug)]
enum RoleCommand {
    /// Creates a role with a trust policy (who may assume it).
    Create {
        name: String,
        #[arg(long, value_name = "FILE")]
        trust: PathBuf,
        #[arg(long)]
        description: Option<String>,
        /// Longest session, in seconds (3600–43200).
        #[arg(long)]
        max_session_duration: Option<u32>,
    },
    /// Shows a role.
    Get { name: String },
    /// Lists roles.
    List,
    /// Deletes a role; its sessions stop working.
    Delete { name: String },
}

#[derive(Subcommand, Debug)]
enum StsCommand {
    /// Temporary credentials for a session of a role.
    AssumeRole {
        #[arg(long)]
        role_arn: String,
        #[arg(long)]
        session_name: String,
        /// Session length in seconds (900 to the role's maximum; default 3600).
        #[arg(long, value_name = "SECONDS")]
        duration: Option<u64>,
        /// A session policy (JSON file) that narrows the role's policies.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        #[arg(long)]
        external_id: Option<String>,
    },
    /// Shows who the signing credentials belong to.
    Whoami,
}

fn read_document(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))
}

fn target_params(t: &Target) -> (&'static str, Value) {
    match (&t.user, &t.group, &t.role) {
        (Some(u), _, _) => ("User", json!({"UserName": u})),
        (_, Some(g), _) => ("Group", json!({"GroupName": g})),
        (_, _, Some(r)) => ("Role", json!({"RoleName": r})),
        // clap's group makes one of them required.
        _ => ("User", json!({})),
    }
}

fn merge(mut a: Value, b: Value) -> Value {
    if let (Value::Object(a), Value::Object(b)) = (&mut a, b) {
        a.extend(b);
    }
    a
}

/// Runs `coffer admin …`.
pub(crate) fn run(args: AdminArgs) -> Result<()> {
    let client = connect(&args)?;
    let call = |op: Operation, params: Value| -> Result<Value> {
        client
            .call(op, &params)
            .map_err(|e| anyhow::anyhow!("{}: {e}", op.name()))
    };
    let (reply, text) = match &args.command {
        AdminCommand::User(cmd) => match cmd {
            UserCommand::Create {
                name,
                display_name,
                comments,
                no_access_key,
            } => {
                let user = call(
                    Operation::CreateUser,
                    json!({"UserName": name, "DisplayName": display_name, "Comments": comments}),
                )?;
                let reply = if *no_access_key {
                    user
                } else {
                    let key = call(Operation::CreateAccessKey, json!({"UserName": name}))?;
                    merge(user, key)
                };
                let text = user_text(&reply["User"]) + &access_key_text(&reply["AccessKey"]);
                (reply, text)
            }
            UserCommand::Get { name } => {
                let r = call(Operation::GetUser, json!({"UserName": name}))?;
                let t = user_text(&r["User"]);
                (r, t)
            }
            UserCommand::List => {
                let r = call(Operation::ListUsers, json!({}))?;
                let t = list_text(&r["Users"], &["UserName", "UserId", "CreateDate"]);
                (r, t)
            }
            UserCommand::Delete { name } => (
                call(Operation::DeleteUser, json!({"UserName": name}))?,
                format!("deleted user {name}\n"),
            ),
        },
        AdminCommand::AccessKey(cmd) => match cmd {
            AccessKeyCommand::Create { user } => {
                let r = call(Operation::CreateAccessKey, json!({"UserName": user}))?;
                let t = access_key_text(&r["AccessKey"]);
                (r, t)
            }
            AccessKeyCommand::List { user } => {
                let r = call(Operation::ListAccessKeys, json!({"UserName": user}))?;
                let t = list_text(&r["AccessKeys"], &["AccessKeyId", "Status", "CreateDate"]);
                (r, t)
            }
            AccessKeyCommand::Disable {
                user,
                access_key_id,
            }
            | AccessKeyCommand::Enable {
                user,
                access_key_id,
            } => {
                let status = if matches!(cmd, AccessKeyCommand::Disable { .. }) {
                    "Inactive"
                } else {
                    "Active"
                };
                (
                    call(
                        Operation::UpdateAccessKey,
                        json!({"UserName": user, "UserAccessKeyId": access_key_id, "Status": status}),
                    )?,
                    format!("access key {access_key_id} is now {status}\n"),
                )
            }
            AccessKeyCommand::Delete {
                user,
                access_key_id,
            } => (
                call(
                    Operation::DeleteAccessKey,
                    json!({"UserName": user, "UserAccessKeyId": access_key_id}),
                )?,
                format!("deleted access key {access_key_id}\n"),
            ),
        },
        AdminCommand::Group(cmd) => match cmd {
            GroupCommand::Create { name, comments } => (
                call(
                    Operation::CreateGroup,
                    json!({"GroupName": name, "Comments": comments}),
                )?,
                format!("created group {name}\n"),
            ),
            GroupCommand::Get { name } => {
                let r = call(Operation::GetGroup, json!({"GroupName": name}))?;
                let t = fields_text(&r["Group"], &["GroupName", "Users", "Policies"]);
                (r, t)
            }
            GroupCommand::List => {
                let r = call(Operation::ListGroups, json!({}))?;
                let t = list_text(&r["Groups"], &["GroupName", "CreateDate"]);
                (r, t)
            }
            GroupCommand::Delete { name } => (
                call(Operation::DeleteGroup, json!({"GroupName": name}))?,
                format!("deleted group {name}\n"),
            ),
            GroupCommand::AddUser { group, user } => (
                call(
                    Operation::AddUserToGroup,
                    json!({"GroupName": group, "UserName": user}),
                )?,
                format!("added {user} to {group}\n"),
            ),
            GroupCommand::RemoveUser { group, user } => (
                call(
                    Operation::RemoveUserFromGroup,
                    json!({"GroupName": group, "UserName": user}),
                )?,
                format!("removed {user} from {group}\n"),
            ),
        },
        AdminCommand::Policy(cmd) => match cmd {
            PolicyCommand::Create {
                name,
                document,
                description,
            } => (
                call(
                    Operation::CreatePolicy,
                    json!({"PolicyName": name, "PolicyDocument": read_document(document)?,
                           "Description": description}),
                )?,
                format!("created policy {name}\n"),
            ),
            PolicyCommand::Get { name } => {
                let r = call(Operation::GetPolicy, json!({"PolicyName": name}))?;
                let t = fields_text(
                    &r["Policy"],
                    &["PolicyName", "AttachedTo", "PolicyDocument"],
                );
                (r, t)
            }
            PolicyCommand::List => {
                let r = call(Operation::ListPolicies, json!({}))?;
                let t = list_text(&r["Policies"], &["PolicyName", "AttachmentCount"]);
                (r, t)
            }
            PolicyCommand::Delete { name } => (
                call(Operation::DeletePolicy, json!({"PolicyName": name}))?,
                format!("deleted policy {name}\n"),
            ),
            PolicyCommand::Attach { name, target } | PolicyCommand::Detach { name, target } => {
                let attach = matches!(cmd, PolicyCommand::Attach { .. });
                let (kind, params) = target_params(target);
                let op = match (attach, kind) {
                    (true, "User") => Operation::AttachPolicyToUser,
                    (true, "Group") => Operation::AttachPolicyToGroup,
                    (true, _) => Operation::AttachPolicyToRole,
                    (false, "User") => Operation::DetachPolicyFromUser,
                    (false, "Group") => Operation::DetachPolicyFromGroup,
                    (false, _) => Operation::DetachPolicyFromRole,
                };
                let verb = if attach { "attached" } else { "detached" };
                (
                    call(op, merge(json!({"PolicyName": name}), params))?,
                    format!("{verb} policy {name}\n"),
                )
            }
        },
        AdminCommand::Role(cmd) => match cmd {
            RoleCommand::Create {
                name,
                trust,
                description,
                max_session_duration,
            } => {
                let r = call(
                    Operation::CreateRole,
                    json!({"RoleName": name, "AssumeRolePolicyDocument": read_document(trust)?,
                           "Description": description,
                           "MaxSessionDuration": max_session_duration}),
                )?;
                let t = fields_text(&r["Role"], &["RoleName", "RoleId", "Arn"]);
                (r, t)
            }
            RoleCommand::Get { name } => {
                let r = call(Operation::GetRole, json!({"RoleName": name}))?;
                let t = fields_text(
                    &r["Role"],
                    &[
                        "RoleName",
                        "RoleId",
                        "Arn",
                        "MaxSessionDuration",
                        "Policies",
                    ],
                );
                (r, t)
            }
            RoleCommand::List => {
                let r = call(Operation::ListRoles, json!({}))?;
                let t = list_text(&r["Roles"], &["RoleName", "Arn"]);
                (r, t)
            }
            RoleCommand::Delete { name } => (
                call(Operation::DeleteRole, json!({"RoleName": name}))?,
                format!("deleted role {name}\n"),
            ),
        },
        AdminCommand::Sts(cmd) => match cmd {
            StsCommand::AssumeRole {
                role_arn,
                session_name,
                duration,
                policy,
                external_id,
            } => {
                let policy = policy.as_deref().map(read_document).transpose()?;
                let r = call(
                    Operation::AssumeRole,
                    json!({"RoleArn": role_arn, "RoleSessionName": session_name,
                           "DurationSeconds": duration, "Policy": policy,
                           "ExternalId": external_id}),
                )?;
                let t = fields_text(
                    &r["Credentials"],
                    &[
                        "AccessKeyId",
                        "AccessKeySecret",
                        "SecurityToken",
                        "Expiration",
                    ],
                );
                (r, t)
            }
            StsCommand::Whoami => {
                let r = call(Operation::GetCallerIdentity, json!({}))?;
                let t = fields_text(&r, &["AccountId", "Arn", "IdentityType", "PrincipalId"]);
                (r, t)
            }
        },
    };
    if args.json || args.output.as_deref() == Some("json") {
        println!("{}", serde_json::to_string_pretty(&reply)?);
    } else {
        print!("{text}");
    }
    Ok(())
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(show).collect::<Vec<_>>().join(","),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn fields_text(v: &Value, fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| format!("{f}: {}\n", show(&v[*f])))
        .collect()
}

fn user_text(user: &Value) -> String {
    fields_text(user, &["UserName", "UserId", "Groups", "Policies"])
}

fn access_key_text(key: &Value) -> String {
    if key.is_null() {
        return String::new();
    }
    fields_text(key, &["AccessKeyId", "AccessKeySecret"])
}

fn list_text(items: &Value, fields: &[&str]) -> String {
    let Some(items) = items.as_array() else {
        return String::new();
    };
    items
        .iter()
        .map(|item| {
            let cols: Vec<String> = fields.iter().map(|f| show(&item[*f])).collect();
            cols.join("\t") + "\n"
        })
        .collect()
}
