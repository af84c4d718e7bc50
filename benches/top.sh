#!/usr/bin/env bash
# Top talkers: what `--busiest_to_host --top 10` adds to Q2a, exact and
# approximate, on the batch benchmark's log, every case in the same run,
# medians of $RUNS runs; and approximate mode's peak RSS against its budget.
#
#   bash benches/top.sh                       # the 4 GB log of benches/batch.sh
#   LINES=1000000 bash benches/top.sh         # a quick smaller run
#
# Needs: the Rust toolchain, GNU time (/usr/bin/time). Prints a markdown
# report; docs/benchmarks.md holds the last one.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-100000000}
HOSTS=${HOSTS:-1000000}
RUNS=${RUNS:-3}
DATA=${DATA:-bench-data}
BUDGET=${BUDGET:-256}
RATE=$(python3 -c "print($LINES / (72 * 3600))")
LOG=$DATA/log-$LINES-$HOSTS.txt
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cargo build --release --quiet --bins --features gen
mkdir -p "$DATA"
if [ ! -s "$LOG" ]; then
  echo "generating $LOG" >&2
  ./target/release/connspy-gen --lines "$LINES" --hosts "$HOSTS" --rate "$RATE" \
    --name_syllables 6 --seed 7 -o "$LOG"
fi
cat "$LOG" >/dev/null # warm the page cache

CONNSPY=./target/release/connspy
read -r X Y < <(sed -n 1000p "$LOG" | awk '{ print tolower($3), tolower($2) }')
Q2A=(--to_host "$X" --from_host "$Y" --busiest_from_host --hourly --format json --threads 2)
TOP=(--busiest_to_host --top 10)

source benches/measure.sh

measure exact "$WORK/exact.json" "$CONNSPY" "${Q2A[@]}" "$LOG"
measure exact_top "$WORK/exact_top.json" "$CONNSPY" "${Q2A[@]}" "${TOP[@]}" "$LOG"
measure approx "$WORK/approx.json" "$CONNSPY" --approx --memory_limit "$BUDGET" "${Q2A[@]}" "$LOG"
measure approx_top "$WORK/approx_top.json" "$CONNSPY" --approx --memory_limit "$BUDGET" "${Q2A[@]}" "${TOP[@]}" "$LOG"

# The leader of every hour is unchanged by asking for more, and the exact and
# approximate top-10 lists agree wherever the approximate one is guaranteed.
CHECKS=$(python3 - "$WORK" <<'PY'
import json, sys
w = sys.argv[1]
load = lambda n: [json.loads(l) for l in open(f"{w}/{n}.json")]
exact, exact_top, approx_top = load("exact"), load("exact_top"), load("approx_top")
keys = ("host", "connections", "tied", "initiators")
same = all(
    {k: a["busiest_from_host"][k] for k in keys} == {k: b["busiest_from_host"][k] for k in keys}
    for a, b in zip(exact, exact_top)
)
guaranteed = wrong = 0
for e, a in zip(exact_top, approx_top):
    for side in ("busiest_from_host", "busiest_to_host"):
        truth = {t["host"] for t in e[side]["top"]}
        for t in a[side]["top"]:
            if t["guaranteed"]:
                guaranteed += 1
                wrong += t["host"] not in truth
print(f"- leaders with --top 10 = without: {'yes' if same else '**NO**'}")
print(f"- approximate hosts marked guaranteed: {guaranteed}, of which outside the exact top 10: {wrong}")
PY
)

cat <<MD
### Top talkers, $(date -u +%Y-%m-%d), $(nproc) cores

Log: \`$LOG\`, $LINES lines, $HOSTS hosts over 72 h (the batch benchmark's log).
Q2a = \`--to_host $X --from_host $Y --busiest_from_host --hourly --format json --threads 2\`;
"+ top" adds \`--busiest_to_host --top 10\`. Approximate runs use \`--approx --memory_limit $BUDGET\`.
Median of $RUNS runs, warm page cache. Command: \`LINES=$LINES HOSTS=$HOSTS RUNS=$RUNS bash benches/top.sh\`

| case | seconds | peak RSS MiB | note |
|---|---|---|---|
| exact Q2a | ${SECS[exact]} | ${RSS[exact]} | |
| exact Q2a + top | ${SECS[exact_top]} | ${RSS[exact_top]} | $(ratio "${SECS[exact_top]}" "${SECS[exact]}")x Q2a |
| approx Q2a | ${SECS[approx]} | ${RSS[approx]} | |
| approx Q2a + top | ${SECS[approx_top]} | ${RSS[approx_top]} | $(ratio "${SECS[approx_top]}" "${SECS[approx]}")x Q2a; budget $BUDGET MiB + 16 MiB overhead = $((BUDGET + 16)) MiB |

$CHECKS
MD
