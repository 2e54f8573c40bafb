//! The console's settings: a section of `coffer server`'s configuration.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use serde::Deserialize;

/// The web console's section of `coffer server`'s configuration.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[group(skip)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigSection {
    /// Address of the web console [default: 127.0.0.1:9090, or an ephemeral loopback port when
    /// --listen asks for port 0].
    #[arg(long, env = "COFFER_CONSOLE_LISTEN")]
    pub console_listen: Option<SocketAddr>,
    /// Seconds without a request after which a console session ends [default: 900].
    #[arg(long, env = "COFFER_CONSOLE_IDLE_TIMEOUT")]
    pub console_idle_timeout: Option<u64>,
    /// Seconds after login at which a console session ends however active [default: 28800].
    #[arg(long, env = "COFFER_CONSOLE_SESSION_LIFETIME")]
    pub console_session_lifetime: Option<u64>,
}

impl ConfigSection {
    /// The listen address: as configured, else 9090, except that `ephemeral` (the OSS listener
    /// asked for port 0, as tests starting many servers do) picks a free port.
    pub fn listen(&self, ephemeral: bool) -> SocketAddr {
        self.console_listen.unwrap_or_else(|| {
            let port = if ephemeral { 0 } else { 9090 };
            SocketAddr::from(([127, 0, 0, 1], port))
        })
    }

    /// The console's settings; `region` is the server's.
    pub fn config(&self, region: &str) -> crate::Config {
        let secs = |v: Option<u64>, d: u64| Duration::from_secs(v.unwrap_or(d).max(1));
        crate::Config {
            region: region.to_owned(),
            idle_timeout: secs(self.console_idle_timeout, 900),
            session_lifetime: secs(self.console_session_lifetime, 8 * 3600),
        }
    }
}
