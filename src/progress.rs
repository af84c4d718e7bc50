//! A progress bar on stderr for long runs, shown only when stderr is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Inputs smaller than this finish too fast for a bar to be worth drawing.
const MIN_BYTES: u64 = 256 << 20;

/// Bytes processed so far; a no-op when hidden.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress display that draws nothing.
    pub fn hidden() -> Self {
        Progress { bar: None }
    }

    /// A bar over `total` bytes (a spinner when unknown), drawn only when stderr
    /// is a terminal and the input is large or of unknown size.
    pub(crate) fn for_input(total: Option<u64>) -> Self {
        if !std::io::stderr().is_terminal() || total.is_some_and(|t| t < MIN_BYTES) {
            return Self::hidden();
        }
        let bar = match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template(
                        "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
                    )
                    .expect("template is valid"),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {binary_bytes} {binary_bytes_per_sec}")
                    .expect("template is valid"),
            ),
        };
        Progress { bar: Some(bar) }
    }

    /// `bytes` more were parsed (or skipped by the seek).
    pub(crate) fn advance(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    /// Runs `f` (which prints) with the bar hidden, so they do not mix.
    pub(crate) fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    /// Removes the bar before results or messages are printed.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
