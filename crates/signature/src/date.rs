//! The two date formats of the OSS wire: RFC 1123 (`Date`, V1 `x-oss-date`, `Last-Modified`) and
//! ISO 8601 basic (V4 `x-oss-date`).

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

// Always `GMT` and a two-digit day: oss2 and v2 parse `Last-Modified` with exactly this shape.
const RFC1123: &[BorrowedFormatItem<'static>] = format_description!(
    "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
);

const ISO8601_BASIC: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// Formats `t` (converted to UTC) as `Wed, 21 Feb 2024 08:30:00 GMT`.
pub fn format_rfc1123(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(RFC1123)
        .expect("an OffsetDateTime has every component the format names")
}

/// Parses `Wed, 21 Feb 2024 08:30:00 GMT`; `None` for anything else, including a weekday that
/// does not match the date.
pub fn parse_rfc1123(s: &str) -> Option<OffsetDateTime> {
    let t = PrimitiveDateTime::parse(s, RFC1123).ok()?.assume_utc();
    // The parser reads the weekday but does not check it against the date.
    (t.weekday().to_string()[..3] == s[..3]).then_some(t)
}

/// Formats `t` (converted to UTC) as `20240221T083000Z`.
pub fn format_iso8601_basic(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(ISO8601_BASIC)
        .expect("an OffsetDateTime has every component the format names")
}

/// Parses `20240221T083000Z`; `None` for anything else.
pub fn parse_iso8601_basic(s: &str) -> Option<OffsetDateTime> {
    // The format's `[year]` would also take a sign; the wire form never has one.
    if s.len() != 16 || !s.is_ascii() {
        return None;
    }
    PrimitiveDateTime::parse(s, ISO8601_BASIC)
        .ok()
        .map(PrimitiveDateTime::assume_utc)
}

/// Parses a request date as `x-oss-date` or `Date` may carry it: ISO 8601 basic or RFC 1123.
pub fn parse_request_date(s: &str) -> Option<OffsetDateTime> {
    parse_iso8601_basic(s).or_else(|| parse_rfc1123(s))
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn check(s: &str, expected: Option<OffsetDateTime>) {
        assert_eq!(parse_request_date(s), expected, "{s:?}");
        if let Some(t) = expected {
            let round_trip = if s.contains(',') {
                format_rfc1123(t)
            } else {
                format_iso8601_basic(t)
            };
            assert_eq!(round_trip, s);
        }
    }

    #[test]
    fn request_dates_parse_in_both_wire_formats_and_nothing_else() {
        let t = datetime!(2024-02-21 08:30:00 UTC);
        check("Wed, 21 Feb 2024 08:30:00 GMT", Some(t));
        check("20240221T083000Z", Some(t));
        check(
            "Tue, 02 Jan 2024 03:04:05 GMT",
            Some(datetime!(2024-01-02 03:04:05 UTC)),
        );
        check("Thu, 21 Feb 2024 08:30:00 GMT", None); // wrong weekday
        check("Wed, 21 Feb 2024 08:30:00 +0000", None);
        check("Wed, 21 Feb 2024 08:30:00", None);
        check("Tue, 2 Jan 2024 03:04:05 GMT", None);
        check("2024-02-21T08:30:00Z", None);
        check("20240221T083000", None);
        check("+2024022T083000Z", None);
        check("20240230T083000Z", None); // no 30 February
        check("20240221T246000Z", None);
        check("", None);
    }

    #[test]
    fn formatting_converts_to_utc() {
        let t = datetime!(2024-02-21 16:30:00 +08:00);
        assert_eq!(format_rfc1123(t), "Wed, 21 Feb 2024 08:30:00 GMT");
        assert_eq!(format_iso8601_basic(t), "20240221T083000Z");
    }
}
