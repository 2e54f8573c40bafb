//! `coffer root-credentials rotate`: a new root key pair, sealed into the data directory and
//! printed once. Offline, like the root key itself: the running server keeps the old pair until
//! it restarts.

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::config::{DataDirSection, Given, RootKeySection};

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
    let path = dir.root_credentials();
    let root_key_file = args.root_key.get()?.root_key_file(&dir);
    let root =
        crate::root_key::for_offline_command(&dir, &path, "root credentials", &root_key_file)?;
    match args.action {
        Action::Rotate => {
            let identity = crate::credentials::rotate(&path, &root)?;
            crate::credentials::print_new("New root credentials", &path, &identity);
        }
    }
    Ok(())
}
