//! Output for people and for machines. Reports are plain serialisable structs; `-o json|yaml`
//! prints them as they are, `text` draws them as tables. Colour is added only when stdout is a
//! terminal and `NO_COLOR` is unset, so piping into `grep` or a file never carries escape
//! codes.
use std::io::{IsTerminal, Write};

use serde::Serialize;

use super::{Error, Result};

/// `-o`: how to print a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum OutputFormat {
    /// Tables and sentences for people.
    #[default]
    Text,
    /// The report as one JSON document.
    Json,
    /// The report as one YAML document.
    Yaml,
}

/// A colour for a cell or word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Green,
    Yellow,
    Red,
    Dim,
    Bold,
}

/// Whether to colour, decided once per command.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub colour: bool,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` (no-color.org) is not set.
    pub fn detect() -> Self {
        Style {
            colour: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    /// `text` in `colour`, or unchanged when colouring is off.
    pub fn paint(&self, colour: Option<Colour>, text: &str) -> String {
        let code = match (self.colour, colour) {
            (true, Some(Colour::Green)) => "32",
            (true, Some(Colour::Yellow)) => "33",
            (true, Some(Colour::Red)) => "31",
            (true, Some(Colour::Dim)) => "2",
            (true, Some(Colour::Bold)) => "1",
            _ => return text.to_string(),
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// One cell: its text and an optional colour. Widths are computed on the text alone, so
/// colour never misaligns columns.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub colour: Option<Colour>,
}

impl<T: Into<String>> From<T> for Cell {
    fn from(t: T) -> Self {
        Cell {
            text: t.into(),
            colour: None,
        }
    }
}

/// A cell in a colour.
pub fn cell(text: impl Into<String>, colour: Colour) -> Cell {
    Cell {
        text: text.into(),
        colour: Some(colour),
    }
}

/// A table in kubectl's plain style: upper-case headers, columns separated by three spaces,
/// no borders.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|h| h.to_uppercase()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    pub fn render(&self, style: &Style) -> String {
        let cols = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                widths[i] = widths[i].max(c.text.chars().count());
            }
        }
        let mut out = String::new();
        let line = |cells: Vec<(String, Option<Colour>)>, out: &mut String| {
            let n = cells.len();
            let mut s = String::new();
            for (i, (text, colour)) in cells.into_iter().enumerate() {
                let pad = widths[i].saturating_sub(text.chars().count());
                s.push_str(&style.paint(colour, &text));
                if i + 1 < n {
                    s.push_str(&" ".repeat(pad + 3));
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(
            self.header.iter().map(|h| (h.clone(), None)).collect(),
            &mut out,
        );
        for r in &self.rows {
            line(
                r.iter()
                    .take(cols)
                    .map(|c| (c.text.clone(), c.colour))
                    .collect(),
                &mut out,
            );
        }
        out
    }
}

/// Prints `report` as `format` asks; `text` draws it for people.
pub fn emit<T: Serialize>(
    format: OutputFormat,
    report: &T,
    text: impl FnOnce(&Style) -> String,
) -> Result<()> {
    let rendered = match format {
        OutputFormat::Json => {
            let mut s =
                serde_json::to_string_pretty(report).map_err(|e| Error::Output(e.to_string()))?;
            s.push('\n');
            s
        }
        OutputFormat::Yaml => {
            serde_yaml::to_string(report).map_err(|e| Error::Output(e.to_string()))?
        }
        OutputFormat::Text => text(&Style::detect()),
    };
    let mut out = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an error worth a message.
    match out.write_all(rendered.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output(e.to_string())),
        _ => Ok(()),
    }
}

/// RFC 3339 UTC, second precision: what kubectl prints for times.
pub fn fmt_time(t: std::time::SystemTime) -> String {
    k8s_openapi::jiff::Timestamp::try_from(t)
        .map(|t| {
            t.round(k8s_openapi::jiff::Unit::Second)
                .unwrap_or(t)
                .to_string()
        })
        .unwrap_or_else(|_| format!("{t:?}"))
}

/// Signed whole days from `now` to `t` (negative once past), rounded toward minus infinity so
/// "0 days left" means less than a day, never already expired.
pub fn days_until(t: std::time::SystemTime, now: std::time::SystemTime) -> i64 {
    match t.duration_since(now) {
        Ok(d) => (d.as_secs() / 86_400) as i64,
        Err(e) => -(e.duration().as_secs().div_ceil(86_400) as i64),
    }
}

/// A duration for people: `3d4h`, `5h12m`, `42s`.
pub fn fmt_duration(d: std::time::Duration) -> String {
    let s = d.as_secs();
    match s {
        s if s >= 86_400 => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
        s if s >= 3600 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m{}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The colour for a number of days left: red under a week (or past), yellow under 30 days.
pub fn days_colour(days: i64) -> Colour {
    match days {
        d if d < 7 => Colour::Red,
        d if d < 30 => Colour::Yellow,
        _ => Colour::Green,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn columns_align_on_text_not_escape_codes() {
        let mut t = Table::new(&["name", "days"]);
        t.row(vec![cell("a", Colour::Red), "10".into()]);
        t.row(vec!["longer".into(), "1".into()]);
        let plain = t.render(&Style { colour: false });
        assert_eq!(plain, "NAME     DAYS\na        10\nlonger   1\n");
        let coloured = t.render(&Style { colour: true });
        assert!(
            coloured.contains("\x1b[31ma\x1b[0m        10"),
            "{coloured:?}"
        );
    }

    #[test]
    fn days_round_toward_the_past() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(days_until(now + Duration::from_secs(86_399), now), 0);
        assert_eq!(days_until(now + Duration::from_secs(86_400 * 3), now), 3);
        assert_eq!(days_until(now - Duration::from_secs(10), now), -1);
        assert_eq!(fmt_duration(Duration::from_secs(90_061)), "1d1h");
    }
}
