//! The behaviour every [`RecordStore`] must show. A backend's tests call [`run_all`] with a
//! function that makes a fresh, empty store with [`TABLES`], and a persistent backend's tests also
//! call [`survives_reopen`]. Each check panics with a message naming the broken guarantee.

use std::sync::Barrier;

use crate::{Change, Error, RecordStore, Table};

/// The tables a store under test must be opened with.
pub const TABLES: [Table; 3] = [
    Table::new("conformance_a"),
    Table::new("conformance_b"),
    Table::new("conformance_c"),
];

/// Makes a fresh, empty store with [`TABLES`] (or, for [`survives_reopen`], reopens the same one).
pub type Open<'a> = dyn Fn() -> Box<dyn RecordStore> + 'a;

fn put(table: Table, key: &[u8], value: &[u8]) -> Change {
    Change::Put {
        table,
        key: key.to_vec(),
        value: value.to_vec(),
    }
}

fn delete(table: Table, key: &[u8]) -> Change {
    Change::Delete {
        table,
        key: key.to_vec(),
    }
}

fn entries(pairs: &[(&[u8], &[u8])]) -> Vec<(Vec<u8>, Vec<u8>)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_vec(), v.to_vec()))
        .collect()
}

/// Runs every check, each on a fresh store from `fresh`.
pub fn run_all(fresh: &Open<'_>) {
    starts_empty(&*fresh());
    scans_in_key_byte_order_and_later_changes_win(&*fresh());
    deletes_and_tables_are_independent(&*fresh());
    unknown_tables_are_refused_and_a_failed_batch_changes_nothing(&*fresh());
    keeps_any_bytes(&*fresh());
    scrub_changes_no_entry(&*fresh());
    concurrent_batches_are_whole_and_all_applied(&*fresh());
}

/// A fresh store has its tables, all empty.
pub fn starts_empty(store: &dyn RecordStore) {
    for table in TABLES {
        assert!(
            store.scan(table).expect("scan").is_empty(),
            "a fresh store is empty"
        );
    }
}

/// `scan` is in ascending key byte order; within a batch a later change to a key wins.
pub fn scans_in_key_byte_order_and_later_changes_win(store: &dyn RecordStore) {
    let [a, ..] = TABLES;
    store
        .apply(&[
            put(a, b"b", b"2"),
            put(a, b"a", b"1"),
            put(a, b"b", b"3"),
            put(a, b"\xff", b"high"),
            put(a, b"a\x00", b"nul"),
            put(a, b"gone", b"x"),
            delete(a, b"gone"),
            delete(a, b"back"),
            put(a, b"back", b"again"),
        ])
        .expect("apply");
    assert_eq!(
        store.scan(a).expect("scan"),
        entries(&[
            (b"a", b"1"),
            (b"a\x00", b"nul"),
            (b"b", b"3"),
            (b"back", b"again"),
            (b"\xff", b"high"),
        ]),
        "scan order or last-write-wins within a batch"
    );
    store.apply(&[put(a, b"a", b"4")]).expect("apply");
    assert_eq!(store.scan(a).expect("scan")[0].1, b"4", "a put replaces");
}

/// Deleting removes only that key (a missing key is no error); tables do not share keys.
pub fn deletes_and_tables_are_independent(store: &dyn RecordStore) {
    let [a, b, c] = TABLES;
    store
        .apply(&[
            put(a, b"k", b"in a"),
            put(b, b"k", b"in b"),
            put(a, b"j", b""),
        ])
        .expect("apply");
    store
        .apply(&[delete(a, b"k"), delete(a, b"missing"), delete(c, b"k")])
        .expect("apply");
    assert_eq!(store.scan(a).expect("scan"), entries(&[(b"j", b"")]));
    assert_eq!(store.scan(b).expect("scan"), entries(&[(b"k", b"in b")]));
    assert!(store.scan(c).expect("scan").is_empty());
    store.apply(&[]).expect("an empty batch is no error");
}

/// A table the store was not opened with is [`Error::UnknownTable`]; a batch naming one applies
/// none of its changes, not even those before it.
pub fn unknown_tables_are_refused_and_a_failed_batch_changes_nothing(store: &dyn RecordStore) {
    let [a, ..] = TABLES;
    let stranger = Table::new("conformance_unknown");
    assert!(matches!(
        store.scan(stranger),
        Err(Error::UnknownTable("conformance_unknown"))
    ));
    store.apply(&[put(a, b"kept", b"1")]).expect("apply");
    let failed = store.apply(&[
        put(a, b"new", b"2"),
        delete(a, b"kept"),
        put(stranger, b"k", b"v"),
    ]);
    assert!(matches!(failed, Err(Error::UnknownTable(_))), "{failed:?}");
    assert_eq!(
        store.scan(a).expect("scan"),
        entries(&[(b"kept", b"1")]),
        "a failed batch must change nothing"
    );
}

/// Keys and values are any bytes: empty, binary, and large.
pub fn keeps_any_bytes(store: &dyn RecordStore) {
    let [a, ..] = TABLES;
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let binary: Vec<u8> = (0..=255u8).collect();
    store
        .apply(&[
            put(a, b"", b"empty key"),
            put(a, &binary, &big),
            put(a, b"e", b""),
        ])
        .expect("apply");
    let got = store.scan(a).expect("scan");
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], (Vec::new(), b"empty key".to_vec()));
    assert_eq!(got[1], (binary, big), "binary key with a large value");
    assert_eq!(got[2], (b"e".to_vec(), Vec::new()));
}

/// `scrub` changes no entry.
pub fn scrub_changes_no_entry(store: &dyn RecordStore) {
    let [a, b, _] = TABLES;
    store
        .apply(&[
            put(a, b"1", b"one"),
            put(a, b"2", b"two"),
            put(b, b"3", b"three"),
        ])
        .expect("apply");
    store
        .apply(&[delete(a, b"1"), put(a, b"2", b"TWO")])
        .expect("apply");
    store.scrub().expect("scrub");
    assert_eq!(store.scan(a).expect("scan"), entries(&[(b"2", b"TWO")]));
    assert_eq!(store.scan(b).expect("scan"), entries(&[(b"3", b"three")]));
    store
        .apply(&[put(a, b"4", b"after")])
        .expect("writes go on after a scrub");
    assert_eq!(store.scan(a).expect("scan").len(), 2);
}

/// Several threads writing at once: every batch is applied, and a concurrent reader sees each
/// batch whole or not at all (each batch writes a pair of keys in two tables and replaces a
/// shared key; a scan must never show one of the pair without the other).
pub fn concurrent_batches_are_whole_and_all_applied(store: &dyn RecordStore) {
    const WRITERS: usize = 4;
    const BATCHES: usize = 25;
    let [a, b, c] = TABLES;
    let start = Barrier::new(WRITERS + 1);
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let start = &start;
            s.spawn(move || {
                start.wait();
                for i in 0..BATCHES {
                    let key = format!("{w:02}-{i:03}").into_bytes();
                    store
                        .apply(&[
                            put(a, &key, b"x"),
                            put(c, b"last", &key),
                            put(b, &key, b"y"),
                        ])
                        .expect("concurrent apply");
                }
            });
        }
        start.wait();
        for _ in 0..20 {
            // Read b before a: a batch committed in between shows in a, never the other way.
            let in_b = store.scan(b).expect("scan");
            let in_a = store.scan(a).expect("scan");
            assert!(in_b.len() <= in_a.len(), "a half-applied batch was visible");
            for (k, _) in &in_b {
                assert!(
                    in_a.iter().any(|(ka, _)| ka == k),
                    "a half-applied batch was visible"
                );
            }
        }
    });
    assert_eq!(
        store.scan(a).expect("scan").len(),
        WRITERS * BATCHES,
        "a batch was lost"
    );
    assert_eq!(
        store.scan(b).expect("scan").len(),
        WRITERS * BATCHES,
        "a batch was lost"
    );
    let last = store.scan(c).expect("scan");
    assert_eq!(last.len(), 1);
    assert!(
        last[0]
            .1
            .ends_with(format!("{:03}", BATCHES - 1).as_bytes()),
        "the shared key holds a writer's last value"
    );
}

/// What was applied is there after the store is dropped and opened again. `open` opens the same
/// store each time; it must start empty.
pub fn survives_reopen(open: &Open<'_>) {
    let [a, b, _] = TABLES;
    {
        let store = open();
        starts_empty(&*store);
        store
            .apply(&[put(a, b"k", b"v"), put(b, b"x", b"y")])
            .expect("apply");
        store.apply(&[delete(b, b"x")]).expect("apply");
    }
    let store = open();
    assert_eq!(
        store.scan(a).expect("scan"),
        entries(&[(b"k", b"v")]),
        "lost across reopen"
    );
    assert!(
        store.scan(b).expect("scan").is_empty(),
        "a delete was lost across reopen"
    );
}
