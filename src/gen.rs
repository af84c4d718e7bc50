//! Realistic connection logs for tests, benchmarks and the shipped sample.
//!
//! Initiators are drawn from a Zipf distribution, so a few hosts are busy and
//! most are quiet, as in real traffic; targets are uniform. Time advances at a
//! fixed rate, and a fraction of lines arrive late by up to a bound, which keeps
//! every log within the ordering assumption that the seek and tail mode rely
//! on. The same settings and seed always write the same bytes.
//!
//! The same lines can be written in each log format connspy reads
//! ([`LogFormat`]; `auto` writes connspy's own): the random draws do not
//! depend on the format, and the fields a format adds (ports, ids, byte
//! counts, other events) are derived from the line number alone, so every
//! format gives the plain log's answers. Zeek TSV carries its header (ts in
//! seconds and microseconds), Zeek JSON a numeric ts; VPC Flow Logs are
//! version 2 with a header line and `start` in whole seconds (compare with a
//! plain log of `--unit seconds`), every 50th line followed by a NODATA
//! record; Suricata EVE writes flow events with `flow.start` at a `+0100`
//! offset, every 20th followed by a `dns` event.

use std::io::{self, Write};

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};
use rand_pcg::Pcg64Mcg;

use crate::input::format::LogFormat;

/// The unit of written timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Unit {
    /// Unix seconds.
    Seconds,
    /// Unix milliseconds.
    #[default]
    Millis,
}

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Lines to write.
    pub lines: u64,
    /// Distinct host names to draw from.
    pub hosts: u64,
    /// Timestamp of the first line, Unix milliseconds.
    pub start_ms: i64,
    /// Lines per second of log time.
    pub rate: f64,
    /// The largest lateness, in whole seconds.
    pub late_seconds: u64,
    /// The fraction of lines that are late (by a uniform amount up to the bound).
    pub late_fraction: f64,
    /// Zipf exponent of the initiator distribution (larger: more skew).
    pub zipf: f64,
    /// The fraction of initiators drawn uniformly from all `hosts` names
    /// instead of by Zipf rank: a busy head over a long tail of hosts seen
    /// once or twice, as a border sensor sees scanners and clients.
    pub uniform_fraction: f64,
    /// Timestamp unit.
    pub unit: Unit,
    /// Capitalise host names, as the original sample does.
    pub capitalise: bool,
    /// The fewest syllables (two letters each) in a host name.
    pub name_syllables: usize,
    /// Host names, or IP addresses in place of them.
    pub addresses: Addresses,
    /// Random seed.
    pub seed: u64,
    /// The log format (`Auto` writes connspy's own).
    pub format: LogFormat,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            lines: 10_000,
            hosts: 1_000,
            start_ms: 1_565_647_200_000,
            rate: 1.0,
            late_seconds: 60,
            late_fraction: 0.05,
            zipf: 1.1,
            uniform_fraction: 0.0,
            unit: Unit::Millis,
            capitalise: true,
            name_syllables: 3,
            addresses: Addresses::None,
            seed: 1,
            format: LogFormat::Connspy,
        }
    }
}

impl GenConfig {
    /// Checks that the settings describe a log.
    ///
    /// # Errors
    /// A message naming the setting at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.hosts == 0 {
            return Err("--hosts must be at least 1".into());
        }
        if !(self.rate.is_finite() && self.rate > 0.0) {
            return Err("--rate must be a positive number of lines per second".into());
        }
        if !(0.0..=1.0).contains(&self.late_fraction) {
            return Err("--late_fraction must be between 0 and 1".into());
        }
        if !(self.zipf.is_finite() && self.zipf > 0.0) {
            return Err("--zipf must be a positive exponent".into());
        }
        if !(0.0..=1.0).contains(&self.uniform_fraction) {
            return Err("--uniform_fraction must be between 0 and 1".into());
        }
        if !(1..=MAX_SYLLABLES).contains(&self.name_syllables) {
            return Err(format!(
                "--name_syllables must be between 1 and {MAX_SYLLABLES}"
            ));
        }
        if self.start_ms < 0 {
            return Err("--start must not be before 1970".into());
        }
        Ok(())
    }
}

const CONSONANTS: &[u8; 16] = b"bcdfghjklmnprstv";
const VOWELS: &[u8; 4] = b"aeio";

/// The longest minimum name length, in syllables.
pub(crate) const MAX_SYLLABLES: usize = 32;

/// The name of host `index`: its base-64 digits as consonant-vowel syllables,
/// padded to at least `min_syllables`, so that distinct indices give distinct
/// names (a padded name has the same length as any unpadded one it could be
/// confused with, and equal-length digit strings are equal numbers).
fn host_name(index: u64, min_syllables: usize, capitalise: bool, out: &mut Vec<u8>) {
    let start = out.len();
    let mut digits = [0u8; MAX_SYLLABLES];
    let mut n = index;
    let mut len = 0;
    while n > 0 || len < min_syllables {
        digits[len] = (n % 64) as u8;
        n /= 64;
        len += 1;
    }
    for &d in digits[..len].iter().rev() {
        out.push(CONSONANTS[usize::from(d / 4)]);
        out.push(VOWELS[usize::from(d % 4)]);
    }
    if capitalise {
        out[start] = out[start].to_ascii_uppercase();
    }
}

/// What hosts are written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Addresses {
    /// Names made of syllables.
    #[default]
    None,
    /// IPv4 addresses: host `i` is `10.a.b.c` with `i` in the last three
    /// octets (and above 2^24, in the first).
    Ipv4,
    /// IPv6 addresses in 2001:db8::/32.
    Ipv6,
    /// Even hosts IPv4, odd ones IPv6.
    Mixed,
}

/// Writes host `index` as `cfg` asks: a name, or an address.
fn host(index: u64, cfg: &GenConfig, out: &mut Vec<u8>) {
    let v4 = |i: u64, out: &mut Vec<u8>| {
        let _ = write!(
            out,
            "{}.{}.{}.{}",
            10 + (i >> 24) % 246,
            (i >> 16) & 255,
            (i >> 8) & 255,
            i & 255
        );
    };
    let v6 = |i: u64, out: &mut Vec<u8>| {
        let _ = write!(out, "2001:db8:{:x}::{:x}", i >> 16, i & 0xffff);
    };
    match cfg.addresses {
        Addresses::None => host_name(index, cfg.name_syllables, cfg.capitalise, out),
        Addresses::Ipv4 => v4(index, out),
        Addresses::Ipv6 => v6(index, out),
        Addresses::Mixed if index % 2 == 0 => v4(index / 2, out),
        Addresses::Mixed => v6(index / 2, out),
    }
}

/// Spreads Zipf ranks over the name space, so that the busiest hosts are not
/// also the alphabetically first ones.
struct Scramble {
    n: u64,
    mult: u64,
}

impl Scramble {
    fn new(n: u64) -> Self {
        let mut mult = 2_654_435_761 % n.max(2);
        while gcd(mult, n) != 1 {
            mult += 1;
        }
        Scramble { n, mult }
    }

    /// A bijection of `0..n`; `rank + 1` keeps the busiest host off name 0.
    fn apply(&self, rank: u64) -> u64 {
        ((u128::from(rank + 1) * u128::from(self.mult)) % u128::from(self.n)) as u64
    }
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Writes the log described by `cfg` to `out`.
///
/// # Errors
/// The writer's error; an invalid `cfg` is reported as `InvalidInput`.
pub fn generate(cfg: &GenConfig, mut out: impl Write) -> io::Result<()> {
    cfg.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let mut rng = Pcg64Mcg::seed_from_u64(cfg.seed);
    let zipf = Zipf::new(cfg.hosts as f64, cfg.zipf)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let scramble = Scramble::new(cfg.hosts);
    let late_ms = cfg.late_seconds.saturating_mul(1000) as f64;
    let step_ms = 1000.0 / cfg.rate;
    let mut buf = Vec::with_capacity(1 << 20);
    let mut fmt = FormatWriter::new(cfg);
    fmt.header(&mut buf)?;
    let (mut from_name, mut to_name) = (Vec::new(), Vec::new());
    for i in 0..cfg.lines {
        let base = cfg.start_ms as f64 + i as f64 * step_ms;
        let late = if cfg.late_fraction > 0.0 && rng.random_bool(cfg.late_fraction) {
            rng.random_range(0.0..=late_ms)
        } else {
            0.0
        };
        let ts = (base - late).max(0.0) as i64;
        let ts = match cfg.unit {
            Unit::Millis => ts,
            Unit::Seconds => ts / 1000 * 1000,
        };
        // No draw at all when the fraction is 0, so that the default
        // settings write the same bytes as before the option existed.
        let from = if cfg.uniform_fraction > 0.0 && rng.random_bool(cfg.uniform_fraction) {
            rng.random_range(0..cfg.hosts)
        } else {
            scramble.apply(zipf.sample(&mut rng) as u64 - 1)
        };
        let to = rng.random_range(0..cfg.hosts);
        if matches!(cfg.format, LogFormat::Auto | LogFormat::Connspy) {
            // The plain format's bytes as before: millisecond timestamps
            // unless --unit seconds.
            match cfg.unit {
                Unit::Millis => write!(buf, "{ts} ")?,
                Unit::Seconds => write!(buf, "{} ", ts / 1000)?,
            }
            host(from, cfg, &mut buf);
            buf.push(b' ');
            host(to, cfg, &mut buf);
            buf.push(b'\n');
        } else {
            from_name.clear();
            to_name.clear();
            host(from, cfg, &mut from_name);
            host(to, cfg, &mut to_name);
            fmt.line(&mut buf, i, ts, &from_name, &to_name)?;
        }
        if buf.len() >= (1 << 20) - 512 {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    fmt.footer(&mut buf)?;
    out.write_all(&buf)?;
    out.flush()
}

/// Writes the lines of the formats other than connspy's.
struct FormatWriter {
    format: LogFormat,
    start_ms: i64,
}

/// A line number mixed into a well-spread 64-bit value (SplitMix64's
/// finaliser), for the fields a format adds: not drawn from the generator's
/// random stream, so that the connections stay those of the plain log.
fn mix(i: u64) -> u64 {
    let mut z = i.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl FormatWriter {
    fn new(cfg: &GenConfig) -> Self {
        FormatWriter {
            format: cfg.format,
            start_ms: cfg.start_ms,
        }
    }

    fn header(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        match self.format {
            LogFormat::Zeek => write!(
                buf,
                "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
                 #path\tconn\n#open\t{}\n\
                 #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t\
                 duration\torig_bytes\tresp_bytes\tconn_state\thistory\torig_pkts\tresp_pkts\n\
                 #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\t\
                 count\tstring\tstring\tcount\tcount\n",
                zeek_time(self.start_ms)
            ),
            LogFormat::Vpc => buf.write_all(
                b"version account-id interface-id srcaddr dstaddr srcport dstport protocol \
                  packets bytes start end action log-status\n",
            ),
            LogFormat::Auto | LogFormat::Connspy | LogFormat::ZeekJson | LogFormat::Suricata => {
                Ok(())
            }
        }
    }

    fn footer(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        if self.format == LogFormat::Zeek {
            writeln!(buf, "#close\t{}", zeek_time(self.start_ms))?;
        }
        Ok(())
    }

    fn line(
        &mut self,
        buf: &mut Vec<u8>,
        i: u64,
        ts: i64,
        from: &[u8],
        to: &[u8],
    ) -> io::Result<()> {
        let r = mix(i);
        let (sport, dport) = (
            1024 + r % 60_000,
            [22, 53, 80, 443, 3389][(r >> 20) as usize % 5],
        );
        // Each way; flow logs that give one number give the sum.
        let (obytes, rbytes) = ((r >> 24) % 100_000, (r >> 40) % 1_000_000);
        let (opkts, rpkts) = (1 + r % 50, 1 + (r >> 6) % 50);
        // DNS over UDP, the rest over TCP: filters by protocol have two to
        // tell apart.
        let (proto, proto_number, proto_upper) = if dport == 53 {
            ("udp", 17, "UDP")
        } else {
            ("tcp", 6, "TCP")
        };
        let duration_ms = (r >> 8) % 30_000;
        let (from, to) = (String::from_utf8_lossy(from), String::from_utf8_lossy(to));
        let (secs, ms) = (ts.div_euclid(1000), ts.rem_euclid(1000));
        match self.format {
            LogFormat::Auto | LogFormat::Connspy => unreachable!("written by generate"),
            LogFormat::Zeek => writeln!(
                buf,
                "{secs}.{ms:03}{:03}\tC{r:016x}\t{from}\t{sport}\t{to}\t{dport}\t{proto}\t-\t\
                 {}.{:03}\t{obytes}\t{rbytes}\tSF\tShADadFf\t{opkts}\t{rpkts}",
                r % 1000,
                duration_ms / 1000,
                duration_ms % 1000
            ),
            LogFormat::ZeekJson => writeln!(
                buf,
                "{{\"ts\":{secs}.{ms:03}{:03},\"uid\":\"C{r:016x}\",\"id.orig_h\":\"{from}\",\
                 \"id.orig_p\":{sport},\"id.resp_h\":\"{to}\",\"id.resp_p\":{dport},\
                 \"proto\":\"{proto}\",\"duration\":{}.{:03},\"orig_bytes\":{obytes},\
                 \"resp_bytes\":{rbytes},\"conn_state\":\"SF\",\"local_orig\":true,\
                 \"orig_pkts\":{opkts},\"resp_pkts\":{rpkts}}}",
                r % 1000,
                duration_ms / 1000,
                duration_ms % 1000
            ),
            LogFormat::Vpc => {
                writeln!(
                    buf,
                    "2 123456789012 eni-{:017x} {from} {to} {sport} {dport} {proto_number} {} {} {secs} {} \
                     ACCEPT OK",
                    r >> 4 & 0xf_ffff,
                    opkts + rpkts,
                    obytes + rbytes,
                    secs + 60
                )?;
                if i % 50 == 49 {
                    writeln!(
                        buf,
                        "2 123456789012 eni-{:017x} - - - - - - - {secs} {} - NODATA",
                        r >> 4 & 0xf_ffff,
                        secs + 60
                    )?;
                }
                Ok(())
            }
            LogFormat::Suricata => {
                let start = Rfc3339Offset(ts);
                let end = Rfc3339Offset(ts + duration_ms as i64);
                writeln!(
                    buf,
                    "{{\"timestamp\":\"{end}\",\"flow_id\":{},\"in_iface\":\"eth0\",\
                     \"event_type\":\"flow\",\"src_ip\":\"{from}\",\"src_port\":{sport},\
                     \"dest_ip\":\"{to}\",\"dest_port\":{dport},\"proto\":\"{proto_upper}\",\
                     \"flow\":{{\"pkts_toserver\":{opkts},\"pkts_toclient\":{rpkts},\"bytes_toserver\":{obytes},\
                     \"bytes_toclient\":{rbytes},\"start\":\"{start}\",\"end\":\"{end}\",\"age\":{},\
                     \"state\":\"closed\",\"reason\":\"timeout\",\"alerted\":false}},\
                     \"tcp\":{{\"tcp_flags\":\"1b\",\"syn\":true,\"fin\":true}}}}",
                    r >> 14,
                    duration_ms / 1000
                )?;
                if i % 20 == 19 {
                    writeln!(
                        buf,
                        "{{\"timestamp\":\"{start}\",\"flow_id\":{},\"event_type\":\"dns\",\
                         \"src_ip\":\"{from}\",\"src_port\":{sport},\"dest_ip\":\"{to}\",\
                         \"dest_port\":53,\"proto\":\"UDP\",\"dns\":{{\"type\":\"query\",\
                         \"rrname\":\"example.com\"}}}}",
                        r >> 14
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Zeek's `#open`/`#close` time: `2019-08-12-22-00-00`.
fn zeek_time(ms: i64) -> String {
    let t = crate::timestamp::Rfc3339Ms(ms.div_euclid(1000) * 1000).to_string();
    t.trim_end_matches('Z').replace(['T', ':'], "-")
}

/// A time as Suricata writes it: local time at `+0100`, microseconds, and an
/// offset without a colon (`2019-08-12T23:00:00.000000+0100`).
struct Rfc3339Offset(i64);

impl std::fmt::Display for Rfc3339Offset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let local = self.0 + 3_600_000;
        let t = crate::timestamp::Rfc3339Ms(local.div_euclid(1000) * 1000).to_string();
        write!(
            f,
            "{}.{:03}000+0100",
            t.trim_end_matches('Z'),
            local.rem_euclid(1000)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::format::connspy::{parse_line, Lines};

    #[test]
    fn names_are_distinct_and_fold_to_distinct_names() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..70_000 {
            let mut name = Vec::new();
            host_name(i, 3, true, &mut name);
            assert!(seen.insert(name.to_ascii_lowercase()), "{i}");
        }
        let mut long = Vec::new();
        host_name(u64::MAX, 6, false, &mut long);
        assert_eq!(long.len(), 22);
    }

    #[test]
    fn scramble_is_a_bijection() {
        for n in [1, 2, 10, 1000, 2_654_435_761] {
            let s = Scramble::new(n);
            if n <= 1000 {
                let mut hit = vec![false; n as usize];
                for r in 0..n {
                    hit[s.apply(r) as usize] = true;
                }
                assert!(hit.iter().all(|h| *h));
            } else {
                assert_eq!(gcd(s.mult, n), 1);
            }
        }
    }

    #[test]
    fn deterministic_parseable_and_within_the_lateness_bound() {
        let cfg = GenConfig {
            lines: 5000,
            hosts: 300,
            rate: 3.0,
            late_seconds: 20,
            late_fraction: 0.3,
            unit: Unit::Seconds,
            ..GenConfig::default()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        generate(&cfg, &mut a).unwrap();
        generate(&cfg, &mut b).unwrap();
        assert_eq!(a, b);
        let mut newest = i64::MIN;
        let mut lines = 0;
        for line in Lines::new(&a) {
            let rec = parse_line(line).unwrap().unwrap();
            assert!(rec.ts >= newest.saturating_sub(20_000));
            newest = newest.max(rec.ts);
            lines += 1;
        }
        assert_eq!(lines, 5000);
    }

    #[test]
    fn every_format_holds_the_plain_logs_connections() {
        use crate::input::format::{Outcome, Parser};
        let records = |format| {
            let cfg = GenConfig {
                lines: 3000,
                hosts: 200,
                unit: Unit::Seconds,
                format,
                ..GenConfig::default()
            };
            let mut log = Vec::new();
            generate(&cfg, &mut log).unwrap();
            let mut out = Vec::new();
            let mut skipped = 0;
            Parser::detect(&log).scan(&log, |o| {
                match o {
                    Outcome::Record(r) => out.push((r.ts, r.from.to_vec(), r.to.to_vec())),
                    Outcome::Skipped(_) => skipped += 1,
                    Outcome::Header(None) | Outcome::Blank => {}
                    other => panic!("{format:?}: {other:?}"),
                }
                true
            });
            (out, skipped)
        };
        let (plain, _) = records(LogFormat::Connspy);
        assert_eq!(plain.len(), 3000);
        for (format, skips) in [
            (LogFormat::Zeek, 0),
            (LogFormat::ZeekJson, 0),
            (LogFormat::Vpc, 60),
            (LogFormat::Suricata, 150),
        ] {
            assert_eq!(records(format), (plain.clone(), skips), "{format:?}");
        }
    }

    #[test]
    fn rejects_settings_that_describe_no_log() {
        for bad in [
            GenConfig {
                hosts: 0,
                ..GenConfig::default()
            },
            GenConfig {
                rate: 0.0,
                ..GenConfig::default()
            },
            GenConfig {
                late_fraction: 2.0,
                ..GenConfig::default()
            },
            GenConfig {
                uniform_fraction: -0.1,
                ..GenConfig::default()
            },
        ] {
            assert!(generate(&bad, io::sink()).is_err());
        }
    }

    #[test]
    fn a_uniform_tail_spreads_initiators_over_the_name_space() {
        let distinct = |uniform_fraction| {
            let cfg = GenConfig {
                lines: 20_000,
                hosts: 1_000_000_000,
                uniform_fraction,
                ..GenConfig::default()
            };
            let mut log = Vec::new();
            generate(&cfg, &mut log).unwrap();
            let from: std::collections::HashSet<Vec<u8>> = Lines::new(&log)
                .map(|line| parse_line(line).unwrap().unwrap().from.to_vec())
                .collect();
            from.len()
        };
        // Zipf ranks repeat their head; uniform draws from 10^9 names
        // almost never meet twice.
        let (zipf, tail) = (distinct(0.0), distinct(0.95));
        assert!(zipf < 12_000, "{zipf}");
        assert!(tail > 19_000, "{tail}");
    }
}
