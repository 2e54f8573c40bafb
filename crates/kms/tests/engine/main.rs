//! The KMS engine, driven through its public API as the KMS API front-end and the object store
//! drive it. Time is a manual clock; nothing sleeps.

// Helpers outside #[test] functions unwrap too; a panic is a test failure.
#![allow(clippy::unwrap_used)]

mod aliases;
mod byok;
mod cryptography;
mod lifecycle;
mod observability;
mod persistence;
mod rotation;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coffer_kms::{
    AccountId, Caller, Config, CreateKey, EncryptionContext, KeyId, KeyRef, Kms, ManualClock,
    RootKey,
};

/// 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200;
const DAY: Duration = Duration::from_secs(86_400);
const ROOT: [u8; 32] = [0x11; 32];

struct Fixture {
    kms: Kms,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0)));
        let kms = open(&dir, &clock);
        Self { kms, clock, dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("kms.redb")
    }

    /// Drops the KMS and opens the same files again.
    fn reopen(self) -> Self {
        let Fixture { kms, clock, dir } = self;
        drop(kms);
        let kms = open(&dir, &clock);
        Self { kms, clock, dir }
    }

    fn now(&self) -> SystemTime {
        coffer_kms::Clock::now(self.clock.as_ref()).into()
    }

    /// Moves the clock and runs the scheduled work at the new time.
    fn advance_and_tick(&self, by: Duration) -> coffer_kms::TickReport {
        self.clock.advance(by);
        self.kms.tick(self.now()).unwrap()
    }

    fn create(&self, caller: &Caller) -> KeyId {
        self.kms
            .create_key(caller, CreateKey::default())
            .unwrap()
            .key_id
    }
}

fn open(dir: &tempfile::TempDir, clock: &Arc<ManualClock>) -> Kms {
    Kms::open(
        &dir.path().join("kms.redb"),
        &RootKey::from_bytes(ROOT),
        Config::default(),
        clock.clone(),
    )
    .unwrap()
}

fn account(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn alice() -> Caller {
    Caller::api(account("1234567890123456"), "root")
}

fn bob() -> Caller {
    Caller::api(account("6543210987654321"), "root")
}

fn alice_via_oss(resource: &str) -> Caller {
    Caller::oss(account("1234567890123456"), "root", resource)
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    EncryptionContext::from_pairs(pairs.iter().copied())
}

fn key_ref(id: KeyId) -> KeyRef {
    KeyRef::Id(id)
}

/// The error code of a failed call (panics on success).
fn code<T: std::fmt::Debug>(r: coffer_kms::Result<T>) -> &'static str {
    r.expect_err("expected an error").code()
}
