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
    /// The server's self-signed certificate (PEM), when it was started with TLS.
    pub(crate) certificate: Option<Vec<u8>>,
    dir: PathBuf,
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

impl Server {
    /// Starts `coffer server` on `127.0.0.1:0` with its data under `dir` (created; removed by
    /// [`Server::stop`]) and waits until it is listening; with `tls`, its listeners serve a
    /// self-signed certificate generated into its data directory.
    pub(crate) async fn start(coffer: &Path, dir: PathBuf, tls: bool) -> Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("create {}", dir.display()))?;
        let ready = dir.join("ready.json");
        let log_path = dir.join("server.log");
        let log = std::fs::File::create(&log_path).context("create server log")?;
        let access_key_id = format!("bench{}", random_hex(8));
        let secret = random_hex(20);
        let mut child = Command::new(coffer)
            .arg("server")
            .args(tls.then_some("--tls-self-signed"))
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--ready-file")
            .arg(&ready)
            .env("COFFER_ROOT_ACCESS_KEY_ID", &access_key_id)
            .env("COFFER_ROOT_ACCESS_KEY_SECRET", &secret)
            .env("COFFER_ROOT_KEY", random_hex(32))
            // The KMS API listener (unused here) defaults to a fixed port that another server
            // on this machine may hold. An environment variable, not a flag, so that binaries
            // from before that listener existed still start.
            .env("COFFER_KMS_LISTEN", "127.0.0.1:0")
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
        let certificate = if tls {
            let path = dir.join("data").join("tls-self-signed.crt");
            Some(std::fs::read(&path).with_context(|| format!("read {}", path.display()))?)
        } else {
            None
        };
        Ok(Self {
            child,
            pid,
            addr,
            certificate,
            access_key_id,
            secret: AccessKeySecret::new(secret),
            dir,
        })
    }

    /// Peak resident set size so far (`VmHWM`), in bytes.
    pub(crate) fn peak_rss(&self) -> Result<u64> {
        peak_rss(&format!("/proc/{}/status", self.pid))
    }

    /// Peak RSS since the previous call (or the start), in bytes, and starts a new interval by
    /// resetting `VmHWM` (`5` to `/proc/<pid>/clear_refs`). Returns `false` as the second value
    /// if the reset failed, in which case the next interval includes this one.
    pub(crate) fn take_peak_rss(&self) -> Result<(u64, bool)> {
        let peak = self.peak_rss()?;
        let reset = std::fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok();
        Ok((peak, reset))
    }

    /// Bytes the server has passed through read-like system calls (`rchar`): files, page cache
    /// and sockets alike.
    pub(crate) fn rchar(&self) -> Result<u64> {
        let io = std::fs::read_to_string(format!("/proc/{}/io", self.pid))
            .context("read /proc/<pid>/io")?;
        field(&io, "rchar:").context("no rchar in /proc/<pid>/io")
    }

    /// CPU time the server has used so far, user and system, all threads.
    pub(crate) fn cpu_time(&self) -> Result<Duration> {
        cpu_time(&format!("/proc/{}/stat", self.pid))
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

/// `VmHWM` of a `/proc/<pid>/status` file, in bytes.
pub(crate) fn peak_rss(status_path: &str) -> Result<u64> {
    let status =
        std::fs::read_to_string(status_path).with_context(|| format!("read {status_path}"))?;
    let kib = field(&status, "VmHWM:").with_context(|| format!("no VmHWM in {status_path}"))?;
    Ok(kib * 1024)
}

/// Ticks of `utime` + `stime` in a `/proc/<pid>/stat` file.
pub(crate) fn cpu_time(stat_path: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(stat_path).with_context(|| format!("read {stat_path}"))?;
    let ticks = stat_ticks(&stat).with_context(|| format!("parse {stat_path}"))?;
    // USER_HZ is 100 on every Linux ABI this runs on (it is fixed by the kernel ABI, not HZ).
    Ok(Duration::from_millis(ticks * 10))
}

/// Fields 14 and 15 (utime, stime); counted after the `)` that ends field 2, the command name,
/// which may itself contain spaces and parentheses.
fn stat_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The first number after `name` on its line, e.g. `VmHWM:   123456 kB` → 123456.
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
        let stat = "42 (a) b) S 1 42 42 0 -1 4194304 100 0 0 0 250 31 0 0 20 0 3 0";
        assert_eq!(stat_ticks(stat), Some(281));
    }
}
