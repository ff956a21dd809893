//! Go-style durations (`2160h`, `1h30m`, `90s`, `1.5h`), the only duration syntax the
//! cert-manager API knows: manifests written for cert-manager must keep parsing here.
//!
//! The parser follows Go's `time.ParseDuration` (same units, fractions, `0` without a unit,
//! overflow at `i64::MAX` nanoseconds) except that negative durations are refused: no field of
//! the API may be negative, and refusing them at parse time keeps `Duration` a plain
//! `std::time::Duration`. Formatting follows Go's `Duration.String` (`2160h0m0s`), which is what
//! cert-manager writes into the objects it creates.
use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest duration Go can represent: `i64::MAX` nanoseconds (about 292 years).
const MAX_NANOS: u128 = i64::MAX as u128;

/// Regular expression the CRD schema checks before any CEL rule sees the string, so that a typo
/// is reported as a syntax error on the field rather than as a CEL evaluation failure.
pub const GO_DURATION_PATTERN: &str =
    r"^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$";

/// A non-negative duration written in Go syntax. Compares and orders by length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub std::time::Duration);

/// Why a string is not a Go duration. The `reason()` is stable (conditions, metrics).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Empty input, a number without unit, a unit without number, or stray characters.
    #[error(
        "invalid duration {input:?}: expected a sequence of numbers with units (ns, us, ms, s, m, h), e.g. \"1h30m\""
    )]
    Syntax { input: String },
    /// A unit Go does not know (days and weeks are not Go units).
    #[error("invalid duration {input:?}: unknown unit {unit:?} (valid: ns, us, µs, ms, s, m, h)")]
    UnknownUnit { input: String, unit: String },
    /// Longer than Go's `time.Duration` can hold.
    #[error("invalid duration {input:?}: longer than the maximum of 2562047h47m16.854775807s")]
    Overflow { input: String },
    /// A leading minus sign on a non-zero duration.
    #[error("invalid duration {input:?}: durations may not be negative")]
    Negative { input: String },
}

impl DurationError {
    /// Short stable reason for conditions and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Syntax { .. } => "InvalidDurationSyntax",
            Self::UnknownUnit { .. } => "InvalidDurationUnit",
            Self::Overflow { .. } => "DurationOverflow",
            Self::Negative { .. } => "NegativeDuration",
        }
    }
}

impl Duration {
    /// Whole hours, e.g. `Duration::from_hours(2160)` for cert-manager's 90-day default.
    pub const fn from_hours(h: u64) -> Self {
        Self(std::time::Duration::from_secs(h * 3600))
    }

    /// Whole minutes.
    pub const fn from_minutes(m: u64) -> Self {
        Self(std::time::Duration::from_secs(m * 60))
    }

    /// The standard-library value, for arithmetic with `SystemTime` and friends.
    pub const fn as_std(&self) -> std::time::Duration {
        self.0
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Self(d)
    }
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" | "μs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3600 * 1_000_000_000,
        _ => return None,
    })
}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let syntax = || DurationError::Syntax {
            input: input.to_string(),
        };
        let overflow = || DurationError::Overflow {
            input: input.to_string(),
        };
        let (negative, mut rest) = match input.as_bytes().first() {
            Some(b'-') => (true, &input[1..]),
            Some(b'+') => (false, &input[1..]),
            _ => (false, input),
        };
        if rest == "0" {
            return Ok(Self::default());
        }
        if rest.is_empty() {
            return Err(syntax());
        }
        let mut total: u128 = 0;
        while !rest.is_empty() {
            // Integer part, then an optional fraction; at least one digit overall (".5h", "5.h").
            let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
            let (int_digits, after_int) = rest.split_at(int_len);
            let (frac_digits, after_frac) = match after_int.strip_prefix('.') {
                Some(f) => {
                    let n = f.bytes().take_while(u8::is_ascii_digit).count();
                    f.split_at(n)
                }
                None => ("", after_int),
            };
            if int_digits.is_empty() && frac_digits.is_empty() {
                return Err(syntax());
            }
            let unit_len = after_frac
                .char_indices()
                .find(|(_, c)| *c == '.' || c.is_ascii_digit())
                .map_or(after_frac.len(), |(i, _)| i);
            let (unit, next) = after_frac.split_at(unit_len);
            if unit.is_empty() {
                return Err(syntax());
            }
            let scale = unit_nanos(unit).ok_or_else(|| DurationError::UnknownUnit {
                input: input.to_string(),
                unit: unit.to_string(),
            })?;
            let mut int: u128 = 0;
            for d in int_digits.bytes() {
                int = int * 10 + u128::from(d - b'0');
                if int > MAX_NANOS {
                    return Err(overflow());
                }
            }
            let mut nanos = int.checked_mul(scale).ok_or_else(overflow)?;
            // Fractions beyond nanosecond precision are truncated, as Go does.
            let (mut frac, mut denom) = (0u128, 1u128);
            for d in frac_digits.bytes().take(30) {
                frac = frac * 10 + u128::from(d - b'0');
                denom *= 10;
            }
            nanos += frac * scale / denom;
            total = total.checked_add(nanos).ok_or_else(overflow)?;
            if total > MAX_NANOS {
                return Err(overflow());
            }
            rest = next;
        }
        if negative && total > 0 {
            return Err(DurationError::Negative {
                input: input.to_string(),
            });
        }
        // total <= i64::MAX, so both parts fit their types.
        let secs = (total / 1_000_000_000) as u64;
        let sub = (total % 1_000_000_000) as u32;
        Ok(Self(std::time::Duration::new(secs, sub)))
    }
}

/// Writes `frac` (of `digits` decimal places) without trailing zeros, after a dot.
fn write_fraction(out: &mut String, frac: u128, digits: u32) {
    if frac == 0 {
        return;
    }
    let s = format!("{frac:0width$}", width = digits as usize);
    out.push('.');
    out.push_str(s.trim_end_matches('0'));
}

impl fmt::Display for Duration {
    /// Go's `Duration.String`: `0s`, `1.5µs`, `500ms`, `1m30s`, `2160h0m0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        let mut out = String::new();
        if nanos == 0 {
            return f.write_str("0s");
        }
        if nanos < 1_000_000_000 {
            let (unit, scale, digits) = match nanos {
                n if n < 1_000 => ("ns", 1, 0),
                n if n < 1_000_000 => ("µs", 1_000, 3),
                _ => ("ms", 1_000_000, 6),
            };
            out.push_str(&(nanos / scale).to_string());
            write_fraction(&mut out, nanos % scale, digits);
            out.push_str(unit);
            return f.write_str(&out);
        }
        let secs = nanos / 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
        if h > 0 {
            out.push_str(&format!("{h}h"));
        }
        if h > 0 || m > 0 {
            out.push_str(&format!("{m}m"));
        }
        out.push_str(&s.to_string());
        write_fraction(&mut out, nanos % 1_000_000_000, 9);
        out.push('s');
        f.write_str(&out)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Cow::<'de, str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Duration {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // maxLength bounds the cost the apiserver estimates for CEL rules on the field.
        json_schema!({
            "type": "string",
            "maxLength": 64,
            "pattern": GO_DURATION_PATTERN,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Result<Duration, DurationError> {
        s.parse()
    }

    #[test]
    fn parses_what_cert_manager_users_write() {
        assert_eq!(p("2160h").unwrap(), Duration::from_hours(2160));
        assert_eq!(p("1h30m").unwrap(), Duration::from_minutes(90));
        assert_eq!(p("90s").unwrap().as_std().as_secs(), 90);
        assert_eq!(p("1.5h").unwrap(), Duration::from_minutes(90));
        assert_eq!(p(".5h").unwrap(), Duration::from_minutes(30));
        assert_eq!(p("5.h").unwrap(), Duration::from_hours(5));
        assert_eq!(p("0").unwrap(), Duration::default());
        assert_eq!(p("+1m").unwrap(), Duration::from_minutes(1));
        assert_eq!(p("-0s").unwrap(), Duration::default());
        assert_eq!(
            p("1h1m1s1ms1us1µs1ns").unwrap().as_std().as_nanos(),
            3_661_001_002_001
        );
    }

    #[test]
    fn refuses_what_go_refuses() {
        for bad in [
            "", "1", "h", ".h", "1.2.3h", "1h ", " 1h", "1hh", "1H", "--1h", "0x",
        ] {
            assert!(p(bad).is_err(), "{bad:?} should not parse");
        }
        assert_eq!(p("3d").unwrap_err().reason(), "InvalidDurationUnit");
        assert_eq!(p("-1h").unwrap_err().reason(), "NegativeDuration");
        assert_eq!(p("2562048h").unwrap_err().reason(), "DurationOverflow");
        assert!(p("2562047h").is_ok());
    }

    #[test]
    fn formats_like_go() {
        let cases = [
            ("0", "0s"),
            ("2160h", "2160h0m0s"),
            ("90s", "1m30s"),
            ("1.5s", "1.5s"),
            ("500ms", "500ms"),
            ("1500us", "1.5ms"),
            ("3ns", "3ns"),
            ("1h0m0.000000001s", "1h0m0.000000001s"),
        ];
        for (input, want) in cases {
            assert_eq!(p(input).unwrap().to_string(), want, "formatting {input}");
        }
    }

    #[test]
    fn serde_round_trip_is_a_string() {
        let d: Duration = serde_json::from_str("\"1h30m\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"1h30m0s\"");
        assert!(serde_json::from_str::<Duration>("\"3d\"").is_err());
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(nanos in 0u64..=i64::MAX as u64) {
            let d = Duration(std::time::Duration::from_nanos(nanos));
            prop_assert_eq!(d.to_string().parse::<Duration>().unwrap(), d);
        }

        #[test]
        fn the_schema_pattern_accepts_everything_the_parser_accepts(s in "[-+]?[0-9.]{0,4}(ns|us|ms|s|m|h|d)?([0-9.]{0,3}(s|m|h))?") {
            // The CRD pattern and the parser must agree, or the controller would see objects it
            // cannot read. (CEL's duration() is Go's parser, so the same holds server-side.)
            let pattern_ok = regex_lite_match(&s);
            let parse_ok = s.parse::<Duration>().is_ok() || s.parse::<Duration>().is_err_and(|e| e.reason() == "NegativeDuration" || e.reason() == "DurationOverflow");
            prop_assert_eq!(pattern_ok, parse_ok, "{:?}", s);
        }
    }

    /// A hand-written matcher for GO_DURATION_PATTERN (ASCII units only), to avoid a regex
    /// dependency for one test.
    fn regex_lite_match(s: &str) -> bool {
        let rest = s.strip_prefix(['-', '+']).unwrap_or(s);
        if rest == "0" {
            return true;
        }
        let mut rest = rest;
        if rest.is_empty() {
            return false;
        }
        while !rest.is_empty() {
            let i = rest.bytes().take_while(u8::is_ascii_digit).count();
            let mut r = &rest[i..];
            let mut f = 0;
            if let Some(x) = r.strip_prefix('.') {
                f = x.bytes().take_while(u8::is_ascii_digit).count();
                r = &x[f..];
            }
            if i == 0 && f == 0 {
                return false;
            }
            let unit = ["ns", "us", "ms", "s", "m", "h"]
                .into_iter()
                .find(|u| r.starts_with(u));
            match unit {
                Some(u) => rest = &r[u.len()..],
                None => return false,
            }
        }
        true
    }
}
