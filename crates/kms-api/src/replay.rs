//! The replay guard: each (access key id, signature nonce) pair is accepted once within the
//! window in which its request time is acceptable (spec §1.4).
//!
//! A request whose time is within [`crate::auth::MAX_SKEW`] of the server's can arrive until
//! `MAX_SKEW` after its time, so a nonce first seen at `now` is remembered until
//! `now + 2 × MAX_SKEW` — twice the spec's 15 minutes, which would let a request signed 15
//! minutes ahead be replayed once its first use is forgotten. Only digests of the pairs are kept
//! (16 bytes each), and only for requests whose signature verified, so only key holders fill it;
//! when full it refuses new requests rather than forgetting early.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The pair was seen within the window.
    Replayed,
    /// The guard holds `capacity` live pairs.
    Full,
}

/// Remembers recently used (access key id, nonce) pairs.
pub(crate) struct ReplayGuard {
    window_secs: i64,
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    seen: HashSet<[u8; 16]>,
    /// (expiry in Unix seconds, digest), in insertion order.
    expiries: VecDeque<(i64, [u8; 16])>,
}

impl ReplayGuard {
    pub(crate) fn new(window_secs: i64, capacity: usize) -> Self {
        Self {
            window_secs,
            capacity,
            state: Mutex::new(State::default()),
        }
    }

    /// Accepts the pair and remembers it, or refuses it. `now` is Unix seconds.
    pub(crate) fn check(&self, access_key_id: &str, nonce: &str, now: i64) -> Result<(), Refusal> {
        let digest = digest(access_key_id, nonce);
        let mut state = self.state.lock().expect("replay guard lock poisoned");
        // Insertion order is expiry order as long as the clock does not go back; if it does,
        // entries merely stay longer.
        while let Some(&(expiry, old)) = state.expiries.front() {
            if expiry > now {
                break;
            }
            state.expiries.pop_front();
            state.seen.remove(&old);
        }
        if state.seen.contains(&digest) {
            return Err(Refusal::Replayed);
        }
        if state.seen.len() >= self.capacity {
            return Err(Refusal::Full);
        }
        state.seen.insert(digest);
        state
            .expiries
            .push_back((now.saturating_add(self.window_secs), digest));
        Ok(())
    }
}

/// The first 16 bytes of SHA-256 over the length-prefixed pair (so `("ab","c")` and `("a","bc")`
/// differ).
fn digest(access_key_id: &str, nonce: &str) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update((access_key_id.len() as u64).to_be_bytes());
    h.update(access_key_id.as_bytes());
    h.update(nonce.as_bytes());
    let full = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_is_refused_within_the_window_and_accepted_after() {
        let guard = ReplayGuard::new(1800, 10);
        assert_eq!(guard.check("ak", "n1", 1000), Ok(()));
        assert_eq!(guard.check("ak", "n1", 2799), Err(Refusal::Replayed));
        // Another key may use the same nonce; the pair is what counts.
        assert_eq!(guard.check("ak2", "n1", 1000), Ok(()));
        assert_eq!(guard.check("a", "kn1", 1000), Ok(()));
        assert_eq!(guard.check("ak", "n1", 2800), Ok(()));
    }

    #[test]
    fn a_full_guard_refuses_until_entries_expire() {
        let guard = ReplayGuard::new(100, 2);
        assert_eq!(guard.check("ak", "a", 0), Ok(()));
        assert_eq!(guard.check("ak", "b", 50), Ok(()));
        assert_eq!(guard.check("ak", "c", 60), Err(Refusal::Full));
        assert_eq!(guard.check("ak", "c", 100), Ok(()));
        assert_eq!(guard.check("ak", "d", 120), Err(Refusal::Full));
        assert_eq!(guard.check("ak", "a", 150), Ok(()));
    }
}
