//! The coffer server under test: started per encryption method with fresh random credentials and
//! root key, in its own data directory, and observed through `/proc/<pid>`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use coffer_types::AccessKeySecret;
use tokio::process::{Child, Command};

/// How long the server may take to write its ready file.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct Server {
    child: Child,
    pid: u32,
    pub(crate) addr: SocketAddr,
    pub(crate) access_key_id: String,
    pub(crate) secret: AccessKeySecret,
    dir: PathBuf,
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

impl Server {
    /// Starts `coffer server` on `127.0.0.1:0` with its data under `dir` (created; removed by
    /// [`Server::stop`]) and waits until it is listening.
    pub(crate) async fn start(coffer: &Path, dir: PathBuf) -> Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let ready = dir.join("ready.json");
        let log_path = dir.join("server.log");
        let log = std::fs::File::create(&log_path).context("create server log")?;
        let access_key_id = format!("bench{}", random_hex(8));
        let secret = random_hex(20);
        let mut child = Command::new(coffer)
            .arg("server")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--ready-file")
            .arg(&ready)
            .env("COFFER_ROOT_ACCESS_KEY_ID", &access_key_id)
            .env("COFFER_ROOT_ACCESS_KEY_SECRET", &secret)
            .env("COFFER_ROOT_KEY", random_hex(32))
            // Per-request log lines would cost the server CPU the benchmark should measure.
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().context("open server log")?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("start {}", coffer.display()))?;
        let pid = child.id().context("server exited at once")?;
        let started = Instant::now();
        let addr = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                let json: serde_json::Value =
                    serde_json::from_str(&text).context("parse the ready file")?;
                let addr = json["oss"].as_str().context("ready file without \"oss\"")?;
                break addr
                    .parse()
                    .context("parse the address in the ready file")?;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "server exited with {status} before it was ready; its log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!("server not ready after {READY_TIMEOUT:?}");
            }
            // Polling a file: the server offers no other signal, and 10 ms is noise here.
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        Ok(Self {
            child,
            pid,
            addr,
            access_key_id,
            secret: AccessKeySecret::new(secret),
            dir,
        })
    }

    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub(crate) fn peak_rss(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .context("read /proc/<pid>/status")?;
        let kib = field(&status, "VmHWM:").context("no VmHWM in /proc/<pid>/status")?;
        Ok(kib * 1024)
    }

    /// Bytes the server has passed through read-like system calls (`rchar`): files, page cache
    /// and sockets alike.
    pub(crate) fn rchar(&self) -> Result<u64> {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.pid))
            .context("read /proc/<pid>/io")?;
        field(&io, "rchar:").context("no rchar in /proc/<pid>/io")
    }

    /// SIGTERM, wait for exit (SIGKILL after a timeout), then remove the data directory.
    pub(crate) async fn stop(mut self) -> Result<()> {
        // `kill(1)` rather than a libc binding: the workspace forbids unsafe code.
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let exited = match sent {
            Ok(s) if s.success() => tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
                .await
                .ok()
                .and_then(Result::ok),
            _ => None,
        };
        match exited {
            Some(status) if !status.success() => {
                eprintln!("  server exited with {status} after SIGTERM")
            }
            Some(_) => {}
            None => {
                eprintln!("  server did not stop on SIGTERM; killing it");
                self.child.kill().await.context("kill server")?;
            }
        }
        std::fs::remove_dir_all(&self.dir).with_context(|| format!("remove {}", self.dir.display()))
    }
}

/// The first number after `name` on its line, e.g. `VmHWM:	  123456 kB` → 123456.
fn field(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_proc_fields() {
        let status = "Name:\tcoffer\nVmPeak:\t  999 kB\nVmHWM:\t   123456 kB\nVmRSS:\t 1 kB\n";
        assert_eq!(field(status, "VmHWM:"), Some(123456));
        let io = "rchar: 4096\nwchar: 10\n";
        assert_eq!(field(io, "rchar:"), Some(4096));
        assert_eq!(field(io, "syscr:"), None);
    }
}
