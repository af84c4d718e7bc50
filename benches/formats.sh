#!/usr/bin/env bash
# Log formats on 2 cores: Q2a on the Zeek TSV version of the batch benchmark log
# against DuckDB (read_csv with comment='#', delim='\t', the three columns by
# name), answers compared; Zeek JSON and VPC throughput (MB/s, lines/s).
# Run under the exclusive CPU lock:
#   flock -x /tmp/connspy-cpu.lock env DATA=/work/bench-data bash benches/formats.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bins --features gen
DATA=${DATA:-target/bench-data}
GEN=target/release/connspy-gen
CONNSPY=target/release/connspy
WORK=$(mktemp -d)
X=bababedeceso Y=bababijasavi
ZEEK=$DATA/log-100000000-1000000.zeek.log
SEED=(--hosts 1000000 --rate 385.8024691358025 --name_syllables 6 --seed 7)
[ -f "$ZEEK" ] || $GEN --lines 100000000 "${SEED[@]}" --log_format zeek -o "$ZEEK"
for f in zeek-json vpc; do
  [ -f "$DATA/log-10000000.$f.log" ] || $GEN --lines 10000000 "${SEED[@]}" --log_format $f -o "$DATA/log-10000000.$f.log"
done
# Runs a command (its stdout redirected by the caller) and leaves "SECS s, RSS MiB" in $T.
t() { /usr/bin/time -f "%e %M" -o "$WORK/time" "$@"; read -r s m < "$WORK/time"; T="$s s, $((m / 1024)) MiB"; }
cat "$ZEEK" > /dev/null
for run in 1 2; do
  t $CONNSPY --to_host $X --from_host $Y --busiest_from_host --hourly --format tsv --threads 2 "$ZEEK" > "$WORK/q2a.tsv"
  echo "connspy Q2a zeek: $T"
done
t python3 benches/zeek_q2a_duckdb.py "$ZEEK" $X $Y 2 > "$WORK/duck.tsv"
echo "duckdb  Q2a zeek: $T"
python3 - "$WORK/q2a.tsv" > "$WORK/ref.tsv" <<'PY'
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
cmp -s "$WORK/ref.tsv" "$WORK/duck.tsv" && echo "answers equal: yes ($(wc -l < "$WORK/ref.tsv") rows)" || echo "answers equal: NO"
for f in zeek-json vpc; do
  L=$DATA/log-10000000.$f.log
  cat "$L" > /dev/null
  t $CONNSPY --to_host $X --from_host $Y --busiest_from_host --hourly --format tsv --threads 2 "$L" 2>/dev/null >/dev/null
  s=$T; secs=${s%% s*}
  bytes=$(stat -c %s "$L"); lines=$(wc -l < "$L")
  python3 -c "print(f'$f: {$bytes/1e6:.0f} MB, {$lines} lines, $s: {$bytes/1e6/$secs:.0f} MB/s, {$lines/$secs/1e6:.1f} M lines/s')"
done
rm -rf "$WORK"
