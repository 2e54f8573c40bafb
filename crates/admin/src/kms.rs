//! `POST /kms/GetUsage` and `/kms/ListAuditRecords`: the KMS's metering and audit trail over the
//! network, so `coffer kms usage|audit` works from any host with a profile, not only on the
//! server's data directory.
//!
//! Who may read them: the account's root, or a RAM user or role session whose policies allow
//! `kms:ReadUsage` / `kms:ReadAuditTrail` on the key's ARN (`acs:kms:{region}:{account}:key/{id}`
//! when the request names a key, `…:key/*` when it asks for the whole account). The names are
//! deliberately outside the read-only wildcards `kms:List*`, `kms:Get*` and `kms:Describe*`: the
//! trail names principals, object keys and encryption contexts, which a viewer of key metadata
//! need not see. `kms:*` grants them, as it grants everything.
//!
//! Reading is not itself a KMS operation: it is neither metered nor added to the trail it reads,
//! and it uses no key.

use std::time::SystemTime;

use coffer_iam::{Conditions, Iam, Principal};
use coffer_kms::{AccountId, AuditFilter, Caller, KeyRef, Kms};
use serde_json::{Value, json};

use crate::error::{ApiError, codes};
use crate::ops::{Operation, Params};

/// The permission `GetUsage` needs.
pub const READ_USAGE: &str = "kms:ReadUsage";
/// The permission `ListAuditRecords` needs.
pub const READ_AUDIT_TRAIL: &str = "kms:ReadAuditTrail";
/// Most records in one `ListAuditRecords` reply; `NextMarker` continues.
pub const MAX_AUDIT_RECORDS: usize = 1000;

/// Runs a `kms` operation for `principal`.
pub(crate) fn run(
    iam: &Iam,
    kms: &Kms,
    principal: &Principal,
    conditions: &Conditions,
    op: Operation,
    p: &Params,
) -> Result<Value, ApiError> {
    let account = AccountId::parse(iam.account_id())
        .map_err(|e| ApiError::internal(format!("the account id is not a KMS account id: {e}")))?;
    let key_id = match p.optional("KeyId")? {
        None | Some("") => None,
        Some(given) => Some(resolve(kms, &account, given)?),
    };
    let action = match op {
        Operation::GetUsage => READ_USAGE,
        Operation::ListAuditRecords => READ_AUDIT_TRAIL,
        other => {
            return Err(ApiError::internal(format!(
                "{} is not a KMS read",
                other.name()
            )));
        }
    };
    let arn = iam.kms_key_arn(
        kms.region(),
        &key_id.map_or_else(|| "*".to_owned(), |k| k.to_string()),
    );
    iam.check_kms(principal, action, &arn, conditions)?;

    match op {
        Operation::GetUsage if p.optional("Granularity")? == Some("Day") => {
            daily(kms, account, key_id, p)
        }
        Operation::GetUsage => {
            if let Some(other) = p.optional("Granularity")?.filter(|g| !g.is_empty()) {
                return Err(ApiError::invalid(
                    "Granularity",
                    format!("must be Day (or absent for the totals), not {other}"),
                ));
            }
            let rows: Vec<Value> = kms
                .usage(&account)
                .map_err(ApiError::internal)?
                .into_iter()
                .filter(|row| key_id.is_none_or(|k| row.key_id == Some(k)))
                .map(|row| {
                    json!({
                        "KeyId": row.key_id.map(|k| k.to_string()),
                        "Operation": row.operation.as_str(),
                        "Calls": row.count,
                        "Failures": row.failures,
                    })
                })
                .collect();
            Ok(json!({"Usage": rows}))
        }
        _ => audit(kms, account, key_id, p),
    }
}

/// Calls per key per UTC day between `StartTime` (default: 14 days ago) and `EndTime` (default:
/// now), counted from the audit trail: the usage counters are totals since the key's creation,
/// while the trail has the time of every call. Rows are ordered by day, then key; calls that
/// resolved no key (ListKeys, say) have `KeyId` null.
fn daily(
    kms: &Kms,
    account: AccountId,
    key_id: Option<coffer_kms::KeyId>,
    p: &Params,
) -> Result<Value, ApiError> {
    const DEFAULT_DAYS: u64 = 14;
    let until = time_param(p, "EndTime")?.unwrap_or_else(SystemTime::now);
    let since = match time_param(p, "StartTime")? {
        Some(t) => t,
        None => until
            .checked_sub(std::time::Duration::from_secs(DEFAULT_DAYS * 86_400))
            .unwrap_or(SystemTime::UNIX_EPOCH),
    };
    let filter = AuditFilter {
        account: Some(account),
        key_id,
        since: Some(since),
        until: Some(until),
        ..AuditFilter::default()
    };
    let mut days: std::collections::BTreeMap<(String, Option<String>), (u64, u64)> =
        std::collections::BTreeMap::new();
    for record in kms.audit(&filter).map_err(ApiError::internal)? {
        let date = time::OffsetDateTime::from(record.time).date();
        let entry = days
            .entry((date.to_string(), record.key_id.map(|k| k.to_string())))
            .or_default();
        entry.0 += 1;
        entry.1 += u64::from(record.result != coffer_kms::RESULT_SUCCESS);
    }
    let rows: Vec<Value> = days
        .into_iter()
        .map(|((day, key), (calls, failures))| {
            json!({"Day": day, "KeyId": key, "Calls": calls, "Failures": failures})
        })
        .collect();
    Ok(json!({"Daily": rows}))
}

/// An RFC 3339 time parameter.
fn time_param(p: &Params, name: &str) -> Result<Option<SystemTime>, ApiError> {
    p.optional(name)?
        .filter(|t| !t.is_empty())
        .map(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map(SystemTime::from)
                .map_err(|_| ApiError::invalid(name, "must be an RFC 3339 time"))
        })
        .transpose()
}

/// The records of the account (of one key, one operation, a time window) oldest first, a page at
/// a time: `Marker` is the `NextMarker` of the page before, which the trail's sink made (where
/// the next page starts: a position among the matches in the data directory's log, the key of the
/// last record in the database), `Tail` asks for the last N instead.
fn audit(
    kms: &Kms,
    account: AccountId,
    key_id: Option<coffer_kms::KeyId>,
    p: &Params,
) -> Result<Value, ApiError> {
    let operation = match p.optional("Operation")? {
        None | Some("") => None,
        Some(name) => Some(
            serde_json::from_value::<coffer_kms::Operation>(Value::String(name.to_owned()))
                .map_err(|_| ApiError::invalid("Operation", "is not a KMS operation"))?,
        ),
    };
    let max = match p.number("MaxResults")? {
        None => MAX_AUDIT_RECORDS,
        Some(n) if (1..=MAX_AUDIT_RECORDS as u64).contains(&n) => n as usize,
        Some(_) => {
            return Err(ApiError::invalid(
                "MaxResults",
                format!("must be 1 to {MAX_AUDIT_RECORDS}"),
            ));
        }
    };
    let filter = AuditFilter {
        account: Some(account),
        key_id,
        operation,
        since: time_param(p, "StartTime")?,
        until: time_param(p, "EndTime")?,
        principal: p
            .optional("Principal")?
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        resource_prefix: p
            .optional("Resource")?
            .filter(|s| !s.is_empty())
            .map(resource_prefix),
        limit: None,
    };
    if let Some(tail) = p.number("Tail")? {
        let tail = usize::try_from(tail)
            .unwrap_or(usize::MAX)
            .min(MAX_AUDIT_RECORDS);
        let records = kms.audit_tail(&filter, tail).map_err(ApiError::internal)?;
        return Ok(json!({"Records": records, "Truncated": false}));
    }
    let marker = p.optional("Marker")?.filter(|m| !m.is_empty());
    let page = kms.audit_page(&filter, marker, max).map_err(|e| match e {
        coffer_kms::Error::InvalidParameter { what, reason } => ApiError::invalid(what, reason),
        other => ApiError::internal(other),
    })?;
    let mut reply = json!({"Records": page.records, "Truncated": page.next.is_some()});
    if let Some(next) = page.next {
        reply["NextMarker"] = Value::String(next);
    }
    Ok(reply)
}

/// The audit resource prefix a `Resource` parameter names: `bucket` is every object of the
/// bucket (`bucket/`), `bucket/key-prefix` the objects whose key starts so. (SSE-KMS records
/// name their object as `bucket/key`.)
fn resource_prefix(given: &str) -> String {
    if given.contains('/') {
        given.to_owned()
    } else {
        format!("{given}/")
    }
}

/// The key id `given` (an id, alias or ARN) names; an alias that names no key is
/// `EntityNotExist.Key`.
fn resolve(kms: &Kms, account: &AccountId, given: &str) -> Result<coffer_kms::KeyId, ApiError> {
    let not_found = || {
        ApiError::refined(
            codes::ENTITY_NOT_EXIST,
            "Key",
            format!("The key {given} does not exist."),
        )
    };
    let key = KeyRef::parse(given).map_err(|_| not_found())?;
    if let KeyRef::Id(id) | KeyRef::KeyArn { key_id: id, .. } = &key {
        // A key already deleted still has its trail: its id is taken as it is.
        return Ok(*id);
    }
    kms.resolve_key_id(&Caller::api(account.clone(), "root"), &key)
        .map_err(|_| not_found())
}
