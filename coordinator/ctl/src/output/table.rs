//! Aligned text tables, and the one place text from the coordinator is made safe to print.

/// A table with a header row; columns are left-aligned and two spaces apart.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles.
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// A table of `columns` columns without a header row (a list of `name  value` lines).
    pub fn headless(columns: usize) -> Table {
        Table {
            header: vec![String::new(); columns],
            rows: Vec::new(),
        }
    }

    /// Adds a row; every cell is made printable.
    pub fn row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows
            .push(cells.into_iter().map(|c| printable(c.as_ref())).collect());
    }

    /// Whether no rows were added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines of text, each ending in a newline, without trailing spaces.
    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header = Some(&self.header).filter(|h| h.iter().any(|c| !c.is_empty()));
        for row in header.into_iter().chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate().take(columns) {
                line.push_str(cell);
                if i + 1 < columns {
                    let pad = widths[i] - cell.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Text from elsewhere (journal lines, error messages) with control characters escaped, so
/// it cannot move the cursor or recolour the terminal, on a single line.
pub fn printable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str(" | "),
            '\t' => out.push(' '),
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

/// Like [`printable`] but keeps line breaks: for error messages that quote a journal.
pub fn printable_lines(s: &str) -> String {
    s.lines().map(printable).collect::<Vec<_>>().join("\n")
}

/// The first line of `s`, at most `max` characters, marked when shortened.
pub fn first_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    let more = s.trim().lines().count() > 1;
    let mut out: String = line.chars().take(max).collect();
    if more || line.chars().count() > max {
        out.push('…');
    }
    printable(&out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_lines_have_no_trailing_space() {
        let mut t = Table::new(&["NAME", "ROLES"]);
        t.row(["host1", "mimir:all"]);
        t.row(["a-much-longer-host", ""]);
        assert_eq!(
            t.render(),
            "NAME                ROLES\nhost1               mimir:all\na-much-longer-host\n"
        );
        let mut t = Table::headless(2);
        t.row(["address", "198.18.0.3"]);
        t.row(["roles", "-"]);
        assert_eq!(t.render(), "address  198.18.0.3\nroles    -\n");
    }

    #[test]
    fn hostile_text_is_escaped() {
        assert_eq!(printable("a\x1b[31mred\nb"), "a\\u{1b}[31mred | b");
        assert_eq!(first_line("boom\nmore", 80), "boom…");
        assert_eq!(first_line("abcdef", 3), "abc…");
        assert_eq!(first_line("ok", 3), "ok");
    }
}
