#!/usr/bin/env python3
"""The busiest initiator of a `TS FROM TO` log with DuckDB, for benches/cardinality.sh:
prints `HOST<TAB>CONNECTIONS` (hosts lower-cased, ties to the smallest name), as
`connspy --busiest_from_host` ranks them.
usage: busiest_duckdb.py FILE [THREADS=2]"""
import sys

import duckdb

f = sys.argv[1]
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
con = duckdb.connect(config={"threads": threads})
src = (f"read_csv('{f}', delim=' ', header=false, quote='', escape='', auto_detect=false, "
       "columns={'ts':'BIGINT','src':'VARCHAR','dst':'VARCHAR'})")
host, n = con.execute(
    f"SELECT lower(src) AS s, count(*) AS n FROM {src} GROUP BY s ORDER BY n DESC, s LIMIT 1"
).fetchone()
sys.stdout.write(f"{host}\t{n}\n")
