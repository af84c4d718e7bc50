#!/usr/bin/env bash
# Two connspy binaries side by side on the batch benchmark log: Q1 (one day,
# full scan), Q2a, Q2a --approx, Q2a on the .gz and on the Zeek TSV version of
# the log, and Q2a written as partials then merged. The two binaries alternate
# (A B A B ...) so that a drift of the machine hits both; each case prints the
# median wall time and peak RSS of each, the median of the per-pair ratios
# B/A, and whether their outputs are byte for byte equal.
#
#   DATA=/work/bench-data bash benches/ab.sh BEFORE_BINARY AFTER_BINARY
#
# CASES (default: all six, in that order) picks some of them.
#
# Needs the plain log of benches/batch.sh, LOG.gz of benches/compressed.sh and
# the Zeek log of benches/formats.sh (same LINES, HOSTS, DATA). Needs GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

A=$(realpath "$1")
B=$(realpath "$2")
LINES=${LINES:-100000000}
HOSTS=${HOSTS:-1000000}
RUNS=${RUNS:-5}
DATA=${DATA:-bench-data}
LOG=$DATA/log-$LINES-$HOSTS.txt
ZEEK=$DATA/log-$LINES-$HOSTS.zeek.log
START_MS=${START_MS:-1565647200000}
for f in "$LOG" "$LOG.gz" "$ZEEK"; do
  [ -s "$f" ] || { echo "no $f: see the header of this script" >&2; exit 1; }
done
WORK=$(mktemp -d -p "${TMPDIR:-$DATA}")
trap 'rm -rf "$WORK"' EXIT

read -r X Y < <(sed -n 1000p "$LOG" | awk '{ print tolower($3), tolower($2) }')
DAY_A=$((START_MS + 24 * 3600000)); DAY_B=$((START_MS + 48 * 3600000))
Q1=(--to_host "$X" --time_init "$DAY_A" --time_end "$DAY_B" --no_seek --threads 2)
Q2A_ARGS=(--to_host "$X" --from_host "$Y" --busiest_from_host --hourly --threads 2)
Q2A=("${Q2A_ARGS[@]}" --format tsv)
CASES=${CASES:-q1 q2a approx gz zeek partial}

# one BIN OUT CASE: runs CASE with BIN, its answer in OUT; prints "SECONDS KIB".
one() {
  local bin=$1 out=$2 t0 t1
  shift 2
  t0=$(date +%s.%N)
  case $1 in
    q1) /usr/bin/time -f %M -o "$WORK/rss" "$bin" "${Q1[@]}" "$LOG" >"$out" ;;
    q2a) /usr/bin/time -f %M -o "$WORK/rss" "$bin" "${Q2A[@]}" "$LOG" >"$out" ;;
    approx) /usr/bin/time -f %M -o "$WORK/rss" "$bin" --approx "${Q2A[@]}" "$LOG" >"$out" ;;
    gz) /usr/bin/time -f %M -o "$WORK/rss" "$bin" "${Q2A[@]}" "$LOG.gz" >"$out" ;;
    zeek) /usr/bin/time -f %M -o "$WORK/rss" "$bin" "${Q2A[@]}" "$ZEEK" >"$out" ;;
    partial)
      # The partials of two halves, then their merge: peak RSS of the larger step.
      /usr/bin/time -f %M -o "$WORK/rss" "$bin" "${Q2A_ARGS[@]}" --format partial "$WORK/half0" >"$WORK/p0"
      /usr/bin/time -a -f %M -o "$WORK/rss" "$bin" "${Q2A_ARGS[@]}" --format partial "$WORK/half1" >"$WORK/p1"
      /usr/bin/time -a -f %M -o "$WORK/rss" "$bin" --merge --format tsv "$WORK/p0" "$WORK/p1" >"$out" ;;
  esac
  t1=$(date +%s.%N)
  echo "$(python3 -c "print(f'{$t1 - $t0:.3f}')") $(grep -E '^[0-9]+$' "$WORK/rss" | sort -n | tail -n 1)"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

split -n l/2 -d -a 1 "$LOG" "$WORK/half"
cat "$LOG" "$LOG.gz" "$ZEEK" >/dev/null # warm the page cache

echo "| case | before s | after s | after/before (median of pairs) | before MiB | after MiB | same answer |"
echo "|---|---|---|---|---|---|---|"
for c in $CASES; do
  one "$A" /dev/null "$c" >/dev/null # warm-up
  : >"$WORK/a.s"; : >"$WORK/b.s"; : >"$WORK/r"; ka=0; kb=0
  for _ in $(seq "$RUNS"); do
    read -r sa ma < <(one "$A" "$WORK/a.out" "$c")
    read -r sb mb < <(one "$B" "$WORK/b.out" "$c")
    echo "$sa" >>"$WORK/a.s"; echo "$sb" >>"$WORK/b.s"
    python3 -c "print($sb / $sa)" >>"$WORK/r"
    (( ma > ka )) && ka=$ma; (( mb > kb )) && kb=$mb
  done
  same=$(cmp -s "$WORK/a.out" "$WORK/b.out" && echo yes || echo "**NO**")
  printf '| %s | %s | %s | %.2fx | %d | %d | %s |\n' "$c" "$(median <"$WORK/a.s")" \
    "$(median <"$WORK/b.s")" "$(median <"$WORK/r")" $((ka / 1024)) $((kb / 1024)) "$same"
done
