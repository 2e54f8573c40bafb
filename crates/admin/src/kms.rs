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
        Operation::GetUsage => {
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
    let time = |name: &str| -> Result<Option<SystemTime>, ApiError> {
        p.optional(name)?
            .map(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                    .map(SystemTime::from)
                    .map_err(|_| ApiError::invalid(name, "must be an RFC 3339 time"))
            })
            .transpose()
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
        since: time("StartTime")?,
        until: time("EndTime")?,
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
