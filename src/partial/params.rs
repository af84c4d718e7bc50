//! What every partial line says about the run that wrote it: the query, the
//! time range, the windows, the mode and the sketch sizes. A merge takes all
//! of these from its input, and only folds lines that agree on every one.

use std::fmt::Write as _;

use crate::hosts::net::{Net, Nets};
use crate::query::{
    parse_bin, parse_port_range, ApproxSettings, Filter, FlowFilter, Measure, Mode, NetFilter,
    Query,
};
use crate::timestamp::HOUR_MS;
use crate::timestamp::{MAX_MS, MIN_MS};

/// The settings a partial was written under.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Params {
    /// What was asked.
    pub(crate) query: Query,
    /// The time range and whether windows are hours.
    pub(crate) filter: Filter,
    /// Exact, or approximate with these sketch sizes.
    pub(crate) mode: Mode,
}

impl Params {
    /// The settings as one line of `name=value` pairs, separated by commas,
    /// in a fixed order: hosts in hexadecimal, times in Unix milliseconds,
    /// `-` for what is absent. Equal settings give equal text.
    pub(crate) fn to_text(&self) -> String {
        let mut s = String::new();
        let host = |h: &Option<Vec<u8>>| match h {
            Some(h) => h
                .iter()
                .fold(String::with_capacity(2 * h.len()), |mut s, b| {
                    let _ = write!(s, "{b:02x}");
                    s
                }),
            None => "-".into(),
        };
        let time = |t: Option<i64>| t.map_or_else(|| "-".into(), |t| t.to_string());
        let q = &self.query;
        let f = &self.filter;
        let _ = write!(
            s,
            "mode={},hourly={},init={},end={},to={},from={},busiest_from={},busiest_to={},top={}",
            match self.mode {
                Mode::Exact => "exact",
                Mode::Approx(_) => "approx",
            },
            u8::from(f.binned()),
            time(f.init),
            time(f.end),
            host(&q.to_host),
            host(&q.from_host),
            u8::from(q.busiest_from),
            u8::from(q.busiest_to),
            q.top,
        );
        if let Mode::Approx(a) = &self.mode {
            let _ = write!(
                s,
                ",top_k={},hll_precision={},bloom_bytes={},bloom_items={},spill_buffer={}",
                a.top_k, a.hll_precision, a.bloom_bytes, a.bloom_items, a.spill_buffer
            );
        }
        // Only runs with bins other than hours, or that filter by network,
        // say so, so that every other run's settings read as they always
        // have.
        if let Some(bin) = f.bin.filter(|&b| b != HOUR_MS) {
            let _ = write!(s, ",bin={}", bin / 1000);
        }
        for (name, nets) in [("from_net", &f.nets.from), ("to_net", &f.nets.to)] {
            if !nets.is_empty() {
                let _ = write!(s, ",{name}={}", nets.join(NET_SEP));
            }
        }
        let flows = &f.flows;
        if !flows.to_ports.is_empty() {
            let ports: Vec<String> = flows
                .to_ports
                .iter()
                .map(|&(lo, hi)| {
                    if lo == hi {
                        lo.to_string()
                    } else {
                        format!("{lo}-{hi}")
                    }
                })
                .collect();
            let _ = write!(s, ",to_port={}", ports.join(NET_SEP));
        }
        if !flows.protos.is_empty() {
            let protos: Vec<String> = flows.protos.iter().map(u8::to_string).collect();
            let _ = write!(s, ",proto={}", protos.join(NET_SEP));
        }
        if q.by.weighted() {
            let _ = write!(s, ",by={}", q.by.name());
        }
        s
    }

    /// Reads settings back from [`Self::to_text`]'s form.
    ///
    /// # Errors
    /// A message naming the first setting that is missing, repeated, out of
    /// order or out of range.
    pub(crate) fn parse(text: &str) -> Result<Params, String> {
        let mut pairs = text.split(',').map(|pair| {
            pair.split_once('=')
                .ok_or_else(|| format!("setting '{pair}' has no '='"))
        });
        let mut next = |name: &str| -> Result<&str, String> {
            match pairs.next() {
                Some(Ok((n, v))) if n == name => Ok(v),
                Some(Ok((n, _))) => Err(format!("setting '{n}' where '{name}' belongs")),
                Some(Err(e)) => Err(e),
                None => Err(format!("setting '{name}' is missing")),
            }
        };
        let approx = match next("mode")? {
            "exact" => false,
            "approx" => true,
            m => return Err(format!("mode '{m}' is neither exact nor approx")),
        };
        let flag = |name: &str, v: &str| match v {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(format!("{name}={v} is not 0 or 1")),
        };
        let time = |name: &str, v: &str| match v {
            "-" => Ok(None),
            _ => v
                .parse::<i64>()
                .ok()
                .filter(|t| (MIN_MS..=MAX_MS).contains(t))
                .map(Some)
                .ok_or_else(|| {
                    format!("{name}={v} is not a time in milliseconds with an RFC 3339 form")
                }),
        };
        let host = |name: &str, v: &str| -> Result<Option<Vec<u8>>, String> {
            if v == "-" {
                return Ok(None);
            }
            let bad = || format!("{name}={v} is not a host in hexadecimal");
            if v.is_empty() || v.len() % 2 != 0 {
                return Err(bad());
            }
            (0..v.len())
                .step_by(2)
                .map(|i| {
                    u8::from_str_radix(v.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad())
                })
                .collect::<Result<Vec<u8>, String>>()
                .map(Some)
        };
        let number = |name: &str, v: &str| -> Result<usize, String> {
            v.parse::<usize>()
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| format!("{name}={v} is not a positive number"))
        };
        let hourly = flag("hourly", next("hourly")?)?;
        let init = time("init", next("init")?)?;
        let end = time("end", next("end")?)?;
        let to_host = host("to", next("to")?)?;
        let from_host = host("from", next("from")?)?;
        let busiest_from = flag("busiest_from", next("busiest_from")?)?;
        let busiest_to = flag("busiest_to", next("busiest_to")?)?;
        let top = number("top", next("top")?)?;
        if top > crate::query::MAX_TOP as usize {
            return Err(format!("top={top} is above {}", crate::query::MAX_TOP));
        }
        let mode = if approx {
            let top_k = number("top_k", next("top_k")?)?;
            let hll_precision = next("hll_precision")?;
            let hll_precision = hll_precision
                .parse::<u8>()
                .ok()
                .filter(|p| {
                    (crate::sketch::Hll::MIN_PRECISION..=crate::sketch::Hll::MAX_PRECISION)
                        .contains(p)
                })
                .ok_or_else(|| format!("hll_precision={hll_precision} is out of range"))?;
            let bloom_bytes = number("bloom_bytes", next("bloom_bytes")?)?;
            let bloom_items = number("bloom_items", next("bloom_items")?)?;
            let spill_buffer = number("spill_buffer", next("spill_buffer")?)?;
            let settings = ApproxSettings {
                top_k,
                hll_precision,
                bloom_bytes,
                bloom_items,
                spill_buffer,
                // A run's exact counts are spilled before it writes a partial.
                front_bytes: 0,
            };
            // Sketches of these sizes are built for every window merged:
            // sizes no run writes are refused, not allocated.
            settings.check_written(to_host.is_some() || from_host.is_some())?;
            Mode::Approx(settings)
        } else {
            Mode::Exact
        };
        let mut rest = pairs.peekable();
        let bin = match rest.next_if(|p| matches!(p, Ok(("bin", _)))) {
            // Plain seconds, and never an hour (written as no `bin`): one
            // text for one width.
            Some(Ok((_, v))) if hourly => match parse_bin(v) {
                Ok(bin) if bin != HOUR_MS && v.bytes().all(|b| b.is_ascii_digit()) => Some(bin),
                _ => return Err(format!("bin={v} is not a bin width connspy writes")),
            },
            Some(_) => return Err("bin= in settings without bins (hourly=0)".into()),
            None => hourly.then_some(HOUR_MS),
        };
        let net_list = |n: &str| Net::parse(n);
        let net_filter = NetFilter {
            from: Nets::new(optional_list(&mut rest, "from_net", net_list)?),
            to: Nets::new(optional_list(&mut rest, "to_net", net_list)?),
        };
        let to_ports = optional_list(&mut rest, "to_port", parse_port_range)?;
        let protos = optional_list(&mut rest, "proto", |p| {
            p.parse::<u8>()
                .ok()
                .filter(|_| p.bytes().all(|b| b.is_ascii_digit()))
                .map(|p| vec![p])
                .ok_or_else(|| format!("'{p}' is not a protocol number"))
        })?;
        let flows = FlowFilter::new(to_ports, protos);
        let by = match rest.next_if(|p| matches!(p, Ok(("by", _)))) {
            Some(Ok((_, v))) => Measure::from_name(v)
                .filter(|m| m.weighted())
                .ok_or_else(|| format!("by={v} is not a measure connspy writes"))?,
            _ => Measure::Connections,
        };
        match rest.next() {
            Some(Ok((name, _))) => return Err(format!("unknown setting '{name}'")),
            Some(Err(e)) => return Err(e),
            None => {}
        }
        let query = Query {
            to_net: to_host.as_deref().and_then(Query::net),
            from_net: from_host.as_deref().and_then(Query::net),
            to_host,
            from_host,
            busiest_from,
            busiest_to,
            top,
            by,
        };
        if query.is_empty() {
            return Err("no query asked".into());
        }
        if let (Some(i), Some(e)) = (init, end) {
            if e <= i {
                return Err("the range ends before it starts".into());
            }
        }
        Ok(Params {
            query,
            filter: Filter {
                init,
                end,
                bin,
                nets: net_filter,
                flows,
            },
            mode,
        })
    }
}

/// The setting `name` if it comes next in `rest`, as a list separated by
/// [`NET_SEP`] of items `parse` reads; an empty list when it does not come
/// (only runs that ask say so).
fn optional_list<'t, T>(
    rest: &mut std::iter::Peekable<impl Iterator<Item = Result<(&'t str, &'t str), String>>>,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, String> {
    match rest.next_if(|p| matches!(p, Ok((n, _)) if *n == name)) {
        Some(Ok((_, v))) => v
            .split(NET_SEP)
            .map(|item| parse(item).map_err(|e| format!("{name}: {e}")))
            .collect(),
        _ => Ok(Vec::new()),
    }
}

/// Separates the networks, ports or protocols of one setting (a comma
/// separates settings).
const NET_SEP: &str = "+";

/// The 16 hexadecimal digits of FNV-1a (64 bits) over `text`: a short, fixed
/// and documented check that two lines were written under the same settings.
pub(crate) fn digest(text: &str) -> String {
    format!("{:016x}", crate::hash::fnv1a(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact() -> Params {
        Params {
            query: Query::new(Some("Zyla"), None, true)
                .with_busiest_to(true)
                .with_top(10),
            filter: Filter {
                init: Some(1_565_647_200_000),
                end: None,
                bin: Some(HOUR_MS),
                ..Filter::default()
            },
            mode: Mode::Exact,
        }
    }

    #[test]
    fn text_round_trips_and_is_stable() {
        let p = exact();
        let text = p.to_text();
        assert_eq!(
            text,
            "mode=exact,hourly=1,init=1565647200000,end=-,to=7a796c61,from=-,busiest_from=1,\
             busiest_to=1,top=10"
        );
        assert_eq!(Params::parse(&text).unwrap(), p);
        let a = Params {
            mode: Mode::Approx(ApproxSettings {
                top_k: 4096,
                hll_precision: 15,
                bloom_bytes: 3 << 18,
                bloom_items: 500_000,
                spill_buffer: 1 << 18,
                front_bytes: 0,
            }),
            ..p
        };
        assert_eq!(Params::parse(&a.to_text()).unwrap(), a);
        assert_eq!(digest(&text), digest(&exact().to_text()));
        assert_ne!(digest(&text), digest(&a.to_text()));
    }

    #[test]
    fn networks_are_said_only_when_asked_and_round_trip() {
        let net = |n: &str| Net::parse(n).unwrap();
        let mut p = exact();
        p.filter.nets = NetFilter {
            from: Nets::new(vec![net("2001:db8::/32"), net("10.1.2.3/8")]),
            to: Nets::new(vec![net("192.0.2.7")]),
        };
        let text = p.to_text();
        assert!(
            text.ends_with("top=10,from_net=10.0.0.0/8+2001:db8::/32,to_net=192.0.2.7/32"),
            "{text}"
        );
        assert_eq!(Params::parse(&text).unwrap(), p);
        p.filter.nets.from = Nets::default();
        assert!(p.to_text().ends_with("top=10,to_net=192.0.2.7/32"));
        assert_eq!(Params::parse(&p.to_text()).unwrap(), p);
        // A network as --to_host is read back as one.
        let q = Query::new(Some("10.1.0.0/16"), None, false);
        let p = Params {
            query: q.clone(),
            ..exact()
        };
        assert_eq!(Params::parse(&p.to_text()).unwrap().query, q);
        let text = exact().to_text();
        for bad in [
            format!("{text},from_net=10.0.0.0/33"),
            format!("{text},from_net="),
            format!("{text},to_net=10.0.0.0/8,from_net=10.0.0.0/8"),
            format!("{text},to_net=10.0.0.0/8,to_net=10.0.0.0/8"),
            format!("{text},from_net=web"),
            format!("{text},junk"),
        ] {
            assert!(Params::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bins_other_than_hours_are_said_and_round_trip() {
        let mut p = exact();
        p.filter.bin = Some(300_000);
        let text = p.to_text();
        assert!(text.ends_with("top=10,bin=300"), "{text}");
        assert_eq!(Params::parse(&text).unwrap(), p);
        p.filter.nets.to = Nets::new(vec![Net::parse("10.0.0.0/8").unwrap()]);
        assert!(p.to_text().ends_with("top=10,bin=300,to_net=10.0.0.0/8"));
        assert_eq!(Params::parse(&p.to_text()).unwrap(), p);
        let hourly = exact().to_text();
        for bad in [
            format!("{hourly},bin=420"),
            format!("{hourly},bin=0"),
            format!("{hourly},bin=5m"),
            format!("{hourly},bin=3600"),
            format!("{hourly},bin=300,bin=300"),
            format!("{},bin=300", hourly.replace("hourly=1", "hourly=0")),
        ] {
            assert!(Params::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_and_protocols_are_said_only_when_asked_and_round_trip() {
        let mut p = exact();
        p.filter.flows = FlowFilter::new(vec![(1024, 65535), (22, 22)], vec![vec![1, 58], vec![6]]);
        let text = p.to_text();
        assert!(
            text.ends_with("top=10,to_port=22+1024-65535,proto=1+6+58"),
            "{text}"
        );
        assert_eq!(Params::parse(&text).unwrap(), p);
        let plain = exact().to_text();
        for bad in [
            format!("{plain},to_port=70000"),
            format!("{plain},to_port=9-1"),
            format!("{plain},proto=tcp"),
            format!("{plain},proto=256"),
            format!("{plain},proto=6,to_port=22"),
            format!("{plain},to_port="),
        ] {
            assert!(Params::parse(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_what_no_run_writes() {
        let text = exact().to_text();
        for bad in [
            String::new(),
            text.replace("mode=exact", "mode=fuzzy"),
            text.replace("hourly=1", "hourly=2"),
            text.replace("to=7a796c61", "to=7a796c6"),
            text.replace("to=7a796c61", "to=zz"),
            text.replace("top=10", "top=0"),
            text.replace(",top=10", ""),
            format!("{text},extra=1"),
            text.replace("busiest_from=1,busiest_to=1", "busiest_to=1,busiest_from=1"),
            "mode=exact,hourly=0,init=-,end=-,to=-,from=-,busiest_from=0,busiest_to=0,top=1".into(),
            text.replace("end=-", "end=5"),
            text.replace("mode=exact", "mode=approx"),
        ] {
            assert!(Params::parse(&bad).is_err(), "{bad}");
        }
    }
}
