#!/usr/bin/env python3
"""A naive, independent reference for the database and backup inventory (databases.list /
backups.list / backups.overdue), written from EVENTS.md and QUERIES.md only: it replays
database.provisioned / database.deprovisioned / backup.schedule_set / backup.started /
backup.completed / backup.failed / backup.restored events from a stored-event file (NDJSON, one
event a line, as `hindsight read` prints them), in seq order, up to a moment, and prints one JSON
object, every time in integer milliseconds since the Unix epoch (or null). Standard library only.

    naive_databases.py EVENTS.ndjson (--at-seq N | --at-time RFC3339 | --now-ms MS)
                       (--databases [--project PRJ] | --backups DATABASE | --overdue)

The moment: --at-seq N replays the events with seq <= N and evaluates at the occurredAt of the
event with seq N; --at-time t replays the events whose occurredAt <= t (compared exactly) and
evaluates at t; --now-ms MS replays every event and evaluates at MS.

Replay: a provisioning starts a fresh database record (replacing any earlier one of that id; its
schedule goes, the backups, keyed by backup id, stay). Deprovisioning marks a provisioned record.
A schedule applies to a database with a record. backup.started creates a backup (a second start of
the same id is ignored); completed / failed finish a started backup, or create the backup (with no
start) when its id is unknown; restored appends to a known backup's restores.

--databases: {"databases": [...]} by database id, optionally of one project, with the schedule
and the greatest startedAt / completedAt / failedAt of the database's backups.
--backups DATABASE: {"backups": [...]} of that database, by (startedSeq, else the seq of the
event that created the backup), then backup id.
--overdue: {"databases": [...]} by database id: provisioned, scheduled databases with
T - (lastCompletedAt, else firstScheduledAt) > everyHours hours; overdueMs is the excess.
Exit 2 for bad arguments, 1 for an unreadable or malformed event file.
"""
import argparse
import datetime
import json
import math
import re
import sys
from fractions import Fraction

HOUR_MS = 3600000

RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_time(text):
    """An RFC 3339 timestamp as an exact Fraction of milliseconds since the epoch."""
    if not isinstance(text, str):
        raise ValueError(f"not a timestamp: {text!r}")
    m = RFC3339.match(text)
    if not m:
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, zone = m.group(7), m.group(8)
    leap = 0
    if second == 60:  # a leap second: counted as the first second of the next minute
        second, leap = 59, 1
    if zone in ("Z", "z"):
        tz = datetime.timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            raise ValueError(f"bad offset in {text!r}")
        tz = datetime.timezone(sign * datetime.timedelta(hours=zh, minutes=zm))
    # datetime validates the calendar fields (month lengths, leap years, ranges).
    moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=tz)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    delta = moment - epoch
    whole_seconds = delta.days * 86400 + delta.seconds + leap  # microseconds are 0 here
    frac = Fraction(int(fraction), 10 ** len(fraction)) if fraction else Fraction(0)
    return (whole_seconds + frac) * 1000


def to_ms(exact):
    return math.floor(exact)


def fail_args(parser, message):
    parser.error(message)  # prints usage and message on stderr, exits 2


def fail_input(message):
    print(f"naive_databases.py: {message}", file=sys.stderr)
    sys.exit(1)


def parse_int(text):
    if not re.fullmatch(r"[+-]?\d+", text):
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    return int(text)


def parse_time_arg(text):
    try:
        return parse_time(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def load_events(path):
    events = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    event = json.loads(line)
                except json.JSONDecodeError as e:
                    fail_input(f"{path}:{number}: not JSON: {e}")
                if not isinstance(event, dict):
                    fail_input(f"{path}:{number}: not a JSON object")
                seq = event.get("seq")
                if not isinstance(seq, int) or isinstance(seq, bool):
                    fail_input(f"{path}:{number}: no integer seq")
                try:
                    event["_at"] = parse_time(event.get("occurredAt"))
                except ValueError as e:
                    fail_input(f"{path}:{number}: occurredAt: {e}")
                event["_line"] = number
                events.append(event)
    except OSError as e:
        fail_input(f"cannot read {path}: {e}")
    events.sort(key=lambda e: e["seq"])  # stable; the file should already be in seq order
    return events


NUMBER = (int, float)


def field(event, name, kind, optional=False):
    data = event.get("data")
    if not isinstance(data, dict):
        fail_input(f"line {event['_line']}: {event.get('type')} without a data object")
    if name not in data or data[name] is None:
        if optional:
            return None
        fail_input(f"line {event['_line']}: {event.get('type')} without data.{name}")
    value = data[name]
    if not isinstance(value, kind) or isinstance(value, bool):
        fail_input(f"line {event['_line']}: {event.get('type')} data.{name} has the wrong type")
    return value


def replay(events):
    databases = {}
    backups = {}
    for event in events:
        kind = event.get("type")
        at = to_ms(event["_at"])
        if kind == "database.provisioned":
            database = field(event, "database", str)
            databases[database] = {
                "database": database,
                "project": field(event, "project", str),
                "org": event.get("org"),
                "engine": field(event, "engine", str),
                "plan": field(event, "plan", str),
                "region": field(event, "region", str),
                "provisionedAt": at,
                "provisionedSeq": event["seq"],
                "status": "provisioned",
                "deprovisionedAt": None,
                "schedule": None,
                "scheduleSetAt": None,
                "firstScheduledAt": None,
            }
        elif kind == "database.deprovisioned":
            database = field(event, "database", str)
            record = databases.get(database)
            if record is not None and record["status"] == "provisioned":
                record["status"] = "deprovisioned"
                record["deprovisionedAt"] = at
        elif kind == "backup.schedule_set":
            database = field(event, "database", str)
            every = field(event, "everyHours", NUMBER)
            retention = field(event, "retentionDays", NUMBER)
            record = databases.get(database)
            if record is not None:
                record["schedule"] = {"everyHours": every, "retentionDays": retention}
                record["scheduleSetAt"] = at
                if record["firstScheduledAt"] is None:
                    record["firstScheduledAt"] = at
        elif kind in ("backup.started", "backup.completed", "backup.failed"):
            backup = field(event, "backup", str)
            database = field(event, "database", str)
            if kind == "backup.completed":
                size = field(event, "bytes", NUMBER)
                digest = field(event, "sha256", str)
            elif kind == "backup.failed":
                reason = field(event, "reason", str)
            record = backups.get(backup)
            if record is None:
                record = {
                    "backup": backup,
                    "database": database,
                    "status": "started",
                    "startedAt": None,
                    "startedSeq": None,
                    "createdSeq": event["seq"],
                    "completedAt": None,
                    "failedAt": None,
                    "bytes": None,
                    "sha256": None,
                    "reason": None,
                    "restores": [],
                }
                backups[backup] = record
                if kind == "backup.started":
                    record["startedAt"] = at
                    record["startedSeq"] = event["seq"]
            elif kind == "backup.started" or record["status"] != "started":
                continue  # a second start, or a finish of a backup already finished
            if kind == "backup.completed":
                record["status"] = "completed"
                record["completedAt"] = at
                record["bytes"] = size
                record["sha256"] = digest
            elif kind == "backup.failed":
                record["status"] = "failed"
                record["failedAt"] = at
                record["reason"] = reason
        elif kind == "backup.restored":
            backup = field(event, "backup", str)
            field(event, "database", str)
            target = field(event, "target", str)
            if backup in backups:
                backups[backup]["restores"].append({"at": at, "seq": event["seq"], "target": target})
    return databases, backups


def latest(backups, database, key):
    values = [b[key] for b in backups.values() if b["database"] == database and b[key] is not None]
    return max(values) if values else None


def main():
    parser = argparse.ArgumentParser(prog="naive_databases.py", description="naive database and backup inventory")
    parser.add_argument("events")
    moment = parser.add_mutually_exclusive_group(required=True)
    moment.add_argument("--at-seq", type=parse_int)
    moment.add_argument("--at-time", type=parse_time_arg)
    moment.add_argument("--now-ms", type=parse_int)
    question = parser.add_mutually_exclusive_group(required=True)
    question.add_argument("--databases", action="store_true")
    question.add_argument("--backups", metavar="DATABASE")
    question.add_argument("--overdue", action="store_true")
    parser.add_argument("--project")
    args = parser.parse_args()
    if args.project is not None and not args.databases:
        fail_args(parser, "--project goes only with --databases")

    events = load_events(args.events)
    if args.at_seq is not None:
        at = [e for e in events if e["seq"] == args.at_seq]
        if not at:
            fail_args(parser, f"--at-seq {args.at_seq}: no event with that seq in {args.events}")
        now = to_ms(at[0]["_at"])
        chosen = [e for e in events if e["seq"] <= args.at_seq]
    elif args.at_time is not None:
        now = to_ms(args.at_time)
        chosen = [e for e in events if e["_at"] <= args.at_time]
    else:
        now = args.now_ms
        chosen = events

    databases, backups = replay(chosen)

    if args.databases:
        out = []
        for database_id in sorted(databases):
            d = databases[database_id]
            if args.project is not None and d["project"] != args.project:
                continue
            schedule = d["schedule"]
            out.append({
                "database": database_id,
                "project": d["project"],
                "org": d["org"],
                "engine": d["engine"],
                "plan": d["plan"],
                "region": d["region"],
                "status": d["status"],
                "provisionedAt": d["provisionedAt"],
                "deprovisionedAt": d["deprovisionedAt"],
                "everyHours": schedule["everyHours"] if schedule else None,
                "retentionDays": schedule["retentionDays"] if schedule else None,
                "lastStartedAt": latest(backups, database_id, "startedAt"),
                "lastCompletedAt": latest(backups, database_id, "completedAt"),
                "lastFailedAt": latest(backups, database_id, "failedAt"),
            })
        print(json.dumps({"databases": out}))
    elif args.backups is not None:
        mine = [b for b in backups.values() if b["database"] == args.backups]
        mine.sort(key=lambda b: (b["startedSeq"] if b["startedSeq"] is not None else b["createdSeq"], b["backup"]))
        out = [{
            "backup": b["backup"],
            "database": b["database"],
            "status": b["status"],
            "startedAt": b["startedAt"],
            "completedAt": b["completedAt"],
            "failedAt": b["failedAt"],
            "bytes": b["bytes"],
            "sha256": b["sha256"],
            "reason": b["reason"],
            "restores": [dict(r) for r in b["restores"]],
        } for b in mine]
        print(json.dumps({"backups": out}))
    else:
        out = []
        for database_id in sorted(databases):
            d = databases[database_id]
            if d["status"] != "provisioned" or d["schedule"] is None:
                continue
            every = d["schedule"]["everyHours"]
            last_completed = latest(backups, database_id, "completedAt")
            reference = last_completed if last_completed is not None else d["firstScheduledAt"]
            excess = Fraction(now - reference) - Fraction(every) * HOUR_MS  # exact, even for a fractional everyHours
            if excess > 0:
                out.append({
                    "database": database_id,
                    "project": d["project"],
                    "everyHours": every,
                    "lastCompletedAt": last_completed,
                    "overdueMs": to_ms(excess),
                })
        print(json.dumps({"databases": out}))


main()
