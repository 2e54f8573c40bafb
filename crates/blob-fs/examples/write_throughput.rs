//! Measures one blob of `--mib` MiB (default 1024) written in 1 MiB chunks and committed (fsync
//! and rename included), then read back whole, `--runs` times (default 3), with an idle producer
//! and with one that hashes each chunk first (a stand-in for a PUT's MD5). Prints medians.
//!
//! `cargo run --release -p coffer-blob-fs --example write_throughput -- [--mib N] [--runs N] [--dir D]`
//!
//! The temporary store goes in `--dir` (default: the system temp dir), so that is the disk measured.

use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_blob::BlobStore;
use coffer_blob_fs::FsBlobStore;
use futures::TryStreamExt;

const MIB: usize = 1 << 20;

struct Run {
    writes: Duration,
    commit: Duration,
    read: Duration,
}

#[tokio::main]
async fn main() {
    let mut mib = 1024;
    let mut runs = 3;
    let mut dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().expect("every flag takes a value");
        match flag.as_str() {
            "--mib" => mib = value.parse().expect("--mib N"),
            "--runs" => runs = value.parse().expect("--runs N"),
            "--dir" => dir = Some(value),
            _ => panic!("unknown flag {flag}"),
        }
    }
    let tmp = match dir {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let store = FsBlobStore::open(tmp.path()).expect("open store");
    let chunk = Bytes::from(vec![0x5a; MIB]);

    let bytes = (mib * MIB) as f64;
    let gbps = |d: Duration| bytes / d.as_secs_f64() / 1e9;
    let start = Instant::now();
    let mut sink = 0;
    for _ in 0..mib {
        sink ^= hash(&chunk);
    }
    std::hint::black_box(sink);
    println!(
        "{mib} MiB in 1 MiB chunks, median of {runs}; hashing alone: {:.2} GB/s",
        gbps(start.elapsed())
    );
    println!(
        "{:<9} {:>10} {:>9} {:>10} {:>10}",
        "producer", "writes", "commit", "put total", "read"
    );
    let mut table = [(false, Vec::new()), (true, Vec::new())];
    for _ in 0..runs {
        for (hashing, results) in &mut table {
            results.push(one_run(&store, &chunk, mib, *hashing).await);
        }
    }
    for (hashing, results) in &table {
        let median = |f: &dyn Fn(&Run) -> Duration| {
            let mut v: Vec<Duration> = results.iter().map(f).collect();
            v.sort();
            v[v.len() / 2]
        };
        println!(
            "{:<9} {:>5.2} GB/s {:>6.0} ms {:>5.2} GB/s {:>5.2} GB/s",
            if *hashing { "hashing" } else { "idle" },
            gbps(median(&|r| r.writes)),
            median(&|r| r.commit).as_secs_f64() * 1e3,
            gbps(median(&|r| r.writes + r.commit)),
            gbps(median(&|r| r.read)),
        );
    }
}

/// FNV-1a over the chunk: CPU work per chunk at about MD5's speed.
fn hash(chunk: &[u8]) -> u64 {
    chunk.iter().fold(0xcbf2_9ce4_8422_2325, |h: u64, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

async fn one_run(store: &FsBlobStore, chunk: &Bytes, mib: usize, hashing: bool) -> Run {
    let start = Instant::now();
    let mut writer = store.create().await.expect("create");
    let id = writer.id().clone();
    let mut sink = 0;
    for _ in 0..mib {
        if hashing {
            sink ^= hash(chunk);
        }
        writer.write(chunk.clone()).await.expect("write");
    }
    std::hint::black_box(sink);
    let writes = start.elapsed();
    let len = writer.commit().await.expect("commit");
    let commit = start.elapsed() - writes;
    assert_eq!(len, (mib * MIB) as u64);

    let start = Instant::now();
    let stream = store.read(&id, 0..u64::MAX).await.expect("read");
    let n = stream
        .try_fold(0, |n, c| async move { Ok(n + c.len() as u64) })
        .await
        .expect("read stream");
    let read = start.elapsed();
    assert_eq!(n, len);
    store.delete(&id).await.expect("delete");
    Run {
        writes,
        commit,
        read,
    }
}
