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
