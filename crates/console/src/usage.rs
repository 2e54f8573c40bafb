//! Usage and audit: KMS calls per key per day as a chart, the usage totals, and the audit trail
//! with filters (key, principal, operation, bucket or object, time).
//!
//! Both pages are the admin API's two KMS reads as the session's principal
//! (`AdminService::invoke`): `GetUsage` needs `kms:ReadUsage`, `ListAuditRecords`
//! `kms:ReadAuditTrail`, on the key's ARN or `key/*` for the whole account. A principal without
//! them sees the denial in words, as everywhere else.

use std::collections::BTreeMap;

use coffer_admin::Operation;
use maud::{Markup, PreEscaped, html};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use crate::error::ConsoleError;
use crate::form::{Form, encode};
use crate::page::{self, Section};
use crate::reply::Reply;
use crate::server::{Caller, ConsoleService, Req};

/// The windows the chart offers, in days.
const WINDOWS: [u32; 3] = [7, 14, 30];
/// Keys drawn in a colour of their own; the others are summed as "Other keys".
const COLOURED_KEYS: usize = 5;
/// Records one audit page shows.
const AUDIT_PAGE: u64 = 100;
/// Operations offered as suggestions in the audit filter (any KMS operation name is accepted).
const COMMON_OPERATIONS: [&str; 10] = [
    "GenerateDataKey",
    "Decrypt",
    "Encrypt",
    "ReEncrypt",
    "CreateKey",
    "DescribeKey",
    "ScheduleKeyDeletion",
    "ImportKeyMaterial",
    "AutomaticRotation",
    "KeyDeletion",
];

async fn read(
    svc: &ConsoleService,
    caller: &Caller,
    op: Operation,
    params: Map<String, Value>,
) -> Result<Value, ConsoleError> {
    Ok(svc
        .admin
        .invoke(
            &caller.principal,
            caller.facts.shared_conditions(),
            op,
            Value::Object(params),
        )
        .await?)
}

fn put(params: &mut Map<String, Value>, name: &str, value: Option<&str>) {
    if let Some(v) = value {
        params.insert(name.to_owned(), Value::String(v.to_owned()));
    }
}

fn field<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or("")
}

fn nav(active: &str) -> Markup {
    html! {
        nav.tabs aria-label="Usage and audit" {
            a href="/kms/usage" aria-current=[(active == "usage").then_some("page")] { "Usage" }
            a href="/kms/audit" aria-current=[(active == "audit").then_some("page")] { "Audit trail" }
        }
    }
}

/// A `datetime-local` value (`2026-12-03T10:00`, seconds optional), read as UTC, as RFC 3339.
fn utc_time(given: &str, name: &str) -> Result<String, ConsoleError> {
    let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    let t = time::PrimitiveDateTime::parse(given, &seconds)
        .or_else(|_| time::PrimitiveDateTime::parse(given, &minutes))
        .map_err(|_| {
            ConsoleError::invalid(format!(
                "{name}: give a date and time as 2026-12-03T10:00 (UTC)."
            ))
        })?;
    t.assume_utc()
        .format(&Rfc3339)
        .map_err(|_| ConsoleError::invalid(format!("{name}: the time is out of range.")))
}

/// GET /kms/usage?key=…&days=14: the chart of calls per key per day, and the totals.
pub(crate) async fn usage(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
) -> Result<Reply, ConsoleError> {
    let key = req.query.get("key");
    let days = req
        .query
        .get("days")
        .and_then(|d| d.parse::<u32>().ok())
        .filter(|d| WINDOWS.contains(d))
        .unwrap_or(14);
    let today = OffsetDateTime::now_utc().date();
    let first = today - time::Duration::days(i64::from(days) - 1);
    let start = first
        .midnight()
        .assume_utc()
        .format(&Rfc3339)
        .map_err(ConsoleError::internal)?;
    let mut params = Map::new();
    put(&mut params, "KeyId", key);
    put(&mut params, "Granularity", Some("Day"));
    put(&mut params, "StartTime", Some(&start));
    let filters = usage_filters(key, days);
    let daily = match read(svc, caller, Operation::GetUsage, params).await {
        Ok(v) => v,
        Err(e) => {
            return Err(caller.error_page(
                svc,
                Section::Usage,
                "Usage",
                e,
                html! { h1 { "Usage and audit" } (nav("usage")) (filters) },
            ));
        }
    };
    let mut totals_params = Map::new();
    put(&mut totals_params, "KeyId", key);
    let totals = read(svc, caller, Operation::GetUsage, totals_params).await;

    let day_names: Vec<String> = (0..days)
        .map(|i| (first + time::Duration::days(i64::from(i))).to_string())
        .collect();
    let chart = Chart::new(&day_names, daily["Daily"].as_array().into_iter().flatten());
    let content = html! {
        h1 { "Usage and audit" }
        (nav("usage"))
        (filters)
        section.panel #usage-chart-panel {
            h2 { "KMS calls per key per day" }
            p.hint { "Every call the KMS served, from the API, for objects (SSE-KMS) and its own schedule, by UTC day. Counted from the audit trail." }
            (chart.svg())
            (chart.legend())
            (chart.table())
        }
        section.panel #usage-totals-panel {
            h2 { "Totals by operation" }
            p.hint { "Calls and failures since each key was created (the metering counters)." }
            @match &totals {
                Ok(v) => (totals_table(v)),
                Err(e) => (page::banner_for(e)),
            }
        }
    };
    Ok(caller.page(svc, Section::Usage, "Usage", content))
}

fn usage_filters(key: Option<&str>, days: u32) -> Markup {
    html! {
        form.panel.filters #usage-filters method="get" action="/kms/usage" {
            div.field {
                label for="usage-key" { "KMS key" }
                input #usage-key name="key" type="text" autocomplete="off" placeholder="All keys (or a key ID, alias or ARN)" value=[key];
            }
            div.field {
                label for="usage-days" { "Days" }
                select #usage-days name="days" {
                    @for d in WINDOWS {
                        option value=(d) selected[d == days] { "Last " (d) " days" }
                    }
                }
            }
            div.actions { button.primary type="submit" { "Show" } }
        }
    }
}

fn totals_table(v: &Value) -> Markup {
    let rows: Vec<&Value> = v["Usage"].as_array().into_iter().flatten().collect();
    html! {
        @if rows.is_empty() {
            p.empty { "No KMS calls yet." }
        } @else {
            div.table-wrap {
                table.list #usage-totals {
                    thead { tr { th { "Key ID" } th { "Operation" } th.num { "Calls" } th.num { "Failed" } } }
                    tbody {
                        @for r in rows {
                            tr {
                                td { @match r["KeyId"].as_str() { Some(k) => a href={"/kms/keys/" (k)} { code { (k) } }, None => "— (no key)" } }
                                td { (field(r, "Operation")) }
                                td.num { (r["Calls"].as_u64().unwrap_or(0)) }
                                td.num { (r["Failures"].as_u64().unwrap_or(0)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The daily counts, arranged for drawing: one column per day, one series per coloured key plus
/// "Other keys".
struct Chart {
    days: Vec<String>,
    /// Series names in drawing order (the busiest key first).
    series: Vec<String>,
    /// `counts[series][day]`.
    counts: Vec<Vec<u64>>,
}

const OTHER: &str = "Other keys";
const NO_KEY: &str = "No key";

impl Chart {
    fn new<'a>(days: &[String], rows: impl Iterator<Item = &'a Value>) -> Self {
        let column: BTreeMap<&str, usize> = days
            .iter()
            .enumerate()
            .map(|(i, d)| (d.as_str(), i))
            .collect();
        let mut per_key: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for r in rows {
            let Some(&day) = column.get(field(r, "Day")) else {
                continue;
            };
            let key = r["KeyId"].as_str().unwrap_or(NO_KEY).to_owned();
            per_key.entry(key).or_insert_with(|| vec![0; days.len()])[day] +=
                r["Calls"].as_u64().unwrap_or(0);
        }
        let mut keys: Vec<(String, Vec<u64>)> = per_key.into_iter().collect();
        keys.sort_by(|a, b| {
            b.1.iter()
                .sum::<u64>()
                .cmp(&a.1.iter().sum::<u64>())
                .then(a.0.cmp(&b.0))
        });
        let mut series = Vec::new();
        let mut counts = Vec::new();
        let mut other = vec![0; days.len()];
        for (i, (key, c)) in keys.into_iter().enumerate() {
            if i < COLOURED_KEYS {
                series.push(key);
                counts.push(c);
            } else {
                other.iter_mut().zip(c).for_each(|(o, n)| *o += n);
            }
        }
        if other.iter().any(|&n| n > 0) {
            series.push(OTHER.to_owned());
            counts.push(other);
        }
        Self {
            days: days.to_vec(),
            series,
            counts,
        }
    }

    fn total(&self, day: usize) -> u64 {
        self.counts.iter().map(|c| c[day]).sum()
    }

    /// A stacked bar per day, drawn by the server (no script): the chart is an image with a text
    /// alternative, and the same numbers are in the table below it.
    fn svg(&self) -> Markup {
        const W: f64 = 720.0;
        const H: f64 = 220.0;
        const LEFT: f64 = 48.0;
        const BOTTOM: f64 = 28.0;
        let n = self.days.len().max(1) as f64;
        let max = (0..self.days.len())
            .map(|d| self.total(d))
            .max()
            .unwrap_or(0)
            .max(1);
        let slot = (W - LEFT) / n;
        let bar = (slot * 0.7).max(2.0);
        let scale = (H - BOTTOM - 8.0) / max as f64;
        let sum: u64 = (0..self.days.len()).map(|d| self.total(d)).sum();
        let label = format!(
            "Bar chart of KMS calls per day over {} days, {} calls in all, at most {} in a day",
            self.days.len(),
            sum,
            max
        );
        let mut out = String::new();
        for d in 0..self.days.len() {
            let x = LEFT + slot * d as f64 + (slot - bar) / 2.0;
            let mut y = H - BOTTOM;
            for (s, c) in self.counts.iter().enumerate() {
                if c[d] == 0 {
                    continue;
                }
                let h = c[d] as f64 * scale;
                y -= h;
                out.push_str(&format!(
                    r#"<rect class="s{s}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}"><title>{} {}: {}</title></rect>"#,
                    html_escape(&self.days[d]),
                    html_escape(&self.series[s]),
                    c[d]
                ));
            }
            // Every day gets a tick; the label shows month-day, every few days when crowded.
            let step = (self.days.len() / 10).max(1);
            if d % step == 0 {
                out.push_str(&format!(
                    r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                    x + bar / 2.0,
                    H - 10.0,
                    html_escape(self.days[d].get(5..).unwrap_or(&self.days[d]))
                ));
            }
        }
        out.push_str(&format!(
            r#"<text class="tick" x="{:.1}" y="14" text-anchor="end">{max}</text><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">0</text><line class="axis" x1="{LEFT}" y1="{:.1}" x2="{W}" y2="{:.1}"/>"#,
            LEFT - 6.0,
            LEFT - 6.0,
            H - BOTTOM,
            H - BOTTOM,
            H - BOTTOM
        ));
        html! {
            figure.chart {
                svg #usage-chart role="img" aria-label=(label) viewBox={"0 0 " (W) " " (H)} preserveAspectRatio="xMinYMin meet" {
                    (PreEscaped(out))
                }
            }
        }
    }

    fn legend(&self) -> Markup {
        html! {
            @if self.series.is_empty() {
                p.empty #usage-empty { "No KMS calls in these days." }
            } @else {
                ul.legend {
                    @for (i, s) in self.series.iter().enumerate() {
                        li { span class={"swatch s" (i)} aria-hidden="true" {} (short_key(s)) }
                    }
                }
            }
        }
    }

    fn table(&self) -> Markup {
        html! {
            div.table-wrap {
                table.list #usage-daily {
                    caption { "Calls per key per day" }
                    thead { tr { th { "Day" } @for s in &self.series { th.num title=(s) { (short_key(s)) } } th.num { "All" } } }
                    tbody {
                        @for (d, day) in self.days.iter().enumerate().rev() {
                            tr data-day=(day) {
                                td { (day) }
                                @for c in &self.counts { td.num { (c[d]) } }
                                td.num.total { (self.total(d)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A key id shortened for a legend (the full id is in the table's title and the totals).
fn short_key(s: &str) -> String {
    match s.strip_prefix("key-") {
        Some(rest) if rest.len() > 12 => format!("key-{}…", &rest[..12]),
        _ => s.to_owned(),
    }
}

fn html_escape(s: &str) -> String {
    maud::html! { (s) }.into_string()
}

/// GET /kms/audit?key=&principal=&operation=&resource=&from=&to=&order=&marker=: the audit
/// trail. By default the most recent records matching, newest first; with `order=oldest` or a
/// marker, a page oldest first.
pub(crate) async fn audit(
    svc: &ConsoleService,
    caller: &Caller,
    req: &Req,
) -> Result<Reply, ConsoleError> {
    let q = &req.query;
    let filters = audit_filters(q);
    let fail = |e: ConsoleError| {
        caller.error_page(
            svc,
            Section::Usage,
            "Audit trail",
            e,
            html! { h1 { "Usage and audit" } (nav("audit")) (audit_filters(q)) },
        )
    };
    let mut params = Map::new();
    put(&mut params, "KeyId", q.get("key"));
    put(&mut params, "Principal", q.get("principal"));
    put(&mut params, "Operation", q.get("operation"));
    put(&mut params, "Resource", q.get("resource"));
    for (field_name, param, label) in [("from", "StartTime", "From"), ("to", "EndTime", "To")] {
        if let Some(t) = q.get(field_name) {
            let t = utc_time(t, label).map_err(fail)?;
            params.insert(param.to_owned(), Value::String(t));
        }
    }
    // Oldest first, a page at a time from the marker the page before gave (opaque: a position
    // in the data directory's log, a record's key in the database); otherwise the newest.
    let marker = q.get("marker");
    let oldest_first = marker.is_some() || q.get("order") == Some("oldest");
    if oldest_first {
        put(&mut params, "Marker", marker);
        params.insert("MaxResults".into(), AUDIT_PAGE.into());
    } else {
        params.insert("Tail".into(), AUDIT_PAGE.into());
    }
    let reply = read(svc, caller, Operation::ListAuditRecords, params)
        .await
        .map_err(fail)?;
    let mut records: Vec<&Value> = reply["Records"].as_array().into_iter().flatten().collect();
    if !oldest_first {
        records.reverse();
    }
    let next = reply["NextMarker"]
        .as_str()
        .filter(|_| reply["Truncated"] == true);
    let here = |marker: &str| {
        let mut url = String::from("/kms/audit?");
        for name in ["key", "principal", "operation", "resource", "from", "to"] {
            if let Some(v) = q.get(name) {
                url.push_str(&format!("{name}={}&", encode(v)));
            }
        }
        url.push_str(marker);
        url
    };
    let content = html! {
        h1 { "Usage and audit" }
        (nav("audit"))
        (filters)
        section.panel {
            h2 { "Audit trail" }
            p.hint #audit-scope {
                @if oldest_first {
                    "Matching records, oldest first, " (AUDIT_PAGE) " a page. " a href=(here("")) { "Show the most recent" }
                } @else {
                    "The most recent " (AUDIT_PAGE) " matching records, newest first. " a href=(here("order=oldest")) { "Show from the oldest" }
                }
            }
            @if records.is_empty() {
                p.empty #audit-empty { "No audit records match." }
            } @else {
                div.table-wrap {
                    table.list #audit {
                        thead { tr { th { "Time (UTC)" } th { "Principal" } th { "Operation" } th { "Key ID" } th { "Key version" } th { "Bucket / object" } th { "Encryption context" } th { "Result" } } }
                        tbody {
                            @for r in &records {
                                tr data-operation=(field(r, "operation")) {
                                    td { (field(r, "time")) }
                                    td { (field(r, "principal")) br; small { (field(r, "via")) } }
                                    td { (field(r, "operation")) }
                                    td { @match r["key_id"].as_str() { Some(k) => a href={"/kms/keys/" (k)} { code { (k) } }, None => "—" } }
                                    td { @match r["key_version_id"].as_str() { Some(v) => code { (v) }, None => "—" } }
                                    td { (resource(r)) }
                                    td { (context(&r["encryption_context"])) }
                                    td { @let result = field(r, "result"); @if result == "Success" { (result) } @else { strong { (result) } } }
                                }
                            }
                        }
                    }
                }
            }
            @if let (true, Some(next)) = (oldest_first, next) {
                p { a.button href=(here(&format!("marker={}", encode(next)))) rel="next" { "Next page" } }
            }
        }
    };
    Ok(caller.page(svc, Section::Usage, "Audit trail", content))
}

/// `bucket/key` (how SSE-KMS calls name their object) as a link to the object, anything else
/// as text.
fn resource(r: &Value) -> Markup {
    let text = field(r, "resource");
    match text.split_once('/') {
        Some((bucket, key)) if !bucket.is_empty() => html! {
            a href={"/buckets/" (bucket) "/objects/detail?key=" (encode(key))} { (bucket) "/" (key) }
        },
        _ if text.is_empty() => html! { "—" },
        _ => html! { (text) },
    }
}

fn context(v: &Value) -> Markup {
    match v.as_object() {
        Some(m) if !m.is_empty() => html! {
            @for (k, v) in m { code { (k) "=" (v.as_str().map_or_else(|| v.to_string(), str::to_owned)) } " " }
        },
        _ => html! { "—" },
    }
}

fn audit_filters(q: &Form) -> Markup {
    let text = |id: &str, name: &str, label: &str, hint: &str| {
        html! {
            div.field {
                label for=(id) { (label) }
                input id=(id) name=(name) type="text" autocomplete="off" placeholder=(hint) value=[q.get(name)];
            }
        }
    };
    html! {
        form.panel.filters #audit-filters method="get" action="/kms/audit" {
            (text("audit-key", "key", "KMS key", "Key ID, alias or ARN"))
            (text("audit-principal", "principal", "Principal", "root, a user, role/session"))
            div.field {
                label for="audit-operation" { "Operation" }
                input #audit-operation name="operation" type="text" list="audit-operations" autocomplete="off" placeholder="Decrypt, GenerateDataKey, …" value=[q.get("operation")];
                datalist #audit-operations { @for op in COMMON_OPERATIONS { option value=(op) {} } }
            }
            (text("audit-resource", "resource", "Bucket or object", "bucket or bucket/key-prefix"))
            div.field {
                label for="audit-from" { "From (UTC)" }
                input #audit-from name="from" type="datetime-local" value=[q.get("from")];
            }
            div.field {
                label for="audit-to" { "To (UTC)" }
                input #audit-to name="to" type="datetime-local" value=[q.get("to")];
            }
            div.actions { button.primary type="submit" { "Filter" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn local_times_read_as_utc() {
        assert_eq!(
            utc_time("2026-12-03T10:00", "From").unwrap(),
            "2026-12-03T10:00:00Z"
        );
        assert_eq!(
            utc_time("2026-12-03T10:00:05", "From").unwrap(),
            "2026-12-03T10:00:05Z"
        );
        let e = utc_time("yesterday", "From").unwrap_err();
        assert!(e.message.starts_with("From:"), "{}", e.message);
    }

    #[test]
    fn the_chart_stacks_the_busiest_keys_and_sums_the_rest() {
        let days: Vec<String> = ["2026-12-01", "2026-12-02"].map(String::from).to_vec();
        let mut rows = Vec::new();
        for k in 0..7u64 {
            rows.push(json!({"Day": "2026-12-02", "KeyId": format!("key-{k}"), "Calls": k + 1}));
        }
        rows.push(json!({"Day": "2026-12-01", "KeyId": null, "Calls": 2}));
        // A day outside the window is ignored rather than drawn off the chart.
        rows.push(json!({"Day": "2026-11-30", "KeyId": "key-0", "Calls": 100}));
        let chart = Chart::new(&days, rows.iter());
        assert_eq!(chart.series.len(), COLOURED_KEYS + 1);
        assert_eq!(chart.series[0], "key-6");
        assert_eq!(chart.series.last().unwrap(), OTHER);
        assert_eq!(chart.total(1), (1..=7).sum::<u64>());
        // The seven keys and the keyless calls: the five busiest, then the rest (1 + 2 on day
        // two, 2 without a key on day one).
        assert_eq!(chart.counts.last().unwrap(), &vec![2, 3]);
        let svg = chart.svg().into_string();
        assert_eq!(svg.matches("<rect").count(), COLOURED_KEYS + 2);
        assert!(svg.contains("30 calls in all"), "{svg}");
    }

    #[test]
    fn resources_link_to_their_object() {
        let r = json!({"resource": "b1/dir/a b"});
        let m = resource(&r).into_string();
        assert!(
            m.contains("/buckets/b1/objects/detail?key=dir%2Fa%20b"),
            "{m}"
        );
        assert_eq!(resource(&json!({})).into_string(), "—");
    }
}
