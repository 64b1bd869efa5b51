#!/bin/sh
# Turns a .sql file into a C string literal (one migration step per "-- migration N" block).
printf '/* generated from %s: do not edit */\n' "$1"
printf 'static const char schema_sqlite_sql[] =\n'
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/    "/' -e 's/$/\\n"/' "$1"
printf ';\n'
