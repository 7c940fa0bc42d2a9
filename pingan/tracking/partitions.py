"""The fix table's days: on PostgreSQL, ``tracking_fix`` is partitioned by range of ``device_time``, one
partition per UTC day (``tracking_fix_pYYYYMMDD``) plus a default partition; migration 0002 makes it so.
Retention keeps ``PINGAN_TRACKING_RETENTION_DAYS`` of raw fixes; older ones are thinned to one per target per
``PINGAN_TRACKING_THIN_SECONDS`` or dropped (whole partitions on PostgreSQL), as
``PINGAN_TRACKING_OLD_FIXES`` says. On SQLite the same rules run as plain deletes.

Retention is the one exception to "fixes are append-only", and it runs only here.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.conf import settings
from django.db import connection, transaction

log = logging.getLogger("pingan.tracking")

PARTITION = re.compile(r"^tracking_fix_p(\d{8})$")
DAYS_AHEAD = 3

CREATE_PARTITIONED = """
DROP TABLE tracking_fix;
CREATE SEQUENCE IF NOT EXISTS tracking_fix_id_seq AS bigint;
CREATE TABLE tracking_fix (
    id bigint NOT NULL DEFAULT nextval('tracking_fix_id_seq'),
    device_time timestamp with time zone NOT NULL,
    received_at timestamp with time zone NOT NULL,
    lon double precision NOT NULL,
    lat double precision NOT NULL,
    accuracy_m double precision NOT NULL,
    fix_type varchar(4) NOT NULL,
    speed_kmh double precision NULL,
    heading double precision NULL,
    source varchar(12) NOT NULL,
    input_crs varchar(10) NOT NULL,
    raw_ref varchar(60) NOT NULL,
    device_id bigint NULL REFERENCES tracking_device (id) DEFERRABLE INITIALLY DEFERRED,
    target_id bigint NOT NULL REFERENCES tracking_target (id) DEFERRABLE INITIALLY DEFERRED,
    PRIMARY KEY (id, device_time),
    CONSTRAINT tracking_fix_once_per_device_time UNIQUE (device_id, device_time)
) PARTITION BY RANGE (device_time);
ALTER SEQUENCE tracking_fix_id_seq OWNED BY tracking_fix.id;
CREATE INDEX tracking_fix_target_time ON tracking_fix (target_id, device_time);
CREATE TABLE tracking_fix_default PARTITION OF tracking_fix DEFAULT;
"""


def is_partitioned() -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT relkind FROM pg_class WHERE relname = 'tracking_fix'")
        row = cur.fetchone()
    return bool(row and row[0] == "p")


def partition_days() -> list[dt.date]:
    with connection.cursor() as cur:
        cur.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'tracking_fix'")
        names = [r[0] for r in cur.fetchall()]
    return sorted(dt.datetime.strptime(m.group(1), "%Y%m%d").date() for n in names if (m := PARTITION.match(n)))


def ensure_partitions(now: dt.datetime, days_ahead: int = DAYS_AHEAD) -> list[str]:
    """Create the day partitions from today (UTC) to ``days_ahead`` days on. A day whose rows already sit in
    the default partition is left there (a partition cannot be attached over them); it is dropped or thinned
    with the default partition's rows."""
    if not is_partitioned():
        return []
    have = set(partition_days())
    made = []
    today = now.astimezone(dt.UTC).date()
    for offset in range(-1, days_ahead + 1):
        day = today + dt.timedelta(days=offset)
        if day in have:
            continue
        name = f"tracking_fix_p{day:%Y%m%d}"
        start, end = day.isoformat(), (day + dt.timedelta(days=1)).isoformat()
        with connection.cursor() as cur:
            cur.execute("SELECT 1 FROM tracking_fix_default WHERE device_time >= %s AND device_time < %s LIMIT 1",
                        [start, end])
            if cur.fetchone():
                continue
            cur.execute(f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF tracking_fix "  # noqa: S608 (name from a date)
                        f"FOR VALUES FROM ('{start} 00:00+00') TO ('{end} 00:00+00')")
        made.append(name)
    return made


def _thin(cutoff: dt.datetime, since: dt.datetime, seconds: int) -> int:
    """Delete the fixes in [since, cutoff) except the first per target per ``seconds`` bucket."""
    if connection.vendor == "postgresql":
        bucket = f"floor(extract(epoch from device_time) / {int(seconds)})"
    else:
        bucket = f"(CAST(strftime('%%s', device_time) AS INTEGER) / {int(seconds)})"  # %% survives the placeholders"
    sql = (f"DELETE FROM tracking_fix WHERE device_time >= %s AND device_time < %s AND id NOT IN ("  # noqa: S608
           f"SELECT MIN(id) FROM tracking_fix WHERE device_time >= %s AND device_time < %s "
           f"GROUP BY target_id, {bucket})")
    with connection.cursor() as cur:
        cur.execute(sql, [since, cutoff, since, cutoff])
        return cur.rowcount


def enforce_retention(now: dt.datetime) -> dict[str, int]:
    """Thin or drop what is older than the retention; create the coming days' partitions."""
    days = int(settings.PINGAN_TRACKING_RETENTION_DAYS)
    mode = settings.PINGAN_TRACKING_OLD_FIXES
    cutoff = (now - dt.timedelta(days=days)).astimezone(dt.UTC)
    done = {"dropped_partitions": 0, "deleted": 0}
    with transaction.atomic():
        if is_partitioned() and mode == "drop":
            for day in partition_days():
                if day + dt.timedelta(days=1) <= cutoff.date():
                    with connection.cursor() as cur:
                        cur.execute(f"DROP TABLE tracking_fix_p{day:%Y%m%d}")
                    done["dropped_partitions"] += 1
        if mode == "drop":
            with connection.cursor() as cur:
                cur.execute("DELETE FROM tracking_fix WHERE device_time < %s", [cutoff])
                done["deleted"] += cur.rowcount
        else:
            # Thin the last two days that crossed the line (the job runs hourly; thinning is idempotent).
            done["deleted"] += _thin(cutoff, cutoff - dt.timedelta(days=2), int(settings.PINGAN_TRACKING_THIN_SECONDS))
        ensure_partitions(now)
    if done["deleted"] or done["dropped_partitions"]:
        log.info("retention: %s", done)
    return done
