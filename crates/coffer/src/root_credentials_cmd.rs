//! `coffer root-credentials rotate`: a new root key pair, sealed into the data directory and
//! printed once. Offline, like the root key itself: the running server keeps the old pair until
//! it restarts.

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::config::{DataDirSection, Given, RootKeySection, root_key_from_env};

#[derive(Args)]
pub(crate) struct RootCredentialsArgs {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    data_dir: Given<DataDirSection>,
    #[command(flatten)]
    root_key: Given<RootKeySection>,
}

#[derive(Subcommand)]
enum Action {
    /// Replace the root account's access key pair with a new one (the account id stays). Takes
    /// effect when the server next starts; the old pair works until then.
    Rotate,
}

/// Creates nothing but the new pair: a missing data directory, credentials file or root key is
/// an error, and the old pair must open with the root key before it is replaced.
pub(crate) fn run(args: RootCredentialsArgs) -> Result<()> {
    let dir = args.data_dir.get()?.data_dir();
    anyhow::ensure!(
        dir.exists(),
        "no data directory at {} (set --data-dir or COFFER_DATA_DIR)",
        dir.root().display()
    );
    let path = dir.root_credentials();
    anyhow::ensure!(
        path.exists(),
        "no root credentials at {}: not a coffer data directory, or the server never started on it",
        path.display()
    );
    let root_key_file = args.root_key.get()?.root_key_file(&dir);
    let root = crate::root_key::load_existing(
        &root_key_file,
        root_key_from_env().map(|mut s| std::mem::take(&mut *s)),
    )?;
    match args.action {
        Action::Rotate => {
            let identity = crate::credentials::rotate(&path, &root)?;
            crate::credentials::print_new("New root credentials", &path, &identity);
        }
    }
    Ok(())
}
