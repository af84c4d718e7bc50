//! `--format text`: a compact report per window, or bare host names.

use std::io::{self, Write};

use crate::report::{HostList, Hosts, Report};
use crate::timestamp::Rfc3339Ms;

/// The hosts of the one list query, one per line.
pub fn write_bare(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let a = &report.answer;
    for list in a.to_host.iter().chain(&a.from_host) {
        list.hosts.try_for_each(|host| writeln!(out, "{host}"))?;
    }
    Ok(())
}

/// A header line with the window and its line count, then each query's answer.
pub fn write(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let bound = |t: Option<i64>| t.map_or_else(|| "*".to_string(), |t| Rfc3339Ms(t).to_string());
    let a = &report.answer;
    write!(
        out,
        "{} .. {}  lines {}",
        bound(report.start),
        bound(report.end),
        a.lines
    )?;
    if report.late > 0 {
        write!(out, "  late {}", report.late)?;
    }
    if !report.complete {
        write!(out, "  (incomplete)")?;
    }
    writeln!(out)?;
    if let Some(l) = &a.to_host {
        list(out, "to_host", l)?;
    }
    if let Some(l) = &a.from_host {
        list(out, "from_host", l)?;
    }
    match &a.busiest {
        Some(Some(b)) => match b.error {
            None => writeln!(
                out,
                "  busiest_from_host: {} ({} connections; {} tied; {} initiators)",
                b.host, b.connections, b.tied, b.initiators
            )?,
            Some(error) => writeln!(
                out,
                "  busiest_from_host: {} (~{} connections, error <= {error}; {} tied; ~{} initiators)",
                b.host, b.connections, b.tied, b.initiators
            )?,
        },
        Some(None) => writeln!(out, "  busiest_from_host: none")?,
        None => {}
    }
    Ok(())
}

/// Reports wrap host lists at this width.
const WIDTH: usize = 80;

/// `  QUERY HOST (N):` then the hosts: on the same line when they fit, else
/// wrapped on lines indented by four spaces (always for a streamed list, whose
/// width is not known before it is read).
fn list(out: &mut impl Write, query: &str, l: &HostList) -> io::Result<()> {
    let head = match l.missed_rate {
        None => format!("  {query} {} ({}):", l.host, l.hosts.len()),
        Some(rate) => format!(
            "  {query} {} ({} listed, ~{} distinct, missed_rate {rate:.1e}):",
            l.host,
            l.hosts.len(),
            l.distinct
        ),
    };
    if let Hosts::Listed(hosts) = &l.hosts {
        let inline: usize = hosts.iter().map(|h| h.len() + 1).sum();
        if head.len() + inline <= WIDTH {
            out.write_all(head.as_bytes())?;
            for h in hosts {
                write!(out, " {h}")?;
            }
            return writeln!(out);
        }
    }
    writeln!(out, "{head}")?;
    let mut col = 0;
    l.hosts.try_for_each(|h| {
        if col > 0 && col + 1 + h.len() > WIDTH {
            writeln!(out)?;
            col = 0;
        }
        if col == 0 {
            write!(out, "    {h}")?;
            col = 4 + h.len();
        } else {
            write!(out, " {h}")?;
            col += 1 + h.len();
        }
        Ok(())
    })?;
    if col > 0 {
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> HostList {
        HostList {
            host: "x".into(),
            hosts: Hosts::Listed((0..n).map(|i| format!("host{i:04}")).collect()),
            distinct: n as u64,
            missed_rate: None,
        }
    }

    #[test]
    fn short_lists_stay_inline_and_long_ones_wrap_at_80_columns() {
        let mut out = Vec::new();
        list(&mut out, "to_host", &hosts(2)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "  to_host x (2): host0000 host0001\n"
        );
        let mut out = Vec::new();
        list(&mut out, "from_host", &hosts(20)).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  from_host x (20):");
        assert!(lines[1..]
            .iter()
            .all(|l| l.starts_with("    host") && l.len() <= 80));
        assert_eq!(
            lines[1..]
                .iter()
                .map(|l| l.split(' ').filter(|h| !h.is_empty()).count())
                .sum::<usize>(),
            20
        );
    }
}
