#!/usr/bin/env python3
"""Q2a with DuckDB on a Zeek TSV conn.log, one scan (rows as the reference q2a_duckdb.py).
Columns by name from the file's #fields line; ts in seconds.
usage: zeek_q2a_duckdb.py FILE X Y [THREADS=2]"""
import sys
import duckdb

from zeek_duckdb import zeek_source

f, x, y = sys.argv[1], sys.argv[2].lower(), sys.argv[3].lower()
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
con = duckdb.connect(config={"threads": threads})
src = zeek_source(f)
sql = f"""
WITH l AS (SELECT CAST(floor(ts / 3600) AS BIGINT) AS h, lower("id.orig_h") AS s,
                  lower("id.resp_h") AS d FROM {src}),
g AS MATERIALIZED (
  SELECT h, s, CASE WHEN s = $y THEN d END AS yd, count(*) AS n, bool_or(d = $x) AS tox
  FROM l GROUP BY ALL),
most AS (SELECT h, s, sum(n) AS n FROM g GROUP BY h, s
         QUALIFY row_number() OVER (PARTITION BY h ORDER BY sum(n) DESC, s) = 1)
SELECT h * 3600 AS hour, 'TO' AS kind, s AS host, NULL::BIGINT AS n FROM g WHERE tox GROUP BY h, s
UNION ALL SELECT h * 3600, 'FROM', yd, NULL FROM g WHERE yd IS NOT NULL
UNION ALL SELECT h * 3600, 'MOST', s, n FROM most
ORDER BY hour, kind, host
"""
rows = con.execute(sql, {"x": x, "y": y}).fetchall()
w = sys.stdout.write
for hour, kind, host, n in rows:
    w(f"{hour}\t{kind}\t{host}\t{n}\n" if n is not None else f"{hour}\t{kind}\t{host}\n")
