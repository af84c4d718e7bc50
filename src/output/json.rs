//! `--format json`: JSON Lines, the schema documented in `docs/output.md`.

use std::io::{self, Write};

use serde::Serialize;

use crate::report::{HostList, Hosts, Report};
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
    lines: u64,
    late: u64,
    complete: bool,
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
    connections: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<u64>,
    tied: u64,
    initiators: u64,
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
        busiest_from_host: a.busiest.as_ref().map(|b| {
            b.as_ref().map(|b| Busiest {
                host: &b.host,
                connections: b.connections,
                error: b.error,
                tied: b.tied,
                initiators: b.initiators,
            })
        }),
        lines: a.lines,
        late: report.late,
        complete: report.complete,
    };
    serde_json::to_writer(&mut *out, &window)?;
    out.write_all(b"\n")
}
