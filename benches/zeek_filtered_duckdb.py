#!/usr/bin/env python3
"""The analyst's question with DuckDB on a Zeek TSV conn.log, one scan: per bin of BIN seconds,
the TOP busiest initiators (ties to the smallest name) among connections to port PORT of the
IPv4 network given as a dotted PREFIX (`10.0.` for 10.0.0.0/16), ranked by connections or by
the bytes of their connections (MEASURE `bytes`: orig_bytes + resp_bytes, unset counting 0), as
rows `BIN_START<TAB>HOST<TAB>VALUE`. Columns by name from the file's #fields line; ts in
seconds.
usage: zeek_filtered_duckdb.py FILE PREFIX PORT BIN TOP [THREADS=2] [MEASURE=connections]"""
import sys
import duckdb

from zeek_duckdb import zeek_source

f, prefix, port, width, top = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
threads = int(sys.argv[6]) if len(sys.argv) > 6 else 2
measure = sys.argv[7] if len(sys.argv) > 7 else "connections"
value = {
    "connections": "count(*)",
    "bytes": 'sum(coalesce(TRY_CAST("orig_bytes" AS UBIGINT), 0) '
             '+ coalesce(TRY_CAST("resp_bytes" AS UBIGINT), 0))',
}[measure]
con = duckdb.connect(config={"threads": threads})
src = zeek_source(f)
sql = f"""
SELECT b * {width} AS bin, s, n FROM (
  SELECT CAST(floor(ts / {width}) AS BIGINT) AS b, lower("id.orig_h") AS s, {value} AS n
  FROM {src}
  WHERE "id.resp_h" LIKE $prefix || '%' AND "id.resp_p" = $port
  GROUP BY b, s
  QUALIFY row_number() OVER (PARTITION BY b ORDER BY n DESC, s) <= {top})
ORDER BY bin, n DESC, s
"""
rows = con.execute(sql, {"prefix": prefix, "port": str(port)}).fetchall()
sys.stdout.write("".join(f"{b}\t{s}\t{n}\n" for b, s, n in rows))
