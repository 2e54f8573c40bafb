//! The `coffer` binary: command line, configuration, wiring of the concrete backends, signals and
//! logging. Everything else lives in the library crates.

mod admin_cmd;
mod backends;
mod config;
mod credentials;
mod duties;
mod keyring_cmd;
mod kms_cmd;
mod root_credentials_cmd;
mod root_key;
mod server;
#[cfg(feature = "testing")]
mod test_clock;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "coffer",
    version,
    about = "An object store speaking the Alibaba Cloud OSS API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Server(config::ServerArgs),
    /// Inspect or rotate the SSE-OSS master keys (works while the server runs).
    Keyring(keyring_cmd::KeyringArgs),
    /// Rotate the root account's access key pair (offline; the server picks it up at restart).
    RootCredentials(root_credentials_cmd::RootCredentialsArgs),
    /// KMS metering and audit trail (works while the server runs).
    Kms(kms_cmd::KmsArgs),
    /// Manage RAM users, access keys, groups, policies and roles, and get STS credentials,
    /// through a running server's admin API.
    Admin(admin_cmd::AdminArgs),
    #[command(flatten)]
    Client(coffer_cli::Command),
}

/// Errors end the process with one line on stderr (the causes joined by `: `) and status 1; the
/// backtrace follows only when `RUST_BACKTRACE` asks for one.
fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("coffer: {e:#}");
            let backtrace = e.backtrace();
            if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
                eprintln!("{backtrace}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Server(args) => {
            let config = config::ServerConfig::load(args)?;
            server::init_tracing(&config);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            runtime.block_on(server::run(config))
        }
        Command::Keyring(args) => keyring_cmd::run(args),
        Command::RootCredentials(args) => root_credentials_cmd::run(args),
        Command::Kms(args) => kms_cmd::run(args),
        Command::Admin(args) => admin_cmd::run(args),
        Command::Client(command) => std::process::exit(coffer_cli::run::<Cli>(command)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        // Catches clashing flag names or groups between config sections at test time.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
