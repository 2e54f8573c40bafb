//! `coffer keyring list|rotate`: the SSE-OSS master keys, offline or beside a running server
//! (the keyring file is locked while it changes, and the server reloads it). With `--meta
//! postgres://…` they act on the keyring the nodes share in that database instead (a rotation is
//! stored at the generation it was planned on; every node reloads it within the staleness bound).

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
    /// The nodes' shared database (`postgres://…`), whose keyring to use instead of the data
    /// directory's file.
    #[arg(long, env = "COFFER_META", global = true)]
    meta: Option<crate::config::MetaBackend>,
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
    let keyring = match &args.meta {
        Some(crate::config::MetaBackend::Postgres(url)) => {
            let shared = coffer_meta_postgres::PgShared::open(url.expose())
                .context("open the shared tables in PostgreSQL")?
                .keyring(crate::backends::SSE_KEYRING);
            let found = coffer_keyring::SharedKeyring::load(&shared)
                .map_err(anyhow::Error::msg)
                .context("read the shared keyring")?;
            anyhow::ensure!(
                found.is_some(),
                "no SSE keyring in the database: no node has started on it"
            );
            let root = crate::root_key::load_existing(
                &root_key_file,
                crate::config::root_key_from_env().map(|mut s| std::mem::take(&mut *s)),
            )?;
            Keyring::open_shared(std::sync::Arc::new(shared), None, &root, now())
                .context("open the shared keyring")?
        }
        _ => {
            let root =
                crate::root_key::for_offline_command(&dir, &path, "SSE keyring", &root_key_file)?;
            Keyring::open(&path, &root, now()).context("open keyring")?
        }
    };
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
