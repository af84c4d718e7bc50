#!/usr/bin/env bash
# Partials benchmark (issue 8): --format partial against a normal run of the same
# query, and --merge of the partials of 8 parts against the direct run, on the 4 GB
# log; every comparison in the same run, medians of $RUNS runs.
#
#   DATA=/work/bench-data bash benches/partial.sh
#
# The 8 parts are cut two ways: consecutive (as per-period files are), and
# round-robin by line, so that every part spans every hour (the worst case for
# exact partials). The direct and partial runs of the whole log alternate.
# Prints a markdown report; docs/benchmarks.md holds the last one.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-100000000}
HOSTS=${HOSTS:-1000000}
RUNS=${RUNS:-3}
DATA=${DATA:-bench-data}
LOG=$DATA/log-$LINES-$HOSTS.txt
WORK=$(mktemp -d -p "${TMPDIR:-$DATA}")
# The parts are as large as the log: made for this run, removed after it.
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet --bins
[ -s "$LOG" ] || { echo "no $LOG: run benches/batch.sh first, it generates it" >&2; exit 1; }
for cut in l r; do
  mkdir -p "$WORK/parts8-$cut"
  split -n "$cut/8" -d -a 2 "$LOG" "$WORK/parts8-$cut/part"
done
cat "$LOG" >/dev/null

CONNSPY=./target/release/connspy
read -r X Y < <(sed -n 1000p "$LOG" | awk '{ print tolower($3), tolower($2) }')
source benches/measure.sh

q2a=(--to_host "$X" --from_host "$Y" --busiest_from_host --hourly --threads 2)
approx=(--approx "${q2a[@]}")

# partials NAME ARGS...: the partials of each part of both cuts, into $WORK/NAME-CUT.i
partials() {
  local name=$1; shift
  for cut in l r; do
    for i in 0 1 2 3 4 5 6 7; do
      "$CONNSPY" "$@" --format partial "$WORK/parts8-$cut/part0$i" > "$WORK/$name-$cut.$i"
    done
  done
}

# The direct and partial runs alternate: a partial run writes 232 MB, and
# back to back its runs would wait on the writeback of the one before.
runs=$RUNS; d=(); p=()
for r in $(seq "$runs"); do
  RUNS=1 measure "direct$r" "$WORK/direct.tsv" $CONNSPY "${q2a[@]}" --format tsv "$LOG"
  RUNS=1 measure "partial$r" "$WORK/whole.partial" $CONNSPY "${q2a[@]}" --format partial "$LOG"
  d+=("${SECS[direct$r]}"); p+=("${SECS[partial$r]}")
  RSS[direct]=$(( ${RSS[direct]:-0} > ${RSS[direct$r]} ? ${RSS[direct]:-0} : ${RSS[direct$r]} ))
  RSS[partial]=$(( ${RSS[partial]:-0} > ${RSS[partial$r]} ? ${RSS[partial]:-0} : ${RSS[partial$r]} ))
done
RUNS=$runs
SECS[direct]=$(printf '%s\n' "${d[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
SECS[partial]=$(printf '%s\n' "${p[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
echo "direct runs: ${d[*]}; partial runs: ${p[*]}" >&2
measure approx_direct "$WORK/approx.tsv" $CONNSPY "${approx[@]}" --format tsv "$LOG"
measure approx_partial "$WORK/approx.partial" $CONNSPY "${approx[@]}" --format partial "$LOG"
partials exact "${q2a[@]}"
partials approx "${approx[@]}"
measure merge_consecutive "$WORK/merge-l.tsv" $CONNSPY --merge --format tsv --threads 2 "$WORK"/exact-l.?
measure merge_all_hours "$WORK/merge-r.tsv" $CONNSPY --merge --format tsv --threads 2 "$WORK"/exact-r.?
measure approx_merge_consecutive "$WORK/amerge-l.tsv" $CONNSPY --merge --format tsv --threads 2 "$WORK"/approx-l.?
measure approx_merge_all_hours "$WORK/amerge-r.tsv" $CONNSPY --merge --format tsv --threads 2 "$WORK"/approx-r.?

same() { cmp -s "$1" "$2" && echo yes || echo "**NO**"; }
mib() { du -cb "$@" | tail -1 | awk '{ printf "%.1f", $1 / 1048576 }'; }
per_window() { cat "$@" | grep -vc '^summary' ; }
echo "## Partials: Q2a over the ${LINES}-line log, 8 parts (medians of $RUNS runs)"
echo
echo "| case | seconds | peak RSS MiB | vs the direct run |"
echo "|---|---|---|---|"
for n in direct partial merge_consecutive merge_all_hours; do
  echo "| exact $n | ${SECS[$n]} | ${RSS[$n]} | $(ratio "${SECS[$n]}" "${SECS[direct]}")x |"
done
for n in approx_direct approx_partial approx_merge_consecutive approx_merge_all_hours; do
  echo "| $n | ${SECS[$n]} | ${RSS[$n]} | $(ratio "${SECS[$n]}" "${SECS[approx_direct]}")x |"
done
echo
echo "- Exact merges equal the direct run: consecutive $(same "$WORK/merge-l.tsv" "$WORK/direct.tsv"), all hours $(same "$WORK/merge-r.tsv" "$WORK/direct.tsv")."
for kind in exact approx; do
  for cut in l r; do
    lines=$(per_window "$WORK/$kind-$cut".?)
    echo "- $kind partials, cut $cut: $(mib "$WORK/$kind-$cut".?) MiB in $lines window lines, $(python3 -c "print(f'{$(du -cb "$WORK/$kind-$cut".? | tail -1 | cut -f1) / $lines / 1024:.0f}')") KiB a window line."
  done
done
