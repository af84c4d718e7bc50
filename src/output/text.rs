//! `--format text`: a compact report per window, or bare host names.

use std::io::{self, Write};

use crate::escape::Escaped;
use crate::query::Measure;
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
    match a.measure {
        Measure::Bytes if a.total >= 1000 => {
            write!(out, "  bytes {} ({})", a.total, human_bytes(a.total))?;
        }
        Measure::Bytes | Measure::Packets => write!(out, "  {} {}", a.measure.name(), a.total)?,
        Measure::Connections => {}
    }
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
            Some(Some(b)) if table => top_table(out, query, side, b, a.measure, a.total)?,
            Some(Some(b)) => leader(out, query, side, b, a.measure)?,
            Some(None) => writeln!(out, "  {query}: none")?,
            None => {}
        }
    }
    Ok(())
}

/// `value` of `measure` as text reads it: `C connections`, `P packets`, or
/// bytes with a unit and exactly (`1.2 MB, 1234567 bytes`); `mark` (`~`)
/// before each number of an estimate.
fn with_unit(measure: Measure, value: u64, mark: &str) -> String {
    match measure {
        Measure::Bytes if value >= 1000 => {
            format!("{mark}{}, {mark}{value} bytes", human_bytes(value))
        }
        _ => format!("{mark}{value} {}", measure.name()),
    }
}

/// Bytes in the largest decimal unit (kB, MB, GB, ...) that keeps the
/// number at least 1, to one decimal; plain bytes below a kilobyte.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1000.0;
    let mut unit = 0;
    // 999.95 would print as 1000.0 of this unit: the next one reads better.
    while value >= 999.95 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// `  QUERY: HOST (C connections; T tied; D SIDE)`, marked as estimates in
/// approximate mode; bytes or packets in place of connections with `--by`.
fn leader(
    out: &mut impl Write,
    query: &str,
    side: &str,
    b: &Busiest,
    measure: Measure,
) -> io::Result<()> {
    match b.error {
        None => writeln!(
            out,
            "  {query}: {} ({}; {} tied; {} {side})",
            Escaped(&b.host),
            with_unit(measure, b.value, ""),
            b.tied,
            b.distinct
        ),
        Some(error) => writeln!(
            out,
            "  {query}: {} ({}, error <= {error}; {} tied; ~{} {side})",
            Escaped(&b.host),
            with_unit(measure, b.value, "~"),
            b.tied,
            b.distinct
        ),
    }
}

/// A heading, then one aligned row per listed host: rank, host, value
/// (connections, or bytes or packets with `--by`; bytes with a unit too),
/// share of the window's sum, and in approximate mode the error and whether
/// the host is guaranteed to belong to the list.
fn top_table(
    out: &mut impl Write,
    query: &str,
    side: &str,
    b: &Busiest,
    measure: Measure,
    total: u64,
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
    let cell = |value: u64| match measure {
        Measure::Bytes if value >= 1000 => format!("{mark}{value} ({})", human_bytes(value)),
        _ => format!("{mark}{value}"),
    };
    let count_w = b
        .top
        .iter()
        .map(|t| cell(t.value).len())
        .max()
        .unwrap_or(0)
        .max(measure.name().len());
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
        "#",
        "host",
        measure.name()
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
        let count = cell(t.value);
        write!(
            out,
            "    {:>rank_w$}  {:<host_w$}  {count:>count_w$}",
            i + 1,
            Escaped(&t.host)
        )?;
        if let Some(bounds) = t.bounds {
            write!(out, "  {:>error_w$}", bounds.error)?;
        }
        let share = format!("{:.2}%", super::share(t.value, total) * 100.0);
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
    fn bytes_read_in_decimal_units_with_one_decimal() {
        for (bytes, text) in [
            (0, "0 B"),
            (999, "999 B"),
            (1000, "1.0 kB"),
            (1_234_567, "1.2 MB"),
            (999_949, "999.9 kB"),
            (999_950, "1.0 MB"),
            (1_500_000_000, "1.5 GB"),
            (u64::MAX, "18.4 EB"),
        ] {
            assert_eq!(human_bytes(bytes), text, "{bytes}");
        }
        assert_eq!(
            with_unit(Measure::Bytes, 1_234_567, "~"),
            "~1.2 MB, ~1234567 bytes"
        );
        assert_eq!(with_unit(Measure::Bytes, 12, ""), "12 bytes");
        assert_eq!(with_unit(Measure::Packets, 7, ""), "7 packets");
        assert_eq!(with_unit(Measure::Connections, 3, ""), "3 connections");
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
