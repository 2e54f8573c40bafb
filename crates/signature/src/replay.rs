//! The replay guard of coffer's signed JSON/RPC APIs (the KMS and admin APIs): each (access key
//! id, signature nonce) pair is accepted once within the window in which its request time is
//! acceptable.
//!
//! A request whose time is within the allowed skew of the server's can arrive until that skew
//! after its time, so a nonce first seen at `now` is remembered until `now + window`, the window
//! being twice the skew; a shorter memory would let a request signed ahead of time be replayed
//! once its first use is forgotten.
//!
//! Nonces are kept per *share* (the caller names it: an access key, or the role all of a role's
//! STS sessions count against), each share holding at most `share_capacity` live pairs, so one
//! identity that spends nonces fast — even one with no permission at all, since a nonce is spent
//! as soon as the signature verified — refuses only itself, never another. Callers spend a nonce
//! only after the signature verified, so only holders of a secret create shares, and memory is
//! bounded by the number of identities times the share. Only digests of the pairs are kept (16
//! bytes each); a full share refuses new requests rather than forgetting early.
//!
//! Several processes serving one deployment share a [`SpentNonces`] store as well
//! ([`ReplayGuard::with_shared`]): a pair this process accepts is then also spent there, once for
//! all of them, so a request captured on its way to one node is refused by every other. The
//! per-share budget stays this process's own (each process remembers what it accepted, with the
//! same bound), so the shared store holds at most that many pairs per identity per process.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The pair was seen within the window.
    Replayed,
    /// The share holds its full number of live pairs.
    Full,
    /// The shared store could not be asked; nothing was accepted (the request may be retried).
    Unavailable,
}

/// The nonce memory several processes share (a database table): each digest is spent once
/// until its expiry, whichever process spends it.
pub trait SpentNonces: Send + Sync {
    /// Spends `digest` until `expiry` (Unix seconds) unless it is spent and unexpired at `now`.
    /// Returns `Ok(false)` when it was: the pair was used within its window, by any process.
    /// Atomic: of two processes spending one digest at once, exactly one gets `Ok(true)`.
    /// Blocks on the store.
    fn spend(&self, digest: &[u8; 16], expiry: i64, now: i64) -> Result<bool, String>;
}

/// Remembers recently used (access key id, nonce) pairs, per share.
pub struct ReplayGuard {
    window_secs: i64,
    share_capacity: usize,
    state: Mutex<State>,
    shared: Option<Arc<dyn SpentNonces>>,
}

#[derive(Default)]
struct State {
    shares: HashMap<String, Share>,
    /// When idle shares were last dropped (Unix seconds).
    swept_at: i64,
}

impl std::fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("window_secs", &self.window_secs)
            .field("share_capacity", &self.share_capacity)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Share {
    seen: HashSet<[u8; 16]>,
    /// (expiry in Unix seconds, digest), in insertion order.
    expiries: VecDeque<(i64, [u8; 16])>,
}

impl Share {
    /// Forgets the pairs whose window ended at or before `now`. Insertion order is expiry order
    /// as long as the clock does not go back; if it does, entries merely stay longer.
    fn expire(&mut self, now: i64) {
        while let Some(&(expiry, old)) = self.expiries.front() {
            if expiry > now {
                break;
            }
            self.expiries.pop_front();
            self.seen.remove(&old);
        }
    }
}

impl ReplayGuard {
    /// A guard remembering each pair for `window_secs`, at most `share_capacity` live pairs per
    /// share.
    pub fn new(window_secs: i64, share_capacity: usize) -> Self {
        Self {
            window_secs,
            share_capacity,
            state: Mutex::new(State::default()),
            shared: None,
        }
    }

    /// The same guard with `share_capacity` live pairs per share.
    #[must_use]
    pub fn with_share_capacity(mut self, share_capacity: usize) -> Self {
        self.share_capacity = share_capacity;
        self
    }

    /// Also spends every accepted pair in `shared`, the store the other processes of the
    /// deployment use: a pair spent there by any of them is refused here.
    #[must_use]
    pub fn with_shared(mut self, shared: Arc<dyn SpentNonces>) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Accepts the pair and remembers it under `share`, or refuses it. `now` is Unix seconds.
    pub fn check(
        &self,
        share: &str,
        access_key_id: &str,
        nonce: &str,
        now: i64,
    ) -> Result<(), Refusal> {
        let digest = digest(access_key_id, nonce);
        let expiry = now.saturating_add(self.window_secs);
        self.check_here(share, digest, expiry, now)?;
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        // Spent here first, so a replay to this process is refused without a round trip, and a
        // share's budget is enforced before the shared store is asked.
        match shared.spend(&digest, expiry, now) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Refusal::Replayed),
            Err(_) => {
                // Not accepted: let the client retry with the same nonce.
                self.forget(share, &digest);
                Err(Refusal::Unavailable)
            }
        }
    }

    /// Drops `digest` from `share` (a pair this process took but could not spend in the shared
    /// store).
    fn forget(&self, share: &str, digest: &[u8; 16]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = state.shares.get_mut(share) {
            entry.seen.remove(digest);
            entry.expiries.retain(|(_, d)| d != digest);
        }
    }

    /// The check against this process's memory.
    fn check_here(
        &self,
        share: &str,
        digest: [u8; 16],
        expiry: i64,
        now: i64,
    ) -> Result<(), Refusal> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        // Idle shares are dropped, at most once a second, so the map holds only identities seen
        // within the window without a walk over all of them on every request.
        if now != state.swept_at {
            state.swept_at = now;
            state.shares.retain(|_, s| {
                s.expire(now);
                !s.seen.is_empty()
            });
        }
        let entry = state.shares.entry(share.to_owned()).or_default();
        entry.expire(now);
        if entry.seen.contains(&digest) {
            return Err(Refusal::Replayed);
        }
        if entry.seen.len() >= self.share_capacity {
            return Err(Refusal::Full);
        }
        entry.seen.insert(digest);
        entry.expiries.push_back((expiry, digest));
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
        assert_eq!(guard.check("ak", "ak", "n1", 1000), Ok(()));
        assert_eq!(guard.check("ak", "ak", "n1", 2799), Err(Refusal::Replayed));
        // Another key may use the same nonce; the pair is what counts.
        assert_eq!(guard.check("ak2", "ak2", "n1", 1000), Ok(()));
        assert_eq!(guard.check("a", "a", "kn1", 1000), Ok(()));
        assert_eq!(guard.check("ak", "ak", "n1", 2800), Ok(()));
    }

    #[test]
    fn a_full_share_refuses_until_entries_expire() {
        let guard = ReplayGuard::new(100, 2);
        assert_eq!(guard.check("ak", "ak", "a", 0), Ok(()));
        assert_eq!(guard.check("ak", "ak", "b", 50), Ok(()));
        assert_eq!(guard.check("ak", "ak", "c", 60), Err(Refusal::Full));
        assert_eq!(guard.check("ak", "ak", "c", 100), Ok(()));
        assert_eq!(guard.check("ak", "ak", "d", 120), Err(Refusal::Full));
        assert_eq!(guard.check("ak", "ak", "a", 150), Ok(()));
    }

    #[test]
    fn a_full_share_does_not_refuse_another_share() {
        let guard = ReplayGuard::new(100, 2);
        assert_eq!(guard.check("noisy", "noisy", "a", 0), Ok(()));
        assert_eq!(guard.check("noisy", "noisy", "b", 0), Ok(()));
        assert_eq!(guard.check("noisy", "noisy", "c", 0), Err(Refusal::Full));
        assert_eq!(guard.check("quiet", "quiet", "a", 0), Ok(()));
        // Two STS keys of one role count against the role's share, and still their own pairs.
        assert_eq!(guard.check("role", "STS.1", "n", 0), Ok(()));
        assert_eq!(guard.check("role", "STS.2", "n", 0), Ok(()));
        assert_eq!(guard.check("role", "STS.3", "n", 0), Err(Refusal::Full));
    }

    /// A shared store in memory, for two guards standing for two processes.
    #[derive(Default)]
    struct Shared {
        spent: Mutex<HashMap<[u8; 16], i64>>,
        down: std::sync::atomic::AtomicBool,
    }

    impl SpentNonces for Shared {
        fn spend(&self, digest: &[u8; 16], expiry: i64, now: i64) -> Result<bool, String> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err("down".into());
            }
            let mut spent = self.spent.lock().unwrap();
            if spent.get(digest).is_some_and(|e| *e > now) {
                return Ok(false);
            }
            spent.insert(*digest, expiry);
            Ok(true)
        }
    }

    #[test]
    fn a_pair_spent_by_one_process_is_refused_by_another() {
        let shared = Arc::new(Shared::default());
        let a = ReplayGuard::new(100, 10).with_shared(shared.clone());
        let b = ReplayGuard::new(100, 10).with_shared(shared.clone());
        assert_eq!(a.check("ak", "ak", "n", 0), Ok(()));
        assert_eq!(b.check("ak", "ak", "n", 50), Err(Refusal::Replayed));
        assert_eq!(a.check("ak", "ak", "n", 50), Err(Refusal::Replayed));
        assert_eq!(b.check("ak", "ak", "m", 50), Ok(()));
        // After the window the pair may be used again. `b` keeps the pair it refused as a replay
        // for a window of its own (until 150), so it is `a` that takes it first.
        assert_eq!(b.check("ak", "ak", "n", 100), Err(Refusal::Replayed));
        assert_eq!(a.check("ak", "ak", "n", 100), Ok(()));
    }

    #[test]
    fn an_unavailable_shared_store_accepts_nothing_and_forgets_the_pair() {
        let shared = Arc::new(Shared::default());
        let a = ReplayGuard::new(100, 1).with_shared(shared.clone());
        shared.down.store(true, std::sync::atomic::Ordering::SeqCst);
        assert_eq!(a.check("ak", "ak", "n", 0), Err(Refusal::Unavailable));
        shared
            .down
            .store(false, std::sync::atomic::Ordering::SeqCst);
        // Neither the pair nor the share's one place stayed taken.
        assert_eq!(a.check("ak", "ak", "n", 1), Ok(()));
    }

    #[test]
    fn idle_shares_are_forgotten() {
        let guard = ReplayGuard::new(100, 2);
        assert_eq!(guard.check("a", "a", "n", 0), Ok(()));
        assert_eq!(guard.check("b", "b", "n", 200), Ok(()));
        let state = guard.state.lock().unwrap();
        assert_eq!(state.shares.len(), 1);
        assert!(state.shares.contains_key("b"));
    }
}
