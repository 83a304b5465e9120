//! kubectl-like output: plain aligned columns, colour only on a terminal without `NO_COLOR`.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;

/// `-o` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns for people.
    Table,
    /// The full result as JSON for scripts.
    Json,
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
