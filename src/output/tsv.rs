//! `--format tsv`: the original tool's database-friendly rows, one per fact:
//! `start<TAB>query<TAB>host<TAB>value`, no header.

use std::io::{self, Write};

use crate::escape::Escaped;
use crate::report::Report;
use crate::timestamp::Rfc3339Ms;

/// Writes one row per listed host, and one per host of each busiest list in
/// list order, with its value (connections, or bytes or packets with `--by`).
pub fn write(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let start = report
        .start
        .map(|t| Rfc3339Ms(t).to_string())
        .unwrap_or_default();
    let a = &report.answer;
    for (query, list) in [("to_host", &a.to_host), ("from_host", &a.from_host)] {
        if let Some(list) = list {
            list.hosts
                .try_for_each(|host| writeln!(out, "{start}\t{query}\t{}\t", Escaped(host)))?;
        }
    }
    for (query, busiest) in [
        ("busiest_from_host", &a.busiest_from),
        ("busiest_to_host", &a.busiest_to),
    ] {
        if let Some(Some(b)) = busiest {
            for t in &b.top {
                writeln!(out, "{start}\t{query}\t{}\t{}", Escaped(&t.host), t.value)?;
            }
        }
    }
    Ok(())
}
