//! `--format text`: a compact report per window, or bare host names.

use std::io::{self, Write};

use crate::report::{HostList, Report};
use crate::timestamp::Rfc3339Ms;

/// The hosts of the one list query, one per line.
pub fn write_bare(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let a = &report.answer;
    for host in a.to_host.iter().chain(&a.from_host).flat_map(|l| &l.hosts) {
        writeln!(out, "{host}")?;
    }
    Ok(())
}

/// A header line with the window and its line count, then one line per query.
pub fn write(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let bound = |t: Option<i64>| t.map_or_else(|| "*".to_string(), |t| Rfc3339Ms(t).to_string());
    let a = &report.answer;
    writeln!(
        out,
        "{} .. {}  lines {}",
        bound(report.start),
        bound(report.end),
        a.lines
    )?;
    if let Some(l) = &a.to_host {
        list(out, "to_host", l)?;
    }
    if let Some(l) = &a.from_host {
        list(out, "from_host", l)?;
    }
    match &a.busiest {
        Some(Some(b)) => writeln!(
            out,
            "  busiest_from_host: {} with {} connections ({} tied, {} initiators)",
            b.host, b.connections, b.tied, b.initiators
        )?,
        Some(None) => writeln!(out, "  busiest_from_host: none")?,
        None => {}
    }
    Ok(())
}

fn list(out: &mut impl Write, query: &str, l: &HostList) -> io::Result<()> {
    let noun = if l.hosts.len() == 1 { "host" } else { "hosts" };
    write!(out, "  {query} {}: {} {noun}", l.host, l.hosts.len())?;
    if !l.hosts.is_empty() {
        write!(out, ":")?;
        for h in &l.hosts {
            write!(out, " {h}")?;
        }
    }
    writeln!(out)
}
