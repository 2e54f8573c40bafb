//! `coffer server`'s precedence flag > environment > TOML file, seen through the real binary. Each
//! case makes the winning source's value invalid, so the server stops at configuration, before it
//! opens or binds anything, and the error names the value that won.

use std::path::Path;
use std::process::Command;

/// Runs `coffer server` in `cwd` with `args` and the given `COFFER_*` variables only; returns
/// stderr.
fn server_fails(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
    cmd.current_dir(cwd).arg("server").args(args);
    for (name, _) in std::env::vars_os() {
        // RUST_BACKTRACE would add a backtrace after the one error line.
        if name.to_string_lossy().starts_with("COFFER_") || name == "RUST_BACKTRACE" {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run coffer");
    assert!(!out.status.success(), "{args:?} {env:?} started");
    String::from_utf8(out.stderr).expect("UTF-8 stderr")
}

#[test]
fn flag_beats_environment_beats_file() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("c.toml"), "region = \"file bad\"\n").unwrap();
    let file = ["--config", "c.toml"];
    let e = server_fails(cwd.path(), &file, &[]);
    assert!(e.contains("\"file bad\""), "{e}");
    let e = server_fails(cwd.path(), &file, &[("COFFER_REGION", "env bad")]);
    assert!(e.contains("\"env bad\""), "{e}");
    let flag = ["--config", "c.toml", "--region", "flag bad"];
    let e = server_fails(cwd.path(), &flag, &[("COFFER_REGION", "env bad")]);
    assert!(e.contains("\"flag bad\""), "{e}");
    // The config file itself can come from the environment.
    let e = server_fails(cwd.path(), &[], &[("COFFER_CONFIG", "c.toml")]);
    assert!(e.contains("\"file bad\""), "{e}");
    assert_eq!(
        std::fs::read_dir(cwd.path()).unwrap().count(),
        1,
        "nothing but the config file"
    );
}

#[test]
fn an_unknown_key_in_the_file_is_one_line_naming_it() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("c.toml"), "listn = \"127.0.0.1:0\"\n").unwrap();
    let e = server_fails(cwd.path(), &["--config", "c.toml"], &[]);
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.contains("unknown key \"listn\""), "{e}");
}
