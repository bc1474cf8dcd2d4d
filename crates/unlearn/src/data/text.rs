//! Line-by-line access to text data, with size limits, and the parsing of numeric cells.
//!
//! Both readers see a file as numbered lines (1-based, line ending and a trailing `\r`
//! removed). Lines come either from text already in memory or from a buffered reader that
//! never holds more than one line: a line longer than [`MAX_LINE_BYTES`] is refused before
//! it is allocated, so a hostile or mistaken input (a binary file, a file with no line
//! breaks) fails with a message instead of exhausting memory.

use std::io::{BufRead, Read};

use super::DataError;

/// Longest accepted line, in bytes (64 MiB).
pub const MAX_LINE_BYTES: usize = 64 << 20;

/// Most columns (CSV fields or LIBSVM features) accepted.
pub const MAX_COLUMNS: usize = 1_000_000;

/// Calls `visit(line_number, line)` for every line of `text`.
pub(crate) fn visit_text(
    file: &str,
    text: &str,
    mut visit: impl FnMut(usize, &str) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (index, line) in text.split('\n').enumerate() {
        let number = index + 1;
        if line.len() > MAX_LINE_BYTES {
            return Err(too_long(file, number));
        }
        visit(number, line.strip_suffix('\r').unwrap_or(line))?;
    }
    Ok(())
}

/// Calls `visit(line_number, line)` for every line read from `reader`, one line at a time.
pub(crate) fn visit_reader(
    file: &str,
    mut reader: impl BufRead,
    mut visit: impl FnMut(usize, &str) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let mut buf = Vec::new();
    let mut number = 0;
    loop {
        buf.clear();
        number += 1;
        let limit = (MAX_LINE_BYTES + 1) as u64;
        let read = reader
            .by_ref()
            .take(limit)
            .read_until(b'\n', &mut buf)
            .map_err(|source| io_error(file, source))?;
        if read == 0 {
            return Ok(());
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if line.len() > MAX_LINE_BYTES {
            return Err(too_long(file, number));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = if number == 1 {
            line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line)
        } else {
            line
        };
        let line = std::str::from_utf8(line).map_err(|_| DataError::NotUtf8 {
            file: file.to_string(),
            line: number,
        })?;
        visit(number, line)?;
    }
}

/// Wraps an I/O error with the file name.
pub(crate) fn io_error(file: &str, source: std::io::Error) -> DataError {
    DataError::Io {
        file: file.to_string(),
        source,
    }
}

fn too_long(file: &str, line: usize) -> DataError {
    DataError::LineTooLong {
        file: file.to_string(),
        line,
        limit: MAX_LINE_BYTES,
    }
}

/// Where a cell sits, for error messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell<'a> {
    /// The file's display name.
    pub file: &'a str,
    /// 1-based line number.
    pub line: usize,
    /// Column name.
    pub column: &'a str,
}

impl Cell<'_> {
    /// Parses the (already trimmed) cell as a finite f64.
    ///
    /// Empty text is a missing value; `nan`, `inf`, `infinity` (any case, any sign) and
    /// numbers overflowing f64 are rejected as not finite.
    pub(crate) fn number(&self, text: &str) -> Result<f64, DataError> {
        if text.is_empty() {
            return Err(DataError::MissingValue {
                file: self.file.to_string(),
                line: self.line,
                column: self.column.to_string(),
            });
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            Ok(_) => Err(DataError::NotFinite {
                file: self.file.to_string(),
                line: self.line,
                column: self.column.to_string(),
                value: shorten(text),
            }),
            Err(_) => Err(DataError::NotNumeric {
                file: self.file.to_string(),
                line: self.line,
                column: self.column.to_string(),
                value: shorten(text),
            }),
        }
    }
}

/// Text quoted in an error message, capped ([`crate::echo::echo`]).
pub(crate) fn shorten(text: &str) -> String {
    crate::echo::echo(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of_reader(bytes: &[u8]) -> Result<Vec<(usize, String)>, DataError> {
        let mut out = Vec::new();
        visit_reader("t", bytes, |n, l| {
            out.push((n, l.to_string()));
            Ok(())
        })?;
        Ok(out)
    }

    #[test]
    fn reader_strips_crlf_and_bom() {
        let lines = lines_of_reader(b"\xEF\xBB\xBFa,b\r\n1,2\r\n").expect("valid input");
        assert_eq!(lines, vec![(1, "a,b".into()), (2, "1,2".into())]);
    }

    #[test]
    fn reader_rejects_invalid_utf8() {
        let err = lines_of_reader(b"a\n\xff\n").expect_err("invalid UTF-8");
        assert!(matches!(err, DataError::NotUtf8 { line: 2, .. }));
    }

    #[test]
    fn numbers_reject_non_finite_text() {
        let cell = Cell {
            file: "f",
            line: 3,
            column: "x",
        };
        for text in ["nan", "NaN", "-inf", "Infinity", "INF", "1e400"] {
            assert!(matches!(
                cell.number(text),
                Err(DataError::NotFinite { .. })
            ));
        }
        assert!(matches!(
            cell.number(""),
            Err(DataError::MissingValue { .. })
        ));
        assert!(matches!(
            cell.number("1,5"),
            Err(DataError::NotNumeric { .. })
        ));
        assert_eq!(cell.number("-2.5e1").ok(), Some(-25.0));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn reader_never_panics_and_agrees_with_text(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)
        ) {
            let from_reader = lines_of_reader(&bytes);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let mut from_text = Vec::new();
                let visited = visit_text("t", text, |n, l| {
                    from_text.push((n, l.to_string()));
                    Ok(())
                });
                proptest::prop_assert!(visited.is_ok());
                // The text visitor reports the empty piece after a final newline.
                if text.ends_with('\n') || text.is_empty() {
                    from_text.pop();
                }
                proptest::prop_assert_eq!(from_reader.ok(), Some(from_text));
            }
        }
    }
}
