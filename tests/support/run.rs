//! Running a binary of this package the way every end-to-end test does: in a
//! directory of the test's files, with a bounded time, never panicking, and
//! with every JSON record checked against the schema of `docs/output.md`.

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

use super::schema;

/// A guard against a hang, never a measurement.
const HANG: Duration = Duration::from_secs(60);

/// What one run of a binary produced.
#[derive(Debug)]
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `connspy` in `dir` with `args` and nothing on standard input.
pub fn connspy(dir: &Path, args: &[&str]) -> Out {
    run_in(dir, "connspy", args, b"")
}

/// Runs `bin` in `dir` with `args` and `stdin`.
pub fn run_in(dir: &Path, bin: &str, args: &[&str], stdin: &[u8]) -> Out {
    let out = Command::cargo_bin(bin)
        .expect("binary is built")
        .current_dir(dir)
        .args(args)
        .write_stdin(stdin.to_vec())
        .timeout(HANG)
        .output()
        .expect("run the binary");
    let out = Out {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    // Whatever else a run does, it never panics.
    assert!(
        !out.stderr.contains("panicked"),
        "{bin} panicked with {args:?}: {out:#?}"
    );
    if bin == "connspy" && args.windows(2).any(|w| w == ["--format", "json"]) {
        for line in out.stdout.lines() {
            schema::check(&serde_json::from_str(line).expect("JSON Lines"));
        }
    }
    out
}
