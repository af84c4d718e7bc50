#!/usr/bin/env python3
"""Tail-mode soak: connspy follows a log while a writer appends days of lines
to it, rotating the file every hour of log time as logrotate's create mode
does; connspy's resident memory is sampled every second.

usage: python3 benches/soak.py [--source LOG] [--pace LINES_PER_SEC ...] [--svg FILE]
       (after cargo build --release --features gen; DATA=/work/bench-data to use the shared log)

The writer appends the source log (default: the batch benchmark's 100M-line,
72-hour log in $DATA, generated with connspy-gen when missing) in slices, so
that 100 million lines take minutes. Before the first line of each new hour
of log time it renames the file to FILE.1 (replacing the previous FILE.1)
and creates a new FILE. It rotates only once connspy has switched to the
newest file and let go of the one before, as it would have long done under a
real hourly rotation: rotating twice while the follower is still on an older
file would hide a whole file from it (from `tail -F` too) and would measure
the writer, not connspy.

The writer's pace sets how much the follower finds waiting at each read:
as fast as it can, the follower falls behind and reads full groups of
blocks; at a steady pace it reads what arrived since its last read.

At the end a closing line one hour plus the lateness past the last line makes
connspy print every hour of the source; then SIGTERM makes it print the open
hour and exit. Lines counted are the sum of the records' `lines` and `late`,
plus the malformed lines stderr reports; they must equal the lines written.

Prints a markdown report and writes an SVG chart of RSS against hours of log;
exits 1 when a soak lost or invented a line."""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
BIN = os.path.join(ROOT, "target", "release")
HOUR_MS = 3_600_000
SLICE = 4 << 20


def parse_args():
    data = os.environ.get("DATA", os.path.join(ROOT, "bench-data"))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=os.path.join(data, "log-100000000-1000000.txt"),
                   help="log to append (generated like benches/batch.sh's when missing)")
    p.add_argument("--pace", type=float, nargs="+", default=[0],
                   help="lines per second of wall time the writer keeps to (0: as fast as "
                        "it can); one soak per value, each a column of the report and a "
                        "line of the chart")
    p.add_argument("--late", type=int, default=300, help="--max_log_late_seconds")
    p.add_argument("--dir", default=None, help="where the followed log lives (default: a temp dir)")
    p.add_argument("--svg", default=os.path.join(ROOT, "docs", "soak-rss.svg"))
    p.add_argument("--samples", default=None, help="write the RSS samples here as TSV")
    return p.parse_args()


def ensure_source(path):
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    lines = 100_000_000
    print(f"generating {path}", file=sys.stderr)
    subprocess.run([f"{BIN}/connspy-gen", "--lines", str(lines), "--hosts", "1000000",
                    "--rate", str(lines / (72 * 3600)), "--name_syllables", "6",
                    "--seed", "7", "-o", path], check=True)


def ts_ms(line):
    """The line's timestamp in ms; a line without one sorts first."""
    try:
        ts = int(line.split(b" ", 1)[0])
    except ValueError:
        return -1
    return ts * 1000 if ts < 10**11 else ts  # connspy's rule for plain digits


def rss_kib(pid, field="VmRSS"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for row in f:
                if row.startswith(field + ":"):
                    return int(row.split()[1])
    except FileNotFoundError:
        pass
    return None


def open_inodes(pid):
    """(device, inode) of every file connspy holds open."""
    out = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            st = os.stat(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        out.add((st.st_dev, st.st_ino))
    return out


class Writer:
    """Appends the source to `path` in slices of whole lines, rotating at
    every hour of log time."""

    def __init__(self, path, pid, pace):
        self.path, self.pid, self.pace = path, pid, pace
        self.lines = 0
        self.hours = 0          # log hours begun
        self.log_ms = None      # timestamp of the last line written
        self.max_ms = None      # the largest last-line timestamp of a slice
        self.first_ms = None
        self.rotations = 0
        self.gate_wait = 0.0    # seconds spent waiting for the follower to switch files
        self.out = open(path, "ab")
        self.previous = None    # (dev, ino) of the file rotated to .1
        self.boundary = None

    def ident(self):
        st = os.fstat(self.out.fileno())
        return (st.st_dev, st.st_ino)

    def rotate(self):
        # The follower must be on the current file and done with the one before.
        t = time.monotonic()
        current = self.ident()
        while True:
            held = open_inodes(self.pid)
            if current in held and self.previous not in held:
                break
            if not os.path.exists(f"/proc/{self.pid}"):
                sys.exit("connspy exited while the log was being written")
            time.sleep(0.002)
        self.gate_wait += time.monotonic() - t
        self.out.close()
        os.rename(self.path, self.path + ".1")
        self.previous = current
        self.out = open(self.path, "ab")
        self.rotations += 1

    def write(self, chunk):
        self.out.write(chunk)
        self.out.flush()
        self.lines += chunk.count(b"\n")

    def slice(self, data):
        """Writes `data` (whole lines), rotating before the first line of a
        new hour."""
        if self.first_ms is None:
            self.first_ms = ts_ms(data[: data.index(b"\n")])
            self.boundary = (self.first_ms // HOUR_MS + 1) * HOUR_MS
            self.hours = 1
        last = data.rfind(b"\n", 0, len(data) - 1) + 1
        while ts_ms(data[last:]) >= self.boundary:
            # Cut before the first line at or past the boundary; lines a
            # little late for the hour go to the new file, as they would.
            pos = 0
            while ts_ms(data[pos:data.index(b"\n", pos)]) < self.boundary:
                pos = data.index(b"\n", pos) + 1
            if pos:
                self.write(data[:pos])
                data = data[pos:]
            self.rotate()
            self.hours += 1
            self.boundary += HOUR_MS
            last = data.rfind(b"\n", 0, len(data) - 1) + 1
        self.write(data)
        self.log_ms = ts_ms(data[last:])
        self.max_ms = max(self.max_ms or self.log_ms, self.log_ms)


def soak(args, pace):
    """One soak at `pace` lines per second (0: unpaced); returns its figures."""
    tmp = tempfile.TemporaryDirectory(prefix="connspy-soak-")
    path = os.path.join(args.dir or tmp.name, "soak.log")
    open(path, "wb").close()
    cmd = [f"{BIN}/connspy", "--tail", "--busiest_from_host", "--format", "json",
           "--max_log_late_seconds", str(args.late), path]
    t0 = time.monotonic()
    follower = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    records, stderr = [], []
    readers = [threading.Thread(target=lambda: records.extend(
                   json.loads(l) for l in follower.stdout), daemon=True),
               threading.Thread(target=lambda: stderr.extend(
                   l.decode(errors="replace") for l in follower.stderr), daemon=True)]
    for r in readers:
        r.start()
    writer = Writer(path, follower.pid, pace)
    samples = []  # (wall s, log hours written, RSS KiB)
    done = threading.Event()

    def sample():
        while not done.wait(1.0):
            rss = rss_kib(follower.pid)
            if rss is None:
                return
            hours = 0 if writer.log_ms is None else (writer.log_ms - writer.first_ms) / HOUR_MS
            samples.append((time.monotonic() - t0, hours, rss))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with open(args.source, "rb") as src:
        carry = b""
        while True:
            buf = src.read(SLICE)
            if not buf:
                break
            buf = carry + buf
            cut = buf.rfind(b"\n") + 1
            carry = buf[cut:]
            if cut:
                writer.slice(buf[:cut])
            if pace:
                ahead = writer.lines / pace - (time.monotonic() - t0)
                if ahead > 0:
                    time.sleep(ahead)
        if carry:
            writer.slice(carry + b"\n")
    written_s = time.monotonic() - t0
    # Every line is at most an hour older than the newest last line of a
    # slice: a closing line two hours plus the lateness past that hour's start
    # makes connspy print every hour of the source.
    closer_ms = writer.max_ms // HOUR_MS * HOUR_MS + 2 * HOUR_MS + args.late * 1000
    writer.write(f"{closer_ms} soak-closer soak-closer\n".encode())
    # Caught up: every line but the closer is in a printed record (a malformed
    # line is in none until the end: then wait until nothing moves for 30 s).
    seen, still = 0, time.monotonic()
    while True:
        now = sum(r["lines"] + r["late"] for r in records)
        if now >= writer.lines - 1 or follower.poll() is not None:
            break
        if now != seen:
            seen, still = now, time.monotonic()
        elif time.monotonic() - still > 30:
            print(f"connspy stopped at {now:,} of {writer.lines - 1:,} lines", file=sys.stderr)
            break
        time.sleep(0.05)
    caught_up_s = time.monotonic() - t0
    hwm = rss_kib(follower.pid, "VmHWM")
    follower.send_signal(signal.SIGTERM)
    rc = follower.wait(timeout=60)
    done.set()
    for r in readers:
        r.join(timeout=10)
    sampler.join(timeout=5)
    writer.out.close()
    malformed = 0
    for line in stderr:
        m = re.search(r"skipped (\d+) malformed line", line)
        if m:
            malformed = int(m.group(1))
    return {
        "pace": pace, "cmd": cmd, "writer": writer, "samples": samples, "records": records,
        "counted": sum(r["lines"] for r in records), "late": sum(r["late"] for r in records),
        "malformed": malformed, "hwm": hwm, "rc": rc, "written_s": written_s,
        "caught_up_s": caught_up_s, "total_s": time.monotonic() - t0,
        "notes": [l for l in stderr if not re.search(r"file (replaced|appeared|removed)", l)],
    }


def main():
    args = parse_args()
    ensure_source(args.source)
    runs = [soak(args, pace) for pace in args.pace]
    report(args, runs)
    chart(args.svg, runs)
    if args.samples:
        with open(args.samples, "w") as f:
            f.write("pace\twall_s\tlog_hours\trss_kib\n")
            for run in runs:
                for s in run["samples"]:
                    f.write(f"{run['pace']:.0f}\t{s[0]:.1f}\t{s[1]:.3f}\t{s[2]}\n")
    lossless = all(r["counted"] + r["late"] + r["malformed"] == r["writer"].lines and r["rc"] == 0
                   for r in runs)
    sys.exit(0 if lossless else 1)


def rss_at_hour(samples, hour):
    after = [s for s in samples if s[1] >= hour]
    return after[0][2] if after else None


def pace_name(pace):
    return "as fast as it can" if not pace else f"{pace / 1e3:.0f}k lines/s"


def report(args, runs):
    mib = lambda k: f"{k / 1024:.1f} MiB" if k is not None else "n/a"
    cmd = runs[0]["cmd"]
    rel = lambda c: os.path.relpath(c, ROOT) if c.startswith(ROOT) else c
    w0 = runs[0]["writer"]
    print(f"Follower: `{' '.join(rel(c) for c in cmd[:-1])} soak.log`; source "
          f"{os.path.basename(args.source)} ({(w0.log_ms - w0.first_ms) / HOUR_MS:.1f} hours of log), "
          f"rotated every hour of log time.\n")
    rows = {
        "lines written": lambda r: f"{r['writer'].lines:,}",
        "lines counted (records' lines + late + malformed)":
            lambda r: f"{r['counted']:,} + {r['late']:,} + {r['malformed']:,}: "
                      + ("**equal, none lost**" if r["counted"] + r["late"] + r["malformed"]
                         == r["writer"].lines else "**NOT EQUAL**"),
        "records (complete)": lambda r: f"{len(r['records'])} ({sum(1 for x in r['records'] if x['complete'])})",
        "rotations": lambda r: f"{r['writer'].rotations}",
        "writer waiting for the follower to switch files": lambda r: f"{r['writer'].gate_wait:.1f} s",
        "wall time: written, caught up, exited": lambda r:
            f"{r['written_s']:.0f} s, {r['caught_up_s']:.0f} s, {r['total_s']:.0f} s (status {r['rc']})",
        "RSS samples (one a second)": lambda r: f"{len(r['samples'])}",
        "peak RSS: sampled, VmHWM": lambda r:
            f"{mib(max((s[2] for s in r['samples']), default=None))}, {mib(r['hwm'])}",
        "RSS at hour 2, hour 24, the end": lambda r:
            f"{mib(rss_at_hour(r['samples'], 2))}, {mib(rss_at_hour(r['samples'], 24))}, "
            f"{mib(r['samples'][-1][2] if r['samples'] else None)}",
        "RSS from hour 2 on: min, max": lambda r: ", ".join(
            mib(f(s[2] for s in r["samples"] if s[1] >= 2)) if any(s[1] >= 2 for s in r["samples"])
            else "n/a" for f in (min, max)),
    }
    print("| writer's pace | " + " | ".join(pace_name(r["pace"]) for r in runs) + " |")
    print("|---|" + "---|" * len(runs))
    for name, cell in rows.items():
        print(f"| {name} | " + " | ".join(cell(r) for r in runs) + " |")
    for r in runs:
        if r["notes"]:
            print(f"\nconnspy stderr, {pace_name(r['pace'])} (rotation notices left out):\n")
            for l in r["notes"][:10]:
                print(f"    {l.rstrip()}")


COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def chart(path, runs):
    """A plain SVG line chart: RSS (MiB) against hours of log written, one
    line per soak."""
    runs = [r for r in runs if r["samples"]]
    if not runs:
        return
    w, h, left, right, top, bottom = 640, 320, 60, 20, 30, 62
    xmax = max(24, max((r["writer"].log_ms - r["writer"].first_ms) / HOUR_MS for r in runs))
    ymax = max(s[2] for r in runs for s in r["samples"]) / 1024
    step = next(s for s in (10, 20, 50, 100, 200, 500, 1000, 2000) if ymax / s <= 6)
    ymax = (int(ymax / step) + 1) * step
    px = lambda x: left + x / xmax * (w - left - right)
    py = lambda y: h - bottom - y / ymax * (h - top - bottom)
    lines = runs[0]["writer"].lines
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="16" text-anchor="middle" font-size="13">connspy --tail: '
           f'RSS while {lines / 1e6:.0f}M lines are appended, rotated hourly</text>']
    for y in range(0, int(ymax) + 1, step):
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{py(y):.1f}" y2="{py(y):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{y}</text>')
    for x in range(0, int(xmax) + 1, 6):
        out.append(f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" y1="{h - bottom}" y2="{h - bottom + 4}" stroke="black"/>')
        out.append(f'<text x="{px(x):.1f}" y="{h - bottom + 16}" text-anchor="middle">{x}</text>')
    out.append(f'<line x1="{left}" x2="{w - right}" y1="{h - bottom}" y2="{h - bottom}" stroke="black"/>')
    out.append(f'<line x1="{left}" x2="{left}" y1="{top}" y2="{h - bottom}" stroke="black"/>')
    out.append(f'<text x="{(left + w - right) / 2}" y="{h - bottom + 32}" text-anchor="middle">hours of log written</text>')
    out.append(f'<text x="14" y="{(top + h - bottom) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 14 {(top + h - bottom) / 2})">RSS (MiB), sampled every second</text>')
    for i, r in enumerate(runs):
        colour = COLOURS[i % len(COLOURS)]
        points = " ".join(f"{px(s[1]):.1f},{py(s[2] / 1024):.1f}" for s in r["samples"])
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>')
        lx = left + 10 + i * 250
        out.append(f'<line x1="{lx}" x2="{lx + 20}" y1="{h - 10}" y2="{h - 10}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{lx + 26}" y="{h - 6}">writer {pace_name(r["pace"])}: '
                   f'{len(r["samples"])} s</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
