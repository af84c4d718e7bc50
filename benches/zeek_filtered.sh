#!/usr/bin/env bash
# Issue 20's question side by side with DuckDB's SQL on the same Zeek TSV log:
# per 15-minute bin, the ten initiators that sent the most bytes to port 443
# of 10.0.0.0/16. The two alternate (connspy, DuckDB, connspy, ...) so that a
# drift of the machine hits both; each pair prints its wall times and ratio,
# then the median ratio, and whether the two answered the same rows.
#
#   DATA=/work/bench-data PYTHON=/work/venv/bin/python RUNS=5 \
#     bash benches/zeek_filtered.sh [CONNSPY_BINARY]
#
# Needs DATA/ips.zeek.log: 40M lines, half the hosts IPv4 in 10.0.0.0/8, half
# IPv6, made with
#   connspy-gen --lines 40000000 --hosts 1000000 --addresses mixed --rate 400 \
#     --log_format zeek > DATA/ips.zeek.log
# (connspy-gen is built with `cargo build --release --features gen`), a PYTHON
# with the `duckdb` package, and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=$(realpath "${1:-target/release/connspy}")
RUNS=${RUNS:-5}
DATA=${DATA:-bench-data}
PYTHON=${PYTHON:-python3}
LOG=$DATA/ips.zeek.log
[ -s "$LOG" ] || { echo "no $LOG: see the header of this script" >&2; exit 1; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

CONNSPY=(--busiest_from_host --by bytes --top 10 --bin 15m --to_net 10.0.0.0/16
  --to_port 443 --format tsv --threads 2)
DUCKDB=(benches/zeek_filtered_duckdb.py "$LOG" 10.0. 443 900 10 2 bytes)

# Warm the page cache, so that neither side reads the disk.
cat "$LOG" >/dev/null

ratios=()
for i in $(seq "$RUNS"); do
  /usr/bin/time -f %e -o "$WORK/c" "$BIN" "${CONNSPY[@]}" "$LOG" >"$WORK/c.out"
  /usr/bin/time -f %e -o "$WORK/d" "$PYTHON" "${DUCKDB[@]}" >"$WORK/d.out"
  c=$(tail -1 "$WORK/c"); d=$(tail -1 "$WORK/d")
  r=$(awk -v c="$c" -v d="$d" 'BEGIN { printf "%.2f", d / c }')
  ratios+=("$r")
  echo "pair $i: connspy $c s, DuckDB $d s, DuckDB/connspy ${r}x"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ v[NR] = $1 } END {
  print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
echo "median DuckDB/connspy: ${median}x over $RUNS pairs"

# connspy writes a bin's start in RFC 3339, DuckDB in Unix seconds.
"$PYTHON" - "$WORK/c.out" "$WORK/d.out" <<'EOF'
import calendar
import sys
import time

def connspy(line):
    start, _, host, value = line.rstrip("\n").split("\t")
    ts = calendar.timegm(time.strptime(start, "%Y-%m-%dT%H:%M:%SZ"))
    return (ts, host, int(value))

def duckdb(line):
    start, host, value = line.rstrip("\n").split("\t")
    return (int(start), host, int(value))

c = sorted(connspy(l) for l in open(sys.argv[1]))
d = sorted(duckdb(l) for l in open(sys.argv[2]))
print(f"same rows: {'yes' if c == d else 'NO'} ({len(c)} against {len(d)})")
EOF
