"""CPU time of the PostgreSQL server process serving this process's connection.

Writing lists costs CPU here and in the database; on a shared machine wall time moves
with the load, CPU time much less. The benchmarks that write lists print both.
"""

import os
from pathlib import Path

from django.db import connection


def database_cpu() -> float | None:
    """CPU seconds used so far by the server process of this connection (PostgreSQL on
    this machine), from /proc; None where that cannot be read."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
