//! Micro-benchmark of the in-process KMS: GenerateDataKey and Decrypt per second, with the real
//! file-backed setup (redb store, JSON-lines audit log) and with in-memory store and audit, on one
//! thread and on all cores. Run with `cargo run --release -p coffer-kms --example bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use coffer_kms::{
    AccountId, Caller, CiphertextBlob, Config, CreateKey, Decrypt, EncryptionContext,
    GenerateDataKey, KeyId, Kms, MemoryAuditLog, RootKey, SystemClock,
};

const RUN: Duration = Duration::from_millis(1500);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let file_kms = Kms::open(
        &dir.path().join("kms.redb"),
        &RootKey::generate(),
        Config::default(),
        Arc::new(SystemClock),
    )?;
    let memory_kms = Kms::with_store(
        Box::new(coffer_kms::memory_store()),
        Box::new(MemoryAuditLog::new()),
        &RootKey::generate(),
        Config::default(),
        Arc::new(SystemClock),
    )?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("| setup | threads | GenerateDataKey/s | Decrypt/s |");
    println!("|---|---|---|---|");
    for (name, kms) in [
        ("redb + JSONL audit", &file_kms),
        ("memory store + audit", &memory_kms),
    ] {
        for t in [1, threads] {
            let (gdk, dec) = measure(kms, t)?;
            println!("| {name} | {t} | {gdk:.0} | {dec:.0} |");
        }
    }
    Ok(())
}

/// Operations per second of GenerateDataKey, then of Decrypt, on `threads` threads.
fn measure(kms: &Kms, threads: usize) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let caller = Caller::oss(
        AccountId::parse("1234567890123456")?,
        "root",
        "oss:bench/object",
    );
    let key = kms.create_key(&caller, CreateKey::default())?.key_id;
    let context =
        EncryptionContext::from_pairs([("acs:oss:bucket", "bench"), ("acs:oss:object", "object")]);
    let blob = generate(kms, &caller, key, &context);
    let gdk = rate(threads, || {
        generate(kms, &caller, key, &context);
    });
    let dec = rate(threads, || {
        let d = kms
            .decrypt(&caller, Decrypt::new(blob.clone(), context.clone()))
            .expect("decrypt");
        assert_eq!(d.plaintext.len(), 32);
    });
    Ok((gdk, dec))
}

fn generate(kms: &Kms, caller: &Caller, key: KeyId, context: &EncryptionContext) -> CiphertextBlob {
    kms.generate_data_key(
        caller,
        GenerateDataKey::new(key).with_context(context.clone()),
    )
    .expect("generate data key")
    .ciphertext_blob
}

fn rate(threads: usize, op: impl Fn() + Sync) -> f64 {
    let start = Instant::now();
    let total: u64 = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u64;
                    while start.elapsed() < RUN {
                        for _ in 0..64 {
                            op();
                        }
                        n += 64;
                    }
                    n
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).sum()
    });
    total as f64 / start.elapsed().as_secs_f64()
}
