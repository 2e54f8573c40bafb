//! `coffer kms usage|audit`: the KMS's metering and audit trail. By default they ask the server
//! over the admin API (`/kms/GetUsage`, `/kms/ListAuditRecords`) with the profile's endpoint and
//! credentials, so they work from any host for the root or a RAM user allowed `kms:ReadUsage` /
//! `kms:ReadAuditTrail`. With `--data-dir` (or `COFFER_DATA_DIR`) they read the data directory's
//! append-only audit log (`DataDir::kms_audit_log`) instead: no key, no credentials, and it works
//! while the server runs, since the log holds no key material and every KMS operation — through
//! the KMS API or by SSE-KMS — is one line of it. `coffer kms key|alias` go to the KMS API
//! (`coffer_cli::kms`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use coffer_cli::commands::Common;
use coffer_types::DataDir;
use serde_json::Value;

#[derive(Args)]
pub(crate) struct KmsArgs {
    #[command(subcommand)]
    action: Action,
    /// Read this data directory's audit log instead of asking the server (on the server's host).
    #[arg(long, env = "COFFER_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Only this key (an id; with the server, an alias or ARN too).
    #[arg(long, global = true)]
    key: Option<String>,
    /// Only this account (with --data-dir).
    #[arg(long, global = true)]
    account: Option<String>,
    /// Print JSON (the same as `-o json`).
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Action {
    /// Calls per account, key and operation (what a bill is computed from), with failures.
    #[command(after_help = "Examples:\n  coffer kms usage --key alias/app\n  \
        coffer kms usage --data-dir /var/lib/coffer --json")]
    Usage {
        #[command(flatten)]
        common: Common,
    },
    /// The audit records: who, which key and version, which operation, for which object, result.
    #[command(after_help = "Examples:\n  coffer kms audit --tail 20\n  \
        coffer kms audit --key alias/app --operation Decrypt --since 2026-01-01T00:00:00Z -o json")]
    Audit {
        /// Only the last N records.
        #[arg(long)]
        tail: Option<usize>,
        /// Only this operation (Decrypt, GenerateDataKey, …; with the server).
        #[arg(long)]
        operation: Option<String>,
        /// Only records at or after this RFC 3339 time (with the server).
        #[arg(long)]
        since: Option<String>,
        /// Only records before this RFC 3339 time (with the server).
        #[arg(long)]
        until: Option<String>,
        /// Only calls by this principal: `root`, a user's name, `role/session` (with the server).
        #[arg(long)]
        principal: Option<String>,
        /// Only calls for this bucket, or objects under `bucket/key-prefix` (with the server).
        #[arg(long)]
        resource: Option<String>,
        /// Records per request to the server (1–1000).
        #[arg(long, hide = true)]
        page_size: Option<usize>,
        #[command(flatten)]
        common: Common,
    },
    #[command(flatten)]
    Remote(Box<coffer_cli::kms::KmsCommand>),
}

fn field<'a>(record: &'a Value, name: &str) -> &'a str {
    record.get(name).and_then(Value::as_str).unwrap_or("")
}

/// Reads only: a wrong or missing data directory or audit log is an error, and nothing is created.
pub(crate) fn run(args: KmsArgs) -> Result<()> {
    let Some(data_dir) = args.data_dir else {
        let json = args.json;
        let key = args.key;
        let code = match args.action {
            Action::Remote(command) => coffer_cli::kms::run(*command),
            Action::Usage { common } => coffer_cli::commands::block_on(async move {
                coffer_cli::kms::usage(&common.json(json), key).await
            }),
            Action::Audit {
                tail,
                operation,
                since,
                until,
                principal,
                resource,
                page_size,
                common,
            } => coffer_cli::commands::block_on(async move {
                let query = coffer_cli::kms::AuditQuery {
                    key,
                    operation,
                    since,
                    until,
                    principal,
                    resource,
                    tail,
                    page_size,
                };
                coffer_cli::kms::audit(&common.json(json), query).await
            }),
        };
        std::process::exit(code);
    };
    if let Action::Remote(command) = args.action {
        std::process::exit(coffer_cli::kms::run(*command));
    }
    let dir = DataDir::new(&data_dir);
    anyhow::ensure!(
        dir.exists(),
        "no data directory at {} (set --data-dir or COFFER_DATA_DIR)",
        dir.root().display()
    );
    let path = dir.kms_audit_log();
    anyhow::ensure!(
        path.exists(),
        "no KMS audit log at {}: not a coffer data directory, or the server never started on it",
        path.display()
    );
    let file = std::fs::File::open(&path).with_context(|| format!("open {}", path.display()))?;
    let mut records = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.with_context(|| format!("read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        // A line cut short by a crash is skipped, not fatal: the rest of the trail still counts.
        let Ok(record) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if args
            .key
            .as_deref()
            .is_some_and(|k| field(&record, "key_id") != k)
            || args
                .account
                .as_deref()
                .is_some_and(|a| field(&record, "account") != a)
        {
            continue;
        }
        records.push(record);
    }
    match args.action {
        Action::Usage { .. } => {
            let mut counts: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
            for r in &records {
                let entry = counts
                    .entry((
                        field(r, "account").to_owned(),
                        field(r, "key_id").to_owned(),
                        field(r, "operation").to_owned(),
                    ))
                    .or_default();
                entry.0 += 1;
                if field(r, "result") != "Success" {
                    entry.1 += 1;
                }
            }
            if args.json {
                let rows: Vec<Value> = counts
                    .iter()
                    .map(|((account, key, op), (calls, failed))| {
                        serde_json::json!({"account": account, "key_id": key, "operation": op,
                                           "calls": calls, "failed": failed})
                    })
                    .collect();
                println!("{}", Value::Array(rows));
            } else {
                println!(
                    "{:<18} {:<38} {:<32} {:>8} {:>8}",
                    "account", "key", "operation", "calls", "failed"
                );
                for ((account, key, op), (calls, failed)) in counts {
                    let key = if key.is_empty() { "-" } else { &key };
                    println!("{account:<18} {key:<38} {op:<32} {calls:>8} {failed:>8}");
                }
            }
        }
        Action::Remote(_) => unreachable!("remote commands returned above"),
        Action::Audit { tail, .. } => {
            let skip = tail.map_or(0, |n| records.len().saturating_sub(n));
            for r in records.iter().skip(skip) {
                if args.json {
                    println!("{r}");
                } else {
                    println!("{}", coffer_cli::kms::audit_line(r));
                }
            }
        }
    }
    Ok(())
}
