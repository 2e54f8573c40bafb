//! What several nodes share besides records, on a throwaway cluster: each test opens two
//! `PgShared` on one database, standing for two nodes.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use coffer_keyring::{Keyring, SharedKeyring};
use coffer_kms::{
    AccountId, AuditFilter, AuditRecord, AuditSink, KeyId, Operation, RESULT_SUCCESS, RootKey,
    Timestamp, UsageDelta, UsageStore,
};
use coffer_meta_postgres::PgShared;
use coffer_signature::replay::{Refusal, ReplayGuard, SpentNonces};

fn two_nodes() -> (common::TestCluster, PgShared, PgShared) {
    let cluster = common::TestCluster::start();
    let url = cluster.fresh_database();
    let a = PgShared::open(&url).expect("node a opens");
    let b = PgShared::open(&url).expect("node b opens");
    (cluster, a, b)
}

#[test]
fn a_nonce_spent_on_one_node_is_refused_on_the_other_until_it_expires() {
    let (_cluster, a, b) = two_nodes();
    let (na, nb) = (a.nonces(), b.nonces());
    let digest = [7u8; 16];
    assert!(na.spend(&digest, 1100, 1000).unwrap());
    assert!(!nb.spend(&digest, 1200, 1050).unwrap());
    assert!(!na.spend(&digest, 1200, 1099).unwrap());
    // At its expiry the pair may be spent again, once.
    assert!(nb.spend(&digest, 1300, 1100).unwrap());
    assert!(!na.spend(&digest, 1300, 1100).unwrap());
    assert!(na.spend(&[8u8; 16], 1300, 1100).unwrap());
}

#[test]
fn guards_of_two_nodes_accept_a_pair_once_and_keep_their_budgets() {
    let (_cluster, a, b) = two_nodes();
    let ga = ReplayGuard::new(100, 2).with_shared(Arc::new(a.nonces()));
    let gb = ReplayGuard::new(100, 2).with_shared(Arc::new(b.nonces()));
    assert_eq!(ga.check("ak", "ak", "n1", 0), Ok(()));
    assert_eq!(gb.check("ak", "ak", "n1", 1), Err(Refusal::Replayed));
    assert_eq!(gb.check("ak", "ak", "n2", 1), Ok(()));
    assert_eq!(ga.check("ak", "ak", "n2", 1), Err(Refusal::Replayed));
    // Each node's share holds the pairs it saw (a refused replay included, so that it is refused
    // again without asking the database): A's share of two is full, another identity's is not.
    assert_eq!(ga.check("ak", "ak", "n3", 2), Err(Refusal::Full));
    assert_eq!(ga.check("other", "other", "n3", 2), Ok(()));
    assert_eq!(gb.check("other", "other", "n3", 2), Err(Refusal::Replayed));
}

#[test]
fn racing_spenders_of_one_nonce_admit_exactly_one() {
    let (_cluster, a, b) = two_nodes();
    for round in 0..20u8 {
        let digest = [round; 16];
        let (na, nb) = (a.nonces(), b.nonces());
        let ta = std::thread::spawn(move || na.spend(&digest, 100, 0).unwrap());
        let tb = std::thread::spawn(move || nb.spend(&digest, 100, 0).unwrap());
        let won = [ta.join().unwrap(), tb.join().unwrap()];
        assert_eq!(
            won.iter().filter(|w| **w).count(),
            1,
            "round {round}: {won:?}"
        );
    }
}

fn account() -> AccountId {
    AccountId::parse("1234567890123456").expect("an account id")
}

fn delta(key_id: Option<KeyId>, operation: Operation, day: i64, count: u64) -> UsageDelta {
    UsageDelta {
        account: account(),
        key_id,
        operation,
        day,
        count,
        failures: count / 2,
    }
}

#[test]
fn usage_added_by_two_nodes_sums_over_nodes_and_days() {
    let (_cluster, a, b) = two_nodes();
    let key = KeyId::random();
    let (ua, ub) = (a.usage(), b.usage());
    ua.add(&[delta(Some(key), Operation::Decrypt, 20000, 3)])
        .unwrap();
    ub.add(&[
        delta(Some(key), Operation::Decrypt, 20000, 4),
        delta(Some(key), Operation::Decrypt, 20001, 5),
        delta(None, Operation::ListKeys, 20001, 1),
    ])
    .unwrap();
    let mut rows = ua.rows(&account()).unwrap();
    rows.sort_by_key(|r| (r.key_id, r.operation));
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.key_id, r.operation, r.count, r.failures))
        .collect();
    assert_eq!(
        got,
        vec![
            (None, Operation::ListKeys, 1, 0),
            (Some(key), Operation::Decrypt, 12, 1 + 2 + 2),
        ]
    );
    let other = AccountId::parse("6543210987654321").unwrap();
    assert!(ub.rows(&other).unwrap().is_empty());
}

#[test]
fn concurrent_flushes_of_two_nodes_lose_no_count() {
    let (_cluster, a, b) = two_nodes();
    let key = KeyId::random();
    let reader = a.clone();
    let adders: Vec<_> = [a, b]
        .into_iter()
        .map(|node| {
            std::thread::spawn(move || {
                let usage = node.usage();
                for _ in 0..25 {
                    usage
                        .add(&[delta(Some(key), Operation::Encrypt, 1, 1)])
                        .unwrap();
                }
            })
        })
        .collect();
    for t in adders {
        t.join().unwrap();
    }
    let rows = reader.usage().rows(&account()).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].count, 50);
}

fn record(op: Operation, key_id: KeyId, secs: u64) -> AuditRecord {
    AuditRecord {
        time: SystemTime::UNIX_EPOCH + Duration::from_secs(secs),
        account: account(),
        principal: "root".into(),
        via: "Api".into(),
        resource: None,
        operation: op,
        key_id: Some(key_id),
        key_version_id: None,
        encryption_context: None,
        result: RESULT_SUCCESS.into(),
    }
}

#[test]
fn the_audit_trail_holds_every_nodes_records_and_pages_by_key() {
    let (_cluster, a, b) = two_nodes();
    let (la, lb) = (a.audit_log(), b.audit_log());
    let key = KeyId::random();
    let other = KeyId::random();
    let mut appended = Vec::new();
    for i in 0..7u64 {
        let r = record(Operation::Decrypt, key, 1000 + i);
        if i % 2 == 0 { &la } else { &lb }.append(&r).unwrap();
        appended.push(r);
    }
    la.append(&record(Operation::Encrypt, other, 1003)).unwrap();
    let filter = AuditFilter {
        key_id: Some(key),
        ..Default::default()
    };
    assert_eq!(lb.records(&filter).unwrap(), appended);
    // Pages of 3 through either node, each continued from the marker of the one before.
    let mut paged = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let node = if pages % 2 == 0 { &la } else { &lb };
        let page = node.page(&filter, marker.as_deref(), 3).unwrap();
        pages += 1;
        paged.extend(page.records);
        match page.next {
            Some(next) => marker = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, appended);
    assert_eq!(la.tail(&filter, 2).unwrap(), appended[5..].to_vec());
    let since = AuditFilter {
        since: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1005)),
        ..filter.clone()
    };
    assert_eq!(la.records(&since).unwrap(), appended[5..].to_vec());
    let encrypts = AuditFilter {
        operation: Some(Operation::Encrypt),
        ..Default::default()
    };
    assert_eq!(lb.records(&encrypts).unwrap().len(), 1);
    // By principal and by resource prefix, compared in the database.
    let mut by_alice = record(Operation::GenerateDataKey, other, 1010);
    by_alice.principal = "alice".into();
    by_alice.resource = Some("b1/dir/obj".into());
    lb.append(&by_alice).unwrap();
    let only = |f: AuditFilter| la.records(&f).unwrap();
    assert_eq!(
        only(AuditFilter {
            principal: Some("alice".into()),
            ..Default::default()
        }),
        vec![by_alice.clone()]
    );
    for (prefix, hits) in [("b1/", 1), ("b1/dir/o", 1), ("b1/other", 0), ("b2/", 0)] {
        let got = only(AuditFilter {
            resource_prefix: Some(prefix.into()),
            ..Default::default()
        });
        assert_eq!(got.len(), hits, "{prefix}");
    }
    assert!(matches!(
        la.page(&filter, Some("not-a-marker"), 3),
        Err(coffer_kms::Error::InvalidParameter { what: "Marker", .. })
    ));
}

fn root() -> RootKey {
    RootKey::from_bytes([9u8; 32])
}

fn at(secs: i64) -> Timestamp {
    Timestamp::from_unix_seconds(secs).expect("a time in range")
}

#[test]
fn a_keyring_rotated_on_one_node_is_used_by_the_other_after_reload() {
    let (_cluster, a, b) = two_nodes();
    let ka = Keyring::open_shared(Arc::new(a.keyring("sse")), None, &root(), at(100)).unwrap();
    let kb = Keyring::open_shared(Arc::new(b.keyring("sse")), None, &root(), at(100)).unwrap();
    assert_eq!(ka.versions(), kb.versions());
    let dk = coffer_crypto::DataKey::generate();
    let (v1, w1) = ka.wrap(&dk, b"b/o");
    assert_eq!(v1, 1);
    assert_eq!(ka.rotate(at(200)).unwrap(), 2);
    // B wraps under version 1 until it reloads; it unwraps version 2 at once (an unknown version
    // makes it reload).
    let (v2, w2) = ka.wrap(&dk, b"b/o");
    assert_eq!(
        kb.unwrap(v2, &w2, b"b/o").unwrap().expose_secret(),
        dk.expose_secret()
    );
    kb.reload().unwrap();
    assert_eq!(kb.wrap(&dk, b"b/o").0, 2);
    assert_eq!(
        kb.unwrap(v1, &w1, b"b/o").unwrap().expose_secret(),
        dk.expose_secret()
    );
    // A node that has not reloaded rotates from the newest keyring: no version is lost.
    let stale = Keyring::open_shared(Arc::new(b.keyring("sse")), None, &root(), at(100)).unwrap();
    assert_eq!(kb.rotate(at(300)).unwrap(), 3);
    assert_eq!(stale.rotate(at(300)).unwrap(), 4);
    ka.reload().unwrap();
    let versions: Vec<u32> = ka.versions().iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
}

#[test]
fn racing_rotations_on_two_nodes_each_add_a_version() {
    let (_cluster, a, b) = two_nodes();
    let rings: Vec<Keyring> = [&a, &b]
        .iter()
        .map(|n| Keyring::open_shared(Arc::new(n.keyring("sse")), None, &root(), at(100)).unwrap())
        .collect();
    let threads: Vec<_> = rings
        .iter()
        .cloned()
        .map(|ring| {
            std::thread::spawn(move || {
                (0..5)
                    .map(|_| ring.rotate(at(200)).unwrap())
                    .collect::<Vec<u32>>()
            })
        })
        .collect();
    let mut made: Vec<u32> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    made.sort_unstable();
    assert_eq!(made, (2..=11).collect::<Vec<u32>>());
    rings[0].reload().unwrap();
    assert_eq!(rings[0].versions().len(), 11);
}

#[test]
fn a_shared_keyring_refuses_a_rollback_and_another_root_key() {
    let (_cluster, a, _b) = two_nodes();
    let store = a.keyring("sse");
    let ring = Keyring::open_shared(Arc::new(a.keyring("sse")), None, &root(), at(100)).unwrap();
    let old = store.load().unwrap().unwrap();
    ring.rotate(at(200)).unwrap();
    // Someone writes the older, authentic bytes back at a newer generation.
    assert!(store.store(2, 3, &old).unwrap());
    assert!(matches!(
        ring.reload(),
        Err(coffer_keyring::Error::Rollback { .. })
    ));
    let other = RootKey::from_bytes([1u8; 32]);
    assert!(matches!(
        Keyring::open_shared(Arc::new(a.keyring("sse")), None, &other, at(100)),
        Err(coffer_keyring::Error::Unseal(_))
    ));
}

#[test]
fn the_first_node_seeds_the_shared_keyring_from_its_file() {
    let (_cluster, a, b) = two_nodes();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.sealed");
    let file = Keyring::open(&path, &root(), at(100)).unwrap();
    file.rotate(at(150)).unwrap();
    let dk = coffer_crypto::DataKey::generate();
    let (v, w) = file.wrap(&dk, b"b/o");
    let seeded =
        Keyring::open_shared(Arc::new(a.keyring("sse")), Some(&path), &root(), at(200)).unwrap();
    assert_eq!(seeded.versions(), file.versions());
    // A node without the file takes the seeded keyring, and reads what the file wrapped.
    let other = Keyring::open_shared(
        Arc::new(b.keyring("sse")),
        Some(&dir.path().join("none")),
        &root(),
        at(200),
    )
    .unwrap();
    assert_eq!(
        other.unwrap(v, &w, b"b/o").unwrap().expose_secret(),
        dk.expose_secret()
    );
}

/// Two nodes whose first SSE-KMS requests come at once both ask for the default OSS key: each
/// plans its creation on what it read, one batch lands first, and the other must find that key
/// (not fail, not make a second alias). Several fresh databases, so the race is met each time.
#[test]
fn two_nodes_asking_for_the_default_oss_key_at_once_get_the_same_key() {
    use coffer_kms::{Config, Kms, MemoryAuditLog, SystemClock};
    use coffer_meta_postgres::PgRecordStore;

    let cluster = common::TestCluster::start();
    let account = AccountId::parse("1000000000000000").unwrap();
    for round in 0..4 {
        let url = cluster.fresh_database();
        let node = || {
            let store = PgRecordStore::open(&url, "kms", &coffer_kms::TABLES).unwrap();
            Arc::new(
                Kms::with_store(
                    Box::new(store),
                    Box::new(MemoryAuditLog::default()),
                    &root(),
                    Config::default(),
                    Arc::new(SystemClock),
                )
                .unwrap(),
            )
        };
        let nodes = [node(), node()];
        let start = Arc::new(std::sync::Barrier::new(nodes.len()));
        let threads: Vec<_> = nodes
            .iter()
            .cloned()
            .map(|kms| {
                let (start, account) = (start.clone(), account.clone());
                std::thread::spawn(move || {
                    start.wait();
                    kms.default_oss_key(&account).map(|m| m.key_id)
                })
            })
            .collect();
        let ids: Vec<KeyId> = threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("round {round}: {e}"))
            })
            .collect();
        assert_eq!(ids[0], ids[1], "round {round}: two default keys");
        // Both nodes, and a third that starts later, resolve the alias to it.
        assert_eq!(node().default_oss_key(&account).unwrap().key_id, ids[0]);
    }
}
