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
}

type Cell = fn(&Figures) -> String;

fn gbps(v: f64) -> String {
    format!("{v:.2}")
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn rows(plan: &Plan) -> Vec<(String, Cell)> {
    let big = size(plan.big_len);
    let mid = format!("{} x {}", plan.mid_count, size(plan.mid_len));
    let small = format!(
        "{} x {}, {} in flight",
        plan.small_count,
        size(plan.small_len),
        plan.small_in_flight
    );
    let range = format!("{} range GET", size(plan.range_len));
    vec![
        (format!("{big} PUT, GB/s"), |f| gbps(f.big_put)),
        (format!("{big} GET, GB/s"), |f| gbps(f.big_get)),
        (format!("{mid} PUT, aggregate GB/s"), |f| gbps(f.mid_put)),
        (format!("{mid} GET, aggregate GB/s"), |f| gbps(f.mid_get)),
        (format!("{small} PUT, ops/s"), |f| {
            format!("{:.0}", f.small_put)
        }),
        (format!("{small} GET, ops/s"), |f| {
            format!("{:.0}", f.small_get)
        }),
        (format!("{range} median, ms"), |f| ms(f.range_median)),
        (format!("{range} p99, ms"), |f| ms(f.range_p99)),
        (format!("server rchar, one {range}, KiB"), |f| {
            format!("{:.0}", f.range_rchar as f64 / 1024.0)
        }),
        (format!("server rchar, one {big} GET, MiB"), |f| {
            format!("{:.1}", f.full_rchar as f64 / f64::from(1 << 20))
        }),
        ("server peak RSS (VmHWM), MiB".to_owned(), |f| {
            format!("{:.0}", f.peak_rss as f64 / f64::from(1 << 20))
        }),
        ("content check".to_owned(), |f| {
            if f.failed_checks.is_empty() {
                "ok".to_owned()
            } else {
                "FAILED".to_owned()
            }
        }),
    ]
}

pub(crate) fn render(ctx: &Context, results: &[(Sse, Outcome)]) -> String {
    let plan = &ctx.plan;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ncoffer-bench: {} run(s), medians; client and server share {} core(s); \
         load average before {}, after {}",
        plan.runs, ctx.cores, ctx.load_before, ctx.load_after
    );
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
        for (_, outcome) in results {
            let text = match outcome {
                Outcome::Measured(f) => cell(f),
                Outcome::NotAvailable(_) => "n/a".to_owned(),
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
                    pct(f.big_put, none.big_put),
                    pct(f.big_get, none.big_get),
                    plan.mid_count,
                    size(plan.mid_len),
                    pct(f.mid_put, none.mid_put),
                    pct(f.mid_get, none.mid_get),
                ),
                Outcome::NotAvailable(why) => format!("n/a ({why})"),
            };
            let _ = writeln!(out, "  {}: {line}", sse.name());
        }
    }
    for (sse, outcome) in results {
        if let Outcome::Measured(f) = outcome {
            for failure in &f.failed_checks {
                let _ = writeln!(out, "CONTENT CHECK FAILED for {}: {failure}", sse.name());
            }
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
