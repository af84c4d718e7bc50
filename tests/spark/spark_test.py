"""The Spark test: examples/spark/connspy_spark.py on local[2] against connspy on one machine.

Run by tests/spark/run.sh inside the virtual environment it makes (pyspark, datasketches).
Writes a log with connspy-gen, splits it at line boundaries into files of uneven sizes (one
gzip-compressed), runs the Spark job over them and checks:

  (a) exact answers, hourly and over a time range, equal a direct `connspy --format json`
      run over the whole log, byte for byte;
  (b) Spark SQL's hll_sketch_estimate(hll_union_agg(...)) per hour equals connspy's own
      merged `initiators` for the same partials (and Python datasketches' union of them);
  (c) approximate answers merged on the executors equal `connspy --merge` of the same
      partials run here, byte for byte, and keep docs/accuracy.md's bounds against a naive
      exact count of the log made here.

Ends with the line `N passed, M failed`; exits 1 when a check failed.
"""

import argparse
import base64
import collections
import datetime
import gzip
import json
import os
import random
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JOB = os.path.join(ROOT, "examples", "spark", "connspy_spark.py")

# Small enough for CI's two cores: about 10 hours of log, so hourly runs shuffle several
# windows, and enough hosts that a 64-counter heavy-hitter summary fills up.
GEN = ["--lines", "300000", "--hosts", "20000", "--rate", "8", "--seed", "11"]
PART_COUNT = 4
SPARK_TIMEOUT = 300
# Bind everything to the loopback interface: the test needs no network.
SPARK_CONF = ["--conf", "spark.driver.host=127.0.0.1",
              "--conf", "spark.driver.bindAddress=127.0.0.1",
              "--master", "local[2]", "--min-partitions", "6"]


class Checks:
    """Counts checks and prints each failure with what differed."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, name, detail=""):
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}" + (f": {detail}" if detail else ""))


def log_step(message, started=[time.monotonic()]):
    print(f"[{time.monotonic() - started[0]:6.1f}s] {message}", flush=True)


def run(cmd, **kw):
    """Runs a command, failing with its stderr when it exits non-zero."""
    proc = subprocess.run(cmd, capture_output=True, timeout=SPARK_TIMEOUT, **kw)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace")[-4000:])
        raise SystemExit(f"exit {proc.returncode}: {' '.join(cmd)}")
    return proc.stdout


def make_log(gen, work):
    """The whole log, and its split into files at line boundaries (the last one gzipped)."""
    whole = os.path.join(work, "log.txt")
    run([gen, *GEN, "-o", whole])
    with open(whole, "rb") as f:
        lines = f.readlines()
    rng = random.Random(5)
    cuts = sorted(rng.sample(range(1, len(lines)), PART_COUNT - 1))
    bounds = [0, *cuts, len(lines)]
    parts = os.path.join(work, "parts")
    os.makedirs(parts)
    for i in range(PART_COUNT):
        chunk = b"".join(lines[bounds[i]:bounds[i + 1]])
        if i == PART_COUNT - 1:
            with gzip.open(os.path.join(parts, f"part-{i}.log.gz"), "wb") as f:
                f.write(chunk)
        else:
            with open(os.path.join(parts, f"part-{i}.log"), "wb") as f:
                f.write(chunk)
    return whole, parts, [line.split() for line in lines]


def hour_start(ts_ms):
    hour = ts_ms // 3_600_000 * 3600
    return datetime.datetime.fromtimestamp(hour, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:00:00Z")


def naive_hours(fields):
    """Per hour: lines, initiator counts, receiver counts, and who connected to whom."""
    hours = collections.defaultdict(lambda: {
        "lines": 0, "from": collections.Counter(), "to": collections.Counter(),
        "to_host": collections.defaultdict(set)})
    for ts, src, dst in fields:
        h = hours[hour_start(int(ts))]
        src, dst = src.decode().lower(), dst.decode().lower()
        h["lines"] += 1
        h["from"][src] += 1
        h["to"][dst] += 1
        h["to_host"][dst].add(src)
    return hours


def spark(python, connspy, flags, inputs, output, work, name):
    """Runs the Spark job; returns its wall time in seconds."""
    cmd = [python, JOB, "--connspy", connspy, *SPARK_CONF, *flags, "-o", output, *inputs]
    env = dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=python)
    t0 = time.monotonic()
    with open(os.path.join(work, f"{name}.spark.log"), "wb") as err:
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env,
                              timeout=SPARK_TIMEOUT)
    elapsed = time.monotonic() - t0
    if proc.returncode != 0:
        with open(os.path.join(work, f"{name}.spark.log"), "rb") as err:
            sys.stderr.write(err.read().decode(errors="replace")[-6000:])
        raise SystemExit(f"Spark job {name} exited {proc.returncode}: {' '.join(cmd)}")
    log_step(f"spark {name}: {elapsed:.1f}s")
    return elapsed


def read(path):
    with open(path, "rb") as f:
        return f.read()


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a.splitlines(), b.splitlines())):
        if x != y:
            return f"line {i + 1}:\n  spark:  {x[:300]!r}\n  direct: {y[:300]!r}"
    return f"{len(a.splitlines())} lines against {len(b.splitlines())}"


def partial_lines(directory):
    out = b""
    for name in sorted(os.listdir(directory)):
        if name.startswith("part-"):
            out += read(os.path.join(directory, name))
    return out


def check_exact(checks, python, connspy, whole, parts, work, name, flags):
    out = os.path.join(work, f"{name}.spark.jsonl")
    spark(python, connspy, flags, [parts], out, work, name)
    direct = run([connspy, "--format", "json", *flags, whole])
    got = read(out)
    checks.check(got == direct and len(direct) > 0,
                 f"(a) {name}: Spark answers = direct connspy run, byte for byte "
                 f"({len(direct.splitlines())} windows)", first_difference(got, direct))


def check_bounds(checks, name, answers, hours, top):
    """docs/accuracy.md's bounds of approximate answers against the naive count."""
    problems = []
    for record in answers:
        truth = hours.get(record["start"])
        if truth is None:
            problems.append(f"{record['start']}: no such hour in the log")
            continue
        if record["lines"] != truth["lines"]:
            problems.append(f"{record['start']}: lines {record['lines']} != {truth['lines']}")
        for side, counts in (("busiest_from_host", truth["from"]),
                             ("busiest_to_host", truth["to"])):
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].encode()))
            true_top = {host for host, _ in ranked[:top]}
            for entry in record[side]["top"]:
                real = counts.get(entry["host"], 0)
                if not entry["connections"] - entry["error"] <= real <= entry["connections"]:
                    problems.append(f"{record['start']} {side} {entry['host']}: true {real} "
                                    f"outside [{entry['connections'] - entry['error']}, "
                                    f"{entry['connections']}]")
                if entry["guaranteed"] and entry["host"] not in true_top:
                    problems.append(f"{record['start']} {side} {entry['host']}: guaranteed "
                                    f"but not in the true top {top}")
        listed = record["to_host"]["hosts"]
        true_set = truth["to_host"][record["to_host"]["host"]]
        extra = [h for h in listed if h not in true_set]
        if extra:
            problems.append(f"{record['start']} to_host lists hosts that never connected: "
                            f"{extra[:5]}")
    guaranteed = sum(e["guaranteed"] for r in answers
                     for s in ("busiest_from_host", "busiest_to_host") for e in r[s]["top"])
    errors = sum(e["error"] > 0 for r in answers
                 for s in ("busiest_from_host", "busiest_to_host") for e in r[s]["top"])
    checks.check(not problems and len(answers) > 0,
                 f"(c) {name}: bounds hold against the naive count ({len(answers)} windows, "
                 f"{errors} listed counts with error > 0, {guaranteed} guaranteed)",
                 "; ".join(problems[:10]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--connspy", required=True)
    p.add_argument("--connspy-gen", required=True)
    p.add_argument("--work", required=True, help="an empty directory for the test's files")
    a = p.parse_args()
    python, connspy, work = sys.executable, os.path.abspath(a.connspy), a.work
    checks = Checks()

    whole, parts, fields = make_log(a.connspy_gen, work)
    hours = naive_hours(fields)
    to_counts = collections.Counter(f[2] for f in fields)
    from_counts = collections.Counter(f[1] for f in fields)
    x = to_counts.most_common(1)[0][0].decode()
    y = from_counts.most_common(1)[0][0].decode()
    first, last = int(fields[0][0]), max(int(f[0]) for f in fields)
    log_step(f"log: {len(fields)} lines, {len(hours)} hours, X={x} Y={y}, "
             f"{PART_COUNT} parts in {parts}")

    # (a) exact, over a time range that cuts hours, and hourly over the whole log.
    range_flags = ["--to_host", x, "--from_host", y, "--busiest_from_host",
                   "--busiest_to_host", "--top", "5",
                   "--time_init", str(first + 5_400_000), "--time_end", str(last - 3_000_000)]
    check_exact(checks, python, connspy, whole, parts, work, "exact-range", range_flags)
    hourly_flags = ["--to_host", x, "--from_host", y, "--busiest_from_host",
                    "--busiest_to_host", "--top", "3", "--hourly"]
    check_exact(checks, python, connspy, whole, parts, work, "exact-hourly", hourly_flags)

    # (a) Zeek TSV: each file's header is needed, so files are read whole (--whole-files).
    zeek = os.path.join(work, "zeek")
    os.makedirs(zeek)
    zeek_files = []
    for i, start in enumerate(("2019-08-12T22:00:00Z", "2019-08-13T01:00:00Z")):
        path = os.path.join(zeek, f"conn.{i}.log")
        run([a.connspy_gen, "--log_format", "zeek", "--lines", "60000", "--hosts", "5000",
             "--rate", "8", "--seed", str(20 + i), "--start", start, "-o", path])
        zeek_files.append(path)
    zeek_flags = ["--busiest_from_host", "--busiest_to_host", "--top", "3", "--hourly"]
    out = os.path.join(work, "zeek.spark.jsonl")
    spark(python, connspy, ["--whole-files", *zeek_flags], [zeek], out, work, "zeek-hourly")
    direct = run([connspy, "--format", "json", *zeek_flags, *zeek_files])
    got = read(out)
    checks.check(got == direct and len(direct) > 0,
                 f"(a) zeek-hourly: Spark answers over Zeek TSV files read whole = direct run "
                 f"({len(direct.splitlines())} windows)", first_difference(got, direct))

    # (c) approximate, with a summary small enough to drop hosts, so errors are not all 0.
    top = 5
    approx_flags = ["--approx", "--top_k", "64", "--to_host", x, "--busiest_from_host",
                    "--busiest_to_host", "--top", str(top), "--hourly"]
    approx_out = os.path.join(work, "approx.spark.jsonl")
    approx_partials = os.path.join(work, "approx.partials")
    spark(python, connspy, [*approx_flags, "--partials-out", approx_partials], [parts],
          approx_out, work, "approx-hourly")
    local = run([connspy, "--merge", "--format", "json", "-"],
                input=partial_lines(approx_partials))
    got = read(approx_out)
    checks.check(got == local and len(local) > 0,
                 "(c) approx-hourly: Spark-side merge = `connspy --merge` of the same partials",
                 first_difference(got, local))
    check_bounds(checks, "approx-hourly", [json.loads(l) for l in got.splitlines()], hours, top)

    # (b) Spark SQL alone over the partials of an --approx --busiest_from_host --hourly run.
    hll_out = os.path.join(work, "hll.spark.jsonl")
    hll_partials = os.path.join(work, "hll.partials")
    spark(python, connspy, ["--mode", "hll-initiators", "--partials-out", hll_partials],
          [parts], hll_out, work, "hll-initiators")
    sql = {r["start"]: r["initiators"] for r in map(json.loads, read(hll_out).splitlines())}
    lines = partial_lines(hll_partials)
    merged = run([connspy, "--merge", "--format", "json", "-"], input=lines)
    own = {r["start"]: r["busiest_from_host"]["initiators"]
           for r in map(json.loads, merged.splitlines())}
    differ = {k: (sql.get(k), own.get(k)) for k in sorted(set(sql) | set(own))
              if sql.get(k) != own.get(k)}
    checks.check(not differ and len(sql) == len(hours),
                 f"(b) hll-initiators: Spark SQL hll_union_agg estimate = connspy's merged "
                 f"initiators, {len(sql)} hours", f"hour: (spark sql, connspy) {differ}")
    check_python_union(checks, lines, sql)
    true_initiators = {k: len(h["from"]) for k, h in hours.items()}
    worst = max(abs(sql[k] - n) / n for k, n in true_initiators.items() if k in sql)
    # 5 standard errors of an HLL at lg_k 15 (1.04 / sqrt(2^15) = 0.57 %).
    checks.check(worst <= 0.03,
                 f"(b) hll-initiators: within 3 % of the true distinct initiators "
                 f"(worst {worst:.3%})")

    print(f"{checks.passed} passed, {checks.failed} failed")
    return 1 if checks.failed else 0


def check_python_union(checks, lines, sql):
    """The same sketches unioned by Python's datasketches: a third, independent reader."""
    from datasketches import hll_sketch, hll_union, tgt_hll_type

    unions = {}
    for line in lines.decode().splitlines():
        fields = line.split("\t")
        if fields[0] == "summary":
            continue
        for field in fields:
            if field.startswith("initiators_hll="):
                sketch = hll_sketch.deserialize(base64.b64decode(field.split("=", 1)[1]))
                unions.setdefault(fields[0], hll_union(sketch.lg_config_k)).update(sketch)
    # Spark rounds the estimate as Java's Math.round does: half up.
    python = {k: int(u.get_result(tgt_hll_type.HLL_8).get_estimate() + 0.5)
              for k, u in unions.items()}
    checks.check(python == sql,
                 "(b) hll-initiators: Python datasketches' union gives the same estimates",
                 str({k: (sql.get(k), python.get(k)) for k in sorted(set(python) | set(sql))
                      if sql.get(k) != python.get(k)}))


if __name__ == "__main__":
    sys.exit(main())
