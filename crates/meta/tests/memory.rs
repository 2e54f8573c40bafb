//! The in-memory `MetaStore` passes the conformance suite every backend passes.

use coffer_meta::{MemoryMetaStore, conformance};

#[tokio::test]
async fn passes_the_conformance_suite() {
    conformance::run_all(&MemoryMetaStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite_on_a_multi_thread_runtime() {
    conformance::run_all(&MemoryMetaStore::new()).await;
}
