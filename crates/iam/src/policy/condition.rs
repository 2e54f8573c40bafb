//! `Condition` blocks: parsing of operators and values, and their evaluation (Alibaba Cloud RAM
//! documentation, "Policy elements").

use std::cmp::Ordering;
use std::net::IpAddr;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::RequestFacts;
use super::error::PolicyError;
use super::json::Json;
use super::matcher::glob;
use super::net::IpNet;

/// A statement's `Condition` block: every clause must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Condition {
    clauses: Vec<Clause>,
}

/// One `operator: { key: values }` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    /// The operator as the RAM documentation spells it, for debugging.
    operator: &'static str,
    /// The condition key, lower-cased: key names compare case-insensitively.
    key: String,
    /// For the `...Not...` operators: the clause holds when the positive test does not.
    negated: bool,
    test: Test,
}

/// The positive test of an operator together with the policy's values, already typed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    StringEquals(Vec<String>),
    /// Values stored lower-cased.
    StringEqualsIgnoreCase(Vec<String>),
    StringLike(Vec<String>),
    Numeric(Compare, Vec<Decimal>),
    Date(Compare, Vec<OffsetDateTime>),
    Bool(Vec<bool>),
    IpAddress(Vec<IpNet>),
}

/// How a request value must compare with a policy value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compare {
    Equals,
    LessThan,
    LessThanEquals,
    GreaterThan,
    GreaterThanEquals,
}

impl Compare {
    /// `request_vs_policy` is `request_value.cmp(policy_value)`.
    fn holds(self, request_vs_policy: Ordering) -> bool {
        use Ordering::*;
        match self {
            Compare::Equals => request_vs_policy == Equal,
            Compare::LessThan => request_vs_policy == Less,
            Compare::LessThanEquals => request_vs_policy != Greater,
            Compare::GreaterThan => request_vs_policy == Greater,
            Compare::GreaterThanEquals => request_vs_policy != Less,
        }
    }
}

/// The families of operators; the values of a clause are parsed according to its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    Numeric(Compare),
    Date(Compare),
    Bool,
    IpAddress,
}

/// Every operator coffer knows: name, family, negated.
#[rustfmt::skip]
const OPERATORS: &[(&str, Family, bool)] = &[
    ("StringEquals",              Family::StringEquals,                       false),
    ("StringNotEquals",           Family::StringEquals,                       true),
    ("StringEqualsIgnoreCase",    Family::StringEqualsIgnoreCase,             false),
    ("StringNotEqualsIgnoreCase", Family::StringEqualsIgnoreCase,             true),
    ("StringLike",                Family::StringLike,                         false),
    ("StringNotLike",             Family::StringLike,                         true),
    ("NumericEquals",             Family::Numeric(Compare::Equals),           false),
    ("NumericNotEquals",          Family::Numeric(Compare::Equals),           true),
    ("NumericLessThan",           Family::Numeric(Compare::LessThan),         false),
    ("NumericLessThanEquals",     Family::Numeric(Compare::LessThanEquals),   false),
    ("NumericGreaterThan",        Family::Numeric(Compare::GreaterThan),      false),
    ("NumericGreaterThanEquals",  Family::Numeric(Compare::GreaterThanEquals), false),
    ("DateEquals",                Family::Date(Compare::Equals),              false),
    ("DateNotEquals",             Family::Date(Compare::Equals),              true),
    ("DateLessThan",              Family::Date(Compare::LessThan),            false),
    ("DateLessThanEquals",        Family::Date(Compare::LessThanEquals),      false),
    ("DateGreaterThan",           Family::Date(Compare::GreaterThan),         false),
    ("DateGreaterThanEquals",     Family::Date(Compare::GreaterThanEquals),   false),
    ("Bool",                      Family::Bool,                               false),
    ("IpAddress",                 Family::IpAddress,                          false),
    ("NotIpAddress",              Family::IpAddress,                          true),
];

impl Condition {
    /// Parses the value of a `Condition` element found at `location`.
    pub(super) fn parse(location: &str, json: &Json) -> Result<Self, PolicyError> {
        let Json::Object(operators) = json else {
            return Err(PolicyError::malformed(
                location,
                format!(
                    "must be an object of condition operators, not {}",
                    json.kind()
                ),
            ));
        };
        if operators.is_empty() {
            return Err(PolicyError::malformed(
                location,
                "must name at least one condition operator (omit Condition instead)",
            ));
        }
        let mut clauses = Vec::new();
        for (name, block) in operators {
            let here = format!("{location}.{name}");
            let &(operator, family, negated) = OPERATORS
                .iter()
                // Operator names are accepted in any case; RAM does not say and being lenient
                // here cannot widen access.
                .find(|(known, _, _)| known.eq_ignore_ascii_case(name))
                .ok_or_else(|| PolicyError::malformed(&here, unknown_operator(name)))?;
            let Json::Object(keys) = block else {
                return Err(PolicyError::malformed(
                    &here,
                    format!("must be an object of condition keys, not {}", block.kind()),
                ));
            };
            if keys.is_empty() {
                return Err(PolicyError::malformed(
                    &here,
                    "must name at least one condition key",
                ));
            }
            for (key, values) in keys {
                let here = format!("{here}.{key}");
                check_key(&here, key)?;
                let texts = scalar_texts(&here, values)?;
                clauses.push(Clause {
                    operator,
                    key: key.to_lowercase(),
                    negated,
                    test: typed(&here, family, texts)?,
                });
            }
        }
        Ok(Condition { clauses })
    }

    /// Whether every clause holds for the request.
    pub(super) fn holds(&self, facts: &RequestFacts) -> bool {
        self.clauses
            .iter()
            .all(|clause| clause.holds(facts.values(&clause.key)))
    }
}

impl Clause {
    /// Values of one key are OR-ed; a negated operator holds when no request value passes the
    /// positive test — in particular when the key is absent (coffer's choice, as AWS IAM does:
    /// "IAM JSON policy elements: Condition operators").
    fn holds(&self, request_values: &[String]) -> bool {
        let positive = request_values.iter().any(|v| self.test.passes(v));
        positive != self.negated
    }
}

impl Test {
    /// Whether one request value passes against any of the policy's values. A request value that
    /// does not parse as the operator's type (a number, a date, an address) passes nothing.
    fn passes(&self, request: &str) -> bool {
        match self {
            Test::StringEquals(values) => values.iter().any(|v| v == request),
            Test::StringEqualsIgnoreCase(values) => {
                let request = request.to_lowercase();
                values.contains(&request)
            }
            Test::StringLike(values) => values.iter().any(|v| glob(v, request)),
            Test::Numeric(compare, values) => Decimal::parse(request)
                .is_some_and(|r| values.iter().any(|v| compare.holds(r.cmp(v)))),
            Test::Date(compare, values) => {
                parse_date(request).is_some_and(|r| values.iter().any(|v| compare.holds(r.cmp(v))))
            }
            Test::Bool(values) => parse_bool(request).is_some_and(|r| values.contains(&r)),
            Test::IpAddress(networks) => request
                .parse::<IpAddr>()
                .is_ok_and(|ip| networks.iter().any(|n| n.contains(ip))),
        }
    }
}

fn unknown_operator(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("forallvalues:") || lower.starts_with("foranyvalue:") {
        format!("the set qualifier in `{name}` is not supported")
    } else if lower.ends_with("ifexists") {
        format!("the IfExists suffix in `{name}` is not supported")
    } else {
        format!("unknown condition operator `{name}`")
    }
}

/// A condition key looks like `acs:SourceIp`, `oss:Prefix` or `kms:tag/Project`.
fn check_key(location: &str, key: &str) -> Result<(), PolicyError> {
    let well_formed = key.split_once(':').is_some_and(|(service, name)| {
        !service.is_empty()
            && service
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !name.is_empty()
    });
    if well_formed {
        Ok(())
    } else {
        Err(PolicyError::malformed(
            location,
            format!("`{key}` is not a condition key of the form service:Name"),
        ))
    }
}

/// The values of one key as text: one scalar or a non-empty array of scalars.
fn scalar_texts(location: &str, json: &Json) -> Result<Vec<String>, PolicyError> {
    let scalar = |json: &Json| match json {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        other => Err(PolicyError::malformed(
            location,
            format!(
                "condition values must be strings, numbers or booleans, not {}",
                other.kind()
            ),
        )),
    };
    match json {
        Json::Array(items) if items.is_empty() => Err(PolicyError::malformed(
            location,
            "must list at least one value",
        )),
        Json::Array(items) => items.iter().map(scalar).collect(),
        one => Ok(vec![scalar(one)?]),
    }
}

/// Checks and converts the values for the operator's family.
fn typed(location: &str, family: Family, texts: Vec<String>) -> Result<Test, PolicyError> {
    fn each<T>(
        location: &str,
        texts: &[String],
        parse: impl Fn(&str) -> Option<T>,
        expected: &str,
    ) -> Result<Vec<T>, PolicyError> {
        texts
            .iter()
            .map(|t| {
                parse(t).ok_or_else(|| {
                    PolicyError::malformed(location, format!("`{t}` is not {expected}"))
                })
            })
            .collect()
    }
    Ok(match family {
        Family::StringEquals => Test::StringEquals(texts),
        Family::StringEqualsIgnoreCase => {
            Test::StringEqualsIgnoreCase(texts.iter().map(|t| t.to_lowercase()).collect())
        }
        Family::StringLike => Test::StringLike(texts),
        Family::Numeric(c) => Test::Numeric(
            c,
            each(location, &texts, Decimal::parse, "a decimal number")?,
        ),
        Family::Date(c) => Test::Date(
            c,
            each(
                location,
                &texts,
                parse_date,
                "an ISO 8601 date-time such as 2025-01-01T00:00:00Z",
            )?,
        ),
        Family::Bool => Test::Bool(each(location, &texts, parse_bool, "true or false")?),
        Family::IpAddress => Test::IpAddress(each(
            location,
            &texts,
            IpNet::parse,
            "an IP address or CIDR block",
        )?),
    })
}

/// RFC 3339 date-time (the ISO 8601 profile the RAM documentation's examples use); any offset,
/// compared as instants.
fn parse_date(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

/// `true`/`false` in any case. `HTTPS`/`HTTP` are also read as true/false because OSS's
/// bucket-policy documentation gives `acs:SecureTransport` those values (RAM's calls it Boolean).
fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("https") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("http") {
        Some(false)
    } else {
        None
    }
}

/// An exact decimal number (`-12.50`), compared without floating-point rounding so that large
/// integers such as content lengths compare exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    /// Integer digits without leading zeros (empty for zero).
    int: String,
    /// Fraction digits without trailing zeros.
    frac: String,
}

impl Decimal {
    /// `[+-]digits[.digits]`, `[+-].digits` or `[+-]digits.`; no exponent.
    fn parse(s: &str) -> Option<Self> {
        let (negative, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return None;
        }
        let int = int.trim_start_matches('0').to_owned();
        let frac = frac.trim_end_matches('0').to_owned();
        let negative = negative && !(int.is_empty() && frac.is_empty());
        Some(Decimal {
            negative,
            int,
            frac,
        })
    }

    fn cmp_magnitude(&self, other: &Self) -> Ordering {
        self.int
            .len()
            .cmp(&other.int.len())
            .then_with(|| self.int.cmp(&other.int))
            // Without trailing zeros, fraction digit strings order like the fractions themselves.
            .then_with(|| self.frac.cmp(&other.frac))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self.negative, other.negative) {
            (false, false) => self.cmp_magnitude(other),
            (true, true) => other.cmp_magnitude(self),
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_exactly() {
        let d = |s: &str| Decimal::parse(s).unwrap_or_else(|| panic!("{s} should parse"));
        for (a, b, expected) in [
            ("1", "1.0", Ordering::Equal),
            ("-0", "0", Ordering::Equal),
            ("007", "7", Ordering::Equal),
            ("0.5", "0.55", Ordering::Less),
            ("0.6", "0.55", Ordering::Greater),
            ("-1", "1", Ordering::Less),
            ("-2", "-1", Ordering::Less),
            ("-1.5", "-1.25", Ordering::Less),
            ("10", "9", Ordering::Greater),
            ("9007199254740993", "9007199254740992", Ordering::Greater),
            (".5", "0.5", Ordering::Equal),
            ("5.", "5", Ordering::Equal),
            ("+3", "3", Ordering::Equal),
        ] {
            assert_eq!(d(a).cmp(&d(b)), expected, "{a} vs {b}");
        }
        for bad in [
            "", "-", ".", "1e3", "1.2.3", "0x10", " 1", "1,5", "--1", "NaN",
        ] {
            assert_eq!(Decimal::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn booleans_accept_https_and_http() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("HTTPS"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("Http"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn dates_compare_as_instants() {
        let a = parse_date("2025-01-01T08:00:00+08:00").unwrap();
        let b = parse_date("2025-01-01T00:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(parse_date("2025-01-01"), None);
    }
}
