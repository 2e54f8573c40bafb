//! A throwaway PostgreSQL cluster for one test: `initdb` into a temporary directory, `pg_ctl
//! start` listening only on a Unix socket in that directory, stopped and removed on drop. No
//! system service is involved. PostgreSQL refuses to run as root, so when the tests run as root
//! the cluster runs as the `postgres` account (which owns the directory) through `runuser`.
//!
//! The PostgreSQL binaries are taken from `COFFER_PG_BIN` when that is set, else from `PATH`, else
//! from the newest `/usr/lib/postgresql/<version>/bin` (where Debian installs them).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub(crate) struct TestCluster {
    dir: tempfile::TempDir,
    as_postgres: bool,
    databases: AtomicU32,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn bin_dir() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("COFFER_PG_BIN") {
        return Some(PathBuf::from(bin));
    }
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("initdb").exists()));
    if on_path {
        return None;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

impl TestCluster {
    /// Creates and starts a cluster; panics with PostgreSQL's own message if that fails.
    pub(crate) fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let as_postgres = is_root();
        let cluster = Self {
            dir,
            as_postgres,
            databases: AtomicU32::new(0),
        };
        if as_postgres {
            cluster.run(
                Command::new("chown")
                    .arg("postgres")
                    .arg(cluster.dir.path()),
            );
        }
        cluster.run(
            cluster
                .pg("initdb")
                .arg("--no-sync")
                .args([
                    "-A",
                    "trust",
                    "-U",
                    "coffer",
                    "-E",
                    "UTF8",
                    "--locale=C",
                    "-D",
                ])
                .arg(cluster.data()),
        );
        let options = format!(
            "-c listen_addresses='' -k {} -c fsync=off",
            cluster.dir.path().display()
        );
        cluster.run(
            cluster
                .pg("pg_ctl")
                .args(["-w", "-s", "-D"])
                .arg(cluster.data())
                .arg("-l")
                .arg(cluster.dir.path().join("log"))
                .args(["-o", &options, "start"]),
        );
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn pg(&self, program: &str) -> Command {
        let program = match bin_dir() {
            Some(bin) => bin.join(program),
            None => PathBuf::from(program),
        };
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    fn run(&self, command: &mut Command) {
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        assert!(
            out.status.success(),
            "{command:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The connection string of database `db`.
    pub(crate) fn url(&self, db: &str) -> String {
        format!("host={} user=coffer dbname={db}", self.dir.path().display())
    }

    /// Creates a new, empty database; its connection string.
    pub(crate) fn fresh_database(&self) -> String {
        let name = format!("t{}", self.databases.fetch_add(1, Ordering::Relaxed));
        self.run(
            self.pg("createdb")
                .arg("-h")
                .arg(self.dir.path())
                .args(["-U", "coffer", &name]),
        );
        self.url(&name)
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Immediate: the data is thrown away, no need for a clean checkpoint.
        let _ = self
            .pg("pg_ctl")
            .args(["-s", "-m", "immediate", "-D"])
            .arg(self.data())
            .arg("stop")
            .output();
    }
}
