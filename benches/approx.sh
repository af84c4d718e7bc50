#!/usr/bin/env bash
# Approximate against exact mode: the same hourly run (--to_host --from_host
# --busiest_from_host) on logs from 10^3 to over 5*10^7 distinct hosts, both
# modes on the same file in one run. Writes a markdown report to stdout and the
# memory chart to docs/approx-memory.svg.
#
#   bash benches/approx.sh                 # every scale, up to 4 GB / 100M lines
#   SCALES="small" bash benches/approx.sh  # the two small scales only
#
# Needs: the Rust toolchain, GNU time (/usr/bin/time), python3.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-bench-data}
SCALES=${SCALES:-all}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cargo build --release --quiet --bins --features gen
mkdir -p "$DATA"
CONNSPY=./target/release/connspy

# name lines hosts zipf: the zipf exponent sets how many hosts actually appear.
scales=(
  "1e3 10000000 1000 1.1"
  "1e5 10000000 100000 1.1"
)
if [ "$SCALES" = all ]; then
  scales+=("1e6 100000000 1000000 1.1" "1e8 100000000 100000000 0.01")
fi

results=()
for scale in "${scales[@]}"; do
  read -r name lines hosts zipf <<<"$scale"
  log=$DATA/approx-$name.txt
  if [ ! -s "$log" ]; then
    echo "generating $log" >&2
    rate=$(python3 -c "print($lines / (72 * 3600))")
    ./target/release/connspy-gen --lines "$lines" --hosts "$hosts" --zipf "$zipf" \
      --rate "$rate" --name_syllables 6 --seed 11 -o "$log"
  fi
  cat "$log" >/dev/null
  read -r x y < <(sed -n 1000p "$log" | awk '{ print tolower($3), tolower($2) }')
  for mode in exact approx; do
    flags=(--to_host "$x" --from_host "$y" --busiest_from_host --hourly --format json)
    [ $mode = approx ] && flags+=(--approx)
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$WORK/rss" "$CONNSPY" "${flags[@]}" "$log" >"$WORK/$name-$mode.json" 2>"$WORK/$name-$mode.err"
    t1=$(date +%s.%N)
    secs=$(python3 -c "print(f'{$t1 - $t0:.2f}')")
    echo "$name $mode: $secs s, $(( $(tail -n1 "$WORK/rss") / 1024 )) MiB" >&2
    results+=("$name $lines $(stat -c %s "$log") $mode $secs $(tail -n1 "$WORK/rss") $WORK/$name-$mode.json")
  done
done
printf '%s\n' "${results[@]}" | python3 benches/approx_report.py docs/approx-memory.svg
