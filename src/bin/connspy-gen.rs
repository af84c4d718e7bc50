//! `connspy-gen`: writes a realistic connection log (see `connspy::gen`).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use connspy::gen::{generate, Addresses, GenConfig, Unit};
use connspy::input::format::LogFormat;
use connspy::timestamp::parse_time_arg;

/// Writes a realistic `TS FROM_HOST TO_HOST` log, the same bytes for the same settings.
#[derive(Debug, Parser)]
#[command(
    name = "connspy-gen",
    version,
    rename_all = "snake_case",
    after_help = "\
Examples:
  # The README's sample: 20,000 lines over about 22 hours
  connspy-gen --lines 20000 --hosts 2000 --rate 0.25 -o docs/sample.log

  # The benchmark log: 100M lines, 1M hosts, 72 hours, about 4 GB
  connspy-gen --lines 100000000 --hosts 1000000 --rate 385.8 --name_syllables 6 -o big.log

  # The same lines as a gzip-compressed Zeek conn.log
  connspy-gen --lines 100000000 --hosts 1000000 --rate 385.8 --name_syllables 6 \\
              --log_format zeek --compress gz -o big.conn.log.gz"
)]
struct Args {
    /// Lines to write
    #[arg(long, default_value_t = 10_000)]
    lines: u64,
    /// Distinct host names
    #[arg(long, default_value_t = 1_000)]
    hosts: u64,
    /// Time of the first line (Unix seconds or milliseconds, RFC 3339, or a date)
    #[arg(long, value_parser = parse_time_arg, default_value = "2019-08-12T22:00:00Z")]
    start: i64,
    /// Lines per second of log time
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Largest lateness of a line, in seconds
    #[arg(long, visible_alias = "late-seconds", default_value_t = 60)]
    late_seconds: u64,
    /// Fraction of lines that are late
    #[arg(long, visible_alias = "late-fraction", default_value_t = 0.05)]
    late_fraction: f64,
    /// Zipf exponent of the initiators (larger: a few hosts do more)
    #[arg(long, default_value_t = 1.1)]
    zipf: f64,
    /// Fraction of initiators drawn uniformly from all --hosts names (a long tail)
    #[arg(long, visible_alias = "uniform-fraction", default_value_t = 0.0)]
    uniform_fraction: f64,
    /// Timestamp unit
    #[arg(long, value_enum, default_value_t = Unit::Millis)]
    unit: Unit,
    /// Write host names in lower case (default: capitalised, like the original sample)
    #[arg(long)]
    lowercase: bool,
    /// The fewest two-letter syllables in a host name (longer names, longer lines)
    #[arg(long, visible_alias = "name-syllables", default_value_t = 3)]
    name_syllables: usize,
    /// Write hosts as IP addresses (10.0.0.0/8, 2001:db8::/32, or both) instead of names
    #[arg(long, value_enum, default_value_t = Addresses::None)]
    addresses: Addresses,
    /// Random seed
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Log format to write: connspy, zeek, zeek-json, vpc or suricata (auto writes connspy's own)
    #[arg(long, visible_alias = "log-format", value_enum, hide_possible_values = true,
          default_value_t = LogFormat::Connspy)]
    log_format: LogFormat,
    /// Compress the output (gzip or zstd)
    #[arg(long, value_enum)]
    compress: Option<Compress>,
    /// Output file [default: standard output]
    #[arg(short, long)]
    output: Option<PathBuf>,
}

/// Output compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Compress {
    /// gzip (one member).
    Gz,
    /// zstd (one frame).
    Zst,
}

/// Writes the log to `out`, compressed as asked.
fn write_log(cfg: &GenConfig, compress: Option<Compress>, out: impl Write) -> io::Result<()> {
    match compress {
        None => generate(cfg, out),
        Some(Compress::Gz) => {
            let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::new(6));
            generate(cfg, &mut gz)?;
            gz.finish()?.flush()
        }
        Some(Compress::Zst) => {
            let mut zst = zstd::Encoder::new(out, 3)?;
            generate(cfg, &mut zst)?;
            zst.finish()?.flush()
        }
    }
}

fn main() -> ExitCode {
    let a = Args::parse();
    let cfg = GenConfig {
        lines: a.lines,
        hosts: a.hosts,
        start_ms: a.start,
        rate: a.rate,
        late_seconds: a.late_seconds,
        late_fraction: a.late_fraction,
        zipf: a.zipf,
        uniform_fraction: a.uniform_fraction,
        unit: a.unit,
        capitalise: !a.lowercase,
        name_syllables: a.name_syllables,
        addresses: a.addresses,
        seed: a.seed,
        format: a.log_format,
    };
    if let Err(msg) = cfg.validate() {
        eprintln!("connspy-gen: error: {msg}");
        return ExitCode::from(2);
    }
    let result = match &a.output {
        Some(path) => {
            File::create(path).and_then(|f| write_log(&cfg, a.compress, BufWriter::new(f)))
        }
        None => write_log(&cfg, a.compress, io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let target = a
                .output
                .as_ref()
                .map_or("standard output".into(), |p| p.display().to_string());
            let _ = writeln!(io::stderr(), "connspy-gen: error: writing {target}: {e}");
            ExitCode::from(1)
        }
    }
}
