//! The shared `RecordStore` conformance suite on PostgreSQL.

mod common;

use coffer_meta_postgres::PgRecordStore;
use coffer_records::RecordStore;
use coffer_records::conformance::{self, TABLES};

#[test]
fn passes_the_conformance_suite() {
    let cluster = common::TestCluster::start();
    conformance::run_all(&|| {
        Box::new(PgRecordStore::open(&cluster.fresh_database(), "conformance", &TABLES).unwrap())
            as Box<dyn RecordStore>
    });
}

#[test]
fn survives_reopen() {
    let cluster = common::TestCluster::start();
    let url = cluster.fresh_database();
    conformance::survives_reopen(&|| {
        Box::new(PgRecordStore::open(&url, "conformance", &TABLES).unwrap()) as Box<dyn RecordStore>
    });
}

#[tokio::test]
async fn works_when_called_from_inside_a_runtime() {
    let cluster = common::TestCluster::start();
    let store = PgRecordStore::open(&cluster.fresh_database(), "conformance", &TABLES).unwrap();
    store
        .apply(&[coffer_records::Change::Put {
            table: TABLES[0],
            key: b"k".to_vec(),
            value: b"v".to_vec(),
        }])
        .unwrap();
    assert_eq!(store.scan(TABLES[0]).unwrap().len(), 1);
    drop(store);
}

#[test]
fn stores_sharing_a_database_keep_their_tables_apart() {
    let cluster = common::TestCluster::start();
    let url = cluster.fresh_database();
    let iam = PgRecordStore::open(&url, "iam", &TABLES).unwrap();
    let kms = PgRecordStore::open(&url, "kms", &TABLES).unwrap();
    iam.apply(&[coffer_records::Change::Put {
        table: TABLES[0],
        key: b"k".to_vec(),
        value: b"iam".to_vec(),
    }])
    .unwrap();
    assert!(kms.scan(TABLES[0]).unwrap().is_empty());
    assert_eq!(iam.scan(TABLES[0]).unwrap().len(), 1);
}

fn put(key: &[u8]) -> coffer_records::Change {
    coffer_records::Change::Put {
        table: TABLES[0],
        key: key.to_vec(),
        value: b"v".to_vec(),
    }
}

#[test]
fn a_batch_planned_at_a_generation_another_node_moved_is_refused() {
    let cluster = common::TestCluster::start();
    let url = cluster.fresh_database();
    // Two nodes' stores on one database.
    let a = PgRecordStore::open(&url, "iam", &TABLES).unwrap();
    let b = PgRecordStore::open(&url, "iam", &TABLES).unwrap();
    let other = PgRecordStore::open(&url, "kms", &TABLES).unwrap();
    let start = a
        .generation()
        .unwrap()
        .expect("a shared store has generations");
    assert_eq!(b.generation().unwrap(), Some(start));

    let after_a = a.apply_at(Some(start), &[put(b"a")]).unwrap();
    assert!(after_a > Some(start));
    assert_eq!(b.generation().unwrap(), after_a, "b sees a's batch");
    // b planned at `start`, before a's batch landed: refused, nothing applied.
    assert!(matches!(
        b.apply_at(Some(start), &[put(b"b")]),
        Err(coffer_records::Error::Stale)
    ));
    assert_eq!(b.scan(TABLES[0]).unwrap().len(), 1);
    // Planned again at the current generation, it lands.
    b.apply_at(after_a, &[put(b"b")]).unwrap();
    assert_eq!(a.scan(TABLES[0]).unwrap().len(), 2);
    // An unchecked batch moves the generation too; another store's does not.
    let before = a.generation().unwrap();
    other.apply(&[put(b"x")]).unwrap();
    assert_eq!(a.generation().unwrap(), before);
    a.apply(&[put(b"c")]).unwrap();
    assert!(a.generation().unwrap() > before);
}

#[test]
fn embedded_stores_have_no_generation() {
    let store = coffer_records::MemoryRecordStore::new(&TABLES);
    assert_eq!(store.generation().unwrap(), None);
    assert_eq!(store.apply_at(None, &[put(b"k")]).unwrap(), None);
}
