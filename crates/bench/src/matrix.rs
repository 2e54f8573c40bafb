//! The measurements for one encryption method, against one freshly started server.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::task::JoinSet;

use crate::client::{Conn, KmsNotEnabled, Sse, Target, check_len};
use crate::payload::Pattern;
use crate::server::Server;

const BUCKET: &str = "bench";
const BIG_KEY: &str = "big";
/// Object ids feed the content generator so that every object's bytes differ.
const BIG_ID: u64 = 1;
const MID_FIRST_ID: u64 = 1_000;
const SMALL_FIRST_ID: u64 = 1_000_000;
/// Range GETs start this far past the middle of the big object, so that the range is aligned
/// neither to the client's 1 MiB chunks nor to the server's encryption chunks: a server that
/// reads only what it needs reads the range plus at most one extra chunk.
const RANGE_SKEW: u64 = 1000;
/// Untimed range GETs before the timed ones (connection and caches warm).
const RANGE_WARMUP: usize = 5;

/// Sizes and counts of one benchmark run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    pub(crate) big_len: u64,
    pub(crate) mid_count: usize,
    pub(crate) mid_len: u64,
    pub(crate) small_count: usize,
    pub(crate) small_len: u64,
    pub(crate) small_in_flight: usize,
    pub(crate) range_len: u64,
    pub(crate) range_requests: usize,
    /// Repetitions of the throughput phases; the median is reported.
    pub(crate) runs: usize,
}

impl Plan {
    pub(crate) fn new(quick: bool, runs: usize) -> Self {
        const MIB: u64 = 1 << 20;
        Self {
            big_len: if quick { 64 * MIB } else { 1024 * MIB },
            mid_count: 8,
            mid_len: if quick { 8 * MIB } else { 64 * MIB },
            small_count: if quick { 200 } else { 2000 },
            small_len: 4096,
            small_in_flight: 16,
            range_len: MIB,
            range_requests: if quick { 50 } else { 200 },
            runs: runs.max(1),
        }
    }
}

/// One phase's figures: medians over [`Plan::runs`], per unit of work (a GB of objects, or a
/// request).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rate {
    /// Units per second of wall time: GB/s (10^9 bytes/s) or requests/s.
    pub(crate) per_second: f64,
    /// CPU seconds the server spent per unit (user + system, all threads).
    pub(crate) server_cpu: f64,
    /// CPU seconds this client spent per unit.
    pub(crate) client_cpu: f64,
}

/// What one method measured.
#[derive(Debug)]
pub(crate) struct Figures {
    /// The big object on one connection; per GB.
    pub(crate) big_put: Rate,
    pub(crate) big_get: Rate,
    /// `mid_count` objects in flight at once; aggregate, per GB.
    pub(crate) mid_put: Rate,
    pub(crate) mid_get: Rate,
    /// Small objects, `small_in_flight` at once; per request.
    pub(crate) small_put: Rate,
    pub(crate) small_get: Rate,
    pub(crate) range_median: Duration,
    pub(crate) range_p99: Duration,
    /// `rchar` of the server around one range GET, and around one full GET of the big object.
    pub(crate) range_rchar: u64,
    pub(crate) full_rchar: u64,
    /// Peak RSS of the server over the whole method, bytes.
    pub(crate) peak_rss: u64,
    /// Peak RSS during the big-object phases (PUT, GETs, range GETs), the mid-size phase and
    /// the small-object phase; cumulative unless `rss_per_phase`.
    pub(crate) rss_big: u64,
    pub(crate) rss_mid: u64,
    pub(crate) rss_small: u64,
    pub(crate) rss_per_phase: bool,
    /// Content checks that failed (empty when every checked byte was right).
    pub(crate) failed_checks: Vec<String>,
}

#[derive(Debug)]
pub(crate) enum Outcome {
    Measured(Box<Figures>),
    /// The server does not offer this method (KMS not enabled).
    NotAvailable(String),
    /// The run failed; the other methods still run.
    Failed(String),
}

/// Starts a server in `dir`, measures `sse` against it, stops it.
pub(crate) async fn run_method(
    coffer: &Path,
    dir: std::path::PathBuf,
    sse: Sse,
    plan: Plan,
    pattern: &Pattern,
) -> Result<Outcome> {
    let server = match Server::start(coffer, dir.clone()).await {
        Ok(server) => server,
        Err(e) => {
            // The error already carries the server's log, if it wrote one.
            let _ = std::fs::remove_dir_all(&dir);
            return Err(e);
        }
    };
    let outcome = measure(&server, sse, plan, pattern).await;
    let stopped = server.stop().await;
    let outcome = outcome?;
    stopped?;
    Ok(outcome)
}

async fn measure(server: &Server, sse: Sse, plan: Plan, pattern: &Pattern) -> Result<Outcome> {
    let target = Arc::new(Target {
        addr: server.addr,
        bucket: BUCKET.to_owned(),
        access_key_id: server.access_key_id.clone(),
        secret: server.secret.clone(),
    });
    let mut conn = Conn::open(target.clone()).await?;
    conn.create_bucket().await.context("create the bucket")?;
    match conn.put("probe", sse, pattern.body(0, 4096)).await {
        Err(e) if e.downcast_ref::<KmsNotEnabled>().is_some() => {
            return Ok(Outcome::NotAvailable(e.to_string()));
        }
        r => r.context("PUT a probe object")?,
    }
    conn.delete("probe").await?;
    let mut failed_checks = Vec::new();
    let mut rss = Rss::default();
    rss.take(server)?;

    // 1. One big object, PUT then GET, on one connection.
    progress(sse, &format!("{} PUT/GET", size(plan.big_len)));
    let (big_put, big_get) = {
        let (mut puts, mut gets) = (Samples::default(), Samples::default());
        for run in 0..plan.runs {
            if run > 0 {
                conn.delete(BIG_KEY).await?;
            }
            let meter = Meter::start(server)?;
            conn.put(BIG_KEY, sse, pattern.body(BIG_ID, plan.big_len))
                .await?;
            puts.push(meter.stop(server)?);
            let meter = Meter::start(server)?;
            let n = conn.get(BIG_KEY, None, None).await?;
            gets.push(meter.stop(server)?);
            check_len(BIG_KEY, n, plan.big_len)?;
        }
        // Rates per GB.
        let gb = plan.big_len as f64 / 1e9;
        (puts.per(gb), gets.per(gb))
    };

    // 4. Range GETs from the middle of the big object: latency, then what the server reads.
    progress(sse, "range GETs");
    let first = plan.big_len / 2 + RANGE_SKEW;
    let range = (first, first + plan.range_len - 1);
    let mut latencies = Vec::with_capacity(plan.range_requests);
    for i in 0..RANGE_WARMUP + plan.range_requests {
        let t = Instant::now();
        let n = conn.get(BIG_KEY, Some(range), None).await?;
        if i >= RANGE_WARMUP {
            latencies.push(t.elapsed());
        }
        check_len(BIG_KEY, n, plan.range_len)?;
    }
    latencies.sort();
    let mut verifier = pattern.verifier(BIG_ID, first);
    let before = server.rchar()?;
    let n = conn.get(BIG_KEY, Some(range), Some(&mut verifier)).await?;
    let range_rchar = server.rchar()?.saturating_sub(before);
    check_len(BIG_KEY, n, plan.range_len)?;
    record(&mut failed_checks, "range of the big object", &verifier);
    progress(sse, "full GET for rchar and content check");
    let mut verifier = pattern.verifier(BIG_ID, 0);
    let before = server.rchar()?;
    let n = conn.get(BIG_KEY, None, Some(&mut verifier)).await?;
    let full_rchar = server.rchar()?.saturating_sub(before);
    check_len(BIG_KEY, n, plan.big_len)?;
    record(&mut failed_checks, "big object", &verifier);
    conn.delete(BIG_KEY).await?;
    let rss_big = rss.take(server)?;

    // 3. Small objects, many in flight; before the mid-size phase, whose buffers the allocator
    // may keep, so that this phase's peak RSS is its own.
    let small = Batch {
        prefix: "small",
        first_id: SMALL_FIRST_ID,
        count: plan.small_count,
        len: plan.small_len,
        in_flight: plan.small_in_flight,
    };
    progress(sse, &format!("{} PUT/GET", small.label()));
    // Rates per request.
    let (small_put, small_get) = batch_phase(
        server,
        &target,
        sse,
        pattern,
        plan.runs,
        &small,
        &mut failed_checks,
    )
    .await?;
    let small_put = small_put.per(small.count as f64);
    let small_get = small_get.per(small.count as f64);
    let rss_small = rss.take(server)?;

    // 2. Mid-size objects, all in flight at once.
    let mid = Batch {
        prefix: "mid",
        first_id: MID_FIRST_ID,
        count: plan.mid_count,
        len: plan.mid_len,
        in_flight: plan.mid_count,
    };
    progress(sse, &format!("{} PUT/GET", mid.label()));
    // Rates per GB.
    let (mid_put, mid_get) = batch_phase(
        server,
        &target,
        sse,
        pattern,
        plan.runs,
        &mid,
        &mut failed_checks,
    )
    .await?;
    let mid_gb = (mid.len * mid.count as u64) as f64 / 1e9;
    let (mid_put, mid_get) = (mid_put.per(mid_gb), mid_get.per(mid_gb));
    let rss_mid = rss.take(server)?;

    Ok(Outcome::Measured(Box::new(Figures {
        big_put,
        big_get,
        mid_put,
        mid_get,
        small_put,
        small_get,
        range_median: percentile(&latencies, 0.5),
        range_p99: percentile(&latencies, 0.99),
        range_rchar,
        full_rchar,
        peak_rss: rss.max.max(server.peak_rss()?),
        rss_big,
        rss_mid,
        rss_small,
        rss_per_phase: rss.per_phase,
        failed_checks,
    })))
}

/// Peak RSS per phase, and over all of them.
struct Rss {
    max: u64,
    per_phase: bool,
}

impl Default for Rss {
    fn default() -> Self {
        Self {
            max: 0,
            per_phase: true,
        }
    }
}

impl Rss {
    /// The peak since the previous call.
    fn take(&mut self, server: &Server) -> Result<u64> {
        let (peak, reset) = server.take_peak_rss()?;
        if !reset && self.per_phase {
            eprintln!("  cannot reset VmHWM (/proc/<pid>/clear_refs): phase peaks are cumulative");
            self.per_phase = false;
        }
        self.max = self.max.max(peak);
        Ok(peak)
    }
}

/// Many objects of one size, PUT, then GET, then deleted by `in_flight` workers.
struct Batch {
    prefix: &'static str,
    first_id: u64,
    count: usize,
    len: u64,
    in_flight: usize,
}

impl Batch {
    fn label(&self) -> String {
        format!(
            "{} x {}, {} in flight",
            self.count,
            size(self.len),
            self.in_flight
        )
    }

    fn job(&self, op: Op, sse: Sse, pattern: &Pattern) -> Job {
        Job {
            op,
            sse,
            pattern: pattern.clone(),
            prefix: self.prefix,
            first_id: self.first_id,
            count: self.count,
            len: self.len,
            next: AtomicUsize::new(0),
        }
    }
}

/// Runs `batch` `runs` times on fresh connections; checks the content of its last object once.
/// Returns the PUT and GET samples.
async fn batch_phase(
    server: &Server,
    target: &Arc<Target>,
    sse: Sse,
    pattern: &Pattern,
    runs: usize,
    batch: &Batch,
    failed_checks: &mut Vec<String>,
) -> Result<(Samples, Samples)> {
    let mut conns = Conn::open_many(target, batch.in_flight).await?;
    let (mut puts, mut gets) = (Samples::default(), Samples::default());
    for run in 0..runs {
        let meter = Meter::start(server)?;
        let c = run_job(conns, batch.job(Op::Put, sse, pattern)).await?;
        puts.push(meter.stop(server)?);
        let meter = Meter::start(server)?;
        let mut c = run_job(c, batch.job(Op::Get, sse, pattern)).await?;
        gets.push(meter.stop(server)?);
        if run == 0 {
            let job = batch.job(Op::Get, sse, pattern);
            let last = batch.count - 1;
            let mut verifier = pattern.verifier(job.id(last), 0);
            let n = c[0].get(&job.key(last), None, Some(&mut verifier)).await?;
            check_len(&job.key(last), n, batch.len)?;
            record(
                failed_checks,
                &format!("{} object", batch.prefix),
                &verifier,
            );
        }
        conns = run_job(c, batch.job(Op::Delete, sse, pattern)).await?;
    }
    Ok((puts, gets))
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Put,
    Get,
    Delete,
}

/// `count` requests of one kind, shared out among the workers as they become free.
struct Job {
    op: Op,
    sse: Sse,
    pattern: Pattern,
    prefix: &'static str,
    first_id: u64,
    count: usize,
    len: u64,
    next: AtomicUsize,
}

impl Job {
    fn key(&self, i: usize) -> String {
        format!("{}-{i:05}", self.prefix)
    }

    fn id(&self, i: usize) -> u64 {
        self.first_id + i as u64
    }
}

/// Runs `job` with one worker per connection; returns the connections.
async fn run_job(conns: Vec<Conn>, job: Job) -> Result<Vec<Conn>> {
    let job = Arc::new(job);
    let mut workers = JoinSet::new();
    for conn in conns {
        workers.spawn(worker(conn, job.clone()));
    }
    let mut conns = Vec::with_capacity(workers.len());
    while let Some(done) = workers.join_next().await {
        conns.push(done.context("benchmark worker panicked")??);
    }
    Ok(conns)
}

async fn worker(mut conn: Conn, job: Arc<Job>) -> Result<Conn> {
    loop {
        let i = job.next.fetch_add(1, Ordering::Relaxed);
        if i >= job.count {
            return Ok(conn);
        }
        let key = job.key(i);
        match job.op {
            Op::Put => {
                conn.put(&key, job.sse, job.pattern.body(job.id(i), job.len))
                    .await?
            }
            Op::Get => {
                let n = conn.get(&key, None, None).await?;
                check_len(&key, n, job.len)?;
            }
            Op::Delete => conn.delete(&key).await?,
        }
    }
}

fn record(failed: &mut Vec<String>, what: &str, v: &crate::payload::Verifier) {
    if let Err(at) = v.finish() {
        let msg = format!("{what}: wrong content in the piece starting at byte {at}");
        eprintln!("  CONTENT CHECK FAILED: {msg}");
        failed.push(msg);
    }
}

fn progress(sse: Sse, what: &str) {
    eprintln!("[{}] {what}", sse.name());
}

/// Wall time and CPU time of the server and of this client over one phase.
struct Meter {
    wall: Instant,
    server: Duration,
    client: Duration,
}

/// What a [`Meter`] saw.
#[derive(Clone, Copy, Debug)]
struct Sample {
    wall: Duration,
    server: Duration,
    client: Duration,
}

impl Meter {
    fn start(server: &Server) -> Result<Self> {
        Ok(Self {
            server: server.cpu_time()?,
            client: crate::server::cpu_time("/proc/self/stat")?,
            wall: Instant::now(),
        })
    }

    fn stop(self, server: &Server) -> Result<Sample> {
        let wall = self.wall.elapsed();
        Ok(Sample {
            wall,
            server: server.cpu_time()?.saturating_sub(self.server),
            client: crate::server::cpu_time("/proc/self/stat")?.saturating_sub(self.client),
        })
    }
}

#[derive(Default)]
struct Samples(Vec<Sample>);

impl Samples {
    fn push(&mut self, s: Sample) {
        self.0.push(s);
    }

    /// Medians, each taken separately, for `units` of work per sample.
    fn per(&self, units: f64) -> Rate {
        let m = |f: fn(&Sample) -> f64| median(self.0.iter().map(f).collect());
        Rate {
            per_second: m(|s| 1.0 / s.wall.as_secs_f64()) * units,
            server_cpu: m(|s| s.server.as_secs_f64()) / units,
            client_cpu: m(|s| s.client.as_secs_f64()) / units,
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Nearest-rank percentile of sorted `v`.
fn percentile(v: &[Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

/// `1 GiB`, `64 MiB`, `4 KiB`, or bytes.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        // Units are powers of two.
        if bytes >= unit && bytes & (unit - 1) == 0 {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        let ms: Vec<Duration> = (1..=200).map(Duration::from_millis).collect();
        assert_eq!(percentile(&ms, 0.5), Duration::from_millis(100));
        assert_eq!(percentile(&ms, 0.99), Duration::from_millis(198));
        assert_eq!(percentile(&ms[..50], 0.99), Duration::from_millis(50));
        assert_eq!(size(1 << 30), "1 GiB");
        assert_eq!(size(64 << 20), "64 MiB");
        assert_eq!(size(4096), "4 KiB");
        assert_eq!(size(1000), "1000 B");
    }
}
