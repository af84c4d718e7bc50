//! The command line as typed: clap's raw arguments, before validation.
//!
//! Flag names are the original tool's (underscores) and stay so; kebab-case
//! spellings are accepted as aliases.

use std::path::PathBuf;

use clap::Parser;

use crate::hosts::net::Net;
use crate::input::format::{Columns, Delimiter, LogFormat};
use crate::input::line_limit::DEFAULT_MAX_LINE_LENGTH;
use crate::output::Format;
use crate::query::{parse_bin, parse_port_range, parse_proto, Measure, MAX_TOP};
use crate::reduce::approx::MIN_FP_RATE;
use crate::timestamp::parse_time_arg;

/// The most `--threads` accepted: a pool of thousands takes seconds to start
/// and parses no faster.
pub(crate) const MAX_THREADS: i64 = 1024;

/// A `--time_init`/`--time_end` value: in Unix milliseconds, and as typed,
/// for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeArg {
    /// Unix milliseconds.
    pub ms: i64,
    /// The argument as the user wrote it.
    pub text: String,
}

fn parse_time(s: &str) -> Result<TimeArg, String> {
    parse_time_arg(s).map(|ms| TimeArg {
        ms,
        text: s.to_owned(),
    })
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (MIN_FP_RATE..1.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "'{s}' is not a rate from {MIN_FP_RATE:e} up to, not including, 1"
        )),
    }
}

const EXAMPLES: &str = "\
Examples:
  # Q1: hosts that connected to zyla in a time range (seconds, milliseconds,
  # RFC 3339 or a date)
  connspy --to_host zyla --time_init 1565647204351 --time_end 1565733598341 input.txt

  # Q2a: per UTC hour, who connected to zyla, whom aadvik connected to, and the
  # busiest initiator
  connspy --to_host zyla --from_host aadvik --busiest_from_host --hourly input.txt

  # Per hour, the ten busiest initiators and receivers with their shares
  connspy --busiest_from_host --busiest_to_host --top 10 --hourly input.txt

  # The same as JSON Lines, over several files, for a one-hour range
  connspy --busiest_from_host --hourly --format json \\
          --time_init 2019-08-13T03:00:00Z --time_end 2019-08-13T04:00:00Z day1.log day2.log

  # Q2b: follow a live log, printing each hour once it is complete
  connspy --to_host zyla --from_host aadvik --busiest_from_host --tail app.log

  # The ten busiest initiators of 10.1.0.0/16 that reached 192.0.2.0/24 or
  # 2001:db8::/32, per hour
  connspy --busiest_from_host --top 10 --hourly --from_net 10.1.0.0/16 \\
          --to_net 192.0.2.0/24 --to_net 2001:db8::/32 conn.log

  # Every 15 minutes, the hosts that reached SSH or RDP over TCP (Zeek, VPC and
  # Suricata logs carry ports and protocols)
  connspy --to_port 22 --to_port 3389 --proto tcp --busiest_from_host --top 10 \\
          --bin 15m conn.log

  # From standard input
  zcat big.log.gz | connspy --busiest_from_host

  # Scale out: partials per part, grouped by window, merged into the answers
  for f in part*.log; do connspy --format partial --busiest_from_host --hourly $f; done \
      | sort | connspy --merge --format json

Exit status: 0 success, 2 usage or input error (bad flag, unreadable file,
--strict hit), 1 any other failure.";

/// Who is connecting to whom: answers over `TS FROM_HOST TO_HOST` connection logs.
#[derive(Debug, Parser)]
#[command(name = "connspy", version, about, after_help = EXAMPLES)]
pub struct Args {
    /// List every host that connected to HOST (lines `TS X HOST` give X); a
    /// network such as 10.1.0.0/16 lists those that connected to any address
    /// in it
    #[arg(long = "to_host", visible_alias = "to-host", value_name = "HOST")]
    pub to_host: Option<String>,

    /// List every host that HOST (or any address in a network such as
    /// 10.1.0.0/16) connected to (lines `TS HOST Y` give Y)
    #[arg(long = "from_host", visible_alias = "from-host", value_name = "HOST")]
    pub from_host: Option<String>,

    /// Count only lines whose initiator is in the network CIDR (10.0.0.0/8,
    /// 2001:db8::/32; an address is /32 or /128); repeat for any of several.
    /// A host that is not an IP address is in no network
    #[arg(long = "from_net", visible_alias = "from-net", value_name = "CIDR",
          value_parser = Net::parse)]
    pub from_net: Vec<Net>,

    /// Count only lines whose responder is in the network CIDR; repeatable,
    /// as --from_net
    #[arg(long = "to_net", visible_alias = "to-net", value_name = "CIDR",
          value_parser = Net::parse)]
    pub to_net: Vec<Net>,

    /// Count only lines whose responder port is P, a port or a range
    /// (1024-65535); repeat for any of several. Zeek, VPC and Suricata logs
    /// only; a line without a port does not pass
    #[arg(long = "to_port", visible_alias = "to-port", value_name = "P",
          value_parser = parse_port_range)]
    pub to_port: Vec<(u16, u16)>,

    /// Count only lines of the IP protocol NAME: tcp, udp, icmp (ICMPv6 too)
    /// or a protocol number; repeat for any of several. Zeek, VPC and
    /// Suricata logs only
    #[arg(long, value_name = "NAME", value_parser = parse_proto)]
    pub proto: Vec<Vec<u8>>,

    /// Name the host that initiated the most connections (lines as FROM)
    #[arg(long = "busiest_from_host", visible_alias = "busiest-from-host")]
    pub busiest_from_host: bool,

    /// Name the host that received the most connections (lines as TO)
    #[arg(long = "busiest_to_host", visible_alias = "busiest-to-host")]
    pub busiest_to_host: bool,

    /// What the busiest queries rank hosts by: their connections, or the
    /// bytes or packets of their connections (both ways; Zeek, VPC and
    /// Suricata logs) [default: connections]
    #[arg(long, value_enum, value_name = "MEASURE")]
    pub by: Option<Measure>,

    /// How many hosts the busiest queries list, with counts and shares
    /// [default: 1]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_TOP))]
    pub top: Option<u64>,

    /// One result per UTC hour instead of one for the whole range (--bin 1h)
    #[arg(long)]
    pub hourly: bool,

    /// One result per bin of this width instead of one for the whole range:
    /// 30s, 5m, 15m, 1h, 1d or plain seconds, dividing a day, so that bins
    /// align to UTC midnight
    #[arg(long, value_name = "DURATION", value_parser = parse_bin)]
    pub bin: Option<i64>,

    /// Count lines with TS >= T: Unix seconds or milliseconds, RFC 3339, or a date
    #[arg(long = "time_init", visible_alias = "time-init", value_name = "T",
          value_parser = parse_time, allow_hyphen_values = true)]
    pub time_init: Option<TimeArg>,

    /// Count lines with TS < T (same forms as --time_init)
    #[arg(long = "time_end", visible_alias = "time-end", value_name = "T",
          value_parser = parse_time, allow_hyphen_values = true)]
    pub time_end: Option<TimeArg>,

    /// How much older than the newest line before it a line may be; lets the
    /// time-range seek skip what cannot count, and where hours are released
    /// as they complete (--approx, --tail, --hourly over standard input, and
    /// their partials) later lines are dropped and counted as late [default: 300; for Zeek,
    /// Suricata and VPC logs one day, and no seek unless given: see
    /// docs/formats.md]
    #[arg(
        long = "max_log_late_seconds",
        visible_alias = "max-log-late-seconds",
        value_name = "N"
    )]
    pub max_log_late_seconds: Option<u64>,

    /// The log format of every input; `auto` decides per file from its first
    /// non-empty line (see docs/formats.md)
    #[arg(long = "log_format", visible_alias = "log-format", value_enum,
          value_name = "FORMAT", default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,

    /// Read any delimited log: TS, FROM and TO are these 1-based column numbers
    /// (for example 1,3,5)
    #[arg(long, value_name = "TS,FROM,TO")]
    pub columns: Option<Columns>,

    /// With --columns: the column delimiter, one ASCII character such as ',' or '\t'
    /// (a tab) [default: runs of whitespace]
    #[arg(long, value_name = "C", allow_hyphen_values = true)]
    pub delimiter: Option<Delimiter>,

    /// Follow the last file (or standard input) as it grows, printing each UTC
    /// hour once it is complete; implies --hourly (see docs/tail.md)
    #[arg(long)]
    pub tail: bool,

    /// With --tail: when no line has arrived for N seconds, let the wall clock
    /// move the watermark, so hours close while the log is quiet [default: off]
    #[arg(long = "max_idle_seconds", visible_alias = "max-idle-seconds", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_idle_seconds: Option<u64>,

    /// Output format; `partial` writes each window's mergeable state for
    /// --merge (see docs/partial.md)
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// The inputs are partials (from --format partial), not logs: merge them
    /// and print the answers a run over the whole log prints. The query,
    /// range, mode and sketch sizes come from the partials: query and mode
    /// flags given are checked against them, --memory_limit and
    /// --bloom_fp_rate are refused, --threads is the merge's own (see
    /// docs/partial.md)
    #[arg(long)]
    pub merge: bool,

    /// Worker threads, 1 to 1024 [default: all cores]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    pub threads: Option<u16>,

    /// Stop at the first malformed line: an error naming its file and line
    #[arg(long)]
    pub strict: bool,

    /// A line longer than this is malformed: counted, located and skipped
    /// without being read whole (16777216 is 16 MiB)
    #[arg(long = "max_line_length", visible_alias = "max-line-length", value_name = "BYTES",
          default_value_t = DEFAULT_MAX_LINE_LENGTH as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_line_length: u64,

    /// Scan whole files even when a time range is given
    #[arg(long = "no_seek", visible_alias = "no-seek")]
    pub no_seek: bool,

    /// Approximate mode: sketches in bounded memory instead of exact sets and
    /// counts (see docs/accuracy.md)
    #[arg(long)]
    pub approx: bool,

    /// Approximate mode: the memory budget for sketches and spill buffers, 1 to 2^30
    /// [default: 256]
    #[arg(long = "memory_limit", visible_alias = "memory-limit", value_name = "MiB",
          value_parser = clap::value_parser!(u64).range(1..=1 << 30))]
    pub memory_limit: Option<u64>,

    /// Approximate mode: Space-Saving counters per window, 64 to 2^30 [default: from the
    /// budget]
    #[arg(long = "top_k", visible_alias = "top-k", value_name = "K",
          value_parser = clap::value_parser!(u64).range(64..=1 << 30))]
    pub top_k: Option<u64>,

    /// Approximate mode: HyperLogLog precision, 4 to 18 [default: 15]
    #[arg(long = "hll_precision", visible_alias = "hll-precision", value_name = "P",
          value_parser = clap::value_parser!(u8).range(4..=18))]
    pub hll_precision: Option<u8>,

    /// Approximate mode: the bloom filters' target false-positive rate, 1e-9 up to 1
    /// [default: 0.001]
    #[arg(long = "bloom_fp_rate", visible_alias = "bloom-fp-rate", value_name = "RATE",
          value_parser = parse_rate)]
    pub bloom_fp_rate: Option<f64>,

    /// Bytes per parallel chunk (tuning and tests)
    #[arg(long = "chunk_size", value_name = "BYTES", hide = true,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub chunk_size: Option<u64>,

    /// Log files, read as one log; none or `-` reads standard input
    #[arg(value_name = "FILES")]
    pub files: Vec<PathBuf>,
}
