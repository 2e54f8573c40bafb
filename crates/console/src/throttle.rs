//! Failed logins slow the next ones: after a few failures for one AccessKey ID, or many from one
//! address, further attempts are refused for a while without the secret being looked at, so the
//! login form cannot be used to guess a secret at the speed of the network.
//!
//! The pause starts at [`FIRST_PAUSE`] and doubles with each further failure, up to
//! [`MAX_PAUSE`]; a successful login clears the AccessKey ID's count (not the address's, so a
//! client holding one valid key cannot reset its guessing of others). Counts are forgotten
//! [`FORGET_AFTER`] after the last failure. Memory is bounded: past [`MAX_ENTRIES`] the entries
//! whose last failure is oldest are dropped.
//!
//! The refusal is the same whether the key exists or not, so it tells nothing about which keys
//! exist.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures for one AccessKey ID before attempts pause.
pub(crate) const KEY_FREE_FAILURES: u32 = 5;
/// Failures from one address (over any keys) before attempts from it pause.
pub(crate) const PEER_FREE_FAILURES: u32 = 20;
/// The first pause.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_secs(30);
/// The longest pause.
pub(crate) const MAX_PAUSE: Duration = Duration::from_secs(15 * 60);
/// A count is forgotten this long after its last failure.
pub(crate) const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// Most entries kept per table.
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Debug)]
struct Table<K> {
    free: u32,
    entries: HashMap<K, Failures>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(free: u32) -> Self {
        Self {
            free,
            entries: HashMap::new(),
        }
    }

    /// How long `key` must still wait at `now`, if at all.
    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        let f = self.entries.get(key)?;
        if f.count < self.free || now.duration_since(f.last) >= FORGET_AFTER {
            return None;
        }
        let doublings = (f.count - self.free).min(16);
        let pause = FIRST_PAUSE.saturating_mul(1 << doublings).min(MAX_PAUSE);
        pause
            .checked_sub(now.duration_since(f.last))
            .filter(|d| !d.is_zero())
    }

    fn fail(&mut self, key: &K, now: Instant) {
        if self.entries.len() >= MAX_ENTRIES && !self.entries.contains_key(key) {
            self.entries
                .retain(|_, f| now.duration_since(f.last) < FORGET_AFTER);
            if self.entries.len() >= MAX_ENTRIES {
                let mut lasts: Vec<Instant> = self.entries.values().map(|f| f.last).collect();
                lasts.sort_unstable();
                let cut = lasts[lasts.len() / 2];
                self.entries.retain(|_, f| f.last > cut);
            }
        }
        let f = self.entries.entry(key.clone()).or_insert(Failures {
            count: 0,
            last: now,
        });
        if now.duration_since(f.last) >= FORGET_AFTER {
            f.count = 0;
        }
        f.count = f.count.saturating_add(1);
        f.last = now;
    }
}

/// The login throttle of the console.
#[derive(Debug)]
pub(crate) struct LoginThrottle {
    tables: Mutex<(Table<String>, Table<IpAddr>)>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self {
            tables: Mutex::new((
                Table::new(KEY_FREE_FAILURES),
                Table::new(PEER_FREE_FAILURES),
            )),
        }
    }
}

impl LoginThrottle {
    fn lock(&self) -> std::sync::MutexGuard<'_, (Table<String>, Table<IpAddr>)> {
        // A panic while holding the lock cannot leave the counts inconsistent in a way that
        // matters more than refusing every login would.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long an attempt for `access_key_id` from `peer` must wait, if at all.
    pub(crate) fn wait(&self, access_key_id: &str, peer: IpAddr, now: Instant) -> Option<Duration> {
        let t = self.lock();
        let key = t.0.wait(&access_key_id.to_owned(), now);
        let peer = t.1.wait(&peer, now);
        key.max(peer)
    }

    /// Counts a failed attempt.
    pub(crate) fn fail(&self, access_key_id: &str, peer: IpAddr, now: Instant) {
        let mut t = self.lock();
        t.0.fail(&access_key_id.to_owned(), now);
        t.1.fail(&peer, now);
    }

    /// A successful login clears its key's count.
    pub(crate) fn succeed(&self, access_key_id: &str) {
        self.lock().0.entries.remove(access_key_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn a_key_pauses_after_its_free_failures_and_the_pause_doubles() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for _ in 0..KEY_FREE_FAILURES - 1 {
            t.fail("ak", PEER, t0);
            assert_eq!(t.wait("ak", PEER, t0), None);
        }
        t.fail("ak", PEER, t0);
        assert_eq!(t.wait("ak", PEER, t0), Some(FIRST_PAUSE));
        // Another key from another address is not held up.
        assert_eq!(t.wait("other", OTHER, t0), None);
        let later = t0 + FIRST_PAUSE;
        assert_eq!(t.wait("ak", PEER, later), None);
        t.fail("ak", PEER, later);
        assert_eq!(t.wait("ak", PEER, later), Some(FIRST_PAUSE * 2));
        for _ in 0..20 {
            t.fail("ak", PEER, later);
        }
        assert_eq!(t.wait("ak", PEER, later), Some(MAX_PAUSE));
        assert_eq!(t.wait("ak", PEER, later + FORGET_AFTER), None);
    }

    #[test]
    fn success_clears_the_key_but_not_the_address() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..PEER_FREE_FAILURES {
            t.fail(&format!("guess-{i}"), PEER, t0);
        }
        assert!(
            t.wait("fresh", PEER, t0).is_some(),
            "the address guessed too often"
        );
        assert_eq!(t.wait("fresh", OTHER, t0), None);
        for _ in 0..KEY_FREE_FAILURES {
            t.fail("ak", OTHER, t0);
        }
        t.succeed("ak");
        assert_eq!(t.wait("ak", OTHER, t0), None);
        assert!(t.wait("ak", PEER, t0).is_some());
    }

    #[test]
    fn memory_stays_bounded() {
        let t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..(MAX_ENTRIES as u32 + 500) {
            t.fail(
                &format!("k{i}"),
                PEER,
                t0 + Duration::from_millis(u64::from(i)),
            );
        }
        assert!(t.lock().0.entries.len() <= MAX_ENTRIES);
    }
}
