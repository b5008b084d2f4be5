#!/usr/bin/env python3
"""A naive, independent reference for the project settings inventory (settings.env /
settings.domains), written from EVENTS.md and QUERIES.md only: it replays env_var.set /
env_var.removed / domain.added / domain.verified / domain.removed events from a stored-event file
(NDJSON, one event a line, as `hindsight read` prints them), in seq order, up to a moment, and
prints one JSON object, every time in integer milliseconds since the Unix epoch (or null).
Standard library only.

    naive_settings.py EVENTS.ndjson (--at-seq N | --at-time RFC3339 | --now-ms MS)
                      (--env PROJECT [--target T] | --domains [--project PRJ])

The moment: --at-seq N replays the events with seq <= N; --at-time t replays the events whose
occurredAt <= t (compared exactly); --now-ms MS replays every event.

Replay: env_var.set sets (creates or replaces) the variable (project, key, target), keeping
secret, valueFingerprint, setBy / setByKind (the actor), setAt and setSeq, never the value;
env_var.removed drops a variable that is set. domain.added starts a fresh, unverified record
(replacing any earlier one); domain.verified marks a present domain verified (method,
verifiedAt; a later verification replaces an earlier one); domain.removed drops a present domain.

--env PROJECT [--target T]: {"variables": [...]} of that project (and target), by (key, target).
--domains [--project PRJ]: {"domains": [...]} present, optionally of one project, by domain.
Exit 2 for bad arguments, 1 for an unreadable or malformed event file.
"""
import argparse
import datetime
import json
import math
import re
import sys
from fractions import Fraction

TARGETS = ("production", "preview", "development")

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
    print(f"naive_settings.py: {message}", file=sys.stderr)
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


def flag(event, name):
    data = event.get("data")
    if not isinstance(data, dict):
        fail_input(f"line {event['_line']}: {event.get('type')} without a data object")
    value = data.get(name)
    if not isinstance(value, bool):
        fail_input(f"line {event['_line']}: {event.get('type')} data.{name} is not a boolean")
    return value


def actor(event):
    who = event.get("actor")
    if not isinstance(who, dict):
        fail_input(f"line {event['_line']}: {event.get('type')} without an actor object")
    return who.get("id"), who.get("kind")


def replay(events):
    variables = {}
    domains = {}
    for event in events:
        kind = event.get("type")
        at = to_ms(event["_at"])
        if kind == "env_var.set":
            project = field(event, "project", str)
            key = field(event, "key", str)
            target = field(event, "target", str)
            secret = flag(event, "secret")
            fingerprint = field(event, "valueFingerprint", str)
            set_by, set_by_kind = actor(event)
            variables[(project, key, target)] = {
                "key": key,
                "target": target,
                "secret": secret,
                "valueFingerprint": fingerprint,
                "setBy": set_by,
                "setByKind": set_by_kind,
                "setAt": at,
                "setSeq": event["seq"],
            }  # data.value is never kept
        elif kind == "env_var.removed":
            project = field(event, "project", str)
            key = field(event, "key", str)
            target = field(event, "target", str)
            variables.pop((project, key, target), None)
        elif kind == "domain.added":
            domain = field(event, "domain", str)
            domains[domain] = {
                "domain": domain,
                "project": field(event, "project", str),
                "status": "unverified",
                "method": None,
                "addedAt": at,
                "addedSeq": event["seq"],
                "verifiedAt": None,
            }
        elif kind == "domain.verified":
            domain = field(event, "domain", str)
            method = field(event, "method", str)
            record = domains.get(domain)
            if record is not None:
                record["status"] = "verified"
                record["method"] = method
                record["verifiedAt"] = at
        elif kind == "domain.removed":
            domain = field(event, "domain", str)
            domains.pop(domain, None)
    return variables, domains


def main():
    parser = argparse.ArgumentParser(prog="naive_settings.py", description="naive project settings inventory")
    parser.add_argument("events")
    moment = parser.add_mutually_exclusive_group(required=True)
    moment.add_argument("--at-seq", type=parse_int)
    moment.add_argument("--at-time", type=parse_time_arg)
    moment.add_argument("--now-ms", type=parse_int)
    question = parser.add_mutually_exclusive_group(required=True)
    question.add_argument("--env", metavar="PROJECT")
    question.add_argument("--domains", action="store_true")
    parser.add_argument("--target", choices=TARGETS)
    parser.add_argument("--project")
    args = parser.parse_args()
    if args.target is not None and args.env is None:
        fail_args(parser, "--target goes only with --env")
    if args.project is not None and not args.domains:
        fail_args(parser, "--project goes only with --domains")

    events = load_events(args.events)
    if args.at_seq is not None:
        at = [e for e in events if e["seq"] == args.at_seq]
        if not at:
            fail_args(parser, f"--at-seq {args.at_seq}: no event with that seq in {args.events}")
        chosen = [e for e in events if e["seq"] <= args.at_seq]
    elif args.at_time is not None:
        chosen = [e for e in events if e["_at"] <= args.at_time]
    else:
        chosen = events

    variables, domains = replay(chosen)

    if args.env is not None:
        out = []
        for (project, key, target) in sorted(variables, key=lambda k: (k[1], k[2])):
            if project != args.env:
                continue
            if args.target is not None and target != args.target:
                continue
            out.append(dict(variables[(project, key, target)]))
        print(json.dumps({"variables": out}))
    else:
        out = []
        for domain in sorted(domains):
            d = domains[domain]
            if args.project is not None and d["project"] != args.project:
                continue
            out.append({
                "domain": domain,
                "project": d["project"],
                "status": d["status"],
                "method": d["method"],
                "addedAt": d["addedAt"],
                "verifiedAt": d["verifiedAt"],
            })
        print(json.dumps({"domains": out}))


main()
