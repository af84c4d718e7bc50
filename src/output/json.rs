//! `--format json`: JSON Lines, the schema documented in `docs/output.md`.

use std::io::{self, Write};

use serde::Serialize;

use crate::query::Measure;
use crate::report::{Busiest as Answer, HostList, Hosts, Report};
use crate::timestamp::Rfc3339Ms;

#[derive(Serialize)]
struct Window<'a> {
    start: Option<String>,
    end: Option<String>,
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to_host: Option<List<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    from_host: Option<List<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    busiest_from_host: Option<Option<Busiest<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    busiest_to_host: Option<Option<Busiest<'a>>>,
    lines: u64,
    /// `--by bytes` or `--by packets`: the window's sum.
    #[serde(flatten)]
    total: Measured,
    late: u64,
    complete: bool,
}

/// A value under the name of its measure (`connections`, `bytes` or
/// `packets`), or nothing.
#[derive(Serialize, Default)]
struct Measured {
    #[serde(skip_serializing_if = "Option::is_none")]
    connections: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    packets: Option<u64>,
}

impl Measured {
    fn new(measure: Measure, value: u64) -> Self {
        let mut m = Measured::default();
        *match measure {
            Measure::Connections => &mut m.connections,
            Measure::Bytes => &mut m.bytes,
            Measure::Packets => &mut m.packets,
        } = Some(value);
        m
    }
}

#[derive(Serialize)]
struct List<'a> {
    host: &'a str,
    hosts: HostsJson<'a>,
    distinct: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    missed_rate: Option<f64>,
}

#[derive(Serialize)]
struct Busiest<'a> {
    host: &'a str,
    #[serde(flatten)]
    value: Measured,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<u64>,
    tied: u64,
    /// One of these two: the distinct hosts on the query's side.
    #[serde(skip_serializing_if = "Option::is_none")]
    initiators: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receivers: Option<u64>,
    top: Vec<Talker<'a>>,
    cut_tied: u64,
}

#[derive(Serialize)]
struct Talker<'a> {
    host: &'a str,
    #[serde(flatten)]
    value: Measured,
    share: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guaranteed: Option<bool>,
}

/// Which end of the lines a busiest answer ranks.
#[derive(Clone, Copy)]
enum Side {
    From,
    To,
}

/// `b` ranked by `measure`, whose sum over the window is `total`.
fn busiest(b: &Answer, side: Side, measure: Measure, total: u64) -> Busiest<'_> {
    Busiest {
        host: &b.host,
        value: Measured::new(measure, b.value),
        error: b.error,
        tied: b.tied,
        initiators: matches!(side, Side::From).then_some(b.distinct),
        receivers: matches!(side, Side::To).then_some(b.distinct),
        top: b
            .top
            .iter()
            .map(|t| Talker {
                host: &t.host,
                value: Measured::new(measure, t.value),
                share: super::share(t.value, total),
                error: t.bounds.map(|b| b.error),
                guaranteed: t.bounds.map(|b| b.guaranteed),
            })
            .collect(),
        cut_tied: b.cut_tied,
    }
}

/// A host list as a JSON array, written as the hosts are read.
struct HostsJson<'a>(&'a Hosts);

impl Serialize for HostsJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(Some(self.0.len() as usize))?;
        let mut failed = None;
        let walked = self.0.try_for_each(|h| {
            seq.serialize_element(h).map_err(|e| {
                failed = Some(e);
                std::io::Error::other("JSON serialisation failed")
            })
        });
        if let Some(e) = failed {
            return Err(e);
        }
        walked.map_err(S::Error::custom)?;
        seq.end()
    }
}

fn list(l: &HostList) -> List<'_> {
    List {
        host: &l.host,
        hosts: HostsJson(&l.hosts),
        distinct: l.distinct,
        missed_rate: l.missed_rate,
    }
}

/// Writes `report` as one JSON object and a newline.
pub fn write(out: &mut impl Write, report: &Report) -> io::Result<()> {
    let a = &report.answer;
    let window = Window {
        start: report.start.map(|t| Rfc3339Ms(t).to_string()),
        end: report.end.map(|t| Rfc3339Ms(t).to_string()),
        mode: if a.approximate { "approx" } else { "exact" },
        to_host: a.to_host.as_ref().map(list),
        from_host: a.from_host.as_ref().map(list),
        busiest_from_host: a.busiest_from.as_ref().map(|b| {
            b.as_ref()
                .map(|b| busiest(b, Side::From, a.measure, a.total))
        }),
        busiest_to_host: a
            .busiest_to
            .as_ref()
            .map(|b| b.as_ref().map(|b| busiest(b, Side::To, a.measure, a.total))),
        lines: a.lines,
        total: if a.measure.weighted() {
            Measured::new(a.measure, a.total)
        } else {
            Measured::default()
        },
        late: report.late,
        complete: report.complete,
    };
    serde_json::to_writer(&mut *out, &window)?;
    out.write_all(b"\n")
}
