//! The shared blob store conformance suite, and checks specific to the local-disk layout.

use std::path::Path;

use bytes::Bytes;
use coffer_blob::{BlobId, BlobStore, conformance};
use coffer_blob_fs::FsBlobStore;
use futures::TryStreamExt;

const MIB: usize = 1 << 20;

fn open(dir: &Path) -> FsBlobStore {
    FsBlobStore::open(dir).expect("open the store")
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| {
            let name = e.expect("directory entry").file_name();
            name.into_string().expect("names in the store are UTF-8")
        })
        .collect();
    names.sort();
    names
}

/// Bytes that do not repeat with a short period, so reads at a wrong offset are caught.
fn pattern(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    conformance::run_all(&store).await;
    // Everything the suite wrote it deleted, and nothing was left in tmp/.
    assert!(entries(&dir.path().join("tmp")).is_empty());
    assert!(store.list().await.unwrap().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn passes_the_conformance_suite_on_a_current_thread_runtime() {
    let dir = tempfile::tempdir().unwrap();
    conformance::run_all(&open(dir.path())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blob_written_in_small_chunks_reads_back_by_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let data = Bytes::from(pattern(64 * MIB));
    let mut writer = store.create().await.unwrap();
    let id = writer.id().clone();
    for start in (0..data.len()).step_by(64 * 1024) {
        writer
            .write(data.slice(start..start + 64 * 1024))
            .await
            .unwrap();
    }
    assert_eq!(writer.commit().await.unwrap(), data.len() as u64);
    assert_eq!(store.len(&id).await.unwrap(), data.len() as u64);

    let len = data.len() as u64;
    let ranges = [
        0..len,
        0..u64::MAX,
        1..len - 1,
        (5 * MIB as u64) - 1..(40 * MIB as u64) + 3,
        len - 10..len + 10,
        12_345..12_346,
    ];
    for range in ranges {
        let stream = store.read(&id, range.clone()).await.unwrap();
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
        assert!(
            chunks.iter().all(|c| c.len() <= MIB),
            "a read chunk is longer than 1 MiB"
        );
        let start = range.start as usize;
        let end = range.end.min(len) as usize;
        assert!(chunks.concat() == data[start..end], "range {range:?}");
    }
}

#[tokio::test]
async fn open_creates_the_layout_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("a").join("store");
    let store = open(&root);
    assert_eq!(entries(&root), ["blobs", "tmp"]);
    let mut writer = store.create().await.unwrap();
    let id = writer.id().clone();
    writer.write(Bytes::from_static(b"kept")).await.unwrap();
    writer.commit().await.unwrap();
    drop(store);

    let store = open(&root);
    let path = root.join("blobs").join(&id.as_str()[..2]).join(id.as_str());
    assert_eq!(std::fs::read(path).unwrap(), b"kept");
    let ids: Vec<BlobId> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, [id]);
}

#[tokio::test]
async fn writer_files_live_in_tmp_until_commit() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut writer = store.create().await.unwrap();
    let id = writer.id().clone();
    writer.write(Bytes::from(pattern(3 * MIB))).await.unwrap();
    assert_eq!(entries(&dir.path().join("tmp")), [id.as_str()]);
    assert!(entries(&dir.path().join("blobs")).is_empty());
    writer.commit().await.unwrap();
    assert!(entries(&dir.path().join("tmp")).is_empty());
    assert_eq!(entries(&dir.path().join("blobs")), [&id.as_str()[..2]]);
}

#[tokio::test]
async fn dropped_and_aborted_writers_remove_their_temporary_files() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for abort in [false, true] {
        let mut writer = store.create().await.unwrap();
        writer
            .write(Bytes::from(pattern(2 * MIB + 1)))
            .await
            .unwrap();
        writer.write(Bytes::from(pattern(10))).await.unwrap();
        if abort {
            writer.abort().await;
        } else {
            drop(writer);
        }
        assert!(
            entries(&dir.path().join("tmp")).is_empty(),
            "abort: {abort}"
        );
    }
    assert_eq!(store.sweep_temporary().await.unwrap(), 0);
}

#[tokio::test]
async fn sweep_counts_and_removes_every_leftover() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for len in [0, 10, 3 * MIB] {
        let mut writer = store.create().await.unwrap();
        writer.write(Bytes::from(pattern(len))).await.unwrap();
        std::mem::forget(writer); // as a crash would leave it
    }
    // A file of a previous run with a name this store would never make goes too.
    std::fs::write(dir.path().join("tmp").join("stray"), b"x").unwrap();
    assert_eq!(store.sweep_temporary().await.unwrap(), 4);
    assert!(entries(&dir.path().join("tmp")).is_empty());
    assert_eq!(store.sweep_temporary().await.unwrap(), 0);
}

#[tokio::test]
async fn list_ignores_files_that_are_not_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut writer = store.create().await.unwrap();
    let id = writer.id().clone();
    writer.write(Bytes::from_static(b"x")).await.unwrap();
    writer.commit().await.unwrap();

    let blobs = dir.path().join("blobs");
    let other = BlobId::random();
    // An id in the wrong fan-out directory could not be read by id, so it is not listed.
    let wrong_dir = if other.as_str().starts_with("00") {
        "01"
    } else {
        "00"
    };
    std::fs::create_dir_all(blobs.join(wrong_dir)).unwrap();
    std::fs::write(blobs.join(wrong_dir).join(other.as_str()), b"x").unwrap();
    std::fs::write(blobs.join(&id.as_str()[..2]).join("notes.txt"), b"x").unwrap();
    std::fs::write(
        blobs
            .join(&id.as_str()[..2])
            .join(id.as_str().to_lowercase()),
        b"x",
    )
    .unwrap();
    std::fs::write(blobs.join("README"), b"x").unwrap();
    std::fs::create_dir_all(blobs.join("zz")).unwrap();
    std::fs::write(blobs.join("zz").join(other.as_str()), b"x").unwrap();

    let ids: Vec<BlobId> = store
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, [id]);
}
