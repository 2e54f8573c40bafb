//! Metering: a counter per (account, key, operation), for billing and quotas.
//!
//! Counters live in memory and are written to the store's `usage` table by [`crate::Kms::flush`]
//! (which [`crate::Kms::tick`] and dropping the `Kms` call): a per-request store write would put a
//! disk flush on every Decrypt. A crash loses at most the counts since the last flush; the audit log
//! has every operation.
//!
//! Several processes serving one deployment count into a shared [`UsageStore`] instead
//! ([`crate::Kms::with_usage_store`]): each keeps only what it counted since its last flush and
//! adds that to the store's rows (one per account, key, operation and UTC day), so the totals are
//! every process's calls, whichever answered them.

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

/// Calls counted by one process since its last flush, to be added to a shared store's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDelta {
    /// The caller's account.
    pub account: AccountId,
    /// The key, if the operation resolved one.
    pub key_id: Option<KeyId>,
    /// The operation.
    pub operation: Operation,
    /// The UTC day the calls were made on, in days since the Unix epoch.
    pub day: i64,
    /// Calls to add.
    pub count: u64,
    /// Of those, the ones that failed.
    pub failures: u64,
}

/// Usage counters several processes add to (a database table).
pub trait UsageStore: Send + Sync {
    /// Adds each delta to its row (account, key, operation, day), creating it at zero; all of
    /// them or none. Concurrent adders, in any process, all count: nothing is overwritten.
    fn add(&self, deltas: &[UsageDelta]) -> Result<()>;

    /// The totals of `account` over every day, by key and operation, in no particular order.
    fn rows(&self, account: &AccountId) -> Result<Vec<UsageRow>>;
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
    /// With a shared store: what was counted since the last flush, by day; `counts` stays empty.
    shared: bool,
    pending: BTreeMap<(UsageKey, i64), Counts>,
}

/// Seconds in a UTC day.
const DAY_SECS: u64 = 86_400;

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

    /// A meter that counts for a shared store: only deltas, flushed with [`Meter::take_pending`].
    pub(crate) fn shared() -> Self {
        Meter {
            shared: true,
            ..Meter::default()
        }
    }

    /// Counts one call made at `now_secs` (Unix seconds).
    pub(crate) fn record(
        &mut self,
        account: &AccountId,
        key_id: Option<KeyId>,
        operation: Operation,
        ok: bool,
        now_secs: u64,
    ) {
        let key = UsageKey {
            account: account.clone(),
            key_id,
            operation,
        };
        if self.shared {
            let day = i64::try_from(now_secs / DAY_SECS).unwrap_or(i64::MAX);
            let counts = self.pending.entry((key, day)).or_default();
            counts.count += 1;
            counts.failures += u64::from(!ok);
            return;
        }
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

    /// `stored` (a shared store's totals) with what this process counted and has not flushed
    /// yet, ordered by key and operation as the embedded rows are.
    pub(crate) fn merge_pending(
        &self,
        account: &AccountId,
        stored: Vec<UsageRow>,
    ) -> Vec<UsageRow> {
        let mut all: BTreeMap<(Option<KeyId>, Operation), Counts> = BTreeMap::new();
        for row in stored {
            let c = all.entry((row.key_id, row.operation)).or_default();
            c.count += row.count;
            c.failures += row.failures;
        }
        for ((key, _), counts) in self
            .pending
            .iter()
            .filter(|((k, _), _)| &k.account == account)
        {
            let c = all.entry((key.key_id, key.operation)).or_default();
            c.count += counts.count;
            c.failures += counts.failures;
        }
        all.into_iter()
            .map(|((key_id, operation), c)| UsageRow {
                key_id,
                operation,
                count: c.count,
                failures: c.failures,
            })
            .collect()
    }

    /// The deltas counted since the last call, emptied.
    pub(crate) fn take_pending(&mut self) -> Vec<UsageDelta> {
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|((key, day), c)| UsageDelta {
                account: key.account,
                key_id: key.key_id,
                operation: key.operation,
                day,
                count: c.count,
                failures: c.failures,
            })
            .collect()
    }

    /// Puts back deltas a failed flush could not add, to be added with the next one.
    pub(crate) fn restore_pending(&mut self, deltas: Vec<UsageDelta>) {
        for d in deltas {
            let key = UsageKey {
                account: d.account,
                key_id: d.key_id,
                operation: d.operation,
            };
            let c = self.pending.entry((key, d.day)).or_default();
            c.count += d.count;
            c.failures += d.failures;
        }
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
