//! The page layout every console page shares (header, navigation, messages), and the small
//! pieces pages are built of. Markup is `maud`: every interpolated value is HTML-escaped.

use maud::{DOCTYPE, Markup, html};

use crate::error::ConsoleError;
use crate::session::Flash;

/// The top-level sections of the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Buckets,
    Keys,
    Usage,
    Identities,
}

/// What the layout shows of the session.
pub(crate) struct Chrome<'a> {
    /// Who is logged in (`root`, `ram-user/alice`, `assumed-role/r/s`).
    pub(crate) who: &'a str,
    /// The session's CSRF token, for the logout form.
    pub(crate) csrf: &'a str,
    /// The active section.
    pub(crate) section: Section,
    /// The outcome of the last form, shown once.
    pub(crate) flash: Option<Flash>,
}

/// An error code in words: `AccessDenied` → `Access denied`.
pub(crate) fn words(code: &str) -> String {
    let code = code.rsplit('.').next().unwrap_or(code);
    let mut out = String::new();
    for (i, c) in code.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// The banner reporting a failed action: the code in words, the code, and the message.
pub(crate) fn error_banner(code: &str, message: &str) -> Markup {
    html! {
        div.notice.error role="alert" {
            strong { (words(code)) } " (" code { (code) } "): " (message)
        }
    }
}

/// The banner for an error.
pub(crate) fn banner_for(e: &ConsoleError) -> Markup {
    error_banner(&e.code, &e.message)
}

fn flash(f: &Flash) -> Markup {
    match &f.code {
        Some(code) => error_banner(code, &f.text),
        None => html! { div.notice.ok role="status" { (f.text) } },
    }
}

/// The hidden field every form carries.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// A whole page. `chrome` is `None` on the login page.
pub(crate) fn page(title: &str, chrome: Option<&Chrome<'_>>, content: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · coffer console" }
                link rel="stylesheet" href="/assets/console.css";
                link rel="icon" href="/favicon.ico" type="image/svg+xml";
                script src="/assets/console.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/buckets" { "coffer" }
                    @if let Some(c) = chrome {
                        nav.main aria-label="Sections" {
                            a href="/buckets" aria-current=[(c.section == Section::Buckets).then_some("page")] { "Buckets" }
                            a href="/kms/keys" aria-current=[(c.section == Section::Keys).then_some("page")] { "KMS keys" }
                            a href="/kms/usage" aria-current=[(c.section == Section::Usage).then_some("page")] { "Usage and audit" }
                            a href="/identities" aria-current=[(c.section == Section::Identities).then_some("page")] { "Users and policies" }
                        }
                        div.who {
                            span.principal title="Logged in as" { (c.who) }
                            form method="post" action="/logout" {
                                (csrf_field(c.csrf))
                                button.link type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main {
                    @if let Some(f) = chrome.and_then(|c| c.flash.as_ref()) { (flash(f)) }
                    (content)
                }
            }
        }
    }
    .into_string()
}

/// The navigation inside a bucket: objects, and Data security → Server-side encryption.
pub(crate) fn bucket_nav(bucket: &str, active: &str) -> Markup {
    let link = |href: String, id: &str, label: &str| {
        html! {
            a href=(href) aria-current=[(active == id).then_some("page")] { (label) }
        }
    };
    html! {
        nav.bucket aria-label="Bucket" {
            h2 { (bucket) }
            (link(format!("/buckets/{bucket}/objects"), "objects", "Objects"))
            div.group {
                span.group-title { "Data security" }
                (link(format!("/buckets/{bucket}/encryption"), "encryption", "Server-side encryption"))
            }
        }
    }
}

/// A timestamp of milliseconds since the epoch, in UTC, to the minute.
pub(crate) fn time_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| "—".to_owned())
}

/// A size in bytes, as a person reads it.
pub(crate) fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_words_and_values_are_escaped() {
        assert_eq!(words("AccessDenied"), "Access denied");
        assert_eq!(words("BucketNotEmpty"), "Bucket not empty");
        assert_eq!(words("Forbidden.NoPermission"), "No permission");
        let m = error_banner("X", "<script>").into_string();
        assert!(
            m.contains("&lt;script&gt;") && !m.contains("<script>"),
            "{m}"
        );
        assert_eq!(size(512), "512 B");
        assert_eq!(size(20 * 1024 * 1024), "20.0 MiB");
        assert_eq!(time_ms(0), "1970-01-01 00:00 UTC");
    }
}
