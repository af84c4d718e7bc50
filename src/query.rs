//! What a run asks: the question ([`Query`]), which lines count and how they
//! are windowed ([`Filter`]), and what state answers it ([`Mode`]). Plain
//! data, decided once from the command line or read from a partial's
//! settings, and shared by every layer that needs it.

use crate::hosts::fold::{eq_folded, fold_case_into};
use crate::hosts::net::{Net, Nets};
use crate::input::format::{proto_number, Field, Flow, LineError, Needs, Record};
use crate::timestamp::HOUR_MS;

/// The longest `--top` list: far more than anyone reads, and small enough
/// that a list never weighs on memory.
pub(crate) const MAX_TOP: u64 = 1 << 20;

/// What was asked: only what a query needs is kept per window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// `--to_host`, case folded (a network as given).
    pub to_host: Option<Vec<u8>>,
    /// `--from_host`, case folded (a network as given).
    pub from_host: Option<Vec<u8>>,
    /// The network `--to_host` names, when it names one.
    pub to_net: Option<Net>,
    /// The network `--from_host` names, when it names one.
    pub from_net: Option<Net>,
    /// `--busiest_from_host`.
    pub busiest_from: bool,
    /// `--busiest_to_host`.
    pub busiest_to: bool,
    /// `--top`: how many hosts the busiest queries list (at least 1).
    pub top: usize,
    /// `--by`: what the busiest queries rank by.
    pub by: Measure,
}

/// What the busiest queries rank hosts by (`--by`): the sum over each
/// host's counted connections of one per connection, or of its bytes or
/// packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Measure {
    /// Connections (lines).
    #[default]
    Connections,
    /// Bytes both ways.
    Bytes,
    /// Packets both ways.
    Packets,
}

impl Measure {
    /// The measure's name, as `--by` and the output write it.
    pub fn name(self) -> &'static str {
        match self {
            Measure::Connections => "connections",
            Measure::Bytes => "bytes",
            Measure::Packets => "packets",
        }
    }

    /// Whether hosts are ranked by a weight other than one per line.
    pub fn weighted(self) -> bool {
        self != Measure::Connections
    }

    /// What `rec` adds to its hosts' sums, read from its counts only now
    /// that it is counted.
    ///
    /// # Errors
    /// A count that is not a number, or a sum past 64 bits.
    #[inline(always)]
    pub(crate) fn weight(self, rec: &Record<'_>) -> Result<u64, LineError> {
        match self {
            Measure::Connections => Ok(1),
            Measure::Bytes => rec.flow.count.sum(Field::Bytes),
            Measure::Packets => rec.flow.count.sum(Field::Packets),
        }
    }

    /// The flow fields a parser must read for this measure.
    pub(crate) fn needs(self) -> Needs {
        Needs {
            bytes: self == Measure::Bytes,
            packets: self == Measure::Packets,
            ..Needs::default()
        }
    }

    /// Reads a measure's name, as partials write it.
    pub(crate) fn from_name(name: &str) -> Option<Measure> {
        [Measure::Connections, Measure::Bytes, Measure::Packets]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

impl Query {
    /// A query with hosts given as typed; their ASCII case is folded here the
    /// same way as hosts in the log. `busiest` asks `--busiest_from_host`, for
    /// the leader alone; see [`Self::with_busiest_to`] and [`Self::with_top`].
    pub fn new(to_host: Option<&str>, from_host: Option<&str>, busiest: bool) -> Self {
        Query {
            to_host: to_host.map(Query::host),
            from_host: from_host.map(Query::host),
            to_net: to_host.and_then(|h| Query::net(h.as_bytes())),
            from_net: from_host.and_then(|h| Query::net(h.as_bytes())),
            busiest_from: busiest,
            busiest_to: false,
            top: 1,
            by: Measure::Connections,
        }
    }

    /// A host as queries hold it: case folded, as every host is counted; a
    /// network as given, since the answer names it so.
    pub(crate) fn host(host: &str) -> Vec<u8> {
        if Query::net(host.as_bytes()).is_some() {
            return host.as_bytes().to_vec();
        }
        fold_case_into(host.as_bytes(), &mut Vec::new()).to_vec()
    }

    /// The network a `--to_host`/`--from_host` value names: one written with
    /// a prefix length (`10.1.0.0/16`). A bare address stays a host, matched
    /// by its name as before networks were asked for.
    pub(crate) fn net(host: &[u8]) -> Option<Net> {
        if !host.contains(&b'/') {
            return None;
        }
        Net::parse(std::str::from_utf8(host).ok()?).ok()
    }

    /// Whether `host` is what a `--to_host`/`--from_host` value names:
    /// `wanted` in any ASCII case, or, when the value is the network `net`,
    /// an address in it. Always inlined: the call is on every counted line.
    #[inline(always)]
    pub(crate) fn names(wanted: &[u8], net: Option<&Net>, host: &[u8]) -> bool {
        match net {
            None => eq_folded(host, wanted),
            Some(net) => net.contains(host),
        }
    }

    /// The same query, asking `--busiest_to_host` too when `ask`.
    pub fn with_busiest_to(self, ask: bool) -> Self {
        Query {
            busiest_to: ask,
            ..self
        }
    }

    /// The same query, listing the `top` busiest hosts (at least 1).
    pub fn with_top(self, top: usize) -> Self {
        Query {
            top: top.max(1),
            ..self
        }
    }

    /// The same query, ranking by `by`.
    pub fn with_measure(self, by: Measure) -> Self {
        Query { by, ..self }
    }

    /// Whether a busiest query (from or to) was asked.
    pub(crate) fn any_busiest(&self) -> bool {
        self.busiest_from || self.busiest_to
    }

    /// Whether no query was asked at all.
    pub fn is_empty(&self) -> bool {
        self.to_host.is_none() && self.from_host.is_none() && !self.any_busiest()
    }
}

/// Which lines count and how they are grouped into windows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    /// Inclusive lower bound, Unix milliseconds.
    pub init: Option<i64>,
    /// Exclusive upper bound, Unix milliseconds.
    pub end: Option<i64>,
    /// One window per bin of this many milliseconds (`--bin`; an hour for
    /// `--hourly`), aligned to the Unix epoch, instead of one for the whole
    /// range.
    pub bin: Option<i64>,
    /// `--from_net` and `--to_net`.
    pub nets: NetFilter,
    /// `--to_port` and `--proto`.
    pub flows: FlowFilter,
}

/// `--to_port` and `--proto`: a line counts only when its responder port is
/// in one of the ranges (if any are given) and its protocol one of those
/// given. A line whose port or protocol is unset does not pass.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowFilter {
    /// Inclusive port ranges, sorted, without repeats.
    pub to_ports: Vec<(u16, u16)>,
    /// IP protocol numbers, sorted, without repeats.
    pub protos: Vec<u8>,
    /// The ports of `to_ports`, a bit each: one test a line, however many
    /// ranges were given.
    ports: Bits,
}

/// A set of small numbers, a bit each (none when empty).
#[derive(Clone, PartialEq, Eq, Default)]
struct Bits(Vec<u64>);

impl Bits {
    /// The numbers of `ranges` (inclusive).
    fn of(ranges: &[(u16, u16)]) -> Self {
        if ranges.is_empty() {
            return Bits::default();
        }
        let mut words = vec![0u64; 1 << 10];
        for &(lo, hi) in ranges {
            for p in lo..=hi {
                words[usize::from(p) >> 6] |= 1 << (p & 63);
            }
        }
        Bits(words)
    }

    #[inline(always)]
    fn contains(&self, n: u16) -> bool {
        self.0
            .get(usize::from(n) >> 6)
            .is_some_and(|w| w >> (n & 63) & 1 != 0)
    }
}

/// The ranges say what the set holds; a thousand words do not.
impl std::fmt::Debug for Bits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.iter().map(|w| w.count_ones()).sum::<u32>();
        write!(f, "Bits({held} set)")
    }
}

impl FlowFilter {
    /// The filter of `to_ports` and `protos` in one canonical form.
    pub fn new(mut to_ports: Vec<(u16, u16)>, protos: Vec<Vec<u8>>) -> Self {
        to_ports.sort_unstable();
        to_ports.dedup();
        let mut protos: Vec<u8> = protos.into_iter().flatten().collect();
        protos.sort_unstable();
        protos.dedup();
        let ports = Bits::of(&to_ports);
        FlowFilter {
            to_ports,
            protos,
            ports,
        }
    }

    /// Whether no port or protocol was given: every line passes.
    pub fn is_empty(&self) -> bool {
        self.to_ports.is_empty() && self.protos.is_empty()
    }

    /// The flow fields a line must give for this filter.
    pub fn needs(&self) -> Needs {
        Needs {
            to_port: !self.to_ports.is_empty(),
            proto: !self.protos.is_empty(),
            ..Needs::default()
        }
    }

    /// Out of the line loop: inlined there, it cost runs without a port or
    /// protocol filter 0.5 % (plain Q2a) for 1.5 % off a filtered run.
    #[inline(never)]
    fn passes(&self, rec: &Record<'_>) -> bool {
        self.passes_flow(&rec.flow)
    }

    #[inline(always)]
    fn passes_flow(&self, flow: &Flow<'_>) -> bool {
        let port_ok =
            self.to_ports.is_empty() || flow.to_port.is_some_and(|p| self.ports.contains(p));
        let proto_ok =
            self.protos.is_empty() || flow.proto.is_some_and(|p| self.protos.contains(&p));
        port_ok && proto_ok
    }
}

/// Reads a `--to_port` value: a port (`443`) or an inclusive range
/// (`1024-65535`).
///
/// # Errors
/// A message that quotes `text` and states the rule.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let bad = || {
        format!(
            "'{text}' is not a port or a range of ports: give a number from 0 to 65535, \
             or LOW-HIGH such as 1024-65535"
        )
    };
    let port = |p: &str| -> Result<u16, String> {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        p.parse().map_err(|_| bad())
    };
    match text.split_once('-') {
        None => port(text).map(|p| (p, p)),
        Some((lo, hi)) => match (port(lo)?, port(hi)?) {
            (lo, hi) if lo <= hi => Ok((lo, hi)),
            _ => Err(format!(
                "'{text}': a range of ports goes from the lower to the higher"
            )),
        },
    }
}

/// Reads a `--proto` value: `tcp`, `udp`, `icmp` (which covers ICMPv6, 1 and
/// 58), another name [`proto_number`] knows, or a protocol number from 0 to
/// 255. Returns the protocol numbers it stands for.
///
/// # Errors
/// A message that quotes `text` and states the rule.
pub fn parse_proto(text: &str) -> Result<Vec<u8>, String> {
    if text.eq_ignore_ascii_case("icmp") {
        return Ok(vec![1, 58]);
    }
    proto_number(text.as_bytes())
        .map(|p| vec![p])
        .ok_or_else(|| {
            format!(
                "'{text}' is not a protocol: give tcp, udp, icmp (ICMP and ICMPv6), sctp, gre, \
             esp, ah, ipv6-icmp, or an IP protocol number from 0 to 255"
            )
        })
}

/// `--from_net` and `--to_net`: a line counts only when its initiator is in
/// one of the first networks (if any are given) and its responder in one of
/// the second.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetFilter {
    /// `--from_net`.
    pub from: Nets,
    /// `--to_net`.
    pub to: Nets,
}

impl NetFilter {
    /// Whether no network was given: every line passes.
    pub fn is_empty(&self) -> bool {
        self.from.is_empty() && self.to.is_empty()
    }

    /// Whether `rec`'s hosts are in the networks asked.
    #[inline(never)]
    fn passes(&self, rec: &Record<'_>) -> bool {
        (self.from.is_empty() || self.from.contains(rec.from))
            && (self.to.is_empty() || self.to.contains(rec.to))
    }
}

/// [`Filter::window_of`] for lines that come mostly in time order: the span
/// of the last line's window (its bin within the time range) is kept, so
/// that a line in it costs two compares, not a division by the bin width.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WindowOf {
    /// The window key of lines in `[from, to)`; an empty span at first.
    key: i64,
    from: i64,
    to: i64,
}

impl WindowOf {
    /// The key of the window a line at `ts` belongs to under `filter`, or
    /// `None` when the line is outside the range.
    #[inline(always)]
    pub(crate) fn of(&mut self, filter: &Filter, ts: i64) -> Option<i64> {
        if self.from <= ts && ts < self.to {
            return Some(self.key);
        }
        self.miss(filter, ts)
    }

    #[inline(never)]
    fn miss(&mut self, filter: &Filter, ts: i64) -> Option<i64> {
        let key = filter.window_of(ts)?;
        let (start, end) = filter.span(key);
        let later = |a: Option<i64>, b: Option<i64>| a.max(b).unwrap_or(i64::MIN);
        let earlier = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(i64::MAX),
        };
        // The bin within the range; `to` is exclusive, so a span that
        // reaches i64::MAX leaves that one instant to the slow path.
        *self = WindowOf {
            key,
            from: later(start, filter.init),
            to: earlier(end, filter.end),
        };
        Some(key)
    }
}

/// `ts` rounded down to a multiple of `bin`. Hours, the common width, divide
/// by a constant (a multiply), not by a run-time divisor (a division on every
/// line).
#[inline(always)]
fn floor_to(ts: i64, bin: i64) -> i64 {
    if bin == HOUR_MS {
        ts.div_euclid(HOUR_MS) * HOUR_MS
    } else {
        ts.div_euclid(bin) * bin
    }
}

/// The longest bin, and the one every bin divides: a day, so that bins
/// align to UTC midnight.
pub const DAY_MS: i64 = 86_400_000;

/// Reads a `--bin` width: `30s`, `5m`, `15m`, `1h`, `1d` or plain seconds,
/// a whole number of seconds from 1 to 86,400 that divides 86,400. Returns
/// milliseconds.
///
/// # Errors
/// A message that quotes `text` and states the rule.
pub fn parse_bin(text: &str) -> Result<i64, String> {
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let per = match unit {
        "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3600),
        "d" => Some(86_400),
        _ => None,
    };
    let seconds = per.and_then(|per| digits.parse::<i64>().ok()?.checked_mul(per));
    match seconds {
        Some(s) if (1..=86_400).contains(&s) && 86_400 % s == 0 => Ok(s * 1000),
        _ => Err(format!(
            "'{text}' is not a bin width: give a whole number of seconds from 1 to 86400 \
             that divides a day (86400 s), so that bins align to UTC midnight, such as \
             30s, 5m, 15m, 1h, 1d or 600"
        )),
    }
}

impl Filter {
    /// Whether windows are bins (`--bin`, `--hourly`), not the whole range.
    pub fn binned(&self) -> bool {
        self.bin.is_some()
    }

    /// The start of the bin holding `ts` (`ts` itself without bins).
    #[inline]
    pub fn bin_start(&self, ts: i64) -> i64 {
        match self.bin {
            Some(bin) => floor_to(ts, bin),
            None => ts,
        }
    }

    /// The start and end of window `key`: its bin, or the whole range.
    pub fn span(&self, key: i64) -> (Option<i64>, Option<i64>) {
        match self.bin {
            Some(bin) => (Some(key), Some(key.saturating_add(bin))),
            None => (self.init, self.end),
        }
    }

    /// Whether the bins are hours, as `--hourly` asks.
    pub fn hourly(&self) -> bool {
        self.bin == Some(HOUR_MS)
    }

    /// Whether `rec` passes the host and flow filters; the time range is
    /// [`Self::window_of`]'s. A line that fails is not counted anywhere.
    #[inline]
    pub fn passes(&self, rec: &Record<'_>) -> bool {
        // Ports and protocols first: a compare, where a network reads the
        // host's text.
        (self.flows.is_empty() || self.flows.passes(rec))
            && (self.nets.is_empty() || self.nets.passes(rec))
    }

    /// Whether a line with these flow fields passes the port and protocol
    /// filters, the first that [`Self::passes`] tests.
    #[inline(always)]
    pub(crate) fn flows_pass(&self, flow: &Flow<'_>) -> bool {
        self.flows.passes_flow(flow)
    }

    /// The flow fields the parsers must read for this filter.
    pub fn needs(&self) -> Needs {
        self.flows.needs()
    }

    /// The key of the window a line at `ts` belongs to, or `None` when the line
    /// is outside the range.
    #[inline]
    pub fn window_of(&self, ts: i64) -> Option<i64> {
        if self.init.is_some_and(|i| ts < i) || self.end.is_some_and(|e| ts >= e) {
            return None;
        }
        Some(match self.bin {
            Some(bin) => floor_to(ts, bin),
            None => 0,
        })
    }
}

/// What per-window state answers the queries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Hash sets and counts: exact, memory grows with distinct hosts.
    Exact,
    /// Sketches of these sizes: bounded memory.
    Approx(ApproxSettings),
}

/// Sketch sizes, derived once from `--memory_limit` and the finer knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApproxSettings {
    /// Space-Saving counters per window (`--top_k`).
    pub top_k: usize,
    /// HyperLogLog precision (`--hll_precision`).
    pub hll_precision: u8,
    /// Bloom filter bytes per list per window.
    pub bloom_bytes: usize,
    /// Hosts a list's filter is tuned for (its number of hashes follows).
    pub bloom_items: usize,
    /// First-seen hosts a list keeps in memory before spilling, in bytes.
    pub spill_buffer: usize,
    /// Bytes for each busiest side's exact counts in front of its sketches
    /// (0: none), per window.
    pub front_bytes: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timestamp::{MAX_MS, MIN_MS};

    #[test]
    fn window_of_respects_half_open_range() {
        let f = Filter {
            init: Some(1000),
            end: Some(2000),
            ..Filter::default()
        };
        assert_eq!(f.window_of(999), None);
        assert_eq!(f.window_of(1000), Some(0));
        assert_eq!(f.window_of(1999), Some(0));
        assert_eq!(f.window_of(2000), None);
        let h = Filter {
            bin: Some(HOUR_MS),
            ..Filter::default()
        };
        assert_eq!(h.window_of(3_600_000 * 5 + 7), Some(3_600_000 * 5));
        let b = Filter {
            bin: Some(300_000),
            ..Filter::default()
        };
        assert_eq!(
            b.window_of(3_600_000 * 5 + 300_007),
            Some(3_600_000 * 5 + 300_000)
        );
        assert_eq!(b.window_of(-1), Some(-300_000));
        assert_eq!(b.span(600_000), (Some(600_000), Some(900_000)));
    }

    proptest::proptest! {
        /// Kept from line to line, the window of a line is the filter's,
        /// in any order of times, with or without bins and a range, at the
        /// ends of the times a log can hold too.
        #[test]
        fn a_kept_window_is_the_filters_window(
            times in proptest::collection::vec(
                proptest::prop_oneof![
                    -5_000_000i64..5_000_000,
                    proptest::sample::select(vec![MIN_MS, MIN_MS + 1, MAX_MS - 1, MAX_MS]),
                ],
                1..60,
            ),
            bin in proptest::option::of(proptest::sample::select(vec![1i64, 1000, 300_000, HOUR_MS, DAY_MS])),
            init in proptest::option::of(-4_000_000i64..4_000_000),
            span in proptest::option::of(0i64..4_000_000),
        ) {
            let filter = Filter {
                init,
                end: span.map(|s| init.unwrap_or(0) + s),
                bin,
                ..Filter::default()
            };
            let mut kept = WindowOf::default();
            for ts in times {
                proptest::prop_assert_eq!(kept.of(&filter, ts), filter.window_of(ts), "{}", ts);
            }
        }

        /// A port is in the filter's set exactly when it is in one of its
        /// ranges, at the ends of the ranges and of the ports too.
        #[test]
        fn the_port_set_is_the_ranges(
            ranges in proptest::collection::vec(
                (proptest::prop_oneof![0u16..100, proptest::num::u16::ANY], 0u16..300),
                0..4,
            ),
            ports in proptest::collection::vec(
                proptest::prop_oneof![0u16..400, proptest::num::u16::ANY,
                    proptest::sample::select(vec![0u16, 1, 63, 64, 65_534, 65_535])],
                1..40,
            ),
        ) {
            let ranges: Vec<(u16, u16)> =
                ranges.into_iter().map(|(lo, len)| (lo, lo.saturating_add(len))).collect();
            let f = FlowFilter::new(ranges.clone(), Vec::new());
            for p in ports.into_iter().chain(ranges.iter().flat_map(|&(lo, hi)| [lo, hi])) {
                let want = ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&p));
                proptest::prop_assert_eq!(f.ports.contains(p), want, "{}", p);
            }
        }
    }

    #[test]
    fn net_filters_pass_lines_whose_hosts_are_in_any_network() {
        let nets = |n: &[&str]| Nets::new(n.iter().map(|n| Net::parse(n).unwrap()).collect());
        let f = Filter {
            nets: NetFilter {
                from: nets(&["10.0.0.0/8", "2001:db8::/32"]),
                to: nets(&["192.0.2.0/24"]),
            },
            ..Filter::default()
        };
        assert!(f.passes(&Record::of(0, "10.9.9.9", "192.0.2.1")));
        assert!(f.passes(&Record::of(0, "2001:db8::5", "192.0.2.1")));
        assert!(!f.passes(&Record::of(0, "11.0.0.1", "192.0.2.1")));
        assert!(!f.passes(&Record::of(0, "10.0.0.1", "192.0.3.1")));
        assert!(!f.passes(&Record::of(0, "web", "192.0.2.1")));
        assert!(Filter::default().passes(&Record::of(0, "web", "db")));
    }

    #[test]
    fn a_queried_host_with_a_prefix_names_a_network() {
        let q = Query::new(Some("10.1.0.0/16"), Some("Web-01"), false);
        assert_eq!(q.to_host.as_deref(), Some(b"10.1.0.0/16".as_slice()));
        assert_eq!(
            q.to_net.map(|n| n.to_string()).as_deref(),
            Some("10.1.0.0/16")
        );
        assert_eq!(
            (q.from_host.as_deref(), q.from_net),
            (Some(b"web-01".as_slice()), None)
        );
        assert!(Query::names(b"10.1.0.0/16", q.to_net.as_ref(), b"10.1.7.7"));
        assert!(!Query::names(
            b"10.1.0.0/16",
            q.to_net.as_ref(),
            b"10.2.7.7"
        ));
        assert!(Query::names(b"web-01", None, b"WEB-01"));
        // A bare address is a host, matched by name.
        assert_eq!(Query::new(Some("10.0.0.1"), None, false).to_net, None);
        assert_eq!(Query::new(Some("a/b"), None, false).to_net, None);
    }

    #[test]
    fn bins_divide_a_day_into_whole_seconds() {
        for (text, ms) in [
            ("30s", 30_000),
            ("5m", 300_000),
            ("15m", 900_000),
            ("1h", HOUR_MS),
            ("1d", DAY_MS),
            ("600", 600_000),
            ("1", 1000),
            ("86400", DAY_MS),
            ("24h", DAY_MS),
        ] {
            assert_eq!(parse_bin(text), Ok(ms), "{text}");
        }
        for bad in [
            "0",
            "7m",
            "2d",
            "1.5s",
            "90000",
            "",
            "m",
            "5 m",
            "-5",
            "+5",
            "5M",
            "1w",
            "99999999999999999999",
        ] {
            let e = parse_bin(bad).unwrap_err();
            assert!(
                e.contains("divides a day") && e.contains(&format!("'{bad}'")),
                "{bad}: {e}"
            );
        }
    }
}
