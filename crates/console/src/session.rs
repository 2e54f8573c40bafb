//! Console sessions: a random id in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` under TLS)
//! names a server-side record holding the access key the person logged in with, the session's
//! CSRF token and its times. Nothing else about the session is in the browser.
//!
//! The record keeps the access key id (and an STS token), never the secret: every request
//! resolves the key again through `Iam::credentials`, so a key disabled or deleted after login,
//! or an STS token past its expiry, ends the session at its next request. The map is keyed by
//! the SHA-256 of the cookie value, so looking one up reveals nothing about other ids through
//! timing, and a dump of the map holds no usable cookie.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The session cookie.
pub(crate) const SESSION_COOKIE: &str = "coffer_session";
/// The login form's double-submit cookie (login CSRF: a page of another site cannot log the
/// browser into an account of the attacker's).
pub(crate) const LOGIN_COOKIE: &str = "coffer_login";
/// Most sessions kept at once; past it the least recently used one ends.
const MAX_SESSIONS: usize = 10_000;

/// A fresh random token: 32 bytes, base64url.
pub(crate) fn random_token() -> String {
    let mut b = [0u8; 32];
    coffer_crypto::random::fill(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Compares two tokens in constant time (for equal lengths).
pub(crate) fn tokens_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// A message for the next page the session sees (post/redirect/get): the outcome of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flash {
    /// The API's error code; `None` for a success.
    pub(crate) code: Option<String>,
    /// What happened, in words.
    pub(crate) text: String,
}

/// A new access key's secret, kept for the one page that shows it (post/redirect/get: the form
/// that made the key redirects to the user's page, which takes it). Taken once, then gone; a
/// reload of that page shows no secret and makes no key. Never in a cookie, a URL or a log.
pub(crate) struct NewKey {
    /// The user the key belongs to: only that user's page takes it.
    pub(crate) user: String,
    /// The AccessKey ID.
    pub(crate) access_key_id: String,
    /// The AccessKey secret.
    pub(crate) secret: Zeroizing<String>,
}

impl std::fmt::Debug for NewKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewKey")
            .field("user", &self.user)
            .field("access_key_id", &self.access_key_id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

struct Record {
    flash: Option<Flash>,
    new_key: Option<NewKey>,
    access_key_id: String,
    security_token: Option<Zeroizing<String>>,
    csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// What a request learns of its session.
pub(crate) struct Session {
    /// The access key the session acts with.
    pub(crate) access_key_id: String,
    /// The STS token, for `STS.` keys.
    pub(crate) security_token: Option<Zeroizing<String>>,
    /// The token every form of the session carries.
    pub(crate) csrf: String,
}

/// Why there is no session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Missing {
    /// No cookie, or one naming no session.
    None,
    /// The session ended: idle too long, or older than its lifetime.
    Expired,
}

/// The live sessions.
pub(crate) struct Sessions {
    map: Mutex<HashMap<[u8; 32], Record>>,
    idle: Duration,
    lifetime: Duration,
}

impl Sessions {
    pub(crate) fn new(idle: Duration, lifetime: Duration) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            idle,
            lifetime,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Record>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn is_live(&self, r: &Record, now: Instant) -> bool {
        now.saturating_duration_since(r.last_seen) < self.idle
            && now.saturating_duration_since(r.created) < self.lifetime
    }

    /// Starts a session for the access key; returns the cookie value.
    pub(crate) fn create(
        &self,
        access_key_id: String,
        security_token: Option<Zeroizing<String>>,
        now: Instant,
    ) -> String {
        let id = random_token();
        let mut map = self.lock();
        map.retain(|_, r| self.is_live(r, now));
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map.iter().min_by_key(|(_, r)| r.last_seen).map(|(k, _)| *k)
        {
            map.remove(&oldest);
        }
        map.insert(
            digest(&id),
            Record {
                flash: None,
                new_key: None,
                access_key_id,
                security_token,
                csrf: random_token(),
                created: now,
                last_seen: now,
            },
        );
        id
    }

    /// The session the cookie value names, marking it used at `now`; an expired one is removed.
    pub(crate) fn touch(&self, id: &str, now: Instant) -> Result<Session, Missing> {
        let key = digest(id);
        let mut map = self.lock();
        let Some(record) = map.get_mut(&key) else {
            return Err(Missing::None);
        };
        if !self.is_live(record, now) {
            map.remove(&key);
            return Err(Missing::Expired);
        }
        record.last_seen = now;
        Ok(Session {
            access_key_id: record.access_key_id.clone(),
            security_token: record.security_token.clone(),
            csrf: record.csrf.clone(),
        })
    }

    /// Leaves `flash` for the session's next page.
    pub(crate) fn set_flash(&self, id: &str, flash: Flash) {
        if let Some(r) = self.lock().get_mut(&digest(id)) {
            r.flash = Some(flash);
        }
    }

    /// Takes the message left for this page, if any.
    pub(crate) fn take_flash(&self, id: &str) -> Option<Flash> {
        self.lock()
            .get_mut(&digest(id))
            .and_then(|r| r.flash.take())
    }

    /// Leaves a new key's secret for the session's next view of its user's page (replacing
    /// one not yet shown: only the latest key's secret is kept).
    pub(crate) fn leave_new_key(&self, id: &str, key: NewKey) {
        if let Some(r) = self.lock().get_mut(&digest(id)) {
            r.new_key = Some(key);
        }
    }

    /// Takes the new key's secret left for `user`'s page, if any; one left for another user
    /// stays.
    pub(crate) fn take_new_key(&self, id: &str, user: &str) -> Option<NewKey> {
        let mut map = self.lock();
        let r = map.get_mut(&digest(id))?;
        if r.new_key.as_ref().is_some_and(|k| k.user == user) {
            r.new_key.take()
        } else {
            None
        }
    }

    /// Ends the session (logout, or its key no longer resolves).
    pub(crate) fn remove(&self, id: &str) {
        self.lock().remove(&digest(id));
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub(crate) fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// A `Set-Cookie` value: host-only, path `/`, `HttpOnly`, `SameSite=Strict`, `Secure` under TLS;
/// `max_age` zero deletes it, `None` makes it end with the browser.
pub(crate) fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_when_idle_and_at_its_lifetime() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(300));
        let t0 = Instant::now();
        let id = sessions.create("ak".into(), None, t0);
        let s = sessions.touch(&id, t0 + Duration::from_secs(59)).unwrap();
        assert_eq!(s.access_key_id, "ak");
        // Each use moves the idle deadline.
        sessions.touch(&id, t0 + Duration::from_secs(118)).unwrap();
        assert_eq!(
            sessions.touch(&id, t0 + Duration::from_secs(179)).err(),
            Some(Missing::Expired)
        );
        // Gone once expired.
        assert_eq!(
            sessions.touch(&id, t0 + Duration::from_secs(180)).err(),
            Some(Missing::None)
        );

        let id = sessions.create("ak".into(), None, t0);
        for s in (50..300).step_by(50) {
            sessions.touch(&id, t0 + Duration::from_secs(s)).unwrap();
        }
        assert_eq!(
            sessions.touch(&id, t0 + Duration::from_secs(300)).err(),
            Some(Missing::Expired)
        );
    }

    #[test]
    fn ids_and_csrf_tokens_are_distinct_and_logout_ends_the_session() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(300));
        let now = Instant::now();
        let a = sessions.create("ak".into(), None, now);
        let b = sessions.create("ak".into(), None, now);
        assert_ne!(a, b);
        let (sa, sb) = (
            sessions.touch(&a, now).unwrap(),
            sessions.touch(&b, now).unwrap(),
        );
        assert_ne!(sa.csrf, sb.csrf);
        assert!(tokens_match(&sa.csrf, &sa.csrf.clone()));
        assert!(!tokens_match(&sa.csrf, &sb.csrf));
        assert!(!tokens_match(&sa.csrf, ""));
        sessions.remove(&a);
        assert_eq!(sessions.touch(&a, now).err(), Some(Missing::None));
        assert!(sessions.touch(&b, now).is_ok());
    }

    #[test]
    fn a_new_keys_secret_is_shown_once_on_its_users_page_only() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(300));
        let now = Instant::now();
        let (a, b) = (
            sessions.create("ak".into(), None, now),
            sessions.create("ak".into(), None, now),
        );
        let key = |user: &str, id: &str| NewKey {
            user: user.into(),
            access_key_id: id.into(),
            secret: Zeroizing::new(format!("secret-of-{id}")),
        };
        sessions.leave_new_key(&a, key("alice", "AK1"));
        assert!(
            sessions.take_new_key(&b, "alice").is_none(),
            "another session"
        );
        assert!(
            sessions.take_new_key(&a, "bob").is_none(),
            "another user's page"
        );
        let k = sessions.take_new_key(&a, "alice").unwrap();
        assert_eq!(
            (k.access_key_id.as_str(), k.secret.as_str()),
            ("AK1", "secret-of-AK1")
        );
        assert!(sessions.take_new_key(&a, "alice").is_none(), "shown once");
        // Only the latest key's secret is kept.
        sessions.leave_new_key(&a, key("alice", "AK2"));
        sessions.leave_new_key(&a, key("alice", "AK3"));
        assert_eq!(
            sessions.take_new_key(&a, "alice").unwrap().access_key_id,
            "AK3"
        );
        // Gone with the session.
        sessions.leave_new_key(&a, key("alice", "AK4"));
        sessions.remove(&a);
        assert!(sessions.take_new_key(&a, "alice").is_none());
        // Never in Debug.
        let shown = format!("{:?}", key("alice", "AK5"));
        assert!(
            !shown.contains("secret-of-AK5") && shown.contains("redacted"),
            "{shown}"
        );
    }

    #[test]
    fn cookies_are_found_by_name_and_carry_their_flags() {
        let h = "a=1; coffer_session=xyz; coffer_login=abc";
        assert_eq!(cookie(h, SESSION_COOKIE), Some("xyz"));
        assert_eq!(cookie(h, LOGIN_COOKIE), Some("abc"));
        assert_eq!(cookie(h, "b"), None);
        assert_eq!(
            set_cookie(SESSION_COOKIE, "v", true, None),
            "coffer_session=v; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            set_cookie(SESSION_COOKIE, "", false, Some(0)),
            "coffer_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
    }
}
