#!/bin/sh
# Turns a .sql file into a C string literal (one migration step per "-- migration N" block).
# The symbol is the file's name: schema_sqlite.sql → schema_sqlite_sql, schema_pg.sql →
# schema_pg_sql.
name=$(basename "$1" .sql | tr -c 'A-Za-z0-9_\n' '_')_sql
printf '/* generated from %s: do not edit */\n' "$1"
printf 'static const char %s[] =\n' "$name"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$1"
printf ';\n'
