//! Users, groups, policies and roles: create and delete them, a user's access keys (the secret
//! shown once, on the user's page the form redirects to), group membership, the policy editor (the server's validation message
//! shown beside the document) and attach/detach.
//!
//! Every action is `AdminService::invoke` as the session's principal: RAM's operations and its
//! `ram:*` authorization, without the admin API's wire.

use coffer_admin::Operation;
use maud::{Markup, html};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::error::ConsoleError;
use crate::form::{Form, encode};
use crate::page::{self, Section};
use crate::reply::Reply;
use crate::server::{Caller, ConsoleService, Req};
use crate::session::NewKey;

async fn ram(
    svc: &ConsoleService,
    caller: &Caller,
    op: Operation,
    params: Value,
) -> Result<Value, ConsoleError> {
    Ok(svc
        .admin
        .invoke(
            &caller.principal,
            caller.facts.shared_conditions(),
            op,
            params,
        )
        .await?)
}

fn list(v: &Result<Value, ConsoleError>, field: &str) -> Vec<Value> {
    v.as_ref()
        .ok()
        .and_then(|v| v[field].as_array().cloned())
        .unwrap_or_default()
}

fn names(v: &Value) -> String {
    let items: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if items.is_empty() {
        "—".to_owned()
    } else {
        items.join(", ")
    }
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or("")
}

fn post_button(
    caller: &Caller,
    op: &str,
    fields: &[(&str, &str)],
    label: &str,
    aria: &str,
) -> Markup {
    html! {
        form.inline method="post" action={"/identities/" (op)} data-confirm=[op.starts_with("delete").then(|| format!("{aria}?"))] {
            (page::csrf_field(&caller.csrf))
            @for (k, v) in fields { input type="hidden" name=(k) value=(v); }
            button.link.danger[op.starts_with("delete")] type="submit" aria-label=(aria) { (label) }
        }
    }
}

const DEFAULT_POLICY: &str = r#"{
  "Version": "1",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["oss:GetObject", "oss:ListObjects"],
      "Resource": ["acs:oss:*:*:my-bucket", "acs:oss:*:*:my-bucket/*"]
    }
  ]
}"#;

/// The policy editor; `error` is the server's complaint about the document given.
fn policy_editor(
    caller: &Caller,
    name: &str,
    document: &str,
    error: Option<&ConsoleError>,
) -> Markup {
    html! {
        form.panel #policy-editor method="post" action="/identities/create-policy" {
            h3 { "Create policy" }
            (page::csrf_field(&caller.csrf))
            @if let Some(e) = error { (page::banner_for(e)) }
            div.field {
                label for="policy-name" { "Policy name" }
                input #policy-name name="PolicyName" type="text" value=(name) autocomplete="off";
            }
            div.field {
                label for="policy-description" { "Description" }
                input #policy-description name="Description" type="text" autocomplete="off";
            }
            div.field {
                label for="policy-document" { "Policy document" }
                textarea #policy-document name="PolicyDocument" spellcheck="false" { (document) }
                p.hint { "RAM policy language: Version \"1\", statements of Effect, Action, Resource and Condition. The server checks it and says what is wrong." }
            }
            button.primary type="submit" { "Create policy" }
        }
    }
}

/// GET /identities: users, groups, policies and roles.
pub(crate) async fn overview(svc: &ConsoleService, caller: &Caller) -> Result<Reply, ConsoleError> {
    let content = overview_markup(svc, caller, None).await;
    Ok(caller.page(svc, Section::Identities, "Users and policies", content))
}

async fn overview_markup(
    svc: &ConsoleService,
    caller: &Caller,
    editor: Option<(String, String, ConsoleError)>,
) -> Markup {
    let users = ram(svc, caller, Operation::ListUsers, json!({})).await;
    let groups = ram(svc, caller, Operation::ListGroups, json!({})).await;
    let policies = ram(svc, caller, Operation::ListPolicies, json!({})).await;
    let roles = ram(svc, caller, Operation::ListRoles, json!({})).await;
    let denied = |r: &Result<Value, ConsoleError>| r.as_ref().err().map(page::banner_for);
    html! {
        h1 { "Users and policies" }
        section #users {
            h2 { "Users" }
            @if let Some(b) = denied(&users) { (b) }
            div.table-wrap {
                table.list {
                    thead { tr { th { "User name" } th { "Display name" } th { "Groups" } th { "Policies" } th { "Created" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for u in list(&users, "Users") {
                            tr data-user=(s(&u, "UserName")) {
                                td { a href={"/identities/users/" (encode(s(&u, "UserName")))} { (s(&u, "UserName")) } }
                                td { (s(&u, "DisplayName")) }
                                td { (names(&u["Groups"])) }
                                td { (names(&u["Policies"])) }
                                td { (s(&u, "CreateDate")) }
                                td.row-actions { (post_button(caller, "delete-user", &[("UserName", s(&u, "UserName"))], "Delete", &format!("Delete user {}", s(&u, "UserName")))) }
                            }
                        }
                    }
                }
            }
            form.inline-form method="post" action="/identities/create-user" {
                (page::csrf_field(&caller.csrf))
                label for="new-user" { "User name" }
                input #new-user name="UserName" type="text" autocomplete="off";
                label for="new-user-display" { "Display name" }
                input #new-user-display name="DisplayName" type="text" autocomplete="off";
                button.primary type="submit" { "Create user" }
            }
        }
        section #groups {
            h2 { "Groups" }
            @if let Some(b) = denied(&groups) { (b) }
            div.table-wrap {
                table.list {
                    thead { tr { th { "Group name" } th { "Members" } th { "Policies" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for g in list(&groups, "Groups") {
                            tr data-group=(s(&g, "GroupName")) {
                                td { (s(&g, "GroupName")) }
                                td { (names(&g["Users"])) }
                                td { (names(&g["Policies"])) }
                                td.row-actions { (post_button(caller, "delete-group", &[("GroupName", s(&g, "GroupName"))], "Delete", &format!("Delete group {}", s(&g, "GroupName")))) }
                            }
                        }
                    }
                }
            }
            form.inline-form method="post" action="/identities/create-group" {
                (page::csrf_field(&caller.csrf))
                label for="new-group" { "Group name" }
                input #new-group name="GroupName" type="text" autocomplete="off";
                button.primary type="submit" { "Create group" }
            }
        }
        section #policies {
            h2 { "Policies" }
            @if let Some(b) = denied(&policies) { (b) }
            div.table-wrap {
                table.list {
                    thead { tr { th { "Policy name" } th { "Type" } th { "Description" } th { "Attached to" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for p in list(&policies, "Policies") {
                            tr data-policy=(s(&p, "PolicyName")) {
                                td { a href={"/identities/policies/" (encode(s(&p, "PolicyName")))} { (s(&p, "PolicyName")) } }
                                td { (s(&p, "PolicyType")) }
                                td { (s(&p, "Description")) }
                                td { (names(&p["AttachedTo"])) }
                                td.row-actions {
                                    @if s(&p, "PolicyType") != "System" {
                                        (post_button(caller, "delete-policy", &[("PolicyName", s(&p, "PolicyName"))], "Delete", &format!("Delete policy {}", s(&p, "PolicyName"))))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @match editor {
                Some((name, doc, e)) => { (policy_editor(caller, &name, &doc, Some(&e))) }
                None => { (policy_editor(caller, "", DEFAULT_POLICY, None)) }
            }
            form.panel #attach method="post" action="/identities/attach" {
                h3 { "Attach or detach a policy" }
                (page::csrf_field(&caller.csrf))
                div.field { label for="attach-policy" { "Policy to attach or detach" } input #attach-policy name="PolicyName" type="text" autocomplete="off"; }
                div.field {
                    label for="attach-kind" { "Attach to" }
                    select #attach-kind name="kind" { option value="User" { "User" } option value="Group" { "Group" } option value="Role" { "Role" } }
                }
                div.field { label for="attach-name" { "User, group or role name" } input #attach-name name="name" type="text" autocomplete="off"; }
                div.actions {
                    button.primary type="submit" name="how" value="attach" { "Attach" }
                    button type="submit" name="how" value="detach" { "Detach" }
                }
            }
        }
        section #roles {
            h2 { "Roles" }
            @if let Some(b) = denied(&roles) { (b) }
            div.table-wrap {
                table.list {
                    thead { tr { th { "Role name" } th { "ARN" } th { "Policies" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for r in list(&roles, "Roles") {
                            tr data-role=(s(&r, "RoleName")) {
                                td { (s(&r, "RoleName")) }
                                td { code { (s(&r, "Arn")) } }
                                td { (names(&r["Policies"])) }
                                td.row-actions { (post_button(caller, "delete-role", &[("RoleName", s(&r, "RoleName"))], "Delete", &format!("Delete role {}", s(&r, "RoleName")))) }
                            }
                        }
                    }
                }
            }
            form.inline-form method="post" action="/identities/create-role" {
                (page::csrf_field(&caller.csrf))
                label for="new-role" { "Role name" }
                input #new-role name="RoleName" type="text" autocomplete="off";
                p.hint { "Trusted by this account's root (sts:AssumeRole); attach policies to say what its sessions may do." }
                button.primary type="submit" { "Create role" }
            }
        }
    }
}

/// GET /identities/users/{name}: the user's access keys, groups and policies.
pub(crate) async fn user(
    svc: &ConsoleService,
    caller: &Caller,
    name: &str,
) -> Result<Reply, ConsoleError> {
    let title = format!("User {name}");
    let u = match ram(svc, caller, Operation::GetUser, json!({"UserName": name})).await {
        Ok(u) => u,
        Err(e) => {
            return Err(caller.error_page(
                svc,
                Section::Identities,
                &title,
                e,
                html! { h1 { "User " (name) } },
            ));
        }
    };
    let u = &u["User"];
    let keys = ram(
        svc,
        caller,
        Operation::ListAccessKeys,
        json!({"UserName": name}),
    )
    .await;
    // Listed after the key is taken, so the page never shows a secret without its key.
    let new_key = svc.sessions.take_new_key(&caller.session_id, name);
    let shown = new_key
        .as_ref()
        .map(|k| (k.access_key_id.as_str(), k.secret.as_str()));
    Ok(caller.page(
        svc,
        Section::Identities,
        &title,
        user_markup(caller, name, u, &keys, shown),
    ))
}

fn user_markup(
    caller: &Caller,
    name: &str,
    u: &Value,
    keys: &Result<Value, ConsoleError>,
    new_key: Option<(&str, &str)>,
) -> Markup {
    html! {
        p.crumbs { a href="/identities" { "Users and policies" } }
        h1 { "User " (name) }
        @if let Some((id, secret)) = new_key {
            div.notice.warn role="status" #new-key {
                p { strong { "New access key " code { (id) } } }
                p { "AccessKey secret (shown only now; copy it somewhere safe):" }
                p.secret #new-secret { (secret) }
            }
        }
        dl.facts {
            dt { "User ID" } dd { (s(u, "UserId")) }
            dt { "ARN" } dd { code { (s(u, "Arn")) } }
            dt { "Display name" } dd { (s(u, "DisplayName")) }
            dt { "Groups" } dd #user-groups { (names(&u["Groups"])) }
            dt { "Policies" } dd #user-policies { (names(&u["Policies"])) }
            dt { "Created" } dd { (s(u, "CreateDate")) }
        }
        section.panel #access-keys {
            h2 { "Access keys" }
            @if let Err(e) = keys { (page::banner_for(e)) }
            div.table-wrap {
                table.list {
                    thead { tr { th { "AccessKey ID" } th { "Status" } th { "Created" } th { span.sr { "Actions" } } } }
                    tbody {
                        @for k in list(keys, "AccessKeys") {
                            @let id = s(&k, "AccessKeyId");
                            tr data-key=(id) {
                                td { code { (id) } }
                                td.status { (s(&k, "Status")) }
                                td { (s(&k, "CreateDate")) }
                                td.row-actions {
                                    @if s(&k, "Status") == "Active" {
                                        (post_button(caller, "disable-key", &[("UserName", name), ("UserAccessKeyId", id)], "Disable", &format!("Disable {id}")))
                                    } @else {
                                        (post_button(caller, "enable-key", &[("UserName", name), ("UserAccessKeyId", id)], "Enable", &format!("Enable {id}")))
                                    }
                                    (post_button(caller, "delete-key", &[("UserName", name), ("UserAccessKeyId", id)], "Delete", &format!("Delete {id}")))
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action="/identities/create-key" {
                (page::csrf_field(&caller.csrf))
                input type="hidden" name="UserName" value=(name);
                button.primary type="submit" { "Create access key" }
            }
        }
        section.panel {
            h2 { "Groups" }
            form.inline-form method="post" action="/identities/add-to-group" {
                (page::csrf_field(&caller.csrf))
                input type="hidden" name="UserName" value=(name);
                label for="add-group" { "Add to group" }
                input #add-group name="GroupName" type="text" autocomplete="off";
                button type="submit" { "Add" }
            }
        }
    }
}

/// POST /identities/{op}.
pub(crate) async fn act(
    svc: &ConsoleService,
    caller: &Caller,
    req: &mut Req,
    op: &str,
) -> Result<Reply, ConsoleError> {
    let form = req.form().await?;
    let f = |name: &str| form.get(name).unwrap_or("").to_owned();
    let user_page = |name: &str| format!("/identities/users/{}", encode(name));
    let (operation, params, back, done): (Operation, Value, String, String) = match op {
        "create-user" => (
            Operation::CreateUser,
            json!({"UserName": f("UserName"), "DisplayName": f("DisplayName")}),
            "/identities".into(),
            format!("User {} created.", f("UserName")),
        ),
        "delete-user" => (
            Operation::DeleteUser,
            json!({"UserName": f("UserName")}),
            "/identities".into(),
            format!("User {} deleted.", f("UserName")),
        ),
        "create-key" => return create_key(svc, caller, &f("UserName")).await,
        "disable-key" | "enable-key" => (
            Operation::UpdateAccessKey,
            json!({"UserName": f("UserName"), "UserAccessKeyId": f("UserAccessKeyId"),
                   "Status": if op == "disable-key" { "Inactive" } else { "Active" }}),
            user_page(&f("UserName")),
            format!(
                "Access key {} is {}.",
                f("UserAccessKeyId"),
                if op == "disable-key" {
                    "disabled"
                } else {
                    "enabled"
                }
            ),
        ),
        "delete-key" => (
            Operation::DeleteAccessKey,
            json!({"UserName": f("UserName"), "UserAccessKeyId": f("UserAccessKeyId")}),
            user_page(&f("UserName")),
            format!("Access key {} deleted.", f("UserAccessKeyId")),
        ),
        "create-group" => (
            Operation::CreateGroup,
            json!({"GroupName": f("GroupName")}),
            "/identities".into(),
            format!("Group {} created.", f("GroupName")),
        ),
        "delete-group" => (
            Operation::DeleteGroup,
            json!({"GroupName": f("GroupName")}),
            "/identities".into(),
            format!("Group {} deleted.", f("GroupName")),
        ),
        "add-to-group" => (
            Operation::AddUserToGroup,
            json!({"GroupName": f("GroupName"), "UserName": f("UserName")}),
            user_page(&f("UserName")),
            format!("{} is now in group {}.", f("UserName"), f("GroupName")),
        ),
        "create-policy" => return create_policy(svc, caller, &form).await,
        "delete-policy" => (
            Operation::DeletePolicy,
            json!({"PolicyName": f("PolicyName")}),
            "/identities".into(),
            format!("Policy {} deleted.", f("PolicyName")),
        ),
        "attach" => {
            let kind = form
                .get("kind")
                .filter(|k| matches!(*k, "User" | "Group" | "Role"))
                .unwrap_or("User");
            let attach = form.get("how") != Some("detach");
            let op = match (attach, kind) {
                (true, "User") => Operation::AttachPolicyToUser,
                (true, "Group") => Operation::AttachPolicyToGroup,
                (true, _) => Operation::AttachPolicyToRole,
                (false, "User") => Operation::DetachPolicyFromUser,
                (false, "Group") => Operation::DetachPolicyFromGroup,
                (false, _) => Operation::DetachPolicyFromRole,
            };
            let mut params = json!({"PolicyName": f("PolicyName")});
            params[format!("{kind}Name")] = json!(f("name"));
            let verb = if attach {
                "attached to"
            } else {
                "detached from"
            };
            (
                op,
                params,
                "/identities".into(),
                format!(
                    "Policy {} {verb} {} {}.",
                    f("PolicyName"),
                    kind.to_lowercase(),
                    f("name")
                ),
            )
        }
        "create-role" => {
            let account = caller.principal.account_id().unwrap_or("").to_owned();
            let trust = json!({"Version": "1", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                "Principal": {"RAM": [format!("acs:ram::{account}:root")]}}]});
            (
                Operation::CreateRole,
                json!({"RoleName": f("RoleName"), "AssumeRolePolicyDocument": trust.to_string()}),
                "/identities".into(),
                format!("Role {} created.", f("RoleName")),
            )
        }
        "delete-role" => (
            Operation::DeleteRole,
            json!({"RoleName": f("RoleName")}),
            "/identities".into(),
            format!("Role {} deleted.", f("RoleName")),
        ),
        _ => return Err(ConsoleError::not_found()),
    };
    let outcome = ram(svc, caller, operation, params).await.map(|_| done);
    Ok(caller.done(svc, &back, outcome))
}

/// CreateAccessKey, then post/redirect/get: the new secret is left in the session for the one
/// view of the user's page that takes it (`Sessions::take_new_key`), and the reply is a redirect
/// there. Reloading that page is a GET: it shows no secret and makes no key, where reloading the
/// form's reply would have posted the form again and made a second key.
async fn create_key(
    svc: &ConsoleService,
    caller: &Caller,
    name: &str,
) -> Result<Reply, ConsoleError> {
    let back = format!("/identities/users/{}", encode(name));
    match ram(
        svc,
        caller,
        Operation::CreateAccessKey,
        json!({"UserName": name}),
    )
    .await
    {
        Ok(mut k) => {
            let secret = match k["AccessKey"]["AccessKeySecret"].take() {
                Value::String(secret) => Zeroizing::new(secret),
                _ => {
                    return Ok(caller.done(
                        svc,
                        &back,
                        Err(ConsoleError::internal("CreateAccessKey answered no secret")),
                    ));
                }
            };
            svc.sessions.leave_new_key(
                &caller.session_id,
                NewKey {
                    user: name.to_owned(),
                    access_key_id: s(&k["AccessKey"], "AccessKeyId").to_owned(),
                    secret,
                },
            );
            Ok(Reply::redirect(&back))
        }
        Err(e) => Ok(caller.done(svc, &back, Err(e))),
    }
}

/// CreatePolicy: a refused document comes back in the editor with the server's message.
async fn create_policy(
    svc: &ConsoleService,
    caller: &Caller,
    form: &Form,
) -> Result<Reply, ConsoleError> {
    let name = form.get("PolicyName").unwrap_or("").to_owned();
    let document = form.raw("PolicyDocument").unwrap_or("").to_owned();
    let params = json!({"PolicyName": name, "PolicyDocument": document,
                        "Description": form.get("Description").unwrap_or("")});
    match ram(svc, caller, Operation::CreatePolicy, params).await {
        Ok(_) => Ok(caller.done(svc, "/identities", Ok(format!("Policy {name} created.")))),
        Err(e) => {
            let status = e.status;
            let content = overview_markup(svc, caller, Some((name, document, e))).await;
            let mut r = caller.page(svc, Section::Identities, "Users and policies", content);
            *r.response.status_mut() = status;
            Ok(r)
        }
    }
}

/// GET /identities/policies/{name}: the document.
pub(crate) async fn policy(
    svc: &ConsoleService,
    caller: &Caller,
    name: &str,
) -> Result<Reply, ConsoleError> {
    let title = format!("Policy {name}");
    let p = match ram(
        svc,
        caller,
        Operation::GetPolicy,
        json!({"PolicyName": name}),
    )
    .await
    {
        Ok(p) => p,
        Err(e) => {
            return Err(caller.error_page(
                svc,
                Section::Identities,
                &title,
                e,
                html! { h1 { (title) } },
            ));
        }
    };
    let p = &p["Policy"];
    let doc = s(p, "PolicyDocument");
    let pretty = serde_json::from_str::<Value>(doc)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| doc.to_owned());
    let content = html! {
        p.crumbs { a href="/identities" { "Users and policies" } }
        h1 { "Policy " (name) }
        dl.facts {
            dt { "Type" } dd { (s(p, "PolicyType")) }
            dt { "Description" } dd { (s(p, "Description")) }
            dt { "Attached to" } dd { (names(&p["AttachedTo"])) }
            dt { "Created" } dd { (s(p, "CreateDate")) }
        }
        label for="policy-view" { "Policy document" }
        textarea #policy-view readonly spellcheck="false" { (pretty) }
    };
    Ok(caller.page(svc, Section::Identities, &title, content))
}
