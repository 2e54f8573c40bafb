//! `coffer-bench`: starts a coffer server per server-side encryption method (none, AES256, KMS,
//! SM4), runs PUT/GET throughput, small-object rate and range-GET latency against it with a lean
//! Rust client, and prints one table. See `bench/README.md` for what each figure means.
//!
//! It measures; it asserts nothing about speed. Content is checked for one object of each kind
//! per method, and a failed check is reported in the table (and on stderr), not hidden.

mod client;
mod matrix;
mod payload;
mod server;
mod table;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Parser;

use crate::client::Sse;
use crate::matrix::{MethodRun, Outcome, Phase, Plan};
use crate::payload::Pattern;

/// Seed of the content generator; any value works, a fixed one makes runs comparable.
const PATTERN_SEED: u64 = 0x636f_6666_6572_2121;

/// Benchmarks a coffer binary: PUT/GET throughput, small-object rate, range-GET latency and
/// server memory, for each server-side encryption method.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The coffer binary to benchmark (build it with --release).
    #[arg(long)]
    coffer: PathBuf,
    /// Parent directory for the servers' data directories (one per method, removed afterwards);
    /// must be on disk, not tmpfs [default: `coffer-bench/` in the cargo target directory].
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Smoke run: a 64 MiB big object, 8 x 8 MiB, 200 small objects, 50 range GETs.
    #[arg(long)]
    quick: bool,
    /// Repeat the throughput phases this many times and report medians.
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Size of the small objects, in bytes.
    #[arg(long, default_value_t = 4096)]
    small_len: u64,
    /// Number of small objects per round [default: 2000, 200 with --quick].
    #[arg(long)]
    small_count: Option<usize>,
    /// Serve and request over https: the servers start with --tls-self-signed and the client
    /// trusts each one's certificate (HTTP/1.1 over TLS, as over plain TCP otherwise).
    #[arg(long)]
    tls: bool,
    /// Methods to run, comma-separated [default: none,AES256,KMS,SM4].
    #[arg(long, value_delimiter = ',', value_parser = parse_sse)]
    methods: Option<Vec<Sse>>,
}

fn parse_sse(s: &str) -> Result<Sse, String> {
    Sse::ALL
        .into_iter()
        .find(|m| m.name().eq_ignore_ascii_case(s))
        .ok_or_else(|| format!("{s}: expected one of none, AES256, KMS, SM4"))
}

/// `$CARGO_TARGET_DIR`, else the target directory this binary was built into (recognised by
/// cargo's `CACHEDIR.TAG`), else `./target`; with `coffer-bench` appended.
fn default_data_root() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            let dir = exe.parent()?.parent()?;
            dir.join("CACHEDIR.TAG").exists().then(|| dir.to_path_buf())
        })
        .unwrap_or_else(|| PathBuf::from("target"));
    target.join("coffer-bench")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| {
            let f: Vec<&str> = l.split_whitespace().take(3).collect();
            (f.len() == 3).then(|| f.join(" "))
        })
        .unwrap_or_else(|| "?".to_owned())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let args = Args::parse();
    let coffer = args
        .coffer
        .canonicalize()
        .with_context(|| format!("find {}", args.coffer.display()))?;
    let root = args.data_dir.clone().unwrap_or_else(default_data_root);
    let run_dir = root.join(format!("run-{}", std::process::id()));
    let mut plan = Plan::new(args.quick, args.runs);
    plan.tls = args.tls;
    plan.small_len = args.small_len;
    if let Some(n) = args.small_count {
        plan.small_count = n;
    }
    let methods = args.methods.clone().unwrap_or_else(|| Sse::ALL.to_vec());
    let load_before = load_average();
    eprintln!(
        "coffer-bench: {} with data under {}",
        coffer.display(),
        run_dir.display()
    );

    // Ctrl-C drops the run, and with it the server (killed on drop).
    let results = tokio::select! {
        r = run_all(&coffer, &run_dir, &methods, plan) => r?,
        _ = tokio::signal::ctrl_c() => bail!("interrupted; data may be left in {}", run_dir.display()),
    };
    // Only the per-run directory, and only if the servers left it empty.
    let _ = std::fs::remove_dir(&run_dir);

    let context = table::Context {
        plan,
        load_before,
        load_after: load_average(),
        cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
        client_peak_rss: server::peak_rss("/proc/self/status").ok(),
    };
    print!("{}", table::render(&context, &results));
    if results.iter().any(|(_, o)| match o {
        Outcome::Measured(f) => !f.failed_checks.is_empty(),
        Outcome::Failed(_) => true,
        Outcome::NotAvailable(_) => false,
    }) {
        bail!("some runs or content checks failed (see above)");
    }
    Ok(())
}

/// Starts one server per method, then runs every phase round by round across the methods, so
/// that the machine's drift during the run affects each method alike.
async fn run_all(
    coffer: &Path,
    run_dir: &Path,
    methods: &[Sse],
    plan: Plan,
) -> Result<Vec<(Sse, Outcome)>> {
    let pattern = Pattern::new(PATTERN_SEED);
    let mut runs: Vec<(Sse, Option<MethodRun>, Option<Outcome>)> = Vec::new();
    for &sse in methods {
        let dir = run_dir.join(sse.name());
        let entry = match MethodRun::start(coffer, dir, sse, plan, &pattern).await {
            Ok(Ok(run)) => (sse, Some(run), None),
            Ok(Err(outcome)) => (sse, None, Some(outcome)),
            Err(e) => (sse, None, Some(Outcome::Failed(format!("{e:#}")))),
        };
        runs.push(entry);
    }
    for phase in Phase::ALL {
        for round in 0..phase.rounds(&plan) {
            for (_, slot, outcome) in &mut runs {
                let Some(run) = slot.as_mut() else { continue };
                if let Err(e) = run.round(phase, round).await {
                    if let Some(run) = slot.take() {
                        run.abandon().await;
                    }
                    *outcome = Some(Outcome::Failed(format!("{e:#}")));
                }
            }
        }
    }
    let mut results = Vec::new();
    for (sse, slot, outcome) in runs {
        let outcome = match (slot, outcome) {
            (Some(run), _) => run
                .finish()
                .await
                .unwrap_or_else(|e| Outcome::Failed(format!("{e:#}"))),
            (None, Some(outcome)) => outcome,
            (None, None) => Outcome::Failed("not run".to_owned()),
        };
        match &outcome {
            Outcome::NotAvailable(why) => eprintln!("[{}] n/a: {why}", sse.name()),
            Outcome::Failed(why) => eprintln!("[{}] FAILED: {why}", sse.name()),
            Outcome::Measured(_) => {}
        }
        results.push((sse, outcome));
    }
    Ok(results)
}
