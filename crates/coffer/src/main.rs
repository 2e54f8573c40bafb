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
    about = "An object store speaking the Alibaba Cloud OSS API",
    after_help = "The connection and output options (--profile, --endpoint, --kms-endpoint, \
        --admin-endpoint, --region, --ca-file, --signature-version, -o/--output) may also come \
        before the subcommand:\n  coffer --profile prod -o json ls oss://bucket"
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
    match run(Cli::parse_from(hoist_global_options(std::env::args_os()))) {
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

/// Options every client command takes, with whether they take a value.
const GLOBAL_OPTIONS: &[(&str, bool)] = &[
    ("--profile", true),
    ("--endpoint", true),
    ("--kms-endpoint", true),
    ("--admin-endpoint", true),
    ("--region", true),
    ("--ca-file", true),
    ("--signature-version", true),
    ("--output", true),
    ("-o", true),
    ("--json", false),
];

/// Moves the connection and output options written before the subcommand (`coffer --profile p
/// -o json ls`) to the end of its arguments (before a `--`), where the subcommand's parser takes
/// them: each command declares them itself, so one flag means the same wherever it is written.
/// Anything else before the subcommand is left where it is, for clap to judge.
fn hoist_global_options(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    let mut hoisted = Vec::new();
    let i = 1;
    while let Some(arg) = args.get(i).and_then(|a| a.to_str()) {
        let (name, inline) = match arg.split_once('=') {
            Some((n, _)) if n.starts_with("--") => (n, true),
            _ if arg.starts_with("-o") && arg.len() > 2 => ("-o", true),
            _ => (arg, false),
        };
        let Some(&(_, takes_value)) = GLOBAL_OPTIONS.iter().find(|(n, _)| *n == name) else {
            break;
        };
        let width = if takes_value && !inline { 2 } else { 1 };
        if i + width > args.len() {
            break;
        }
        hoisted.extend(args.drain(i..i + width));
    }
    let end = args.iter().position(|a| a == "--").unwrap_or(args.len());
    args.splice(end..end, hoisted);
    args
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
    fn hoisted(args: &[&str]) -> Vec<String> {
        super::hoist_global_options(args.iter().map(std::ffi::OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn options_before_the_subcommand_move_after_it() {
        assert_eq!(
            hoisted(&["coffer", "--profile", "p", "-o", "json", "ls", "oss://b"]),
            ["coffer", "ls", "oss://b", "--profile", "p", "-o", "json"]
        );
        assert_eq!(
            hoisted(&[
                "coffer",
                "--endpoint=http://h:1",
                "-ojson",
                "kms",
                "key",
                "list"
            ]),
            [
                "coffer",
                "kms",
                "key",
                "list",
                "--endpoint=http://h:1",
                "-ojson"
            ]
        );
        assert_eq!(
            hoisted(&["coffer", "--json", "admin", "user", "list", "--", "x"]),
            ["coffer", "admin", "user", "list", "--json", "--", "x"]
        );
        // Nothing to move, an unknown option, or a value missing: left for clap.
        assert_eq!(
            hoisted(&["coffer", "ls", "-o", "json"]),
            ["coffer", "ls", "-o", "json"]
        );
        assert_eq!(hoisted(&["coffer", "--help"]), ["coffer", "--help"]);
        assert_eq!(hoisted(&["coffer", "--profile"]), ["coffer", "--profile"]);
    }

    #[test]
    fn the_command_line_is_well_formed() {
        // Catches clashing flag names or groups between config sections at test time.
        <super::Cli as clap::CommandFactory>::command().debug_assert();
    }
}
