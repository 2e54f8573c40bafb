//! Throughput of the segment format per cipher and chunk length, printed as a table.
//!
//! `cargo run -p coffer-crypto --release --example bench [MiB]`
//!
//! For each (cipher, chunk length): a stream of `MiB` (default 256; SM4 gets 1/16 of it) encrypted
//! from 1 MiB pushes and from 16 KiB pushes (the size of an HTTP body frame), decrypted from 64 KiB
//! pieces (a blob read), the storage overhead, and the CPU cost of the smallest range read (one
//! whole chunk plus the key derivation). Medians of 5 runs; GB/s = 10^9 bytes of plaintext per
//! second, one core. Compare rows of one run, not against figures from another day.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use coffer_crypto::{Cipher, DataKey, Decryptor, Encryptor};

const RUNS: usize = 5;

fn main() {
    let aes_mib: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    println!(
        "coffer-crypto segment throughput, one core, median of {RUNS} (GB/s of plaintext; 1 GB = 10^9 B)"
    );
    println!();
    println!(
        "| cipher      | chunk    | enc 1 MiB pushes | enc 16 KiB pushes | dec 64 KiB reads | overhead B/MiB | 1-byte range read |"
    );
    println!(
        "|-------------|----------|------------------|-------------------|------------------|----------------|-------------------|"
    );
    for (cipher, name, mib) in [
        (Cipher::Aes256Gcm, "AES-256-GCM", aes_mib),
        (Cipher::Sm4Gcm, "SM4-GCM", (aes_mib / 16).max(8)),
    ] {
        for chunk_len in [16 << 10, 64 << 10, 256 << 10, 1 << 20] {
            let row = measure(cipher, chunk_len, (mib as u64) << 20);
            println!(
                "| {name:<11} | {:>4} KiB | {:>16.2} | {:>17.2} | {:>16.2} | {:>14} | {:>14.1} µs |",
                chunk_len >> 10,
                row.encrypt_big,
                row.encrypt_small,
                row.decrypt,
                row.overhead_per_mib,
                row.range_read.as_secs_f64() * 1e6,
            );
        }
    }
    println!();
    println!(
        "reference: aws-lc AES-256-GCM seal_in_place on a 1 MiB buffer, no format: {:.2} GB/s",
        raw_aes(aes_mib)
    );
}

struct Row {
    encrypt_big: f64,
    encrypt_small: f64,
    decrypt: f64,
    overhead_per_mib: u64,
    range_read: Duration,
}

fn measure(cipher: Cipher, chunk_len: u32, total: u64) -> Row {
    let key = DataKey::generate();
    let ctx = b"bench bucket/bench object";
    // The server's shape: plaintext arrives in pieces that are hot in cache (just copied from the
    // socket), every push's output is handed to the blob store and the buffer reused. So the source
    // is one 1 MiB buffer pushed over and over, and `out` is cleared after every push.
    let source: Vec<u8> = (0..1 << 20).map(|i: usize| (i * 7 + 3) as u8).collect();
    let mut out = Vec::new();
    let mut encrypt = |piece: usize| {
        let mut enc = Encryptor::new(&key, cipher, chunk_len, ctx).expect("valid chunk length");
        let mut left = total;
        while left > 0 {
            for p in source.chunks(piece) {
                enc.push(p, &mut out).expect("encrypt");
                out.clear();
            }
            left = left.saturating_sub(source.len() as u64);
        }
        enc.finish(&mut out).expect("encrypt");
        out.clear();
    };
    let encrypt_big = median_gbps(total, || encrypt(1 << 20));
    let encrypt_small = median_gbps(total, || encrypt(16 << 10));

    // Decryption reads an 8 MiB segment over and over, in 64 KiB pieces (a blob read).
    let segment: Vec<u8> = source.iter().cycle().take(8 << 20).copied().collect();
    let (header, body) =
        coffer_crypto::encrypt_segment(&key, cipher, chunk_len, ctx, &segment).expect("encrypt");
    let seg_len = segment.len() as u64;
    let whole = header
        .ciphertext_range_for(0..seg_len, seg_len)
        .expect("range");
    let decrypt = median_gbps(total.div_ceil(seg_len) * seg_len, || {
        for _ in 0..total.div_ceil(seg_len) {
            let mut dec = Decryptor::new(&key, &header, ctx, &whole).expect("right key");
            for piece in body.chunks(64 << 10) {
                dec.push(piece, &mut out).expect("authentic");
                out.clear();
            }
            dec.finish().expect("complete");
        }
    });

    // The smallest range read: one byte in the middle costs one whole chunk (plus key derivation).
    let mid = seg_len / 2;
    let range = header
        .ciphertext_range_for(mid..mid + 1, seg_len)
        .expect("range");
    let ct = range.ciphertext();
    let fetched = &body[ct.start as usize..ct.end as usize];
    let range_read = median_time(|| {
        let mut one = Vec::with_capacity(1);
        let mut dec = Decryptor::new(&key, &header, ctx, &range).expect("right key");
        dec.push(fetched, &mut one).expect("authentic");
        dec.finish().expect("complete");
        assert_eq!(one, [segment[mid as usize]]);
    });

    let overhead_per_mib = header.ciphertext_len(1 << 20).expect("small") - (1 << 20);
    Row {
        encrypt_big,
        encrypt_small,
        decrypt,
        overhead_per_mib,
        range_read,
    }
}

fn median_time(mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

fn median_gbps(bytes: u64, f: impl FnMut()) -> f64 {
    bytes as f64 / median_time(f).as_secs_f64() / 1e9
}

fn raw_aes(mib: usize) -> f64 {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).expect("key"));
    let mut buf = vec![5u8; 1 << 20];
    median_gbps((mib as u64) << 20, || {
        for i in 0..mib as u64 {
            let mut nonce = [0u8; 12];
            nonce[..8].copy_from_slice(&i.to_be_bytes());
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::empty(),
                    &mut buf,
                )
                .expect("seal");
            let _ = black_box(tag);
        }
    })
}
