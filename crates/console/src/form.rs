//! Query strings and `application/x-www-form-urlencoded` bodies, as browsers send them.

use percent_encoding::percent_decode;

/// Decoded name/value pairs, in order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

fn decode(part: &[u8]) -> String {
    let spaced: Vec<u8> = part
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&spaced).decode_utf8_lossy().into_owned()
}

impl Form {
    /// Parses `a=1&b=two+words`.
    pub(crate) fn parse(input: &[u8]) -> Self {
        let pairs = input
            .split(|&b| b == b'&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.iter().position(|&b| b == b'=') {
                Some(i) => (decode(&p[..i]), decode(&p[i + 1..])),
                None => (decode(p), String::new()),
            })
            .collect();
        Self { pairs }
    }

    /// The first value of `name`, trimmed; empty reads as absent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The first value of `name` as sent (not trimmed; secrets and keys keep their spaces).
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-encodes a query value.
pub(crate) fn encode(value: &str) -> String {
    percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_encodings_decode() {
        let f = Form::parse(b"a=1&b=two+words&c=%2Fx%20y&d&a=2&e=+");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), Some("two words"));
        assert_eq!(f.get("c"), Some("/x y"));
        assert_eq!(f.get("d"), None);
        assert_eq!(f.get("e"), None);
        assert_eq!(f.raw("e"), Some(" "));
        assert_eq!(encode("a b/ü"), "a%20b%2F%C3%BC");
    }
}
