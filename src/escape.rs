//! Bytes from input as a terminal sees them: host names as text and TSV
//! print them, and messages on stderr that quote input. Control characters
//! are escaped, so a log line cannot move the cursor, retitle the terminal
//! or break a row.
//!
//! A host is any run of non-whitespace bytes, so it may hold ESC, BEL and
//! the other C0 controls, DEL, or the C1 controls (U+0080 to U+009F, which
//! some terminals obey too). Text and TSV write each of them as `\xHH` (C0
//! and DEL) or `\u{HH}` (C1), and a backslash as `\\`, so the escaped form is
//! unambiguous and reads back to the same name. Every other character,
//! non-ASCII letters included, is written as is. JSON escapes by its own
//! rules (`serde_json`).

use std::fmt::{self, Write};

/// Displays a host name with its control characters escaped.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Escaped<'a>(pub &'a str);

impl Escaped<'_> {
    /// The printed width in characters, for wrapping: the byte length when
    /// nothing needs escaping (the common case, and then exact for ASCII).
    pub(crate) fn width(&self) -> usize {
        if !self.0.chars().any(needs_escape) {
            return self.0.len();
        }
        self.0.chars().map(escaped_width).sum()
    }
}

fn needs_escape(c: char) -> bool {
    c.is_control() || c == '\\'
}

fn escaped_width(c: char) -> usize {
    match c {
        '\\' => 2,
        c if u32::from(c) < 0x80 && c.is_control() => 4,
        c if c.is_control() => 6,
        c => c.len_utf8(),
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if !s.chars().any(needs_escape) {
            return f.pad(s);
        }
        // Built first so that a width (the text tables') pads the escaped form.
        let mut escaped = String::with_capacity(self.width());
        for c in s.chars() {
            match c {
                '\\' => escaped.push_str("\\\\"),
                c if u32::from(c) < 0x80 && c.is_control() => {
                    write!(escaped, "\\x{:02x}", u32::from(c))?;
                }
                c if c.is_control() => write!(escaped, "\\u{{{:02x}}}", u32::from(c))?,
                c => escaped.push(c),
            }
        }
        f.pad(&escaped)
    }
}

/// Displays a message for stderr that may quote input (a path, a `#path`
/// value, a window key, a partial's reason): control characters escaped as
/// [`Escaped`] escapes them, but for newlines and tabs, which a message's own
/// layout uses, and backslashes, which need no escaping to be safe.
#[derive(Debug, Clone, Copy)]
pub struct ForTerminal<'a>(pub &'a str);

impl fmt::Display for ForTerminal<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unsafe_char = |c: char| c.is_control() && c != '\n' && c != '\t';
        let s = self.0;
        if !s.chars().any(unsafe_char) {
            return f.write_str(s);
        }
        for c in s.chars() {
            match c {
                c if !unsafe_char(c) => f.write_char(c)?,
                c if u32::from(c) < 0x80 => write!(f, "\\x{:02x}", u32::from(c))?,
                c => write!(f, "\\u{{{:02x}}}", u32::from(c))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_backslashes_are_escaped_and_the_rest_kept() {
        for (host, shown) in [
            ("web-01.example.com", "web-01.example.com"),
            ("evil\x1b]0;title\x07", "evil\\x1b]0;title\\x07"),
            ("a\0b\x7f", "a\\x00b\\x7f"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("back\\slash", "back\\\\slash"),
            ("zoë-ß", "zoë-ß"),
        ] {
            let e = Escaped(host);
            assert_eq!(e.to_string(), shown);
            assert_eq!(e.width(), shown.len(), "{shown}");
        }
    }

    #[test]
    fn messages_keep_their_layout_and_lose_the_controls() {
        for (message, shown) in [
            ("a.log:3: bad\tfield\nnext", "a.log:3: bad\tfield\nnext"),
            ("#path \x1b]0;pwned\x07", "#path \\x1b]0;pwned\\x07"),
            ("c1\u{9b}2J back\\slash", "c1\\u{9b}2J back\\slash"),
        ] {
            assert_eq!(ForTerminal(message).to_string(), shown);
        }
    }
}
