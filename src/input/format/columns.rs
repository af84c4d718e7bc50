//! `--columns TS,FROM,TO` with `--delimiter`: three chosen columns of any
//! delimited text log.

use std::fmt;
use std::str::FromStr;

use super::{host, Outcome};
use crate::input::format::connspy::is_ws;
use crate::input::format::{Field, Flow, LineError, Record};
use crate::timestamp::parse_ts;

/// How columns are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delimiter {
    /// Runs of whitespace (as in connspy's format); leading whitespace is
    /// ignored.
    #[default]
    Whitespace,
    /// Exactly this byte: two in a row make an empty column. Whitespace
    /// around a column is not part of it.
    Byte(u8),
}

impl FromStr for Delimiter {
    type Err = String;

    /// A tab (literally or as `\t`), `,`, or any other single ASCII
    /// character but a newline; `whitespace` for the default.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "\\t" | "\t" => Ok(Delimiter::Byte(b'\t')),
            "whitespace" => Ok(Delimiter::Whitespace),
            _ if s.len() == 1 && s.is_ascii() && s != "\n" && s != "\r" => {
                Ok(Delimiter::Byte(s.as_bytes()[0]))
            }
            _ => Err(format!(
                "'{}' is not a delimiter: give one ASCII character other than a newline, \
                 such as ',' or '\\t' (a tab), or 'whitespace'",
                s.escape_default()
            )),
        }
    }
}

/// Three 1-based column numbers and a delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Columns {
    /// 0-based: TS, FROM, TO.
    cols: [usize; 3],
    delim: Delimiter,
}

/// The highest column number accepted.
const MAX_COLUMN: usize = 1024;

impl FromStr for Columns {
    type Err = String;

    /// `TS,FROM,TO`: three distinct 1-based column numbers, whitespace-delimited
    /// until [`Columns::with_delimiter`].
    fn from_str(s: &str) -> Result<Self, String> {
        let err = || {
            format!(
                "'{s}' is not TS,FROM,TO: give three distinct column numbers from 1 to \
                 {MAX_COLUMN}, such as 1,3,5"
            )
        };
        let nums: Vec<usize> = s
            .split(',')
            .map(|n| {
                n.trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=MAX_COLUMN).contains(n))
            })
            .collect::<Option<_>>()
            .ok_or_else(err)?;
        let [ts, from, to] = nums[..] else {
            return Err(err());
        };
        if ts == from || ts == to || from == to {
            return Err(err());
        }
        Ok(Columns {
            cols: [ts - 1, from - 1, to - 1],
            delim: Delimiter::Whitespace,
        })
    }
}

impl fmt::Display for Columns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.cols;
        write!(f, "{},{},{}", a + 1, b + 1, c + 1)
    }
}

const NAMES: [Field; 3] = [Field::TsColumn, Field::From, Field::To];

impl Columns {
    /// The same columns split by `delim`.
    pub fn with_delimiter(mut self, delim: Delimiter) -> Self {
        self.delim = delim;
        self
    }

    /// Parses one line (without `\n` or `\r`).
    #[inline]
    pub fn parse_line<'a>(&self, line: &'a [u8]) -> Outcome<'a> {
        if super::is_blank(line) {
            return Outcome::Blank;
        }
        let mut got: [Option<&[u8]>; 3] = [None; 3];
        let last = self.cols[0].max(self.cols[1]).max(self.cols[2]);
        let mut take = |i: usize, f: &'a [u8]| {
            for (k, c) in self.cols.iter().enumerate() {
                if *c == i {
                    got[k] = Some(f);
                }
            }
            i < last
        };
        match self.delim {
            Delimiter::Whitespace => {
                for (i, f) in line
                    .split(|&b| is_ws(b))
                    .filter(|f| !f.is_empty())
                    .enumerate()
                {
                    if !take(i, f) {
                        break;
                    }
                }
            }
            Delimiter::Byte(d) => {
                for (i, f) in line.split(|&b| b == d).enumerate() {
                    if !take(i, f.trim_ascii()) {
                        break;
                    }
                }
            }
        }
        let [Some(ts), Some(from), Some(to)] = got else {
            return Outcome::Malformed(LineError::TooFewColumns(last as u16 + 1));
        };
        let ts = match parse_ts(ts) {
            Ok(ts) => ts,
            Err(e) => return Outcome::Malformed(LineError::Timestamp(e)),
        };
        match (host(from, NAMES[1], &[]), host(to, NAMES[2], &[])) {
            (Ok(from), Ok(to)) => Outcome::Record(Record {
                ts,
                from,
                to,
                flow: Flow::default(),
            }),
            (Err(e), _) | (_, Err(e)) => Outcome::Malformed(e),
        }
    }
}
