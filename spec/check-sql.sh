#!/bin/sh
# Catalogue I-01: no SQL is ever built from user data. Every statement the
# C store runs must come from a constant: the SQL[] table, the migrations,
# a string literal, or a PRAGMA formatted from numbers only.
set -eu
cd "$(dirname "$0")/.."
bad=0
# sqlite3_prepare*: only SQL[id], a literal, or query_int's sql, whose
# callers pass literals
if grep -n 'sqlite3_prepare' core/src/*.c | grep -v 'SQL\[id\]' | grep -v '"' \
   | grep -v 'sqlite3_prepare_v2(L(s)->db, sql, -1, &st, NULL)'; then
  echo "check-sql: sqlite3_prepare with a non-constant statement"; bad=1
fi
if grep -n 'query_int(s, ' core/src/*.c | grep -v 'query_int(s, "'; then
  echo "check-sql: query_int with a non-constant statement"; bad=1
fi
# PostgreSQL (store_pg.c): every statement prepared from SQL[id]; PQexec
# only through once(), whose callers pass literals, migrations, or 'sql'
# made by snprintf from numbers; never PQexecParams or escaping (a query
# built from escaped caller data is still a query built from it)
if grep -n 'PQprepare(' core/src/*.c | grep -v 'SQL\[id\]'; then
  echo "check-sql: PQprepare with a non-constant statement"; bad=1
fi
if grep -n 'PQexec(' core/src/*.c | grep -v 'PQexec(P(s)->conn, sql)'; then
  echo "check-sql: PQexec outside once()"; bad=1
fi
if grep -n 'once(s, ' core/src/*.c | grep -v 'once(s, "' | grep -v 'once(s, sql,' | grep -v 'once(s, m,'; then
  echo "check-sql: once with a non-constant statement"; bad=1
fi
if grep -n 'PQexecParams\|PQescape\|PQsendQuery(' core/src/*.c; then
  echo "check-sql: dynamic SQL on PostgreSQL"; bad=1
fi
# sqlite3_exec: only through exec_sql(), whose callers pass literals,
# migrations, or 'sql' made by snprintf from numbers
if grep -n 'sqlite3_exec' core/src/*.c | grep -v 'sqlite3_exec(L(s)->db, sql, NULL, NULL, NULL)'; then
  echo "check-sql: sqlite3_exec outside exec_sql()"; bad=1
fi
if grep -n 'exec_sql(s, ' core/src/*.c | grep -v 'exec_sql(s, "' | grep -v 'exec_sql(s, sql,' \
   | grep -v 'exec_sql(s, fsec__migration_sql(v)' | grep -v 'exec_sql(s, cfg->synchronous'; then
  echo "check-sql: exec_sql with a non-constant statement"; bad=1
fi
# every snprintf into 'sql' uses numeric conversions only
if grep -n 'snprintf(sql' core/src/*.c | grep -E '%s|%\.\*s'; then
  echo "check-sql: SQL formatted from a string"; bad=1
fi
# no sqlite3_mprintf / string concatenation into statements
if grep -n 'sqlite3_mprintf\|sqlite3_str_' core/src/*.c; then
  echo "check-sql: dynamic SQL"; bad=1
fi
[ $bad -eq 0 ] && echo "check-sql: every statement is constant"
exit $bad
