"""Throwaway PostgreSQL cluster for the C unit tests of the PostgreSQL store areas
(tests/unit/store/pg_fixture.h): starts services.PgServer, prints its URL on one line, keeps it
running until stdin reaches end of file (the test exited, however it exited), then removes it."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from services import PgServer  # noqa: E402

pg = PgServer()
try:
    print(pg.url, flush=True)
    sys.stdin.read()
finally:
    pg.close()
