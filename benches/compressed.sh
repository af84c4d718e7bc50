#!/usr/bin/env bash
# Compressed-input benchmark: Q2a on the batch benchmark log written as gzip and
# zstd, against the decoding floor (benches/decode_floor.rs, the same decoder
# alone), `gzip -dc`/`zstd -dc`, and the plain file; eight .gz files against
# `zcat` of them piped into connspy. Medians of $RUNS runs, peak RSS.
#
#   DATA=/work/bench-data bash benches/compressed.sh
#
# Needs the plain log of benches/batch.sh (same LINES, HOSTS, DATA); writes
# LOG.gz (eight gzip -6 members, one per eighth of the log, so the eight-file
# case reuses them), LOG.zst (zstd -3) and DATA/gz8/ once, and reuses them.
# Needs gzip, zstd, GNU time. Prints a markdown report.
set -euo pipefail
cd "$(dirname "$0")/.."

LINES=${LINES:-100000000}
HOSTS=${HOSTS:-1000000}
RUNS=${RUNS:-3}
DATA=${DATA:-bench-data}
LOG=$DATA/log-$LINES-$HOSTS.txt
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
[ -s "$LOG" ] || { echo "no $LOG: run benches/batch.sh first" >&2; exit 1; }

cargo build --release --quiet --bins --features gen
cargo bench --quiet --bench decode_floor --no-run 2>/dev/null
if [ ! -s "$LOG.gz" ]; then
  echo "writing $DATA/gz8 and $LOG.gz" >&2
  mkdir -p "$DATA/gz8"
  (cd "$DATA/gz8" && split -n l/8 -d "../$(basename "$LOG")" part && gzip -6 part0?)
  cat "$DATA"/gz8/part0?.gz >"$LOG.gz"
fi
[ -s "$LOG.zst" ] || zstd -3 -q -T1 "$LOG" -o "$LOG.zst"
GZ8=("$DATA"/gz8/part0?.gz)
cat "$LOG" "$LOG.gz" "$LOG.zst" "${GZ8[@]}" >/dev/null # warm the page cache

CONNSPY=./target/release/connspy
read -r X Y < <(sed -n 1000p "$LOG" | awk '{ print tolower($3), tolower($2) }')
Q2A=(--to_host "$X" --from_host "$Y" --busiest_from_host --hourly --format tsv --threads 2)

source benches/measure.sh
floor() { cargo bench --quiet --bench decode_floor -- "$1" 2>/dev/null | awk '/decode_floor/ { print $4 }'; }

SECS[floor_gz]=$(floor "$LOG.gz")
SECS[floor_zst]=$(floor "$LOG.zst")
measure plain "$WORK/plain.tsv" $CONNSPY "${Q2A[@]}" "$LOG"
measure gz "$WORK/gz.tsv" $CONNSPY "${Q2A[@]}" "$LOG.gz"
measure zst "$WORK/zst.tsv" $CONNSPY "${Q2A[@]}" "$LOG.zst"
measure gzip_dc /dev/null gzip -dc "$LOG.gz"
measure zstd_dc /dev/null zstd -dcf "$LOG.zst" # -f: the log may be a symbolic link
measure gz8 "$WORK/gz8.tsv" $CONNSPY "${Q2A[@]}" "${GZ8[@]}"
measure zcat8 "$WORK/zcat8.tsv" sh -c "zcat ${GZ8[*]} | $CONNSPY ${Q2A[*]}"

checks=()
for c in gz zst gz8 zcat8; do
  cmp -s "$WORK/plain.tsv" "$WORK/$c.tsv" && checks+=("Q2a on $c = Q2a on the plain file: yes") \
    || checks+=("Q2a on $c = Q2a on the plain file: **NO**")
done

row() { printf '| %s | %s | %s | %s |\n' "$1" "${SECS[$2]}" "${RSS[$2]:-}" "$3"; }
cat <<EOT
### Compressed input, $(date -u +%Y-%m-%d), $(nproc) cores

Log: \`$LOG\` ($(du -hL "$LOG" | cut -f1)) as \`.gz\` ($(du -hL "$LOG.gz" | cut -f1), eight \`gzip -6\`
members) and \`.zst\` ($(du -hL "$LOG.zst" | cut -f1), \`zstd -3\`, one frame); eight files: its eighths,
each \`gzip -6\`. Q2a = \`${Q2A[*]}\`.
Median of $RUNS runs, warm page cache.
Command: \`LINES=$LINES HOSTS=$HOSTS RUNS=$RUNS bash benches/compressed.sh\`

| case | seconds | peak RSS MiB | note |
|---|---|---|---|
| decode floor, gzip (\`benches/decode_floor.rs\`, best of 3) | ${SECS[floor_gz]} | | |
| decode floor, zstd | ${SECS[floor_zst]} | | |
EOT
row "Q2a, plain file" plain ""
row "Q2a, .gz" gz "$(ratio "${SECS[gz]}" "${SECS[floor_gz]}")x the decode floor (bar: at most 1.15x)"
row "\`gzip -dc FILE >/dev/null\`" gzip_dc "Q2a on .gz is $(ratio "${SECS[gzip_dc]}" "${SECS[gz]}")x faster (bar: above 1)"
row "Q2a, .zst" zst "$(ratio "${SECS[zst]}" "${SECS[floor_zst]}")x the decode floor (bar: at most 1.15x)"
row "\`zstd -dc FILE >/dev/null\`" zstd_dc "Q2a on .zst is $(ratio "${SECS[zstd_dc]}" "${SECS[zst]}")x faster (bar: above 1)"
row "Q2a, eight .gz files" gz8 ""
row "\`zcat\` of them \`| connspy\` Q2a" zcat8 "eight files are $(ratio "${SECS[zcat8]}" "${SECS[gz8]}")x faster (bar: at least 1.6x)"
echo
echo "- peak RSS: plain ${RSS[plain]} MiB, .gz ${RSS[gz]} MiB, .zst ${RSS[zst]} MiB, eight .gz ${RSS[gz8]} MiB (bar: not above plain)"
printf -- '- %s\n' "${checks[@]}"
