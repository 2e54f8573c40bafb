//! Accepting and watching connections (see the crate documentation).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::Request;
use http_body::{Body, Frame, SizeHint};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tracing::{info, warn};

use crate::body::{MinRate, RequestBody};
use crate::config::{Config, Resolved};
use crate::envelope::{self, Dialect};
use crate::tls::{Certificates, Tls, TlsError};

/// Descriptors kept for everything but connections (stores, logs, the blob files of requests).
fn reserve(nofile: u64) -> u64 {
    (nofile / 4).max(64)
}

/// Shortest pause after an accept error that signals exhaustion, and the longest.
const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// Longest interval between the server's HTTP/2 PINGs.
const H2_PING_EVERY_MAX: Duration = Duration::from_secs(30);
/// Accept errors are logged at most once per this interval and listener.
const ACCEPT_LOG_EVERY: Duration = Duration::from_secs(5);

/// Counters of the edge, for metrics.
#[derive(Debug, Default)]
pub struct EdgeStats {
    /// Connections open now.
    pub open: AtomicUsize,
    /// `accept()` failures.
    pub accept_errors: AtomicU64,
    /// Connections closed on arrival (per-address cap, or full with none idle).
    pub refused: AtomicU64,
    /// Idle connections closed to make room for a new one.
    pub evicted: AtomicU64,
    /// Connections closed by the header-read or idle timeout.
    pub timed_out: AtomicU64,
}

impl EdgeStats {
    /// The counters in the Prometheus text format, prefixed `coffer_http_`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
            out.push_str(&format!(
                "# HELP coffer_http_{name} {help}\n# TYPE coffer_http_{name} {kind}\n\
                 coffer_http_{name}{} {value}\n",
                if kind == "counter" { "_total" } else { "" }
            ));
        };
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        metric(
            "connections_open",
            "gauge",
            "Connections open",
            self.open.load(Ordering::Relaxed) as u64,
        );
        metric(
            "accept_errors",
            "counter",
            "Failed accept() calls",
            get(&self.accept_errors),
        );
        metric(
            "connections_refused",
            "counter",
            "Connections closed on arrival at a connection cap",
            get(&self.refused),
        );
        metric(
            "connections_evicted",
            "counter",
            "Idle connections closed to make room",
            get(&self.evicted),
        );
        metric(
            "connections_timed_out",
            "counter",
            "Connections closed by the header-read or idle timeout",
            get(&self.timed_out),
        );
        out
    }
}

/// The settings and connection accounting shared by every listener of the process.
#[derive(Clone)]
pub struct Edge {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: Resolved,
    tls: Certificates,
    sighup: std::sync::Once,
    epoch: Instant,
    stats: EdgeStats,
    next_id: AtomicU64,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    conns: HashMap<u64, Arc<Activity>>,
    per_peer: HashMap<IpAddr, usize>,
}

/// What the watchdog of one connection needs to know. Times are milliseconds since the edge's
/// epoch plus one, so that 0 means "none".
struct Activity {
    /// Requests whose response has not been sent whole.
    in_flight: AtomicUsize,
    /// When the connection last became idle.
    idle_since: AtomicU64,
    /// When the first byte of the next request's head arrived while idle.
    head_started: AtomicU64,
    evict: Notify,
}

impl Default for Edge {
    /// Plain HTTP with the default limits.
    fn default() -> Self {
        Self::build(Config::default().resolve(), Certificates::default())
    }
}

impl Edge {
    /// An edge with `config`'s settings. Raises the soft open-file limit to the hard one and
    /// keeps the connection cap under it.
    pub fn new(config: &Config) -> Result<Self, TlsError> {
        Ok(Self::build(config.resolve(), Certificates::load(config)?))
    }

    fn build(mut resolved: Resolved, tls: Certificates) -> Self {
        if let Some(nofile) = crate::limits::raise_nofile() {
            let room =
                usize::try_from(nofile.saturating_sub(reserve(nofile))).unwrap_or(usize::MAX);
            if room < resolved.max_connections {
                info!(
                    max_connections = room,
                    nofile, "connection cap lowered to fit the open-file limit"
                );
                resolved.max_connections = room.max(1);
            }
        }
        Self {
            shared: Arc::new(Shared {
                config: resolved,
                tls,
                sighup: std::sync::Once::new(),
                epoch: Instant::now(),
                stats: EdgeStats::default(),
                next_id: AtomicU64::new(0),
                table: Mutex::new(Table::default()),
            }),
        }
    }

    /// Whether the listener of `api` (a dialect's [`Dialect::API`]) speaks TLS.
    pub fn is_tls(&self, api: &str) -> bool {
        self.shared.tls.for_api(api).is_some()
    }

    /// Reads every TLS certificate and key again, for connections made from now on. A pair
    /// that cannot be read keeps its previous certificate; the first such failure is returned
    /// after every other pair was reloaded.
    pub fn reload_tls(&self) -> Result<(), TlsError> {
        match self.shared.tls.reload().into_iter().next() {
            Some((_, e)) => Err(e),
            None => Ok(()),
        }
    }

    /// Reloads the certificates on each SIGHUP (started once, by the first listener).
    fn watch_sighup(&self) {
        if !self.shared.tls.any() {
            return;
        }
        self.shared.sighup.call_once(|| {
            let edge = self.clone();
            tokio::spawn(async move {
                use tokio::signal::unix::{SignalKind, signal};
                let Ok(mut hup) = signal(SignalKind::hangup()) else {
                    warn!("no SIGHUP handler: the TLS certificate will not be reloaded");
                    return;
                };
                while hup.recv().await.is_some() {
                    let failed = edge.shared.tls.reload();
                    for (api, e) in &failed {
                        let listener = api.unwrap_or("shared");
                        warn!(listener, error = %e, "SIGHUP: TLS certificate not reloaded; the previous one stays");
                    }
                    if failed.is_empty() {
                        info!("SIGHUP: TLS certificates reloaded");
                    }
                }
            });
        });
    }

    /// The edge's counters.
    pub fn stats(&self) -> &EdgeStats {
        &self.shared.stats
    }

    /// Serves `listener` with `dialect` until `shutdown` resolves, then waits for the requests
    /// in flight to finish.
    pub async fn serve<D: Dialect>(
        &self,
        listener: TcpListener,
        dialect: Arc<D>,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        self.watch_sighup();
        let graceful = GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // The edge's own watchdog times heads and idle connections (hyper's header timer would
        // also run while a keep-alive connection is idle).
        builder.http1().header_read_timeout(None);
        // HTTP/2 PINGs from the server find a peer that vanished without closing (its streams
        // would otherwise hold their flow-control windows until TCP gives up); a live peer
        // answers at once, so the header-read timeout is time enough. They do not keep an idle
        // connection open: the watchdog's idle timeout still closes it.
        let config = &self.shared.config;
        builder
            .http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(Some(
                (config.idle_timeout / 2).clamp(Duration::from_secs(1), H2_PING_EVERY_MAX),
            ))
            .keep_alive_timeout(config.header_read_timeout);
        let builder = Arc::new(builder);
        let mut failures = AcceptFailures::default();
        tokio::pin!(shutdown);
        loop {
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(a) => {
                        failures.backoff = Duration::ZERO;
                        a
                    }
                    Err(e) => {
                        let pause = failures.record(&e, D::API, &self.shared.stats);
                        if !pause.is_zero() {
                            tokio::select! {
                                _ = tokio::time::sleep(pause) => {}
                                _ = &mut shutdown => break,
                            }
                        }
                        continue;
                    }
                },
                _ = &mut shutdown => break,
            };
            let Some(slot) = self.admit(peer) else {
                continue;
            };
            // Small responses would otherwise wait for delayed ACKs (Nagle meets delayed ACK).
            let _ = stream.set_nodelay(true);
            let watch = graceful.watcher();
            let dialect = dialect.clone();
            let builder = builder.clone();
            let tls = self.shared.tls.for_api(D::API).map(Tls::acceptor);
            let handshake_timeout = self.shared.config.header_read_timeout;
            tokio::spawn(async move {
                match tls {
                    None => {
                        serve_connection(slot, stream, peer, false, dialect, &builder, watch).await;
                    }
                    Some(acceptor) => {
                        let stream =
                            match tokio::time::timeout(handshake_timeout, acceptor.accept(stream))
                                .await
                            {
                                Ok(Ok(s)) => s,
                                Ok(Err(e)) => {
                                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                                    return;
                                }
                                Err(_) => {
                                    slot.edge
                                        .shared
                                        .stats
                                        .timed_out
                                        .fetch_add(1, Ordering::Relaxed);
                                    return;
                                }
                            };
                        serve_connection(slot, stream, peer, true, dialect, &builder, watch).await;
                    }
                }
            });
        }
        info!(
            api = D::API,
            "shutting down: waiting for requests in flight"
        );
        graceful.shutdown().await;
        Ok(())
    }

    fn now(&self) -> u64 {
        self.shared.epoch.elapsed().as_millis() as u64 + 1
    }

    /// A slot for a new connection from `peer`, or `None` (and the connection is closed) when
    /// the caps leave no room.
    fn admit(&self, peer: SocketAddr) -> Option<Slot> {
        let shared = &self.shared;
        let mut table = shared.table.lock().unwrap_or_else(|e| e.into_inner());
        let from_peer = table.per_peer.get(&peer.ip()).copied().unwrap_or(0);
        if from_peer >= shared.config.max_connections_per_peer {
            drop(table);
            self.refuse(peer, "too many connections from this address");
            return None;
        }
        if table.conns.len() >= shared.config.max_connections {
            // Make room: the longest-idle connection goes (it closes a moment later).
            let idlest = table
                .conns
                .values()
                .filter(|a| a.in_flight.load(Ordering::Relaxed) == 0)
                .min_by_key(|a| a.idle_since.load(Ordering::Relaxed));
            match idlest {
                Some(a) => {
                    a.evict.notify_one();
                    shared.stats.evicted.fetch_add(1, Ordering::Relaxed);
                }
                None => {
                    drop(table);
                    self.refuse(
                        peer,
                        "the connection cap is reached and no connection is idle",
                    );
                    return None;
                }
            }
        }
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let activity = Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(self.now()),
            head_started: AtomicU64::new(0),
            evict: Notify::new(),
        });
        table.conns.insert(id, activity.clone());
        *table.per_peer.entry(peer.ip()).or_insert(0) += 1;
        shared.stats.open.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            edge: self.clone(),
            id,
            ip: peer.ip(),
            activity,
        })
    }

    fn refuse(&self, peer: SocketAddr, why: &'static str) {
        let refused = self.shared.stats.refused.fetch_add(1, Ordering::Relaxed);
        // One line for the first refusal and then one per thousand, not one per connection.
        if refused.is_multiple_of(1000) {
            warn!(%peer, refused = refused + 1, "connection refused: {why}");
        }
    }
}

/// A connection's place in the edge's accounting, given back when dropped.
struct Slot {
    edge: Edge,
    id: u64,
    ip: IpAddr,
    activity: Arc<Activity>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let shared = &self.edge.shared;
        let mut table = shared.table.lock().unwrap_or_else(|e| e.into_inner());
        table.conns.remove(&self.id);
        if let Some(n) = table.per_peer.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                table.per_peer.remove(&self.ip);
            }
        }
        shared.stats.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Back-off state of one accept loop.
#[derive(Default)]
struct AcceptFailures {
    backoff: Duration,
    last_log: Option<Instant>,
    unlogged: u64,
}

impl AcceptFailures {
    /// Counts and (rate-limited) logs a failed accept; returns how long to pause before the
    /// next. Exhaustion (descriptors, memory) pauses with a doubling back-off: retrying at once
    /// would spin, since the connection waiting in the backlog keeps the listener readable.
    fn record(&mut self, e: &io::Error, api: &'static str, stats: &EdgeStats) -> Duration {
        stats.accept_errors.fetch_add(1, Ordering::Relaxed);
        self.unlogged += 1;
        if self
            .last_log
            .is_none_or(|t| t.elapsed() >= ACCEPT_LOG_EVERY)
        {
            warn!(api, error = %e, failures = self.unlogged, "accept failed");
            self.last_log = Some(Instant::now());
            self.unlogged = 0;
        }
        let exhausted = matches!(
            e.raw_os_error(),
            Some(
                libc_errno::EMFILE | libc_errno::ENFILE | libc_errno::ENOBUFS | libc_errno::ENOMEM
            )
        );
        if exhausted {
            self.backoff = (self.backoff * 2).clamp(BACKOFF_MIN, BACKOFF_MAX);
            self.backoff
        } else {
            Duration::ZERO
        }
    }
}

/// The errno values of exhaustion on Linux.
mod libc_errno {
    pub(super) const EMFILE: i32 = rustix::io::Errno::MFILE.raw_os_error();
    pub(super) const ENFILE: i32 = rustix::io::Errno::NFILE.raw_os_error();
    pub(super) const ENOBUFS: i32 = rustix::io::Errno::NOBUFS.raw_os_error();
    pub(super) const ENOMEM: i32 = rustix::io::Errno::NOMEM.raw_os_error();
}

/// Serves one connection until it ends, times out or is evicted.
async fn serve_connection<S, D>(
    slot: Slot,
    stream: S,
    peer: SocketAddr,
    secure: bool,
    dialect: Arc<D>,
    builder: &auto::Builder<TokioExecutor>,
    watch: hyper_util::server::graceful::Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    D: Dialect,
{
    let edge = slot.edge.clone();
    let config = &edge.shared.config;
    let rate = (config.min_body_rate > 0).then_some(MinRate {
        bytes_per_second: config.min_body_rate,
        window: config.body_rate_window,
    });
    let activity = slot.activity.clone();
    let io = Watched {
        inner: stream,
        activity: activity.clone(),
        edge: edge.clone(),
        framing: Framing::Sniffing(0),
    };
    let service = {
        let activity = activity.clone();
        let edge = edge.clone();
        service_fn(move |req: Request<hyper::body::Incoming>| {
            let guard = InFlight::begin(activity.clone(), edge.clone());
            let dialect = dialect.clone();
            let req = req.map(|b| RequestBody::new(b, rate));
            async move {
                let response = envelope::run(&*dialect, req, peer, secure).await;
                Ok::<_, Infallible>(response.map(|body| Tracked {
                    body,
                    _guard: guard,
                }))
            }
        })
    };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let conn = watch.watch(conn.into_owned());
    tokio::pin!(conn);
    let tick = config.header_read_timeout.min(config.idle_timeout) / 4;
    let tick = tick.max(Duration::from_millis(100));
    let mut ticks = tokio::time::interval(tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut conn => break,
            _ = activity.evict.notified() => break,
            _ = ticks.tick() => {
                if activity.in_flight.load(Ordering::Relaxed) > 0 {
                    continue;
                }
                let now = edge.now();
                let head = activity.head_started.load(Ordering::Relaxed);
                let expired = if head != 0 {
                    now.saturating_sub(head) > config.header_read_timeout.as_millis() as u64
                } else {
                    let idle = activity.idle_since.load(Ordering::Relaxed);
                    now.saturating_sub(idle) > config.idle_timeout.as_millis() as u64
                };
                if expired {
                    edge.shared.stats.timed_out.fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
    }
    drop(slot);
}

/// Marks a request in flight from its head until its response body is sent whole (or dropped).
struct InFlight {
    activity: Arc<Activity>,
    edge: Edge,
}

impl InFlight {
    fn begin(activity: Arc<Activity>, edge: Edge) -> Self {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity.head_started.store(0, Ordering::Relaxed);
        Self { activity, edge }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.activity
            .idle_since
            .store(self.edge.now(), Ordering::Relaxed);
        self.activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body carrying its request's [`InFlight`] mark.
struct Tracked<B> {
    body: B,
    _guard: InFlight,
}

impl<B: Body + Unpin> Body for Tracked<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The connection's byte stream, noting when the head of a request starts arriving.
struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
    edge: Edge,
    framing: Framing,
}

/// The client connection preface that opens every HTTP/2 connection (RFC 9113, "HTTP/2",
/// section 3.4), over TLS after ALPN `h2` and in the clear with prior knowledge alike.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What a request head is on this connection, told by its first bytes.
enum Framing {
    /// The bytes so far (this many) are the start of the HTTP/2 preface; until they stop
    /// matching or it is whole, they count as an HTTP/1 head would.
    Sniffing(usize),
    /// HTTP/1: any byte on an idle connection starts a head.
    Http1,
    /// HTTP/2: only a header block starts a head. PINGs, SETTINGS, WINDOW_UPDATEs and the like
    /// leave an idle connection idle, so that the idle timeout, not the header-read timeout,
    /// applies to a connection the client keeps up with PINGs.
    Http2(H2Frames),
}

impl Framing {
    /// Follows `bytes` just read; tells `activity` when a head starts or (HTTP/2) ends.
    fn read(&mut self, mut bytes: &[u8], activity: &Activity, now: u64) {
        if let Framing::Sniffing(seen) = self {
            let want = &H2_PREFACE[*seen..];
            let n = want.len().min(bytes.len());
            if bytes[..n] != want[..n] {
                *self = Framing::Http1;
            } else if n == want.len() {
                // The preface is connection setup, not a request: the connection is idle again.
                activity.head_started.store(0, Ordering::Relaxed);
                activity.idle_since.store(now, Ordering::Relaxed);
                *self = Framing::Http2(H2Frames::default());
                bytes = &bytes[n..];
            } else {
                *seen += n;
                head_starts(activity, now);
                return;
            }
        }
        match self {
            Framing::Sniffing(_) | Framing::Http1 => head_starts(activity, now),
            Framing::Http2(frames) => frames.read(bytes, |event| match event {
                HeaderBlock::Started => {
                    let _ = activity.head_started.compare_exchange(
                        0,
                        now,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
                // The head is whole: hyper hands it to the service, which marks the request in
                // flight; until then the connection counts as just active.
                HeaderBlock::Ended => {
                    activity.idle_since.store(now, Ordering::Relaxed);
                    activity.head_started.store(0, Ordering::Relaxed);
                }
            }),
        }
    }
}

/// An HTTP/1 head starts with the first byte read on a connection with no request in flight.
fn head_starts(activity: &Activity, now: u64) {
    if activity.in_flight.load(Ordering::Relaxed) == 0
        && activity.head_started.load(Ordering::Relaxed) == 0
    {
        activity.head_started.store(now, Ordering::Relaxed);
    }
}

/// Where the reader is in the stream of HTTP/2 frames (RFC 9113, section 4.1: a 9-byte header
/// of length, type, flags and stream, then the payload). Only frame boundaries are tracked; hyper
/// parses and checks the frames themselves.
#[derive(Default)]
struct H2Frames {
    header: [u8; 9],
    header_len: usize,
    payload_left: usize,
    /// The frame being read is part of a header block, and ends it (END_HEADERS).
    in_block: bool,
    ends_block: bool,
}

/// A header block (HEADERS, then CONTINUATION frames until one has END_HEADERS) starting or
/// ending.
#[derive(Debug, PartialEq, Eq)]
enum HeaderBlock {
    Started,
    Ended,
}

impl H2Frames {
    const HEADERS: u8 = 0x1;
    const CONTINUATION: u8 = 0x9;
    const END_HEADERS: u8 = 0x4;

    fn read(&mut self, mut bytes: &[u8], mut event: impl FnMut(HeaderBlock)) {
        while !bytes.is_empty() {
            if self.header_len < self.header.len() {
                let n = (self.header.len() - self.header_len).min(bytes.len());
                self.header[self.header_len..self.header_len + n].copy_from_slice(&bytes[..n]);
                self.header_len += n;
                bytes = &bytes[n..];
                if self.header_len < self.header.len() {
                    return;
                }
                let [l0, l1, l2, kind, flags, ..] = self.header;
                self.payload_left = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
                self.in_block = kind == Self::HEADERS || kind == Self::CONTINUATION;
                self.ends_block = self.in_block && flags & Self::END_HEADERS != 0;
                if self.in_block {
                    event(HeaderBlock::Started);
                }
            }
            let n = self.payload_left.min(bytes.len());
            self.payload_left -= n;
            bytes = &bytes[n..];
            if self.payload_left == 0 {
                if self.ends_block {
                    event(HeaderBlock::Ended);
                }
                self.header_len = 0;
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            let now = this.edge.now();
            this.framing
                .read(&buf.filled()[before..], &this.activity, now);
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity() -> Activity {
        Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(1),
            head_started: AtomicU64::new(0),
            evict: Notify::new(),
        }
    }

    fn frame(kind: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
        let len = payload.len();
        let mut f = vec![
            (len >> 16) as u8,
            (len >> 8) as u8,
            len as u8,
            kind,
            flags,
            0,
            0,
            0,
            1,
        ];
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn an_http1_byte_starts_a_head() {
        let a = activity();
        let mut framing = Framing::Sniffing(0);
        framing.read(b"PRI", &a, 5);
        assert_eq!(a.head_started.load(Ordering::Relaxed), 5);
        framing.read(b"X / HTTP/1.1\r\n", &a, 9);
        assert!(matches!(framing, Framing::Http1));
        assert_eq!(a.head_started.load(Ordering::Relaxed), 5);
    }

    #[test]
    fn http2_pings_leave_the_connection_idle_and_headers_do_not() {
        let a = activity();
        let mut framing = Framing::Sniffing(0);
        let mut bytes = H2_PREFACE.to_vec();
        bytes.extend(frame(0x4, 0, &[])); // SETTINGS
        // Split anywhere: frame boundaries are followed across reads.
        framing.read(&bytes[..10], &a, 2);
        framing.read(&bytes[10..], &a, 3);
        assert_eq!(a.head_started.load(Ordering::Relaxed), 0);
        assert_eq!(a.idle_since.load(Ordering::Relaxed), 3);
        framing.read(&frame(0x6, 0, &[0; 8]), &a, 4); // PING
        assert_eq!(a.head_started.load(Ordering::Relaxed), 0);
        let headers = frame(H2Frames::HEADERS, 0, &[1, 2, 3]);
        framing.read(&headers[..5], &a, 6);
        assert_eq!(
            a.head_started.load(Ordering::Relaxed),
            0,
            "type not read yet"
        );
        framing.read(&headers[5..], &a, 7);
        framing.read(&frame(H2Frames::CONTINUATION, 0, &[4]), &a, 8);
        assert_eq!(a.head_started.load(Ordering::Relaxed), 7);
        let last = frame(H2Frames::CONTINUATION, H2Frames::END_HEADERS, &[5, 6]);
        framing.read(&last[..10], &a, 9);
        assert_eq!(
            a.head_started.load(Ordering::Relaxed),
            7,
            "payload not whole yet"
        );
        framing.read(&last[10..], &a, 10);
        assert_eq!(a.head_started.load(Ordering::Relaxed), 0);
        assert_eq!(a.idle_since.load(Ordering::Relaxed), 10);
    }
}
