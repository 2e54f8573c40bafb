//! The network edge every coffer front-end (the OSS, KMS and admin APIs, and any later one)
//! stands behind: the accept loop, connection hygiene and the request envelope.
//!
//! - [`Edge`] owns the settings ([`Config`]) and the connection accounting shared by all
//!   listeners: a cap on open connections overall and per client address (at the cap, the
//!   longest-idle connection makes room), header-read and idle keep-alive timeouts, back-off
//!   and a rate-limited log line on accept errors, and the open-file limit raised at start.
//! - [`RequestBody`] is the request body handlers read; it is cut when the client sends slower
//!   than the minimum body rate.
//! - [`Dialect`] is what a front-end supplies; the envelope ([`envelope`]) gives every request
//!   its id, span, panic guard and single log line.
//!
//! - TLS (rustls over aws-lc-rs, HTTP/1.1 and HTTP/2 by ALPN) on every listener when configured:
//!   one shared certificate, or a listener's own ([`LISTENERS`]), each reloaded on SIGHUP;
//!   [`Exchange::secure`] tells the dialect.
//!
//! This crate knows nothing of OSS, signatures or error formats.

mod body;
mod config;
mod conn;
pub mod envelope;
mod limits;
mod tls;

pub use body::{BodyError, RequestBody};
pub use config::{Config, LISTENERS};
pub use conn::{Edge, EdgeStats};
pub use envelope::{Dialect, Exchange, Failure, Probe};
pub use tls::TlsError;
