//! The in-memory `BlobStore` passes the conformance suite every backend passes.

use coffer_blob::{BlobStore, MemoryBlobStore, conformance};

#[tokio::test]
async fn passes_the_conformance_suite() {
    let store = MemoryBlobStore::new();
    conformance::run_all(&store).await;
    assert!(
        store.list().await.unwrap().is_empty(),
        "the suite deletes what it writes"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite_on_a_multi_thread_runtime() {
    conformance::run_all(&MemoryBlobStore::new()).await;
}
