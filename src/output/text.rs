//! `--format text`: a compact report per window, or bare host names.

use std::io::{self, Write};

use crate::escape::Escaped;
use crate::report::{Busiest, HostList, Hosts, Report};
use crate::timestamp::Rfc3339Ms;

/// The hosts of the one list query, one per line.
pub(crate) fn write_bare(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let a = &report.answer;
    for list in a.to_host.iter().chain(&a.from_host) {
        list.hosts
            .try_for_each(|host| writeln!(out, "{}", Escaped(host)))?;
    }
    Ok(())
}

/// A header line with the window and its line count, then each query's answer;
/// busiest answers as a table of their hosts when `table` (`--top` above 1).
pub fn write(out: &mut impl Write, report: &Report, table: bool) -> io::Result<()> {
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
    for (query, side, busiest) in [
        ("busiest_from_host", "initiators", &a.busiest_from),
        ("busiest_to_host", "receivers", &a.busiest_to),
    ] {
        match busiest {
            Some(Some(b)) if table => top_table(out, query, side, b, a.lines)?,
            Some(Some(b)) => leader(out, query, side, b)?,
            Some(None) => writeln!(out, "  {query}: none")?,
            None => {}
        }
    }
    Ok(())
}

/// `  QUERY: HOST (C connections; T tied; D SIDE)`, marked as estimates in
/// approximate mode.
fn leader(out: &mut impl Write, query: &str, side: &str, b: &Busiest) -> io::Result<()> {
    match b.error {
        None => writeln!(
            out,
            "  {query}: {} ({} connections; {} tied; {} {side})",
            Escaped(&b.host),
            b.connections,
            b.tied,
            b.distinct
        ),
        Some(error) => writeln!(
            out,
            "  {query}: {} (~{} connections, error <= {error}; {} tied; ~{} {side})",
            Escaped(&b.host),
            b.connections,
            b.tied,
            b.distinct
        ),
    }
}

/// A heading, then one aligned row per listed host: rank, host, connections,
/// share of the window's lines, and in approximate mode the error and whether
/// the host is guaranteed to belong to the list.
fn top_table(
    out: &mut impl Write,
    query: &str,
    side: &str,
    b: &Busiest,
    lines: u64,
) -> io::Result<()> {
    let approx = b.error.is_some();
    let mark = if approx { "~" } else { "" };
    writeln!(
        out,
        "  {query}: top {} of {mark}{} {side}; {} unlisted tied at the cut",
        b.top.len(),
        b.distinct,
        b.cut_tied
    )?;
    let rank_w = b.top.len().to_string().len().max(1);
    let host_w = b
        .top
        .iter()
        .map(|t| Escaped(&t.host).width())
        .max()
        .unwrap_or(0)
        .max(4);
    let count_w = b
        .top
        .iter()
        .map(|t| t.connections.to_string().len() + mark.len())
        .max()
        .unwrap_or(0)
        .max("connections".len());
    let error_w = b
        .top
        .iter()
        .filter_map(|t| t.bounds.map(|b| b.error.to_string().len()))
        .max()
        .unwrap_or(0)
        .max("error".len());
    write!(
        out,
        "    {:>rank_w$}  {:<host_w$}  {:>count_w$}",
        "#", "host", "connections"
    )?;
    if approx {
        write!(out, "  {:>error_w$}", "error")?;
    }
    write!(out, "  {:>7}", "share")?;
    if approx {
        write!(out, "  guaranteed")?;
    }
    writeln!(out)?;
    for (i, t) in b.top.iter().enumerate() {
        let count = format!("{mark}{}", t.connections);
        write!(
            out,
            "    {:>rank_w$}  {:<host_w$}  {count:>count_w$}",
            i + 1,
            Escaped(&t.host)
        )?;
        if let Some(bounds) = t.bounds {
            write!(out, "  {:>error_w$}", bounds.error)?;
        }
        let share = format!("{:.2}%", super::share(t.connections, lines) * 100.0);
        write!(out, "  {share:>7}")?;
        if let Some(bounds) = t.bounds {
            write!(out, "  {}", if bounds.guaranteed { "yes" } else { "no" })?;
        }
        writeln!(out)?;
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
        None => format!("  {query} {} ({}):", Escaped(&l.host), l.hosts.len()),
        Some(rate) => format!(
            "  {query} {} ({} listed, ~{} distinct, missed_rate {rate:.1e}):",
            Escaped(&l.host),
            l.hosts.len(),
            l.distinct
        ),
    };
    if let Hosts::Listed(hosts) = &l.hosts {
        let inline: usize = hosts.iter().map(|h| Escaped(h).width() + 1).sum();
        if head.len() + inline <= WIDTH {
            out.write_all(head.as_bytes())?;
            for h in hosts {
                write!(out, " {}", Escaped(h))?;
            }
            return writeln!(out);
        }
    }
    writeln!(out, "{head}")?;
    let mut col = 0;
    l.hosts.try_for_each(|h| {
        let (h, width) = (Escaped(h), Escaped(h).width());
        if col > 0 && col + 1 + width > WIDTH {
            writeln!(out)?;
            col = 0;
        }
        if col == 0 {
            write!(out, "    {h}")?;
            col = 4 + width;
        } else {
            write!(out, " {h}")?;
            col += 1 + width;
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
