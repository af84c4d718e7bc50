#!/usr/bin/env bash
# Batch-mode benchmark: connspy against the tokenizing floor, DuckDB and mawk on
# one generated log, every comparison in the same run, medians of $RUNS runs.
#
#   bash benches/batch.sh            # 100M lines, 1M hosts, 72 h, about 4 GB
#   LINES=1000000 bash benches/batch.sh   # a quick smaller run
#
# Needs: the Rust toolchain, GNU time (/usr/bin/time). Optional: python3 with
# duckdb (pip install duckdb) and the reference queries in $REFERENCE
# (default ../shared/reference), mawk. What is missing is skipped and said so.
# Prints a markdown report; docs/benchmarks.md holds the last one.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-100000000}
HOSTS=${HOSTS:-1000000}
RUNS=${RUNS:-3}
DATA=${DATA:-bench-data}
REFERENCE=${REFERENCE:-../shared/reference}
START_MS=1565647200000 # 2019-08-12T22:00:00Z
RATE=$(python3 -c "print($LINES / (72 * 3600))")
LOG=$DATA/log-$LINES-$HOSTS.txt
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet --bins --features gen
cargo bench --quiet --bench tokenize_floor --no-run 2>/dev/null
mkdir -p "$DATA"
if [ ! -s "$LOG" ]; then
  echo "generating $LOG" >&2
  ./target/release/connspy-gen --lines "$LINES" --hosts "$HOSTS" --rate "$RATE" \
    --name_syllables 6 --seed 7 -o "$LOG"
fi
cat "$LOG" >/dev/null # warm the page cache: every tool reads it from memory

CONNSPY=./target/release/connspy
# X: a target and Y: an initiator taken from the log, in lower case.
read -r X Y < <(sed -n 1000p "$LOG" | awk '{ print tolower($3), tolower($2) }')
DAY_A=$((START_MS + 24 * 3600000)); DAY_B=$((START_MS + 48 * 3600000))
HOUR_A=$((START_MS + 36 * 3600000)); HOUR_B=$((HOUR_A + 3600000))

source benches/measure.sh

FLOOR=$(cargo bench --quiet --bench tokenize_floor -- "$LOG" 2>/dev/null | grep tokenize_floor)
SECS[floor]=$(awk '{ print $6 }' <<<"$FLOOR")
NEWLINES=$(sed 's/.*newline count alone \([0-9.]*\) s.*/\1/' <<<"$FLOOR")

measure q1_full "$WORK/q1.txt" $CONNSPY --to_host "$X" --time_init $DAY_A --time_end $DAY_B --no_seek --threads 2 "$LOG"
measure q1_full_1t /dev/null $CONNSPY --to_host "$X" --time_init $DAY_A --time_end $DAY_B --no_seek --threads 1 "$LOG"
measure q1_seek_day /dev/null $CONNSPY --to_host "$X" --time_init $DAY_A --time_end $DAY_B --threads 2 "$LOG"
measure q1_seek_hour "$WORK/q1h.txt" $CONNSPY --to_host "$X" --time_init $HOUR_A --time_end $HOUR_B --threads 2 "$LOG"
measure q1_full_hour "$WORK/q1h_full.txt" $CONNSPY --to_host "$X" --time_init $HOUR_A --time_end $HOUR_B --no_seek --threads 2 "$LOG"
measure q2a "$WORK/q2a.tsv" $CONNSPY --to_host "$X" --from_host "$Y" --busiest_from_host --hourly --format tsv --threads 2 "$LOG"
measure q2a_1t /dev/null $CONNSPY --to_host "$X" --from_host "$Y" --busiest_from_host --hourly --format tsv --threads 1 "$LOG"

checks=()
cmp -s "$WORK/q1h.txt" "$WORK/q1h_full.txt" && checks+=("Q1 one hour: seek = full scan: yes") \
  || checks+=("Q1 one hour: seek = full scan: **NO**")

HAVE_DUCKDB=no
if python3 -c "import duckdb" 2>/dev/null && [ -f "$REFERENCE/q1_duckdb.py" ]; then
  HAVE_DUCKDB=yes
  measure duck_q1 "$WORK/duck_q1.txt" python3 "$REFERENCE/q1_duckdb.py" "$LOG" "$X" $DAY_A $DAY_B 2
  measure duck_q2a "$WORK/duck_q2a.tsv" python3 "$REFERENCE/q2a_duckdb.py" "$LOG" "$X" "$Y" 2
  cmp -s "$WORK/q1.txt" "$WORK/duck_q1.txt" && checks+=("Q1: connspy = DuckDB: yes") \
    || checks+=("Q1: connspy = DuckDB: **NO**")
  # connspy's TSV in the reference's row format: epoch hour, TO/FROM/MOST, host, count.
  python3 - "$WORK/q2a.tsv" >"$WORK/q2a_ref.tsv" <<'PY'
import sys, datetime
kind = {"to_host": "TO", "from_host": "FROM", "busiest_from_host": "MOST"}
rows = []
for line in open(sys.argv[1]):
    start, q, host, value = line.rstrip("\n").split("\t")
    hour = int(datetime.datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp())
    rows.append((hour, kind[q], host, value))
for hour, k, host, value in sorted(rows):
    print(f"{hour}\t{k}\t{host}" + (f"\t{value}" if value else ""))
PY
  cmp -s "$WORK/q2a_ref.tsv" "$WORK/duck_q2a.tsv" && checks+=("Q2a: connspy = DuckDB: yes") \
    || checks+=("Q2a: connspy = DuckDB: **NO**")
fi
HAVE_MAWK=no
if command -v mawk >/dev/null; then
  HAVE_MAWK=yes
  measure mawk_q1 "$WORK/mawk_q1.txt" sh -c "mawk -v x='$X' -v a=$DAY_A -v b=$DAY_B \
    'tolower(\$3) == x && \$1 >= a && \$1 < b { print tolower(\$2) }' '$LOG' | LC_ALL=C sort -u"
  cmp -s "$WORK/q1.txt" "$WORK/mawk_q1.txt" && checks+=("Q1: connspy = mawk: yes") \
    || checks+=("Q1: connspy = mawk: **NO**")
fi

row() { printf '| %s | %s | %s | %s |\n' "$1" "${SECS[$2]}" "${RSS[$2]:-}" "$3"; }
cat <<EOF
### Batch mode, $(date -u +%Y-%m-%d), $(nproc) cores

Log: \`$LOG\`, $(du -h "$LOG" | cut -f1), $LINES lines, $HOSTS hosts over 72 h
(\`connspy-gen --lines $LINES --hosts $HOSTS --rate $RATE --name_syllables 6 --seed 7\`).
X = \`$X\`, Y = \`$Y\`; day = [$DAY_A, $DAY_B), hour = [$HOUR_A, $HOUR_B) ms.
Median of $RUNS runs, warm page cache, \`--threads 2\` unless said.
Command: \`LINES=$LINES HOSTS=$HOSTS RUNS=$RUNS bash benches/batch.sh\`

| case | seconds | peak RSS MiB | note |
|---|---|---|---|
| tokenizing floor (mmap, line ends, 2 separators, TS digits) | ${SECS[floor]} | | newline count alone: $NEWLINES s |
EOF
row "Q1 full scan, 1 day (\`--no_seek\`)" q1_full "$(ratio "${SECS[q1_full]}" "${SECS[floor]}")x the floor"
row "Q1 full scan, 1 thread" q1_full_1t "2 threads are $(ratio "${SECS[q1_full_1t]}" "${SECS[q1_full]}")x faster"
row "Q1 with seek, 1 day" q1_seek_day ""
row "Q1 with seek, 1 hour" q1_seek_hour "$(ratio "${SECS[q1_full]}" "${SECS[q1_seek_hour]}")x faster than the full scan"
row "Q2a (\`--hourly\`, 3 queries, whole file)" q2a ""
row "Q2a, 1 thread" q2a_1t "2 threads are $(ratio "${SECS[q2a_1t]}" "${SECS[q2a]}")x faster"
if [ $HAVE_DUCKDB = yes ]; then
  row "DuckDB Q1 (2 threads)" duck_q1 "connspy full scan is $(ratio "${SECS[duck_q1]}" "${SECS[q1_full]}")x faster"
  row "DuckDB Q2a (2 threads)" duck_q2a "connspy is $(ratio "${SECS[duck_q2a]}" "${SECS[q2a]}")x faster, with $(ratio "${RSS[q2a]}" "${RSS[duck_q2a]}") of its RSS"
else
  echo "| DuckDB | skipped | | needs \`pip install duckdb\` and $REFERENCE |"
fi
if [ $HAVE_MAWK = yes ]; then
  row "mawk Q1 (\`| sort -u\`)" mawk_q1 "connspy full scan is $(ratio "${SECS[mawk_q1]}" "${SECS[q1_full]}")x faster"
fi
echo
printf -- '- %s\n' "${checks[@]}"
