#!/usr/bin/env python3
"""Tail-mode benchmark: throughput while connspy-gen appends to the followed
file, and latency from the line that closes an hour to its record on stdout.

usage: python3 benches/tail.py [LINES=20000000]
       (after cargo build --release --features gen)
Prints a markdown report."""
import os
import subprocess
import sys
import tempfile
import time

LINES = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000_000
BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release")
START = 1565647200  # 2019-08-12T22:00:00Z
RATE = 385.8        # lines per second of log time, as in the batch benchmark
LATE = 300


def connspy(path, *extra):
    return subprocess.Popen(
        [f"{BIN}/connspy", "--busiest_from_host", "--tail", "--format", "json",
         "--max_log_late_seconds", str(LATE), *extra, path],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def throughput(tmp):
    path = os.path.join(tmp, "follow.log")
    open(path, "w").close()
    span_hours = int(LINES / RATE // 3600)
    end = START + span_hours * 3600
    gen = [f"{BIN}/connspy-gen", "--lines", str(LINES), "--hosts", "1000000", "--rate", str(RATE),
           "--name_syllables", "6", "--seed", "7", "--start", str(START)]
    t = time.monotonic()
    subprocess.run(gen, stdout=subprocess.DEVNULL, check=True)
    gen_alone = time.monotonic() - t
    follower = connspy(path, "--time_end", str(end))
    time.sleep(0.5)  # let it start following the empty file: not measured
    t = time.monotonic()
    with open(path, "ab") as out:
        subprocess.run(gen, stdout=out, check=True)
        out.write(f"{(end + LATE + 1) * 1000} closer host\n".encode())
    written = time.monotonic() - t
    records = follower.stdout.read().splitlines()
    follower.wait()
    total = time.monotonic() - t
    return {"lines": LINES, "gen_alone": gen_alone, "written": written, "total": total,
            "records": len(records), "hours": span_hours, "rc": follower.returncode}


def latency(tmp, rounds=10):
    path = os.path.join(tmp, "latency.log")
    open(path, "w").close()
    follower = connspy(path)
    samples = []
    with open(path, "a") as log:
        for h in range(rounds):
            hour = START + h * 3600
            log.write("".join(f"{hour + i} h{i % 50} t{i % 7}\n" for i in range(0, 3000, 3)))
            log.flush()
            time.sleep(0.2)  # the hour's lines are in; the closing line is what is timed
            t = time.monotonic()
            log.write(f"{hour + 3600 + LATE} closer t\n")
            log.flush()
            follower.stdout.readline()
            samples.append(time.monotonic() - t)
    follower.terminate()
    follower.wait()
    samples.sort()
    return samples


with tempfile.TemporaryDirectory() as tmp:
    tp = throughput(tmp)
    lat = latency(tmp)
rate_total = tp["lines"] / tp["total"]
print(f"| measure | value |\n|---|---|")
print(f"| lines appended by connspy-gen | {tp['lines']:,} ({tp['hours']} hours of log) |")
print(f"| connspy-gen alone, to /dev/null | {tp['gen_alone']:.2f} s ({tp['lines'] / tp['gen_alone'] / 1e6:.2f} M lines/s) |")
print(f"| appending while connspy --tail follows | {tp['written']:.2f} s |")
print(f"| until connspy printed every hour and exited | {tp['total']:.2f} s: **{rate_total / 1e6:.2f} M lines/s** followed |")
print(f"| hourly records printed | {tp['records']} (exit status {tp['rc']}) |")
print(f"| latency, closing line to record (10 hours) | median {lat[len(lat) // 2] * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms |")
