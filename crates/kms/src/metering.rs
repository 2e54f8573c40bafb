//! Metering: a counter per (account, key, operation), for billing and quotas.
//!
//! Counters live in memory and are written to the store's `usage` table by [`crate::Kms::flush`]
//! (which [`crate::Kms::tick`] and dropping the `Kms` call): a per-request store write would put a
//! disk flush on every Decrypt. A crash loses at most the counts since the last flush; the audit log
//! has every operation.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::audit::Operation;
use crate::id::{AccountId, KeyId};
use crate::record;
use coffer_records::Change;

/// Usage of one operation on one key (or on no key, for account-wide operations such as ListKeys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    /// The key, if the operation resolved one.
    pub key_id: Option<KeyId>,
    /// The operation.
    pub operation: Operation,
    /// Calls, successful or not.
    pub count: u64,
    /// Of those, the ones that failed.
    pub failures: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct UsageKey {
    account: AccountId,
    key_id: Option<KeyId>,
    operation: Operation,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct Counts {
    count: u64,
    failures: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Meter {
    counts: BTreeMap<UsageKey, Counts>,
    dirty: BTreeSet<UsageKey>,
}

impl Meter {
    pub(crate) fn load(rows: Vec<(Vec<u8>, Vec<u8>)>) -> Result<Self> {
        let mut meter = Meter::default();
        for (k, v) in rows {
            let key: UsageKey = record::decode(&k)?;
            let counts: Counts = record::decode(&v)?;
            meter.counts.insert(key, counts);
        }
        Ok(meter)
    }

    pub(crate) fn record(
        &mut self,
        account: &AccountId,
        key_id: Option<KeyId>,
        operation: Operation,
        ok: bool,
    ) {
        let key = UsageKey {
            account: account.clone(),
            key_id,
            operation,
        };
        let counts = self.counts.entry(key.clone()).or_default();
        counts.count += 1;
        counts.failures += u64::from(!ok);
        self.dirty.insert(key);
    }

    pub(crate) fn rows(&self, account: &AccountId) -> Vec<UsageRow> {
        self.counts
            .iter()
            .filter(|(k, _)| &k.account == account)
            .map(|(k, c)| UsageRow {
                key_id: k.key_id,
                operation: k.operation,
                count: c.count,
                failures: c.failures,
            })
            .collect()
    }

    /// Marks every counter as changed, after a failed flush.
    pub(crate) fn mark_all_dirty(&mut self) {
        self.dirty = self.counts.keys().cloned().collect();
    }

    /// The store writes that persist every counter changed since the last call.
    pub(crate) fn take_dirty(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|key| Change::Put {
                table: crate::store::USAGE,
                value: record::encode(&self.counts[&key]),
                key: record::encode(&key),
            })
            .collect()
    }
}
