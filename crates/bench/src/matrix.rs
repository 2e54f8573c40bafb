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
    /// Whether the servers speak TLS (their self-signed certificates) and the client https.
    pub(crate) tls: bool,
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
            tls: false,
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

/// One method's server and what has been measured against it so far. The runner drives every
/// method through the same phases in rounds (round 1 of a phase for each method, then round 2, ...),
/// so that a change in the machine's speed during the run hits every method alike and the
/// comparison between methods stays fair.
pub(crate) struct MethodRun {
    sse: Sse,
    server: Server,
    target: Arc<Target>,
    conn: Conn,
    plan: Plan,
    pattern: Pattern,
    big: (Samples, Samples),
    small: (Samples, Samples),
    small_conns: Option<Vec<Conn>>,
    mid: (Samples, Samples),
    mid_conns: Option<Vec<Conn>>,
    latencies: Vec<Duration>,
    range_rchar: u64,
    full_rchar: u64,
    rss: Rss,
    rss_big: u64,
    rss_small: u64,
    rss_mid: u64,
    failed_checks: Vec<String>,
}

/// The phases, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// One big object, PUT then GET, on one connection.
    Big,
    /// Range GETs from the middle of the big object, then one checked full GET.
    Range,
    /// Small objects, many in flight; before the mid-size phase, whose buffers the allocator may
    /// keep, so that this phase's peak RSS is its own.
    Small,
    /// Mid-size objects, all in flight at once.
    Mid,
}

impl Phase {
    pub(crate) const ALL: [Phase; 4] = [Phase::Big, Phase::Range, Phase::Small, Phase::Mid];

    /// Rounds of this phase: the throughput phases repeat, the latency phase takes its own many
    /// samples once.
    pub(crate) fn rounds(self, plan: &Plan) -> usize {
        match self {
            Phase::Range => 1,
            _ => plan.runs,
        }
    }
}

impl MethodRun {
    /// Starts a server in `dir` and checks that it offers `sse`.
    pub(crate) async fn start(
        coffer: &Path,
        dir: std::path::PathBuf,
        sse: Sse,
        plan: Plan,
        pattern: &Pattern,
    ) -> Result<std::result::Result<Self, Outcome>> {
        let server = match Server::start(coffer, dir.clone(), plan.tls).await {
            Ok(server) => server,
            Err(e) => {
                // The error already carries the server's log, if it wrote one.
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let tls = match &server.certificate {
            Some(pem) => {
                Some(crate::client::trusting(pem).context("trust the server's certificate")?)
            }
            None => None,
        };
        let target = Arc::new(Target {
            addr: server.addr,
            tls,
            bucket: BUCKET.to_owned(),
            access_key_id: server.access_key_id.clone(),
            secret: server.secret.clone(),
        });
        let probe = async {
            let mut conn = Conn::open(target.clone()).await?;
            conn.create_bucket().await.context("create the bucket")?;
            match conn.put("probe", sse, pattern.body(0, 4096)).await {
                Err(e) if e.downcast_ref::<KmsNotEnabled>().is_some() => {
                    return Ok(Err(Outcome::NotAvailable(e.to_string())));
                }
                r => r.context("PUT a probe object")?,
            }
            conn.delete("probe").await?;
            anyhow::Ok(Ok(conn))
        };
        let conn = match probe.await {
            Ok(Ok(conn)) => conn,
            Ok(Err(outcome)) => {
                server.stop().await?;
                return Ok(Err(outcome));
            }
            Err(e) => {
                let _ = server.stop().await;
                return Err(e);
            }
        };
        let mut run = Self {
            sse,
            server,
            target,
            conn,
            plan,
            pattern: pattern.clone(),
            big: Default::default(),
            small: Default::default(),
            small_conns: None,
            mid: Default::default(),
            mid_conns: None,
            latencies: Vec::new(),
            range_rchar: 0,
            full_rchar: 0,
            rss: Rss::default(),
            rss_big: 0,
            rss_small: 0,
            rss_mid: 0,
            failed_checks: Vec::new(),
        };
        run.rss.take(&run.server)?;
        Ok(Ok(run))
    }

    /// Round `round` (from 0) of `phase`.
    pub(crate) async fn round(&mut self, phase: Phase, round: usize) -> Result<()> {
        let plan = self.plan;
        if round == 0 {
            let label = match phase {
                Phase::Big => format!("{} PUT/GET", size(plan.big_len)),
                Phase::Range => "range GETs, then a full GET for rchar and content".to_owned(),
                Phase::Small => format!("{} PUT/GET", self.small_batch().label()),
                Phase::Mid => format!("{} PUT/GET", self.mid_batch().label()),
            };
            progress(self.sse, &label);
        }
        match phase {
            Phase::Big => self.big_round(round).await?,
            Phase::Range => self.range_phase().await?,
            Phase::Small => {
                let batch = self.small_batch();
                let conns = self.small_conns.take();
                let (put, get, conns) = self.batch_round(&batch, round, conns).await?;
                self.small.0.push(put);
                self.small.1.push(get);
                self.small_conns = Some(conns);
            }
            Phase::Mid => {
                let batch = self.mid_batch();
                let conns = self.mid_conns.take();
                let (put, get, conns) = self.batch_round(&batch, round, conns).await?;
                self.mid.0.push(put);
                self.mid.1.push(get);
                self.mid_conns = Some(conns);
            }
        }
        if round + 1 == phase.rounds(&plan) {
            let peak = self.rss.take(&self.server)?;
            match phase {
                Phase::Big => self.rss_big = peak,
                // The range phase reads the big object: its peak counts as the big phases'.
                Phase::Range => {
                    self.rss_big = self.rss_big.max(peak);
                    self.conn.delete(BIG_KEY).await?;
                }
                Phase::Small => {
                    self.rss_small = peak;
                    self.small_conns = None;
                }
                Phase::Mid => {
                    self.rss_mid = peak;
                    self.mid_conns = None;
                }
            }
        }
        Ok(())
    }

    async fn big_round(&mut self, round: usize) -> Result<()> {
        let plan = self.plan;
        if round > 0 {
            self.conn.delete(BIG_KEY).await?;
        }
        let meter = Meter::start(&self.server)?;
        self.conn
            .put(BIG_KEY, self.sse, self.pattern.body(BIG_ID, plan.big_len))
            .await?;
        self.big.0.push(meter.stop(&self.server)?);
        let meter = Meter::start(&self.server)?;
        let n = self.conn.get(BIG_KEY, None, None).await?;
        self.big.1.push(meter.stop(&self.server)?);
        check_len(BIG_KEY, n, plan.big_len)
    }

    async fn range_phase(&mut self) -> Result<()> {
        let plan = self.plan;
        let first = plan.big_len / 2 + RANGE_SKEW;
        let range = (first, first + plan.range_len - 1);
        let mut latencies = Vec::with_capacity(plan.range_requests);
        for i in 0..RANGE_WARMUP + plan.range_requests {
            let t = Instant::now();
            let n = self.conn.get(BIG_KEY, Some(range), None).await?;
            if i >= RANGE_WARMUP {
                latencies.push(t.elapsed());
            }
            check_len(BIG_KEY, n, plan.range_len)?;
        }
        latencies.sort();
        self.latencies = latencies;
        let mut verifier = self.pattern.verifier(BIG_ID, first);
        let before = self.server.rchar()?;
        let n = self
            .conn
            .get(BIG_KEY, Some(range), Some(&mut verifier))
            .await?;
        self.range_rchar = self.server.rchar()?.saturating_sub(before);
        check_len(BIG_KEY, n, plan.range_len)?;
        record(
            &mut self.failed_checks,
            "range of the big object",
            &verifier,
        );
        let mut verifier = self.pattern.verifier(BIG_ID, 0);
        let before = self.server.rchar()?;
        let n = self.conn.get(BIG_KEY, None, Some(&mut verifier)).await?;
        self.full_rchar = self.server.rchar()?.saturating_sub(before);
        check_len(BIG_KEY, n, plan.big_len)?;
        record(&mut self.failed_checks, "big object", &verifier);
        Ok(())
    }

    fn small_batch(&self) -> Batch {
        Batch {
            prefix: "small",
            first_id: SMALL_FIRST_ID,
            count: self.plan.small_count,
            len: self.plan.small_len,
            in_flight: self.plan.small_in_flight,
        }
    }

    fn mid_batch(&self) -> Batch {
        Batch {
            prefix: "mid",
            first_id: MID_FIRST_ID,
            count: self.plan.mid_count,
            len: self.plan.mid_len,
            in_flight: self.plan.mid_count,
        }
    }

    /// One PUT, GET and DELETE of every object of `batch`, on `conns` (opened on the first
    /// round); checks the content of its last object in the first round.
    async fn batch_round(
        &mut self,
        batch: &Batch,
        round: usize,
        conns: Option<Vec<Conn>>,
    ) -> Result<(Sample, Sample, Vec<Conn>)> {
        let (server, sse, pattern) = (&self.server, self.sse, &self.pattern);
        let conns = match conns {
            Some(conns) => conns,
            None => Conn::open_many(&self.target, batch.in_flight).await?,
        };
        let meter = Meter::start(server)?;
        let c = run_job(conns, batch.job(Op::Put, sse, pattern)).await?;
        let put = meter.stop(server)?;
        let meter = Meter::start(server)?;
        let mut c = run_job(c, batch.job(Op::Get, sse, pattern)).await?;
        let get = meter.stop(server)?;
        if round == 0 {
            let job = batch.job(Op::Get, sse, pattern);
            let last = batch.count - 1;
            let mut verifier = pattern.verifier(job.id(last), 0);
            let n = c[0].get(&job.key(last), None, Some(&mut verifier)).await?;
            check_len(&job.key(last), n, batch.len)?;
            record(
                &mut self.failed_checks,
                &format!("{} object", batch.prefix),
                &verifier,
            );
        }
        let conns = run_job(c, batch.job(Op::Delete, sse, pattern)).await?;
        Ok((put, get, conns))
    }

    /// Stops the server and turns what was measured into figures.
    pub(crate) async fn finish(self) -> Result<Outcome> {
        let gb = self.plan.big_len as f64 / 1e9;
        let small = self.small_batch();
        let mid = self.mid_batch();
        let mid_gb = (mid.len * mid.count as u64) as f64 / 1e9;
        let peak_rss = self.rss.max.max(self.server.peak_rss()?);
        let figures = Figures {
            big_put: self.big.0.per(gb),
            big_get: self.big.1.per(gb),
            // Rates per request.
            small_put: self.small.0.per(small.count as f64),
            small_get: self.small.1.per(small.count as f64),
            mid_put: self.mid.0.per(mid_gb),
            mid_get: self.mid.1.per(mid_gb),
            range_median: percentile(&self.latencies, 0.5),
            range_p99: percentile(&self.latencies, 0.99),
            range_rchar: self.range_rchar,
            full_rchar: self.full_rchar,
            peak_rss,
            rss_big: self.rss_big,
            rss_mid: self.rss_mid,
            rss_small: self.rss_small,
            rss_per_phase: self.rss.per_phase,
            failed_checks: self.failed_checks,
        };
        self.server.stop().await?;
        Ok(Outcome::Measured(Box::new(figures)))
    }

    /// Stops the server of a run that failed.
    pub(crate) async fn abandon(self) {
        let _ = self.server.stop().await;
    }
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
pub(crate) struct Sample {
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
