//! The policy document model and its parser (Alibaba Cloud RAM documentation, "Policy
//! elements"; OSS documentation, "Bucket Policy").

use std::fmt;

use super::condition::Condition;
use super::error::PolicyError;
use super::json::{self, Json};
use super::matcher::Arn;
use super::principal::PrincipalSet;

/// Which API a policy document belongs to. The kind decides the size limit and which elements a
/// statement may or must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// A RAM custom policy attached to users, groups or roles (`CreatePolicy`): no `Principal`,
    /// `Resource` required, at most 6144 characters.
    Identity,
    /// The `Policy` parameter of `AssumeRole`: shaped like an identity policy, at most 2048
    /// characters (the STS API reference, "AssumeRole", documents 1024; coffer accepts 2048).
    Session,
    /// An OSS bucket policy (`PutBucketPolicy`): `Principal` (a list of UIDs, STS session ARNs or
    /// `*`) and `Resource` required, at most 16 KiB.
    Bucket,
    /// A role's trust policy: `Principal` (an object with `RAM`, `Service` or `Federated` lists)
    /// required, `Resource` optional, at most 6144 characters like RAM custom policies.
    Trust,
}

impl PolicyKind {
    /// The size limit and its unit. Limits count the text as given, whitespace included.
    fn limit(self) -> (usize, Unit) {
        match self {
            PolicyKind::Identity | PolicyKind::Trust => (6144, Unit::Chars),
            PolicyKind::Session => (2048, Unit::Chars),
            PolicyKind::Bucket => (16 * 1024, Unit::Bytes),
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PolicyKind::Identity => "a RAM policy",
            PolicyKind::Session => "a session policy",
            PolicyKind::Bucket => "a bucket policy",
            PolicyKind::Trust => "a trust policy",
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Unit {
    Chars,
    Bytes,
}

/// Whether a statement grants or refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Effect {
    /// The statement grants what it matches.
    Allow,
    /// The statement refuses what it matches, whatever any other statement says.
    Deny,
}

/// A parsed, validated policy, with the text it was parsed from.
///
/// Only [`PolicyDocument::parse`] and [`PolicyDocument::parse_as`] make one, so every document
/// in hand obeys the grammar of its [`PolicyKind`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    kind: PolicyKind,
    text: String,
    statements: Vec<Statement>,
}

/// One entry of a policy's `Statement` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub(super) sid: Option<String>,
    pub(super) effect: Effect,
    pub(super) actions: Actions,
    /// `None` only in trust policies without `Resource`: any resource.
    pub(super) resources: Option<Vec<String>>,
    pub(super) principal: Option<PrincipalSet>,
    pub(super) condition: Option<Condition>,
}

/// `Action` or `NotAction`; patterns stored lower-cased (actions compare case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Actions {
    /// The statement covers these actions.
    Only(Vec<String>),
    /// The statement covers every action except these.
    AllExcept(Vec<String>),
}

impl PolicyDocument {
    /// Parses a RAM custom policy ([`PolicyKind::Identity`]); see [`PolicyDocument::parse_as`].
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        Self::parse_as(PolicyKind::Identity, text)
    }

    /// Parses and validates `text` as a policy of the given kind.
    ///
    /// Refused, with the offending element named in the error: text over the kind's size limit;
    /// invalid JSON or a repeated member name; a `Version` other than the string `"1"`; a missing
    /// or empty `Statement` list; unknown elements (names are case-sensitive); a statement
    /// without `Effect` or with both or neither of `Action`/`NotAction`; `NotResource` (not in
    /// Alibaba's grammar); a `Principal` where the kind has none, or none where it needs one;
    /// resources that are neither `*` nor an `acs:` ARN; unknown condition operators; condition
    /// values of the wrong type (a non-number for `NumericLessThan`, a bad CIDR for `IpAddress`,
    /// …); empty lists anywhere.
    ///
    /// Never panics, whatever the input.
    pub fn parse_as(kind: PolicyKind, text: &str) -> Result<Self, PolicyError> {
        let (max, unit) = kind.limit();
        let (len, unit) = match unit {
            Unit::Chars => (text.chars().count(), "characters"),
            Unit::Bytes => (text.len(), "bytes"),
        };
        if len > max {
            return Err(PolicyError::TooLarge {
                kind,
                len,
                max,
                unit,
            });
        }
        let json = json::parse(text).map_err(|e| PolicyError::InvalidJson {
            reason: e.to_string(),
        })?;
        let statements = parse_document(kind, &json)?;
        Ok(PolicyDocument {
            kind,
            text: text.to_owned(),
            statements,
        })
    }

    /// What the document was parsed as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The text exactly as it was parsed, for `GetPolicy`/`GetBucketPolicy`.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The statements, in document order (which does not affect evaluation).
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Checks that every `Resource` of a bucket policy lies inside bucket `bucket` of account
    /// `owner`: `acs:oss:{region}:{owner}:{bucket}` or `acs:oss:{region}:{owner}:{bucket}/…`
    /// (coffer's choice: it refuses others at `PutBucketPolicy`). The region field is not looked
    /// at, as OSS ignores it. Other kinds of documents pass.
    pub fn check_bucket_scope(&self, owner: &str, bucket: &str) -> Result<(), PolicyError> {
        if self.kind != PolicyKind::Bucket {
            return Ok(());
        }
        for (i, statement) in self.statements.iter().enumerate() {
            for (j, resource) in statement.resources.iter().flatten().enumerate() {
                let inside = Arn::split(resource).is_some_and(|arn| {
                    arn.scheme == "acs"
                        && arn.service == "oss"
                        && arn.account == owner
                        && (arn.relative == bucket
                            || arn
                                .relative
                                .strip_prefix(bucket)
                                .is_some_and(|rest| rest.starts_with('/')))
                });
                if !inside {
                    return Err(PolicyError::malformed(
                        format!("Statement[{i}].Resource[{j}]"),
                        format!(
                            "`{resource}` is outside bucket `{bucket}`; a bucket policy may only \
                             name acs:oss:*:{owner}:{bucket} or acs:oss:*:{owner}:{bucket}/..."
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Statement {
    /// The optional `Sid`, informational only.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Whether the statement allows or denies.
    pub fn effect(&self) -> Effect {
        self.effect
    }
}

fn parse_document(kind: PolicyKind, json: &Json) -> Result<Vec<Statement>, PolicyError> {
    const TOP: &str = "";
    let Json::Object(members) = json else {
        return Err(PolicyError::malformed(
            TOP,
            format!("must be a JSON object, not {}", json.kind()),
        ));
    };
    let mut version = None;
    let mut statements = None;
    for (name, value) in members {
        match name.as_str() {
            "Version" => version = Some(value),
            "Statement" => statements = Some(value),
            other => return Err(unknown_element(TOP, other, &["Version", "Statement"])),
        }
    }
    match version {
        Some(Json::String(v)) if v == "1" => {}
        Some(Json::String(v)) => {
            return Err(PolicyError::malformed(
                "Version",
                format!("must be \"1\", not \"{v}\""),
            ));
        }
        Some(other) => {
            return Err(PolicyError::malformed(
                "Version",
                format!("must be the string \"1\", not {}", other.kind()),
            ));
        }
        None => return Err(PolicyError::malformed(TOP, "missing Version")),
    }
    let items = match statements {
        Some(Json::Array(items)) if !items.is_empty() => items,
        Some(Json::Array(_)) => {
            return Err(PolicyError::malformed(
                "Statement",
                "must contain at least one statement",
            ));
        }
        Some(other) => {
            return Err(PolicyError::malformed(
                "Statement",
                format!("must be an array of statements, not {}", other.kind()),
            ));
        }
        None => return Err(PolicyError::malformed(TOP, "missing Statement")),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| parse_statement(kind, &format!("Statement[{i}]"), item))
        .collect()
}

fn parse_statement(kind: PolicyKind, here: &str, json: &Json) -> Result<Statement, PolicyError> {
    const ELEMENTS: &[&str] = &[
        "Sid",
        "Effect",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Principal",
        "Condition",
    ];
    let Json::Object(members) = json else {
        return Err(PolicyError::malformed(
            here,
            format!("a statement must be an object, not {}", json.kind()),
        ));
    };
    let mut sid = None;
    let mut effect = None;
    let mut action = None;
    let mut not_action = None;
    let mut resource = None;
    let mut principal = None;
    let mut condition = None;
    for (name, value) in members {
        let at = format!("{here}.{name}");
        match name.as_str() {
            "Sid" => match value {
                Json::String(s) => sid = Some(s.clone()),
                other => {
                    return Err(PolicyError::malformed(
                        at,
                        format!("must be a string, not {}", other.kind()),
                    ));
                }
            },
            "Effect" => {
                effect = Some(match value {
                    Json::String(s) if s == "Allow" => Effect::Allow,
                    Json::String(s) if s == "Deny" => Effect::Deny,
                    Json::String(s) => {
                        return Err(PolicyError::malformed(
                            at,
                            format!("must be \"Allow\" or \"Deny\", not \"{s}\""),
                        ));
                    }
                    other => {
                        return Err(PolicyError::malformed(
                            at,
                            format!("must be \"Allow\" or \"Deny\", not {}", other.kind()),
                        ));
                    }
                })
            }
            "Action" => action = Some(parse_actions(&at, value)?),
            "NotAction" => not_action = Some(parse_actions(&at, value)?),
            "Resource" => resource = Some(parse_resources(&at, value)?),
            "NotResource" => {
                return Err(PolicyError::malformed(
                    at,
                    "NotResource is not supported; list the resources in Resource instead",
                ));
            }
            "Principal" => principal = Some(PrincipalSet::parse(kind, &at, value)?),
            "Condition" => condition = Some(Condition::parse(&at, value)?),
            other => return Err(unknown_element(here, other, ELEMENTS)),
        }
    }
    let effect = effect.ok_or_else(|| PolicyError::malformed(here, "missing Effect"))?;
    let actions = match (action, not_action) {
        (Some(a), None) => Actions::Only(a),
        (None, Some(a)) => Actions::AllExcept(a),
        (Some(_), Some(_)) => {
            return Err(PolicyError::malformed(
                here,
                "has both Action and NotAction; use exactly one",
            ));
        }
        (None, None) => {
            return Err(PolicyError::malformed(
                here,
                "missing Action (or NotAction)",
            ));
        }
    };
    if resource.is_none() && kind != PolicyKind::Trust {
        return Err(PolicyError::malformed(here, "missing Resource"));
    }
    // A bucket policy statement without `Principal` is accepted and speaks about everyone,
    // exactly as `"Principal": []`, which OSS documents as equivalent to `["*"]` ("OSS
    // authorization syntax and elements"): anonymous callers included, and the bucket owner only
    // when the statement has a Condition. OSS takes such a policy rather than refusing it, so
    // refusing would break tools that write one; reading it as "nobody" would make an Allow
    // inert and, worse, a Deny ineffective. Trust policies still need a Principal.
    if principal.is_none() && kind == PolicyKind::Bucket {
        principal = Some(PrincipalSet::anyone());
    }
    if principal.is_none() && kind == PolicyKind::Trust {
        return Err(PolicyError::malformed(
            here,
            format!("missing Principal, which {kind} requires"),
        ));
    }
    Ok(Statement {
        sid,
        effect,
        actions,
        resources: resource,
        principal,
        condition,
    })
}

fn unknown_element(here: &str, name: &str, known: &[&str]) -> PolicyError {
    let hint = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(|k| format!(" (element names are case-sensitive: did you mean `{k}`?)"))
        .unwrap_or_default();
    PolicyError::malformed(here, format!("unknown element `{name}`{hint}"))
}

/// A string or a non-empty array of strings.
pub(super) fn string_list(here: &str, json: &Json) -> Result<Vec<String>, PolicyError> {
    match json {
        Json::String(s) => Ok(vec![s.clone()]),
        Json::Array(items) if items.is_empty() => {
            Err(PolicyError::malformed(here, "must list at least one value"))
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::String(s) => Ok(s.clone()),
                other => Err(PolicyError::malformed(
                    format!("{here}[{i}]"),
                    format!("must be a string, not {}", other.kind()),
                )),
            })
            .collect(),
        other => Err(PolicyError::malformed(
            here,
            format!(
                "must be a string or an array of strings, not {}",
                other.kind()
            ),
        )),
    }
}

/// Action patterns: `*` or `service:Name`, wildcards allowed in both parts.
fn parse_actions(here: &str, json: &Json) -> Result<Vec<String>, PolicyError> {
    let actions = string_list(here, json)?;
    for action in &actions {
        let well_formed = action == "*"
            || action.split_once(':').is_some_and(|(service, name)| {
                !service.is_empty()
                    && service
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-*?".contains(&b))
                    && !name.is_empty()
            });
        if !well_formed {
            return Err(PolicyError::malformed(
                here,
                format!("`{action}` is not an action of the form service:Name (or `*`)"),
            ));
        }
    }
    Ok(actions.into_iter().map(|a| a.to_lowercase()).collect())
}

/// Resource patterns: `*` or `acs:{service}:{region}:{account}:{relative-id}`.
fn parse_resources(here: &str, json: &Json) -> Result<Vec<String>, PolicyError> {
    let resources = string_list(here, json)?;
    for resource in &resources {
        let well_formed = resource == "*"
            || Arn::split(resource).is_some_and(|arn| {
                arn.scheme == "acs" && !arn.service.is_empty() && !arn.relative.is_empty()
            });
        if !well_formed {
            return Err(PolicyError::malformed(
                here,
                format!(
                    "`{resource}` is not `*` or a resource name of the form \
                     acs:service:region:account:relative-id"
                ),
            ));
        }
    }
    Ok(resources)
}
