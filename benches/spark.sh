#!/usr/bin/env bash
# The Spark job's wall time on local[2] beside a direct run (issue 8; reported, no bar).
# Q2a as JSON over one generated log: connspy on the whole file against
# examples/spark/connspy_spark.py over the same log split into 8 files (map: connspy
# --format partial, shuffle by window, reduce: connspy --merge --format json), checking
# that both print the same bytes. Also the job over a 1,000-line log: Spark's fixed cost.
#
#   flock -x /tmp/connspy-cpu.lock env DATA=/work/bench-data bash benches/spark.sh
#
# Needs the venv of tests/spark/run.sh (run it once; or set CONNSPY_SPARK_VENV) and Java.
# Writes DATA/spark-log-$LINES.txt and DATA/spark-parts-$LINES/ once and reuses them.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-10000000}
HOSTS=${HOSTS:-100000}
RUNS=${RUNS:-3}
DATA=${DATA:-bench-data}
VENV=${CONNSPY_SPARK_VENV:-target/spark-venv}
LOG=$DATA/spark-log-$LINES.txt
PARTS=$DATA/spark-parts-$LINES
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
source benches/measure.sh
[ -x "$VENV/bin/python" ] || { echo "no $VENV: run tests/spark/run.sh first" >&2; exit 1; }

cargo build --release --quiet --bins --features gen
CONNSPY=$PWD/target/release/connspy
if [ ! -s "$LOG" ]; then
  mkdir -p "$DATA"
  # 24 hours of log.
  ./target/release/connspy-gen --lines "$LINES" --hosts "$HOSTS" \
    --rate "$(python3 -c "print($LINES / 86400)")" --seed 9 -o "$LOG"
fi
if [ ! -d "$PARTS" ]; then
  mkdir -p "$PARTS.tmp" && split -n l/8 -d "$LOG" "$PARTS.tmp/part" && mv "$PARTS.tmp" "$PARTS"
fi
head -n 1000 "$LOG" >"$WORK/small.log"
cat "$LOG" "$PARTS"/* >/dev/null # warm the page cache

read -r X Y < <(sed -n 1000p "$LOG" | awk '{ print tolower($3), tolower($2) }')
Q2A=(--to_host "$X" --from_host "$Y" --busiest_from_host --hourly)
export SPARK_LOCAL_IP=127.0.0.1
JOB=("$VENV/bin/python" examples/spark/connspy_spark.py --connspy "$CONNSPY" --master 'local[2]'
     --conf spark.driver.host=127.0.0.1 --conf spark.driver.bindAddress=127.0.0.1)

measure direct "$WORK/direct.jsonl" "$CONNSPY" --format json --threads 2 "${Q2A[@]}" "$LOG"
measure spark "$WORK/spark.jsonl" "${JOB[@]}" "${Q2A[@]}" --output - "$PARTS"
measure spark_small "$WORK/small.jsonl" "${JOB[@]}" "${Q2A[@]}" --output - "$WORK/small.log"
same=no; cmp -s "$WORK/direct.jsonl" "$WORK/spark.jsonl" && same=yes

cat <<REPORT
### Spark job on local[2] against a direct run, $(date -u +%F), $(nproc) cores

Log: \`$LOG\`, $(du -h "$LOG" | cut -f1), $LINES lines, $HOSTS hosts over 24 h, split into 8 files for Spark
(\`connspy-gen --lines $LINES --hosts $HOSTS --rate $(python3 -c "print($LINES / 86400)") --seed 9\`).
Q2a = \`${Q2A[*]} --format json\`. Median of $RUNS runs, warm page cache; pyspark $("$VENV/bin/python" -c 'from importlib.metadata import version; print(version("pyspark"))').
Command: \`flock -x /tmp/connspy-cpu.lock env DATA=$DATA LINES=$LINES RUNS=$RUNS bash benches/spark.sh\`

| case | seconds |
|---|---|
| connspy, direct, \`--threads 2\` | ${SECS[direct]} |
| Spark job, \`local[2]\`, 8 files | ${SECS[spark]} |
| Spark job, \`local[2]\`, 1,000 lines (the fixed cost) | ${SECS[spark_small]} |

- Spark / direct: $(ratio "${SECS[spark]}" "${SECS[direct]}")x
- Spark output = direct output, byte for byte: $same
REPORT
