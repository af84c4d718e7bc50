"""Shared by the Zeek DuckDB benches: a Zeek TSV conn.log as a DuckDB table expression."""


def zeek_source(f):
    """`read_csv` over FILE with its columns named by its #fields line, every one VARCHAR
    but `ts` (DOUBLE seconds); `#` lines skipped, no quoting, as Zeek writes."""
    with open(f) as fh:
        names = next(l for l in fh if l.startswith("#fields")).rstrip("\n").split("\t")[1:]
    cols = ", ".join(f"'{n}': 'VARCHAR'" for n in names).replace("'ts': 'VARCHAR'", "'ts': 'DOUBLE'")
    return (f"read_csv('{f}', delim='\\t', comment='#', header=false, quote='', escape='', "
            f"auto_detect=false, columns={{{cols}}})")
