//! The input layer against files that misstate what they hold: a regular
//! file is read for the bytes it gives, whatever its stated size says, as
//! standard input would read them.

use std::path::Path;

use assert_cmd::Command;

/// The answer of `connspy args` over `input`, and over the same bytes on
/// standard input.
fn named_and_piped(args: &[&str], input: &Path, bytes: &[u8]) -> (String, String) {
    let run = |named: bool| {
        let mut cmd = Command::cargo_bin("connspy").unwrap();
        cmd.args(args);
        if named {
            cmd.arg(input).write_stdin(Vec::new());
        } else {
            cmd.write_stdin(bytes.to_vec());
        }
        let out = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "named {named}: {err}");
        String::from_utf8(out.stdout).unwrap()
    };
    (run(true), run(false))
}

/// procfs states a size of 0 for `/proc/self/mountinfo`, which holds a line
/// per mount: named on the command line it was mapped by that size and read
/// as empty, without a word, while the same bytes piped were all counted.
/// (Skipped where the file is missing or empty.)
#[test]
fn a_proc_file_is_read_as_its_bytes_piped_are() {
    let path = Path::new("/proc/self/mountinfo");
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    if bytes.is_empty() {
        return;
    }
    // Mount ID as TS, parent ID as FROM, mount point as TO.
    let args = [
        "--columns",
        "1,2,5",
        "--busiest_from_host",
        "--top",
        "3",
        "--format",
        "json",
    ];
    let (named, piped) = named_and_piped(&args, path, &bytes);
    let lines = bytes.iter().filter(|&&b| b == b'\n').count();
    assert!(
        piped.contains(&format!("\"lines\":{lines}")),
        "{lines} lines: {piped}"
    );
    assert_eq!(named, piped);
}

/// sysfs states 4096 bytes for every file and maps none: such a file was
/// refused ("No such device") where its bytes piped were read. (Skipped
/// where the file is missing.)
#[test]
fn a_file_that_cannot_be_mapped_is_read_as_its_bytes_piped_are() {
    let path = Path::new("/sys/devices/system/cpu/online");
    let Ok(bytes) = std::fs::read(path) else {
        return;
    };
    let args = ["--busiest_from_host", "--format", "json"];
    let (named, piped) = named_and_piped(&args, path, &bytes);
    assert_eq!(named, piped);
}
