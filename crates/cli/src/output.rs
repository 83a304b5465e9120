//! kubectl-like output: plain aligned columns, colour only on a terminal without `NO_COLOR`.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use clap::ValueEnum;
use serde::Serialize;

/// `-o` values of `ac adm upgrade plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// The full result as JSON for scripts.
    Json,
}

/// `-o` values of the commands that read the cluster, as kubectl spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum Format {
    /// Aligned columns for people.
    #[default]
    Table,
    /// More columns (images, messages).
    Wide,
    /// The API objects as JSON.
    Json,
    /// The API objects as YAML.
    Yaml,
}

impl Format {
    /// True for the formats people read (table, wide).
    pub fn is_human(self) -> bool {
        matches!(self, Format::Table | Format::Wide)
    }
}

/// Writes `value` as JSON or YAML (the machine formats); tables are the caller's business.
pub fn write_machine(out: &mut dyn Write, format: Format, value: &impl Serialize) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, value).context("cannot write JSON")?;
            writeln!(out)?;
        }
        Format::Yaml => {
            let text = serde_saphyr::to_string(value).context("cannot write YAML")?;
            out.write_all(text.as_bytes())?;
            if !text.ends_with('\n') {
                writeln!(out)?;
            }
        }
        Format::Table | Format::Wide => {
            anyhow::bail!("internal error: a table was asked of the JSON/YAML writer")
        }
    }
    Ok(())
}

/// Several objects as one document, the way `kubectl get -o yaml` prints a list.
pub fn list_of<T: Serialize>(items: &[T]) -> anyhow::Result<serde_json::Value> {
    let items = items
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .context("cannot serialise the objects")?;
    Ok(serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items}))
}

/// Whether stdout is a terminal (progress bars, in-place redraws).
pub fn stdout_is_terminal() -> bool {
    std::io::stdout().is_terminal()
}

/// Whether stderr is a terminal (progress lines of `--wait`).
pub fn stderr_is_terminal() -> bool {
    std::io::stderr().is_terminal()
}

/// Whether to colour stdout: only on a terminal, and never when `NO_COLOR` is set to anything
/// non-empty (<https://no-color.org>).
pub fn colour_enabled() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// How a cell is painted when colour is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Good,
    Warn,
    Bad,
}

#[derive(Debug, Clone)]
pub struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    pub fn styled(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            text: text.into(),
            style,
        }
    }
}

impl Cell {
    /// The text, coloured when `colour` is on.
    pub fn paint(&self, colour: bool) -> String {
        paint(&self.text, self.style, colour)
    }
}

impl<T: Into<String>> From<T> for Cell {
    fn from(text: T) -> Cell {
        Cell {
            text: text.into(),
            style: Style::Plain,
        }
    }
}

/// A table with upper-case headers and columns separated by three spaces, like `kubectl get`.
#[derive(Debug, Clone)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as text, each line ending in a newline.
    pub fn to_text(&self, colour: bool) -> String {
        let mut out = Vec::new();
        // Writing to a Vec cannot fail.
        let _ = self.render(&mut out, colour);
        String::from_utf8_lossy(&out).into_owned()
    }

    pub fn render(&self, out: &mut dyn Write, colour: bool) -> std::io::Result<()> {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.text.chars().count());
            }
        }
        let header: Vec<Cell> = self.headers.iter().map(|h| Cell::from(*h)).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                let last = i + 1 == columns.min(row.len());
                let pad = if last {
                    0
                } else {
                    widths[i] - cell.text.chars().count() + 3
                };
                line.push_str(&paint(&cell.text, cell.style, colour));
                line.extend(std::iter::repeat_n(' ', pad));
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

fn paint(text: &str, style: Style, colour: bool) -> String {
    let code = match style {
        _ if !colour => return text.to_owned(),
        Style::Plain => return text.to_owned(),
        Style::Good => "32",
        Style::Warn => "33",
        Style::Bad => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_colour_only_when_asked() {
        let mut t = Table::new(&["NAME", "VERDICT", "MESSAGE"]);
        t.row(vec![
            "global".into(),
            Cell::styled("Allowed", Style::Good),
            "fine".into(),
        ]);
        t.row(vec![
            "edge-7".into(),
            Cell::styled("Refused", Style::Bad),
            "upgrade it".into(),
        ]);
        let mut plain = Vec::new();
        t.render(&mut plain, false).unwrap();
        assert_eq!(
            String::from_utf8(plain).unwrap(),
            "NAME     VERDICT   MESSAGE\nglobal   Allowed   fine\nedge-7   Refused   upgrade it\n"
        );
        let mut coloured = Vec::new();
        t.render(&mut coloured, true).unwrap();
        let coloured = String::from_utf8(coloured).unwrap();
        assert!(
            coloured.contains("\x1b[31mRefused\x1b[0m   upgrade it"),
            "{coloured:?}"
        );
    }
}
