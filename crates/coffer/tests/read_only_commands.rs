//! `coffer keyring list|rotate`, `coffer root-credentials rotate` and `coffer kms usage|audit`
//! pointed at a wrong or missing data directory: one clear line on stderr, a failing status, and
//! nothing created anywhere. (Without `--data-dir`, `kms usage|audit` ask a server, and say so
//! when no profile names one.)

use std::path::Path;
use std::process::Command;

/// Every path under `dir`, sorted, so a test can show nothing was added.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("directory entry").path();
            out.push(
                path.strip_prefix(dir)
                    .expect("under dir")
                    .display()
                    .to_string(),
            );
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Runs the binary in `cwd` with a clean `COFFER_*` environment; returns its stderr.
fn fails(cwd: &Path, args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
    cmd.current_dir(cwd).args(args);
    for (name, _) in std::env::vars_os() {
        // RUST_BACKTRACE would add a backtrace after the one error line.
        if name.to_string_lossy().starts_with("COFFER_") || name == "RUST_BACKTRACE" {
            cmd.env_remove(name);
        }
    }
    // No profile: a config file that does not exist (and is not created).
    cmd.env("COFFER_CONFIG", "/nonexistent/coffer/config.toml");
    let out = cmd.output().expect("run coffer");
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    let stderr = String::from_utf8(out.stderr).expect("UTF-8 stderr");
    assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
    stderr
}

const READ_ONLY: &[&[&str]] = &[
    &["keyring", "list"],
    &["keyring", "rotate"],
    &["root-credentials", "rotate"],
    &["kms", "usage"],
    &["kms", "audit"],
];

#[test]
fn a_missing_data_directory_is_named_and_not_created() {
    let cwd = tempfile::tempdir().unwrap();
    for command in READ_ONLY {
        // Both the explicit flag and the default (./coffer-data) are refused; `kms` without the
        // flag goes to the server, and no profile names one.
        for extra in [&["--data-dir", "missing"][..], &[][..]] {
            let args = [*command, extra].concat();
            let stderr = fails(cwd.path(), &args);
            let expected = if command[0] == "kms" && extra.is_empty() {
                "no admin endpoint"
            } else {
                "no data directory at"
            };
            assert!(stderr.contains(expected), "{args:?}: {stderr}");
            assert_eq!(
                tree(cwd.path()),
                Vec::<String>::new(),
                "{args:?} created files"
            );
        }
    }
}

#[test]
fn a_directory_that_is_not_a_data_directory_is_left_alone() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("wrong")).unwrap();
    std::fs::write(cwd.path().join("wrong/unrelated.txt"), "x").unwrap();
    let before = tree(cwd.path());
    for command in READ_ONLY {
        let args = [*command, &["--data-dir", "wrong"][..]].concat();
        let stderr = fails(cwd.path(), &args);
        assert!(
            stderr.contains("not a coffer data directory"),
            "{args:?}: {stderr}"
        );
        assert_eq!(tree(cwd.path()), before, "{args:?} created files");
    }
}

#[test]
fn a_keyring_without_its_root_key_creates_no_root_key() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("d")).unwrap();
    // Whatever the keyring holds, the missing root key is reported before it is read.
    std::fs::write(cwd.path().join("d/keyring.sealed"), "x").unwrap();
    std::fs::write(cwd.path().join("d/root-credentials.json"), "x").unwrap();
    let before = tree(cwd.path());
    for command in [
        &["keyring", "list"][..],
        &["keyring", "rotate"][..],
        &["root-credentials", "rotate"][..],
    ] {
        let args = [command, &["--data-dir", "d"][..]].concat();
        let stderr = fails(cwd.path(), &args);
        assert!(
            stderr.contains("no root key at d.root-key"),
            "{args:?}: {stderr}"
        );
        assert_eq!(tree(cwd.path()), before, "{args:?} created files");
    }
}
