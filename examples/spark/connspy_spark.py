#!/usr/bin/env python3
"""connspy as the per-node step of an Apache Spark job.

Two modes:

``answers`` (the default)
    Ships the connspy binary to the executors, pipes each input partition's lines through
    ``connspy --format partial <query flags> -``, keys every partial line by its first tab
    field (the window key), shuffles so that each window's lines meet, grouped, in one
    partition, pipes each partition through ``connspy --merge --format json -`` on the
    executors and writes the JSON Lines answers in window order: the same bytes as
    ``connspy --format json <query flags> FILES`` run on one machine over the whole log.

``hll-initiators``
    Runs the map step with ``--approx --busiest_from_host --hourly`` and then, in Spark SQL
    alone (no connspy on the reduce side), unions each hour's DataSketches HLL sketches:
    ``hll_sketch_estimate(hll_union_agg(unbase64(initiators_hll)))`` grouped by hour.
    Writes one JSON line per hour: ``{"start": HOUR, "initiators": ESTIMATE}``.

Inputs are read with ``SparkContext.textFile``, so plain and Hadoop-compressed files (.gz,
.bz2) work as Spark reads them; with ``--partials-in`` they are already partial lines (from
``connspy --format partial`` run anywhere) and only the reduce side runs. See
docs/scale-out.md for cluster use and the limits.
"""

import argparse
import bisect
import json
import os
import shlex
import shutil
import sys

WINDOW_SUMMARY = "summary"


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="connspy_spark.py",
        description=(
            "Answer connspy's questions over logs spread across a Spark cluster: connspy "
            "writes mergeable partials on the executors (--format partial), Spark shuffles "
            "them by window, and connspy merges each window (--merge). The output is what "
            "`connspy --format json` prints over the whole log."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="""examples:
  # Q2a per hour over a day of gzip logs, on this machine's two cores
  spark-submit examples/spark/connspy_spark.py --connspy target/release/connspy \\
      --to_host zyla --from_host aadvik --busiest_from_host --hourly \\
      --output q2a.jsonl 'logs/2019-08-13/*.log.gz'

  # The same with plain python (pyspark installed from PyPI), local[2]
  python3 examples/spark/connspy_spark.py --busiest_from_host --output - logs/

  # Approximate distinct initiators per hour, merged by Spark SQL alone
  python3 examples/spark/connspy_spark.py --mode hll-initiators --output hll.jsonl logs/

exit status: 0 success, 2 usage error, 1 any other failure (a failed Spark job,
connspy exiting non-zero on an executor: see the executor's stderr for its message).""",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="log files, directories or globs, as SparkContext.textFile takes them "
                        "(local paths, hdfs://, s3a://, ...); with --partials-in, partial lines")
    p.add_argument("--mode", choices=["answers", "hll-initiators"], default="answers",
                   help="answers: connspy merges each window on the executors (default); "
                        "hll-initiators: Spark SQL unions the hourly initiators HLL sketches")
    p.add_argument("--output", "-o", required=True, metavar="PATH",
                   help="where the JSON Lines answers go, in window order: a file on the "
                        "driver's machine, or - for standard output")
    p.add_argument("--master", default=None,
                   help="Spark master URL (default: spark-submit's --master, or local[2] when "
                        "run with plain python)")
    p.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE",
                   help="a Spark setting, as spark-submit's --conf (repeatable), e.g. "
                        "spark.driver.host=127.0.0.1")
    p.add_argument("--connspy", metavar="PATH", default=None,
                   help="the connspy binary on the driver's machine, shipped to every executor "
                        "with SparkContext.addFile (default: connspy on PATH); it must run on "
                        "the executors' OS and CPU")
    p.add_argument("--connspy-on-executors", metavar="PATH", default=None,
                   help="instead of shipping a binary, run connspy from this absolute path, "
                        "installed on every executor")
    p.add_argument("--min-partitions", type=int, default=None, metavar="N",
                   help="minimum input partitions for textFile (default: Spark's); a .gz file "
                        "is always one partition")
    p.add_argument("--whole-files", action="store_true",
                   help="never split a file: one partition per input file, so that every "
                        "split starts with the file's header (needed for Zeek TSV and VPC "
                        "logs with a header line; see docs/scale-out.md)")
    p.add_argument("--reduce-partitions", type=int, default=None, metavar="N",
                   help="partitions of the merge step (default: Spark's default parallelism; "
                        "never more than the number of windows)")
    p.add_argument("--partials-out", metavar="DIR", default=None,
                   help="also save the map step's partial lines here (saveAsTextFile), e.g. to "
                        "merge them again later with `cat DIR/part-* | connspy --merge`")
    p.add_argument("--partials-in", action="store_true",
                   help="the inputs are partial lines already; skip the map step")

    q = p.add_argument_group("connspy query flags (passed to `connspy --format partial`; "
                             "see `connspy --help`)")
    q.add_argument("--to_host", "--to-host", metavar="HOST")
    q.add_argument("--from_host", "--from-host", metavar="HOST")
    q.add_argument("--busiest_from_host", "--busiest-from-host", action="store_true")
    q.add_argument("--busiest_to_host", "--busiest-to-host", action="store_true")
    q.add_argument("--top", metavar="N")
    q.add_argument("--hourly", action="store_true")
    q.add_argument("--time_init", "--time-init", metavar="T")
    q.add_argument("--time_end", "--time-end", metavar="T")
    q.add_argument("--max_log_late_seconds", "--max-log-late-seconds", metavar="N")
    q.add_argument("--log_format", "--log-format", metavar="FORMAT")
    q.add_argument("--columns", metavar="TS,FROM,TO")
    q.add_argument("--delimiter", metavar="C")
    q.add_argument("--strict", action="store_true")
    q.add_argument("--approx", action="store_true")
    q.add_argument("--memory_limit", "--memory-limit", metavar="MiB")
    q.add_argument("--top_k", "--top-k", metavar="K")
    q.add_argument("--hll_precision", "--hll-precision", metavar="P")
    q.add_argument("--bloom_fp_rate", "--bloom-fp-rate", metavar="RATE")

    args = p.parse_args(argv)
    for setting in args.conf:
        if "=" not in setting:
            p.error(f"--conf {setting}: expected KEY=VALUE")
    if args.partials_in and (args.partials_out or args.whole_files):
        p.error("--partials-out and --whole-files are about the map step; with --partials-in "
                "there is none")
    for flag in ("min_partitions", "reduce_partitions"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            p.error(f"--{flag.replace('_', '-')} must be at least 1, got {value}")
    if args.connspy_on_executors and not os.path.isabs(args.connspy_on_executors):
        p.error("--connspy-on-executors must be an absolute path")
    args.needs_connspy = not (args.partials_in and args.mode == "hll-initiators")
    if args.needs_connspy and not args.connspy_on_executors:
        path = args.connspy or shutil.which("connspy")
        if not path:
            p.error("no connspy binary: give --connspy PATH (for example target/release/connspy)")
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            p.error(f"--connspy {path}: not an executable file")
        args.connspy = os.path.abspath(path)
    if args.mode == "hll-initiators":
        # The SQL mode reads the hourly initiators sketches: make the map step write them.
        args.approx = args.busiest_from_host = args.hourly = True
    if not args.partials_in and not any(
        (args.to_host, args.from_host, args.busiest_from_host, args.busiest_to_host)
    ):
        p.error("no query: give at least one of --to_host, --from_host, --busiest_from_host, "
                "--busiest_to_host")
    return args


def query_flags(args):
    """The connspy flags of the query, in connspy's spelling."""
    flags = []
    for name in ("to_host", "from_host", "top", "time_init", "time_end",
                 "max_log_late_seconds", "log_format", "columns", "delimiter",
                 "memory_limit", "top_k", "hll_precision", "bloom_fp_rate"):
        value = getattr(args, name)
        if value is not None:
            flags += [f"--{name}", value]
    for name in ("busiest_from_host", "busiest_to_host", "hourly", "strict", "approx"):
        if getattr(args, name):
            flags.append(f"--{name}")
    return flags


def window_key(line):
    """A partial line's window key: its first tab-separated field."""
    return line.split("\t", 1)[0]


def connspy_command(sc, args):
    """The path the executors run connspy from.

    RDD.pipe fixes its command on the driver, but a file shipped with addFile lands in a
    directory that only the executor knows: in local mode the driver's own SparkFiles
    directory (the executors are threads of the driver), on a cluster the executor's
    working directory, where Spark fetches every added file and makes it executable.
    """
    if args.connspy_on_executors:
        return args.connspy_on_executors
    from pyspark import SparkFiles

    sc.addFile(args.connspy)
    name = os.path.basename(args.connspy)
    if sc.master.startswith("local"):
        return SparkFiles.get(name)
    return "./" + name


def make_partials(sc, args, connspy):
    """The partial lines: read from the inputs, or written by connspy over the log lines."""
    if args.partials_in:
        return sc.textFile(",".join(args.inputs))
    lines = sc.textFile(",".join(args.inputs), minPartitions=args.min_partitions)
    command = shlex.join([connspy, "--format", "partial", *query_flags(args), "-"])
    return lines.pipe(command, checkCode=True)


def merged_answers(sc, args, connspy, partials):
    """Each window's answers, merged by connspy on the executors, in window order."""
    from pyspark import StorageLevel

    keyed = partials.map(lambda line: (window_key(line), line))
    # Window keys (`range`, `summary`, or UTC hours, which sort as text in time order) are
    # few: one per hour of log. Ranking them on the driver lets every merge partition hold a
    # contiguous run of windows and none be empty (connspy cannot merge nothing: the query
    # comes from the partials).
    keys = sorted(keyed.keys().distinct().collect())
    windows = [k for k in keys if k != WINDOW_SUMMARY]
    if not windows:
        if keys:
            print("connspy_spark.py: no window holds a counted line; the map step noted "
                  "malformed lines (see the executors' stderr)", file=sys.stderr)
        return []
    parts = min(args.reduce_partitions or sc.defaultParallelism, len(windows))
    rank = {k: i for i, k in enumerate(windows)}
    # A run's summary line (its malformed-line counts) goes with the first window.
    rank[WINDOW_SUMMARY] = 0
    count = len(windows)

    def partition_of(key):
        return rank[key] * parts // count

    def sort_key(key):
        return (key != WINDOW_SUMMARY, key)

    grouped = keyed.repartitionAndSortWithinPartitions(
        numPartitions=parts, partitionFunc=partition_of, keyfunc=sort_key
    ).values()
    command = shlex.join([connspy, "--merge", "--format", "json", "-"])
    # Merge every partition at once, then bring the answers to the driver one partition at
    # a time (toLocalIterator alone would run the merges one after the other).
    answers = grouped.pipe(command, checkCode=True).persist(StorageLevel.MEMORY_AND_DISK)
    answers.count()
    return answers.toLocalIterator()


def hll_initiators(spark, partials):
    """Per hour, Spark SQL's union of the partials' initiators HLL sketches."""
    from pyspark.sql import Row

    spark.createDataFrame(partials.map(lambda line: Row(line=line))).createOrReplaceTempView(
        "partials"
    )
    rows = spark.sql(
        r"""
        SELECT start, hll_sketch_estimate(hll_union_agg(sketch)) AS initiators
        FROM (
          SELECT substring_index(line, '\t', 1) AS start,
                 unbase64(regexp_extract(line, 'initiators_hll=([^\t]*)', 1)) AS sketch
          FROM partials
        )
        WHERE start <> 'summary' AND length(sketch) > 0
        GROUP BY start
        ORDER BY start
        """
    ).toLocalIterator()
    return (json.dumps({"start": r.start, "initiators": r.initiators},
                       separators=(",", ":")) for r in rows)


def write_lines(path, lines):
    """Writes the answers; a file appears only whole, under its name, once all is written."""
    if path == "-":
        try:
            for line in lines:
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            # A reader that stops early (`| head`) ends the run quietly, as connspy does.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            for line in lines:
                out.write(line + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # Imported here so that --help and usage errors need no pyspark.
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("connspy").config(
        "spark.ui.showConsoleProgress", "false"
    )
    # Under spark-submit (which hands Python a gateway) its --master stands.
    master = args.master or (None if "PYSPARK_GATEWAY_PORT" in os.environ else "local[2]")
    if master:
        builder = builder.master(master)
    if args.whole_files:
        # Hadoop's text input splits a file only into pieces of at least this many bytes.
        builder = builder.config(
            "spark.hadoop.mapreduce.input.fileinputformat.split.minsize", str(2**63 - 1))
    for setting in args.conf:
        key, value = setting.split("=", 1)
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    sc = spark.sparkContext
    try:
        connspy = connspy_command(sc, args) if args.needs_connspy else None
        partials = make_partials(sc, args, connspy)
        # The partials are read more than once (saved, their window keys, the shuffle):
        # keep them rather than run connspy over the log again.
        partials = partials.persist(StorageLevel.MEMORY_AND_DISK)
        if args.partials_out:
            partials.saveAsTextFile(args.partials_out)
        if args.mode == "answers":
            write_lines(args.output, merged_answers(sc, args, connspy, partials))
        else:
            write_lines(args.output, hll_initiators(spark, partials))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
