//! The printed report: one row per figure, one column per method, then each method's
//! throughput relative to no encryption.

use std::fmt::Write as _;
use std::time::Duration;

use crate::client::Sse;
use crate::matrix::{Figures, Outcome, Plan, size};

/// What the reader needs to judge the figures.
pub(crate) struct Context {
    pub(crate) plan: Plan,
    pub(crate) load_before: String,
    pub(crate) load_after: String,
    pub(crate) cores: usize,
    /// This client's own peak RSS, bytes.
    pub(crate) client_peak_rss: Option<u64>,
}

type Cell = fn(&Figures) -> String;

fn gbps(v: f64) -> String {
    format!("{v:.2}")
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn rows(plan: &Plan) -> Vec<(String, Option<Cell>)> {
    let big = size(plan.big_len);
    let mid = format!(
        "{} x {}, {} in flight",
        plan.mid_count,
        size(plan.mid_len),
        plan.mid_count
    );
    let small = format!(
        "{} x {}, {} in flight",
        plan.small_count,
        size(plan.small_len),
        plan.small_in_flight
    );
    let small_size = size(plan.small_len);
    let range = format!("{} range GET", size(plan.range_len));
    let heading = |s: &str| (s.to_owned(), None);
    let row = |s: String, c: Cell| (format!("  {s}"), Some(c));
    vec![
        heading("throughput"),
        row(format!("{big} PUT, GB/s"), |f| gbps(f.big_put.per_second)),
        row(format!("{big} GET, GB/s"), |f| gbps(f.big_get.per_second)),
        row(format!("{mid} PUT, GB/s"), |f| gbps(f.mid_put.per_second)),
        row(format!("{mid} GET, GB/s"), |f| gbps(f.mid_get.per_second)),
        row(format!("{small} PUT, ops/s"), |f| {
            format!("{:.0}", f.small_put.per_second)
        }),
        row(format!("{small} GET, ops/s"), |f| {
            format!("{:.0}", f.small_get.per_second)
        }),
        heading("latency"),
        row(format!("{range} median, ms"), |f| ms(f.range_median)),
        row(format!("{range} p99, ms"), |f| ms(f.range_p99)),
        heading("server reads (rchar delta)"),
        row(format!("one {range}, KiB"), |f| {
            format!("{:.0}", f.range_rchar as f64 / 1024.0)
        }),
        row(format!("one {big} GET, MiB"), |f| {
            format!("{:.1}", f.full_rchar as f64 / f64::from(1 << 20))
        }),
        heading("server CPU (user + system)"),
        row(format!("{big} PUT, s/GB"), |f| cpu(f.big_put.server_cpu)),
        row(format!("{big} GET, s/GB"), |f| cpu(f.big_get.server_cpu)),
        row(format!("{mid} PUT, s/GB"), |f| cpu(f.mid_put.server_cpu)),
        row(format!("{mid} GET, s/GB"), |f| cpu(f.mid_get.server_cpu)),
        row(format!("{small_size} PUT, ms/op"), |f| {
            cpu(f.small_put.server_cpu * 1e3)
        }),
        row(format!("{small_size} GET, ms/op"), |f| {
            cpu(f.small_get.server_cpu * 1e3)
        }),
        heading("client CPU (user + system)"),
        row(format!("{big} PUT, s/GB"), |f| cpu(f.big_put.client_cpu)),
        row(format!("{big} GET, s/GB"), |f| cpu(f.big_get.client_cpu)),
        row(format!("{small_size} GET, ms/op"), |f| {
            cpu(f.small_get.client_cpu * 1e3)
        }),
        heading("server memory"),
        row("peak RSS (VmHWM), MiB".to_owned(), |f| mib(f.peak_rss)),
        row(format!("peak RSS during {big} phases, MiB"), |f| {
            phase_rss(f, f.rss_big)
        }),
        row(format!("peak RSS during {small}, MiB"), |f| {
            phase_rss(f, f.rss_small)
        }),
        row(format!("peak RSS during {mid}, MiB"), |f| {
            phase_rss(f, f.rss_mid)
        }),
        row("content check".to_owned(), |f| {
            if f.failed_checks.is_empty() {
                "ok".to_owned()
            } else {
                "FAILED".to_owned()
            }
        }),
    ]
}

fn mib(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / f64::from(1 << 20))
}

/// A phase's peak; marked when it could not be separated from the phases before it.
fn phase_rss(f: &Figures, bytes: u64) -> String {
    if f.rss_per_phase {
        mib(bytes)
    } else {
        format!("<={}", mib(bytes))
    }
}

fn cpu(v: f64) -> String {
    format!("{v:.3}")
}

pub(crate) fn render(ctx: &Context, results: &[(Sse, Outcome)]) -> String {
    let plan = &ctx.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ncoffer-bench: {} run(s) over {}, medians, each run taken for every method in turn; \
         client and server share {} core(s); load average before {}, after {}",
        plan.runs,
        if plan.tls { "https" } else { "http" },
        ctx.cores,
        ctx.load_before,
        ctx.load_after
    );
    if let Some(rss) = ctx.client_peak_rss {
        let _ = writeln!(out, "client peak RSS: {} MiB", mib(rss));
    }
    let rows = rows(plan);
    let label_width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let col = 9;
    let _ = write!(out, "\n{:label_width$}", "");
    for (sse, _) in results {
        let _ = write!(out, " {:>col$}", sse.name());
    }
    let _ = writeln!(out);
    for (label, cell) in &rows {
        let _ = write!(out, "{label:label_width$}");
        let Some(cell) = cell else {
            let _ = writeln!(out);
            continue;
        };
        for (_, outcome) in results {
            let text = match outcome {
                Outcome::Measured(f) => cell(f),
                Outcome::NotAvailable(_) => "n/a".to_owned(),
                Outcome::Failed(_) => "error".to_owned(),
            };
            let _ = write!(out, " {text:>col$}");
        }
        let _ = writeln!(out);
    }

    let baseline = results.iter().find_map(|(sse, o)| match o {
        Outcome::Measured(f) if *sse == Sse::None => Some(f),
        _ => None,
    });
    if let Some(none) = baseline {
        let _ = writeln!(out, "\nRelative to none (PUT / GET throughput):");
        for (sse, outcome) in results {
            if *sse == Sse::None {
                continue;
            }
            let line = match outcome {
                Outcome::Measured(f) => format!(
                    "{}: PUT {} / GET {} of none; {} x {}: PUT {} / GET {}",
                    size(plan.big_len),
                    pct(f.big_put.per_second, none.big_put.per_second),
                    pct(f.big_get.per_second, none.big_get.per_second),
                    plan.mid_count,
                    size(plan.mid_len),
                    pct(f.mid_put.per_second, none.mid_put.per_second),
                    pct(f.mid_get.per_second, none.mid_get.per_second),
                ),
                Outcome::NotAvailable(why) => format!("n/a ({why})"),
                Outcome::Failed(_) => "error".to_owned(),
            };
            let _ = writeln!(out, "  {}: {line}", sse.name());
        }
    }
    for (sse, outcome) in results {
        match outcome {
            Outcome::Measured(f) => {
                for failure in &f.failed_checks {
                    let _ = writeln!(out, "CONTENT CHECK FAILED for {}: {failure}", sse.name());
                }
            }
            Outcome::Failed(why) => {
                let _ = writeln!(out, "{} FAILED: {why}", sse.name());
            }
            Outcome::NotAvailable(_) => {}
        }
    }
    out
}

fn pct(v: f64, base: f64) -> String {
    if base > 0.0 {
        format!("{:.0}%", v / base * 100.0)
    } else {
        "?".to_owned()
    }
}
