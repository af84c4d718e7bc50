//! The validated configuration: everything a run needs, decided once from the
//! raw command line.

use crate::cli::Args;
use crate::engine::{Release, ScanOptions, DEFAULT_CHUNK_SIZE};
use crate::error::{Error, Result};
use crate::hosts::net::Nets;
use crate::input::decompress::{sniff_path, Encoding};
use crate::input::format::connspy::is_ws;
use crate::input::format::{FormatChoice, LogFormat};
use crate::input::Input;
use crate::output::Format;
use crate::query::{ApproxSettings, Filter, FlowFilter, Measure, Mode, NetFilter, Query};
use crate::reduce::approx::{SketchRequest, WAVES_IN_FLIGHT};
use crate::timestamp::{Rfc3339Ms, HOUR_MS};

/// `--memory_limit` when it is not given, in MiB.
const DEFAULT_MEMORY_LIMIT_MIB: u64 = 256;

/// A run's settings: one shape per kind of run, each holding only what it
/// uses.
#[derive(Debug, Clone)]
pub enum Config {
    /// Read logs and answer: a batch run, or a follow with `--tail`.
    Scan(Scan),
    /// `--merge`: read partials and answer (or write one merged partial).
    Merge(Merge),
}

/// A run over logs.
#[derive(Debug, Clone)]
pub struct Scan {
    /// What to read, in order.
    pub inputs: Vec<Input>,
    /// What to answer.
    pub query: Query,
    /// Which lines count and how they are windowed.
    pub filter: Filter,
    /// How to read.
    pub scan: ScanOptions,
    /// How to print.
    pub format: Format,
    /// Exact or approximate state.
    pub mode: Mode,
    /// Tail mode's settings, when `--tail` was given.
    pub tail: Option<TailOptions>,
}

/// How tail mode behaves beyond the engine's options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailOptions {
    /// `--max_idle_seconds`: advance the watermark by the wall clock after this
    /// long without a new line.
    pub max_idle: Option<std::time::Duration>,
}

/// A merge of partials: the query, range and mode come from the partials.
#[derive(Debug, Clone)]
pub struct Merge {
    /// The partials to read, in order.
    pub inputs: Vec<Input>,
    /// The flags given that every partial must agree with.
    pub expect: Expect,
    /// Worker threads for answering or encoding windows side by side.
    pub threads: usize,
    /// How to print.
    pub format: Format,
}

/// The flags given with `--merge`, which every partial must agree with.
/// What is not given is taken from the partials.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expect {
    /// The query flags as given; the partials' query must hold every host
    /// and busiest side given here.
    pub query: Query,
    /// `--top`, when given.
    pub top: Option<usize>,
    /// `--by`, when given.
    pub by: Option<Measure>,
    /// `--time_init`, in milliseconds and as typed.
    pub init: Option<(i64, String)>,
    /// `--time_end`, in milliseconds and as typed.
    pub end: Option<(i64, String)>,
    /// The bin width given (`--bin`, or an hour for `--hourly`).
    pub bin: Option<i64>,
    /// `--from_net` and `--to_net` as given (each empty when not given).
    pub nets: NetFilter,
    /// `--to_port` and `--proto` as given (each empty when not given).
    pub flows: FlowFilter,
    /// `--approx` was given.
    pub approx: bool,
    /// `--top_k`.
    pub top_k: Option<usize>,
    /// `--hll_precision`.
    pub hll_precision: Option<u8>,
}

/// The inputs named on the command line: standard input when none is, or
/// where one is `-`.
fn inputs_of(files: Vec<std::path::PathBuf>) -> Vec<Input> {
    if files.is_empty() {
        return vec![Input::Stdin];
    }
    files
        .into_iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::File(p)
            }
        })
        .collect()
}

impl Config {
    /// Validates `args`.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the flag at fault and what would be accepted.
    pub fn from_args(args: Args) -> Result<Config> {
        if args.merge {
            Merge::from_args(args).map(Config::Merge)
        } else {
            Scan::from_args(args).map(Config::Scan)
        }
    }
}

fn usage<T>(msg: String) -> Result<T> {
    Err(Error::Usage(msg))
}

/// `--threads`, or every core.
fn threads(args: &Args) -> usize {
    args.threads.map_or_else(
        || std::thread::available_parallelism().map_or(1, usize::from),
        usize::from,
    )
}

impl Scan {
    fn from_args(args: Args) -> Result<Scan> {
        let query = query(&args)?;
        let filter = filter(&args)?;
        let formats = formats(&args)?;
        if args.tail && args.format == Format::Partial {
            return usage(
                "--format partial writes windows for a later --merge; it does not go with --tail"
                    .into(),
            );
        }
        if args.max_idle_seconds.is_some() && !args.tail {
            return usage("--max_idle_seconds goes with --tail".into());
        }
        let late_ms = late_ms(&args, &formats);
        let mode = mode(&args, &query, filter.bin, late_ms)?;
        let scan = scan_options(&args, formats, late_ms);
        Ok(Scan {
            inputs: inputs_of(args.files),
            query,
            filter,
            scan,
            format: args.format,
            mode,
            tail: args.tail.then(|| TailOptions {
                max_idle: args.max_idle_seconds.map(std::time::Duration::from_secs),
            }),
        })
    }

    /// Total bytes of the input files, or `None` when standard input or a
    /// compressed file is read (its decoded size is not known in advance).
    pub(crate) fn input_size(&self) -> Option<u64> {
        self.inputs.iter().try_fold(0u64, |sum, input| match input {
            Input::Stdin => None,
            Input::File(p) => match sniff_path(p) {
                Ok(Encoding::Compressed(_)) => None,
                // A size of 0 may hide content (procfs), which is then read
                // as a stream: its size is unknown.
                _ => std::fs::metadata(p)
                    .ok()
                    .filter(|m| m.is_file() && m.len() > 0)
                    .map(|m| sum + m.len()),
            },
        })
    }
}

/// The query flags: `--to_host`, `--from_host`, `--busiest_from_host`,
/// `--busiest_to_host`, `--top`.
fn query(args: &Args) -> Result<Query> {
    for (flag, host) in [
        ("--to_host", &args.to_host),
        ("--from_host", &args.from_host),
    ] {
        if let Some(h) = host {
            if h.is_empty() || h.bytes().any(|b| is_ws(b) || b == b'\n') {
                return usage(format!(
                    "{flag} '{h}' is not a host name: hosts are non-empty and hold no whitespace"
                ));
            }
        }
    }
    let query = Query::new(
        args.to_host.as_deref(),
        args.from_host.as_deref(),
        args.busiest_from_host,
    )
    .with_busiest_to(args.busiest_to_host)
    .with_top(usize::try_from(args.top.unwrap_or(1)).unwrap_or(usize::MAX))
    .with_measure(args.by.unwrap_or_default());
    if query.is_empty() {
        return usage(
            "nothing to answer: give --to_host HOST, --from_host HOST, --busiest_from_host \
             or --busiest_to_host"
                .into(),
        );
    }
    if let Some(top) = args.top.filter(|&t| t > 1 && !query.any_busiest()) {
        return usage(format!(
            "--top {top} lists the busiest hosts: add --busiest_from_host or --busiest_to_host"
        ));
    }
    if query.by.weighted() && !query.any_busiest() {
        return usage(format!(
            "--by {} ranks the busiest hosts: add --busiest_from_host or --busiest_to_host",
            query.by.name()
        ));
    }
    Ok(query)
}

/// The range and window flags: `--time_init`, `--time_end`, `--hourly`
/// (which `--tail` implies, without `--bin`: it reports hour by hour),
/// `--bin`.
fn filter(args: &Args) -> Result<Filter> {
    if let (Some(init), Some(end)) = (&args.time_init, &args.time_end) {
        if end.ms <= init.ms {
            return usage(format!(
                "--time_end '{}' ({}) must be after --time_init '{}' ({})",
                end.text,
                Rfc3339Ms(end.ms),
                init.text,
                Rfc3339Ms(init.ms)
            ));
        }
    }
    Ok(Filter {
        init: args.time_init.as_ref().map(|t| t.ms),
        end: args.time_end.as_ref().map(|t| t.ms),
        bin: bin(args)?,
        nets: NetFilter {
            from: Nets::new(args.from_net.clone()),
            to: Nets::new(args.to_net.clone()),
        },
        flows: FlowFilter::new(args.to_port.clone(), args.proto.clone()),
    })
}

/// The bin width: `--bin`, else an hour with `--hourly` or `--tail`.
fn bin(args: &Args) -> Result<Option<i64>> {
    match args.bin {
        Some(bin) if args.hourly && bin != HOUR_MS => usage(format!(
            "--hourly is --bin 1h, and --bin {} asks another width: give one of them",
            bin / 1000
        )),
        Some(bin) => Ok(Some(bin)),
        None => Ok((args.hourly || args.tail).then_some(HOUR_MS)),
    }
}

/// The log format flags: `--log_format`, `--columns`, `--delimiter`.
fn formats(args: &Args) -> Result<FormatChoice> {
    if args.columns.is_some() && args.log_format != LogFormat::Auto {
        return usage(format!(
            "--columns reads its own columns: drop --log_format {}",
            clap::ValueEnum::to_possible_value(&args.log_format)
                .map_or_else(String::new, |v| v.get_name().to_owned())
        ));
    }
    if args.delimiter.is_some() && args.columns.is_none() {
        return usage("--delimiter goes with --columns TS,FROM,TO".into());
    }
    Ok(FormatChoice {
        format: args.log_format,
        columns: args
            .columns
            .map(|c| c.with_delimiter(args.delimiter.unwrap_or_default())),
    })
}

/// The lateness bound: `--max_log_late_seconds`, or the named format's own
/// (flow logs carry start times up to the longest flow older than the lines
/// before them: unless told, wait that long; docs/formats.md), or 5 minutes.
fn late_ms(args: &Args, formats: &FormatChoice) -> i64 {
    let format_late = formats
        .columns
        .is_none()
        .then(|| formats.format.lateness_ms())
        .flatten();
    match (args.max_log_late_seconds, format_late) {
        (Some(s), _) => i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX),
        (None, Some(own)) => own,
        (None, None) => 300_000,
    }
}

/// The mode flags: `--approx` and the sketch knobs `--memory_limit`,
/// `--top_k`, `--hll_precision`, `--bloom_fp_rate`.
fn mode(args: &Args, query: &Query, bin: Option<i64>, late_ms: i64) -> Result<Mode> {
    if !args.approx {
        for (flag, given) in [
            ("--top_k", args.top_k.is_some()),
            ("--hll_precision", args.hll_precision.is_some()),
            ("--bloom_fp_rate", args.bloom_fp_rate.is_some()),
        ] {
            if given {
                return usage(format!("{flag} tunes the approximate mode: add --approx"));
            }
        }
        return Ok(Mode::Exact);
    }
    let budget = usize::try_from(args.memory_limit.unwrap_or(DEFAULT_MEMORY_LIMIT_MIB) << 20)
        .unwrap_or(usize::MAX);
    let request = SketchRequest {
        bin,
        late_ms,
        query,
        top_k: args.top_k.map(|k| usize::try_from(k).unwrap_or(usize::MAX)),
        hll_precision: args.hll_precision,
        fp_rate: args.bloom_fp_rate,
    };
    ApproxSettings::from_budget(budget, &request)
        .map(Mode::Approx)
        .map_err(Error::Usage)
}

/// The reading flags: `--threads`, `--chunk_size`, `--max_line_length`,
/// `--strict`, `--no_seek`, and how windows are released.
fn scan_options(args: &Args, formats: FormatChoice, late_ms: i64) -> ScanOptions {
    let threads = threads(args);
    let late_given = args.max_log_late_seconds.is_some();
    let binned = args.hourly || args.tail || args.bin.is_some();
    let stdin = args.files.is_empty() || args.files.iter().any(|f| f.as_os_str() == "-");
    // A stream cannot be read twice, so with --hourly its hours are reported
    // as they complete instead of at end of input (`tail -F | connspy`).
    // Partials are released the same way as the run's own answer, so that
    // merging a run's partials prints what that run prints, late lines
    // included. Bounded memory needs a watermark in approximate mode, for
    // every input.
    let streamed = binned && stdin;
    let release = if args.approx || args.tail || streamed {
        Release::Watermark { late_ms }
    } else {
        Release::AtEnd
    };
    ScanOptions {
        threads,
        // Approximate mode sizes its sketches for a fixed number of waves in
        // flight; more threads than that parse no more at once.
        waves: if args.approx {
            threads.min(WAVES_IN_FLIGHT)
        } else {
            threads
        },
        chunk_size: args.chunk_size.map_or(DEFAULT_CHUNK_SIZE, |c| {
            usize::try_from(c).unwrap_or(usize::MAX)
        }),
        max_line: usize::try_from(args.max_line_length).unwrap_or(usize::MAX),
        strict: args.strict,
        seek_late_ms: (!args.no_seek).then_some(late_ms),
        release,
        formats,
        seek_late_formats: late_given,
        // The approximate budget is planned for a fixed lateness.
        format_lateness: !late_given && !args.approx,
    }
}

impl Merge {
    /// Validates `args` for `--merge`: only the flags a merge can use, and
    /// the query flags that the partials will be checked against.
    fn from_args(args: Args) -> Result<Merge> {
        for (flag, given) in [
            ("--tail", args.tail),
            ("--log_format", args.log_format != LogFormat::Auto),
            ("--columns", args.columns.is_some()),
            ("--delimiter", args.delimiter.is_some()),
            (
                "--max_log_late_seconds",
                args.max_log_late_seconds.is_some(),
            ),
            ("--max_idle_seconds", args.max_idle_seconds.is_some()),
            ("--no_seek", args.no_seek),
            ("--strict", args.strict),
        ] {
            if given {
                return usage(format!(
                    "{flag} is for reading logs; --merge reads partials, whose settings come \
                     from the run that wrote them"
                ));
            }
        }
        for (flag, given) in [
            ("--memory_limit", args.memory_limit.is_some()),
            ("--bloom_fp_rate", args.bloom_fp_rate.is_some()),
        ] {
            if given {
                return usage(format!(
                    "{flag} sizes the sketches of the partials; --merge takes the sizes from \
                     the partials: give it to the run that writes them"
                ));
            }
        }
        let expect = Expect {
            query: Query::new(
                args.to_host.as_deref(),
                args.from_host.as_deref(),
                args.busiest_from_host,
            )
            .with_busiest_to(args.busiest_to_host),
            top: args.top.map(|t| usize::try_from(t).unwrap_or(usize::MAX)),
            by: args.by,
            init: args.time_init.clone().map(|t| (t.ms, t.text)),
            end: args.time_end.clone().map(|t| (t.ms, t.text)),
            bin: args.bin.or(args.hourly.then_some(HOUR_MS)),
            nets: NetFilter {
                from: Nets::new(args.from_net.clone()),
                to: Nets::new(args.to_net.clone()),
            },
            flows: FlowFilter::new(args.to_port.clone(), args.proto.clone()),
            approx: args.approx,
            top_k: args.top_k.map(|k| usize::try_from(k).unwrap_or(usize::MAX)),
            hll_precision: args.hll_precision,
        };
        Ok(Merge {
            threads: threads(&args),
            inputs: inputs_of(args.files),
            expect,
            format: args.format,
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    fn scan_of(files: &[&str]) -> Scan {
        let args = Args::try_parse_from(
            ["connspy", "--busiest_from_host"]
                .iter()
                .chain(files)
                .copied(),
        )
        .unwrap();
        Scan::from_args(args).unwrap()
    }

    #[test]
    fn input_size_is_unknown_for_files_that_state_no_size() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        std::fs::write(&log, "1 a b\n").unwrap();
        let log = log.to_str().unwrap();
        assert_eq!(scan_of(&[log, log]).input_size(), Some(12));
        // procfs states 0 bytes for files it fills when read.
        assert_eq!(scan_of(&[log, "/proc/self/mountinfo"]).input_size(), None);
        assert_eq!(scan_of(&[log, "-"]).input_size(), None);
    }
}
