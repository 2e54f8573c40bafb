//! `coffer keyring list|rotate`: the SSE-OSS master keys, offline or beside a running server
//! (the keyring file is locked while it changes, and the server reloads it).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use coffer_keyring::Keyring;

use crate::config::{KeyArgs, default_root_key_file};

#[derive(Args)]
pub(crate) struct KeyringArgs {
    #[command(subcommand)]
    action: Action,
    /// The server's data directory.
    #[arg(
        long,
        env = "COFFER_DATA_DIR",
        default_value = "coffer-data",
        global = true
    )]
    data_dir: PathBuf,
    #[command(flatten)]
    keys: KeyArgs,
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

pub(crate) fn run(args: KeyringArgs) -> Result<()> {
    let root_path = args
        .keys
        .root_key_file
        .clone()
        .unwrap_or_else(|| default_root_key_file(&args.data_dir));
    let root = crate::root_key::load_or_create(&root_path, std::env::var("COFFER_ROOT_KEY").ok())?;
    let path = args.data_dir.join(crate::server::KEYRING_FILE);
    anyhow::ensure!(
        path.exists(),
        "no keyring at {}: start the server once first",
        path.display()
    );
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
