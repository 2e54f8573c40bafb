//! The shared `MetaStore` conformance suite on PostgreSQL, and what several stores sharing one
//! database (as several nodes do) see of each other's writes.

mod common;

use coffer_meta::conformance::{self, bucket_name, object_key, test_bucket, test_object};
use coffer_meta::{Error, MetaStore, PutCondition};
use coffer_meta_postgres::PgMetaStore;
use coffer_types::BlobId;

#[tokio::test]
async fn passes_the_conformance_suite() {
    let cluster = common::TestCluster::start();
    let pool = coffer_meta_postgres::connect(&cluster.fresh_database())
        .await
        .unwrap();
    conformance::run_all(&PgMetaStore::new(pool)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_conditional_writes_from_two_nodes_admit_exactly_one() {
    let cluster = common::TestCluster::start();
    let url = cluster.fresh_database();
    // Two pools, as two nodes would have; the second start finds the schema in place.
    let a = PgMetaStore::new(coffer_meta_postgres::connect(&url).await.unwrap());
    let b = PgMetaStore::new(coffer_meta_postgres::connect(&url).await.unwrap());
    a.create_bucket(test_bucket("race")).await.unwrap();
    let bucket = bucket_name("race");
    for round in 0..20 {
        let key = format!("k{round}");
        let (blob_a, blob_b) = (BlobId::random(), BlobId::random());
        let (ra, rb) = tokio::join!(
            a.put_object(
                &bucket,
                test_object(&key, 1, &[&blob_a]),
                PutCondition::IfAbsent
            ),
            b.put_object(
                &bucket,
                test_object(&key, 1, &[&blob_b]),
                PutCondition::IfAbsent
            ),
        );
        let won = match (ra, rb) {
            (Ok(None), Err(Error::ObjectExists)) => blob_a,
            (Err(Error::ObjectExists), Ok(None)) => blob_b,
            other => panic!("exactly one IfAbsent write wins, got {other:?}"),
        };
        let stored = b.object(&bucket, &object_key(&key)).await.unwrap().unwrap();
        assert_eq!(
            stored.segments[0].blob, won,
            "the stored object is the winner's"
        );
    }
}

#[tokio::test]
async fn a_database_with_a_newer_schema_is_refused() {
    let cluster = common::TestCluster::start();
    let url = cluster.fresh_database();
    drop(coffer_meta_postgres::connect(&url).await.unwrap());
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute("INSERT INTO coffer_schema (version) VALUES (1000)", &[])
        .await
        .unwrap();
    let err = coffer_meta_postgres::connect(&url).await.unwrap_err();
    assert!(
        matches!(
            err,
            coffer_meta_postgres::Error::SchemaTooNew { found: 1000, .. }
        ),
        "{err}"
    );
}
