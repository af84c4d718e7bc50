#!/usr/bin/env bash
# Every cardinality: logs of the same number of lines whose distinct initiators
# go from 10^3 to 4*10^7, and on each, side by side in one run:
#   busiest        --busiest_from_host over the whole log: exact, --approx, and
#                  DuckDB's GROUP BY on the same file (benches/busiest_duckdb.py)
#   hourly         --busiest_from_host --hourly: exact and --approx
#   hourly_top     --busiest_from_host --busiest_to_host --top 10 --hourly:
#                  exact and --approx
# Prints a markdown table (median wall time and peak RSS of each) and writes
# docs/cardinality.svg: time and peak memory against distinct initiators.
#
#   DATA=/work/bench-data PYTHON=/work/venv/bin/python bash benches/cardinality.sh
#
# LINES (default 42,500,000: 4*10^7 distinct initiators need that many lines),
# RUNS (default 1), POINTS (default "1e3 1e5 1e6 1e7 4e7"). PYTHON must import
# duckdb (`pip install duckdb`). Each log is about 2 GB, made once by
# connspy-gen in $DATA and kept. Needs GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-bench-data}
LINES=${LINES:-42500000}
RUNS=${RUNS:-1}
POINTS=${POINTS:-1e3 1e5 1e6 1e7 4e7}
PYTHON=${PYTHON:-python3}
THREADS=${THREADS:-2}
"$PYTHON" -c 'import duckdb' || { echo "$PYTHON cannot import duckdb" >&2; exit 1; }
cargo build --release --quiet --bins --features gen
mkdir -p "$DATA"
WORK=$(mktemp -d -p "${TMPDIR:-$DATA}")
trap 'rm -rf "$WORK"' EXIT
source benches/measure.sh
CONNSPY=./target/release/connspy

# The initiators: a Zipf head over a uniform tail. Up to 10^7 the tail draws
# from as many names as the point says, half the lines (every name appears);
# at 4*10^7 it draws nearly every line from 10^9 names, so nearly every line
# has a new initiator.
gen_args() {
  case $1 in
    4e7) echo "--hosts 1000000000 --uniform_fraction 0.94" ;;
    *) echo "--hosts $(python3 -c "print(int(float('$1')))") --uniform_fraction 0.5" ;;
  esac
}

results=$WORK/results
for point in $POINTS; do
  log=$DATA/cardinality-$LINES-$point.txt
  if [ ! -s "$log" ]; then
    echo "generating $log" >&2
    # shellcheck disable=SC2046
    ./target/release/connspy-gen --lines "$LINES" $(gen_args "$point") \
      --rate "$(python3 -c "print($LINES / (24 * 3600))")" --name_syllables 6 --seed 13 -o "$log"
  fi
  cat "$log" >/dev/null
  common=(--threads "$THREADS" --format json)
  for mode in exact approx; do
    flags=()
    [ $mode = approx ] && flags=(--approx)
    measure "$point busiest $mode" "$WORK/$point-busiest-$mode" \
      "$CONNSPY" --busiest_from_host "${common[@]}" "${flags[@]}" "$log"
    measure "$point hourly $mode" "$WORK/$point-hourly-$mode" \
      "$CONNSPY" --busiest_from_host --hourly "${common[@]}" "${flags[@]}" "$log"
    measure "$point hourly_top $mode" "$WORK/$point-hourly_top-$mode" \
      "$CONNSPY" --busiest_from_host --busiest_to_host --top 10 --hourly \
      "${common[@]}" "${flags[@]}" "$log"
  done
  measure "$point busiest duckdb" "$WORK/$point-busiest-duckdb" \
    "$PYTHON" benches/busiest_duckdb.py "$log" "$THREADS"
  for key in "$point busiest exact" "$point busiest approx" "$point hourly exact" \
    "$point hourly approx" "$point hourly_top exact" "$point hourly_top approx" \
    "$point busiest duckdb"; do
    read -r p q m <<<"$key"
    echo "$p $q $m ${SECS[$key]} ${RSS[$key]} $WORK/$p-$q-$m" >>"$results"
  done
done
"$PYTHON" benches/cardinality_report.py docs/cardinality.svg <"$results"
