#!/usr/bin/env bash
# The Spark test (issue 8): runs examples/spark/connspy_spark.py on local[2], bound to
# 127.0.0.1, over a connspy-gen log split into files, and checks its answers against
# connspy run on one machine (tests/spark/spark_test.py says what is checked).
#
# Needs python3 (3.9+) with venv, Java 17+, and PyPI for the first install.
# Environment:
#   CONNSPY_SPARK_VENV  the virtual environment to make or reuse [target/spark-venv]
#   CONNSPY_PROFILE     the cargo profile whose binaries are tested: debug or release [debug]
#   CONNSPY_SPARK_KEEP  set to keep the work directory for inspection
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
venv=${CONNSPY_SPARK_VENV:-$root/target/spark-venv}
profile=${CONNSPY_PROFILE:-debug}
start=$SECONDS
say() { printf '[spark test %4ss] %s\n' "$((SECONDS - start))" "$*"; }

command -v java >/dev/null || { echo "tests/spark/run.sh: no java on PATH (Spark needs Java 17+)" >&2; exit 2; }

say "virtual environment $venv"
[ -x "$venv/bin/python" ] || timeout 300 python3 -m venv "$venv"
timeout 1200 "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -r tests/spark/requirements.txt
say "installed: $("$venv/bin/python" -c 'from importlib.metadata import version as v; print("pyspark", v("pyspark"), "datasketches", v("datasketches"))')"

# The cargo lock is the team's CPU share on a shared machine; it is harmless in CI.
cargo_flags=(--bins --features gen --quiet)
[ "$profile" = release ] && cargo_flags+=(--release)
timeout 1800 flock -s /tmp/connspy-cpu.lock cargo build "${cargo_flags[@]}"
bin="$root/target/$profile"
say "built $bin/connspy"

work=$(mktemp -d "${TMPDIR:-/tmp}/connspy-spark-test.XXXXXX")
if [ -z "${CONNSPY_SPARK_KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else say "work directory $work"; fi

export SPARK_LOCAL_IP=127.0.0.1
status=0
timeout 900 flock -s /tmp/connspy-cpu.lock "$venv/bin/python" tests/spark/spark_test.py \
    --connspy "$bin/connspy" --connspy-gen "$bin/connspy-gen" --work "$work" || status=$?
say "done, exit $status"
exit "$status"
