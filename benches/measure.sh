# Sourced by the benchmark scripts: timing and ratios, the same way everywhere.
# Needs $RUNS (runs per case) and $WORK (a scratch directory) set by the caller.

declare -A SECS RSS

# measure NAME OUTFILE CMD...: runs CMD $RUNS times with its stdout in OUTFILE;
# records the median wall time in SECS[NAME] and the largest peak RSS (MiB) in
# RSS[NAME].
measure() {
  local name=$1 out=$2; shift 2
  local times=() peak=0
  for _ in $(seq "$RUNS"); do
    local t0 t1 m
    t0=$(date +%s.%N)
    /usr/bin/time -f "%M" -o "$WORK/time" "$@" >"$out"
    t1=$(date +%s.%N)
    m=$(tail -n 1 "$WORK/time")
    times+=("$(python3 -c "print(f'{$t1 - $t0:.3f}')")"); (( m > peak )) && peak=$m
  done
  SECS[$name]=$(printf '%s\n' "${times[@]}" | sort -g | sed -n "$(( (RUNS + 1) / 2 ))p")
  RSS[$name]=$((peak / 1024))
  echo "$name: ${SECS[$name]} s, ${RSS[$name]} MiB" >&2
}

# ratio A B: A / B to two decimals.
ratio() { python3 -c "print(f'{$1 / $2:.2f}' if $2 > 0 else 'n/a')"; }
