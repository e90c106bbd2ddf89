/* fuzz_http_pg: the HTTP fuzz target (fuzz_http.c) against a real
 * PostgreSQL, $SKYVISOR_FUZZ_DB, instead of the stand-in; run by
 * `make fuzz-http-pg` (tests/fuzz/fuzz_http_pg.py starts the database). */
#define FUZZ_HTTP_PG 1
#include "tests/fuzz/fuzz_http.c"
