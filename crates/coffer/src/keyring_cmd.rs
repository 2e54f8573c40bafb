//! `coffer keyring list|rotate`: the SSE-OSS master keys, offline or beside a running server
//! (the keyring file is locked while it changes, and the server reloads it).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use coffer_keyring::Keyring;

use crate::config::{DataDirSection, Given, RootKeySection};

#[derive(Args)]
pub(crate) struct KeyringArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    data_dir: Given<DataDirSection>,
    #[command(flatten)]
    root_key: Given<RootKeySection>,
    /// Print JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Action {
    /// List master key versions.
    List,
    /// Add a new master key version and make it primary. No object data is re-encrypted: new
    /// objects use the new version, existing ones keep theirs.
    Rotate,
}

/// Neither action creates anything: a wrong or missing data directory, keyring or root key is an
/// error, checked in that order before any key is read.
pub(crate) fn run(args: KeyringArgs) -> Result<()> {
    let dir = args.data_dir.get()?.data_dir();
    let path = dir.keyring();
    let root_key_file = args.root_key.get()?.root_key_file(&dir);
    let root = crate::root_key::for_offline_command(&dir, &path, "SSE keyring", &root_key_file)?;
    let keyring = Keyring::open(&path, &root, now()).context("open keyring")?;
    if let Action::Rotate = args.action {
        keyring.rotate(now()).context("rotate keyring")?;
    }
    let versions = keyring.versions();
    if args.json {
        let rows: Vec<_> = versions
            .iter()
            .map(|v| serde_json::json!({"version": v.version, "created": v.created.unix_seconds(), "primary": v.primary}))
            .collect();
        println!("{}", serde_json::Value::Array(rows));
    } else {
        println!("{:>8}  {:>12}  primary", "version", "created");
        for v in versions {
            println!(
                "{:>8}  {:>12}  {}",
                v.version,
                v.created.unix_seconds(),
                if v.primary { "*" } else { "" }
            );
        }
    }
    Ok(())
}

pub(crate) fn now() -> coffer_types::Timestamp {
    coffer_types::Clock::now(&coffer_types::SystemClock)
}
