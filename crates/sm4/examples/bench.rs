//! SM4-GCM throughput per backend beside RustCrypto's table-based `sm4` under the same GCM and
//! aws-lc's AES-256-GCM, sealing 64 KiB chunks (the object chunk size) in place.
//!
//! `cargo run -p coffer-sm4 --release --example bench [MiB [ROW]]`
//!
//! With ROW (`gfni`, `aesni`, `portable`, `sm4`, `aes`) only that row runs, for `perf stat`.
//!
//! One core, timed by the thread's on-CPU time where Linux reports it (a shared machine's waiting
//! for a core does not count; cache and hyper-thread contention still do); each figure the median
//! of 7 runs of `MiB` (default 64; the slow rows get 1/8 of it).
//! GB/s = 10^9 bytes of plaintext per second. Also the raw block function (CTR keystream only is
//! not separable in the generic GCM, so "block" is `encrypt_blocks` on the same 64 KiB).

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::aead::AeadInOut;
use aes_gcm::aead::consts::U12;
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use cipher::{BlockCipherEncrypt, KeyInit};
use coffer_sm4::{Backend, Sm4, sm4_gcm_with_backend};

const CHUNK: usize = 64 << 10;
const RUNS: usize = 7;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Nanoseconds this thread has been on a CPU (Linux `schedstat`), so that time spent waiting for a
/// core on a shared machine does not count; wall-clock time elsewhere.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

struct Clock(Instant, Option<u64>);

impl Clock {
    fn start() -> Self {
        Clock(Instant::now(), cpu_ns())
    }

    fn seconds(&self) -> f64 {
        match (self.1, cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e9,
            _ => self.0.elapsed().as_secs_f64(),
        }
    }
}

/// GB/s of `f` sealing one chunk, `bytes` per run.
fn measure(bytes: usize, mut f: impl FnMut(&mut [u8])) -> f64 {
    let mut buf = vec![0x5au8; CHUNK];
    let n = (bytes / CHUNK).max(1);
    f(&mut buf);
    median(
        (0..RUNS)
            .map(|_| {
                let clock = Clock::start();
                for _ in 0..n {
                    f(black_box(&mut buf));
                }
                (n * CHUNK) as f64 / clock.seconds() / 1e9
            })
            .collect(),
    )
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(64);
    let only = std::env::args().nth(2).unwrap_or_default().to_lowercase();
    let run = |row: &str| only.is_empty() || row.to_lowercase().starts_with(&only);
    let fast = mib << 20;
    let slow = fast / 8;
    let key = [0x42u8; 16];
    let nonce = [7u8; 12];
    println!("SM4-GCM, 64 KiB chunks sealed in place, one core, median of {RUNS} (GB/s)");
    println!();
    println!("| implementation                         | GCM seal | block function |");
    println!("|----------------------------------------|----------|----------------|");
    for backend in Backend::ALL {
        if !run(&format!("{backend:?}")) {
            continue;
        }
        let Some(gcm) = sm4_gcm_with_backend(&key, backend) else {
            println!(
                "| coffer-sm4 {:<27} | (not on this CPU)         |",
                format!("{backend:?}")
            );
            continue;
        };
        let bytes = if backend == Backend::Portable {
            slow
        } else {
            fast
        };
        let seal = measure(bytes, |buf| {
            let _ = gcm.encrypt_inout_detached(&nonce.into(), &[], buf.into());
        });
        let cipher = Sm4::with_backend(&key, backend).expect("available");
        let block = measure(bytes, |buf| {
            let (blocks, _) = cipher::Block::<Sm4>::slice_as_chunks_mut(buf);
            cipher.encrypt_blocks(blocks);
        });
        println!(
            "| coffer-sm4 {:<27} | {seal:>8.2} | {block:>14.2} |",
            format!("{backend:?}")
        );
    }
    if run("sm4") {
        reference_row(slow, key, nonce);
    }
    if run("aes") {
        aws_lc_row(fast, nonce);
    }
    println!();
    println!("detected backend: {:?}", Backend::detect());
}

fn reference_row(slow: usize, key: [u8; 16], nonce: [u8; 12]) {
    let reference = aes_gcm::AesGcm::<sm4::Sm4, U12>::new(&key.into());
    let seal = measure(slow, |buf| {
        let _ = reference.encrypt_inout_detached(&nonce.into(), &[], buf.into());
    });
    let ref_cipher = sm4::Sm4::new(&key.into());
    let block = measure(slow, |buf| {
        let (blocks, _) = cipher::Block::<sm4::Sm4>::slice_as_chunks_mut(buf);
        ref_cipher.encrypt_blocks(blocks);
    });
    println!("| RustCrypto sm4 + aes-gcm generic GCM   | {seal:>8.2} | {block:>14.2} |");
}

fn aws_lc_row(fast: usize, nonce: [u8; 12]) {
    let aes = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0x42; 32]).expect("32-byte key"));
    let seal = measure(fast, |buf| {
        let _ =
            aes.seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), buf);
    });
    println!("| aws-lc-rs AES-256-GCM                  | {seal:>8.2} |                |");
}
