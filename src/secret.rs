//! A string that must never be printed: tokens, keys, signing secrets.
//!
//! `Debug`, `Display` and `Serialize` all print a mask, so a secret that ends up in a
//! log line, an error message or `print-config` output shows `***` instead of its value.
//! The only way to read the value is [`Secret::expose`], which makes every use greppable.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A secret string. See the module docs for why it has no readable `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that must send it over the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when no value is set (an empty string counts as unset).
    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }

    /// What `Debug`/`Display` print: `(unset)` for an empty secret, `***` otherwise.
    pub fn masked(&self) -> &'static str {
        if self.is_empty() {
            "(unset)"
        } else {
            "***"
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.masked())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.masked())
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.masked())
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// A connection URL fit to print: scheme, user, host, port and database, without the
/// password or the query (whose `options` or `password` can carry one). Text that is not
/// such a URL (a libpq `key=value` string, a typo) is not shown at all.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.has_host() => {
            let _ = parsed.set_password(None);
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        _ => "(a connection string, not shown)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_keep_where_but_not_the_password() {
        let cases = [
            ("postgres://bot:pw1@db:5432/bridge?sslmode=require", "postgres://bot@db:5432/bridge"),
            ("postgresql://db/bridge?password=pw1", "postgresql://db/bridge"),
            ("postgres://bot@127.0.0.1/test#pw1", "postgres://bot@127.0.0.1/test"),
            ("host=db password=pw1", "(a connection string, not shown)"),
            ("pw1", "(a connection string, not shown)"),
        ];
        for (url, shown) in cases {
            assert_eq!(redact_url(url), shown);
            assert!(!redact_url(url).contains("pw1"));
        }
    }

    #[test]
    fn debug_display_and_serialize_mask_the_value() {
        let s = Secret::new("xoxb-very-secret");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
        assert_eq!(s.expose(), "xoxb-very-secret");
        assert_eq!(format!("{:?}", Secret::default()), "(unset)");
    }
}
