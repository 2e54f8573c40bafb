//! A bounded cache of bucket records, so that a small GET does not read its bucket from redb.
//!
//! Every object request reads its bucket (for the policy, the ACL and the default encryption)
//! and then its object: two redb read transactions, each a trip through Tokio's blocking pool.
//! The bucket record changes rarely, so it is kept here after the first read.
//!
//! Why this is exact and not merely "fresh enough": this process is the only one that opens the
//! redb file (redb locks it), and every write of the `buckets` table goes through the group
//! committer, which calls [`BucketCache::invalidate`] once the write's transaction is committed
//! (or dropped) and before the writer is answered. So a request that starts after a bucket write
//! returned never sees the record from before it. A read that raced with a write cannot put the
//! old record back either: it notes the cache's generation before reading redb and stores what
//! it read only if no invalidation happened in between ([`BucketCache::insert`]).
//!
//! Several nodes on one PostgreSQL do not use this backend, so nothing here can go stale across
//! nodes. Absent buckets are not cached (a request for a name nobody created fills nothing).

use std::collections::HashMap;
use std::sync::Mutex;

use coffer_meta::BucketRecord;
use coffer_types::BucketName;

/// Most bucket records kept. Past it the cache is emptied and refills from the requests that
/// follow: an account with more buckets than this pays a redb read now and then, never more.
const MAX_ENTRIES: usize = 4096;

/// See the module documentation.
#[derive(Default)]
pub(crate) struct BucketCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Bumped by every invalidation; a read stores its record only if it did not move.
    generation: u64,
    entries: HashMap<BucketName, BucketRecord>,
}

/// The generation a read of redb started at, from [`BucketCache::get`] on a miss.
#[derive(Clone, Copy)]
pub(crate) struct Generation(u64);

impl BucketCache {
    /// The cached record of `name`, or on a miss the generation to pass to [`Self::insert`].
    pub(crate) fn get(&self, name: &BucketName) -> Result<BucketRecord, Generation> {
        let state = self.lock();
        match state.entries.get(name) {
            Some(record) => Ok(record.clone()),
            None => Err(Generation(state.generation)),
        }
    }

    /// Keeps `record`, read from redb after [`Self::get`] returned `since`, unless a bucket write
    /// was committed meanwhile (then what was read may predate it).
    pub(crate) fn insert(&self, since: Generation, record: &BucketRecord) {
        let mut state = self.lock();
        if state.generation != since.0 {
            return;
        }
        if state.entries.len() >= MAX_ENTRIES && !state.entries.contains_key(&record.name) {
            state.entries.clear();
        }
        state.entries.insert(record.name.clone(), record.clone());
    }

    /// Forgets `name`: its record was (or may have been) changed by a committed write.
    pub(crate) fn invalidate(&self, name: &BucketName) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        state.entries.remove(name);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters (each step is one map call), so a poisoned lock is used as it is.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use coffer_meta::{Acl, StorageClass, UnixMillis};

    fn record(name: &str, acl: Acl) -> BucketRecord {
        BucketRecord {
            name: BucketName::parse(name).unwrap(),
            created: UnixMillis(0),
            owner: "1".into(),
            acl,
            storage_class: StorageClass::Standard,
            encryption: None,
            policy: None,
            subresources: Default::default(),
        }
    }

    #[test]
    fn a_read_that_raced_with_a_write_is_not_kept() {
        let cache = BucketCache::default();
        let old = record("bkt", Acl::Private);
        let Err(since) = cache.get(&old.name) else {
            panic!("empty cache hit")
        };
        cache.invalidate(&old.name);
        cache.insert(since, &old);
        assert!(cache.get(&old.name).is_err(), "a stale record was kept");
    }

    #[test]
    fn invalidation_drops_the_record() {
        let cache = BucketCache::default();
        let r = record("bkt", Acl::PublicRead);
        let Err(since) = cache.get(&r.name) else {
            panic!("empty cache hit")
        };
        cache.insert(since, &r);
        assert_eq!(cache.get(&r.name).ok(), Some(r.clone()));
        cache.invalidate(&r.name);
        assert!(cache.get(&r.name).is_err());
    }

    #[test]
    fn stays_bounded() {
        let cache = BucketCache::default();
        for i in 0..MAX_ENTRIES + 10 {
            let r = record(&format!("bkt-{i}"), Acl::Private);
            let Err(since) = cache.get(&r.name) else {
                panic!("unexpected hit")
            };
            cache.insert(since, &r);
        }
        assert!(cache.lock().entries.len() <= MAX_ENTRIES);
    }
}
