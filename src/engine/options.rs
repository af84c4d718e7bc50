//! How the engine reads: the release policy, and how input is cut into
//! chunks, groups and waves.

use crate::input::format::FormatChoice;
use crate::input::line_limit::DEFAULT_MAX_LINE_LENGTH;
use crate::input::Batching;

/// When windows are finished and handed to the sink.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Release {
    /// All at the end: exact whatever the order of lines.
    #[default]
    AtEnd,
    /// Behind a watermark trailing the newest timestamp by `late_ms`.
    Watermark {
        /// `--max_log_late_seconds` in milliseconds.
        late_ms: i64,
    },
}

/// How the engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanOptions {
    /// Worker threads.
    pub threads: usize,
    /// Under [`Release::Watermark`], how many waves are parsed side by side
    /// (each holds its own partial state until it is merged): at most
    /// `threads`, and fixed by approximate mode so that its memory budget
    /// does not depend on the thread count.
    pub waves: usize,
    /// Bytes per chunk (and per block of a stream).
    pub chunk_size: usize,
    /// `--max_line_length`: a longer line is malformed.
    pub max_line: usize,
    /// Stop at the first malformed line and report it as an error.
    pub strict: bool,
    /// Binary-search mapped files for the time range, with this lateness bound in
    /// milliseconds; `None` scans everything.
    pub seek_late_ms: Option<i64>,
    /// When windows are released.
    pub release: Release,
    /// `--log_format`, `--columns` and `--delimiter`.
    pub formats: FormatChoice,
    /// Seek in formats with a lateness of their own too
    /// ([`Parser::lateness_ms`]): only when `--max_log_late_seconds` was
    /// given, since their lines can be far older than the lines before them
    /// (see docs/formats.md).
    pub seek_late_formats: bool,
    /// Once a format with a lateness of its own is read, the watermark takes
    /// it when it is larger than the one in `release`.
    pub format_lateness: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            threads: rayon::current_num_threads(),
            waves: rayon::current_num_threads(),
            chunk_size: DEFAULT_CHUNK_SIZE,
            max_line: DEFAULT_MAX_LINE_LENGTH,
            strict: false,
            seek_late_ms: Some(300_000),
            release: Release::AtEnd,
            formats: FormatChoice::default(),
            seek_late_formats: false,
            format_lateness: false,
        }
    }
}

impl ScanOptions {
    /// How input is cut into chunks and groups, for every source.
    ///
    /// Under [`Release::AtEnd`] a mapped file is one group (its chunks cost
    /// nothing until parsed) and a stream is read in groups of two blocks per
    /// thread, the next read while this one is parsed. Under
    /// [`Release::Watermark`] every group is [`Self::waves`] waves, so that
    /// hours are released behind the watermark and memory stays bounded, and
    /// a stream's group is parsed before more is read (a live writer may not
    /// send the next line for a while).
    pub(crate) fn batching(&self) -> Batching {
        let threads = self.threads.max(1);
        match self.release {
            Release::AtEnd => Batching {
                chunk_size: self.chunk_size,
                group: threads * 2,
                mapped_group: None,
                read_ahead: true,
                max_line: self.max_line,
            },
            Release::Watermark { .. } => Batching {
                chunk_size: self.chunk_size,
                group: WAVE_CHUNKS * self.waves.max(1),
                mapped_group: Some(WAVE_CHUNKS * self.waves.max(1)),
                read_ahead: false,
                max_line: self.max_line,
            },
        }
    }
}

/// Large enough that per-chunk overhead vanishes, small enough that two threads
/// balance and resident memory stays low.
pub const DEFAULT_CHUNK_SIZE: usize = 4 << 20;

/// Chunks per wave under [`Release::Watermark`]: a fixed number, so that where
/// waves begin, and with it every result, does not depend on the thread count.
pub(crate) const WAVE_CHUNKS: usize = 16;
