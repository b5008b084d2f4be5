#!/usr/bin/env python3
"""A naive, independent reference for the API-token inventory (tokens.list / tokens.stale),
written from EVENTS.md and QUERIES.md only: it replays token.created / token.rotated /
token.revoked events from a stored-event file (NDJSON, one event a line, as `hindsight read`
prints them), in seq order, up to a moment, and prints every token's state at that moment as
one JSON object {"tokens": [...]}, sorted by token id, every time in integer milliseconds since
the Unix epoch (or null). Standard library only.

    naive_tokens.py EVENTS.ndjson (--at-seq N | --at-time RFC3339 | --now-ms MS) [--owner USR] [--stale DAYS]

The moment: --at-seq N replays the events with seq <= N and evaluates at the occurredAt of the
event with seq N; --at-time t replays the events whose occurredAt <= t (compared exactly) and
evaluates at t; --now-ms MS replays every event and evaluates at MS.
Status at T: revoked if revoked, else expired if expiresAt <= T, else active.
--owner keeps the tokens of that owner; --stale DAYS keeps the active tokens whose last
rotation (or creation) is earlier than T - DAYS days.
Exit 2 for bad arguments, 1 for an unreadable or malformed event file.
"""
import argparse
import datetime
import json
import math
import re
import sys
from fractions import Fraction

DAY_MS = 86400000

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
    print(f"naive_tokens.py: {message}", file=sys.stderr)
    sys.exit(1)


def parse_int(text):
    if not re.fullmatch(r"[+-]?\d+", text):
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}")
    return int(text)


def parse_days(text):
    if not re.fullmatch(r"\d+(\.\d+)?", text):
        raise argparse.ArgumentTypeError(f"not a non-negative number of days: {text!r}")
    return Fraction(text)


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
    if not isinstance(value, kind):
        fail_input(f"line {event['_line']}: {event.get('type')} data.{name} has the wrong type")
    return value


def replay(events):
    tokens = {}
    for event in events:
        kind = event.get("type")
        if kind == "token.created":
            token = field(event, "token", str)
            scopes = field(event, "scopes", list)
            if not all(isinstance(s, str) for s in scopes):
                fail_input(f"line {event['_line']}: token.created scopes are not all strings")
            expires = field(event, "expiresAt", str, optional=True)
            try:
                expires_ms = to_ms(parse_time(expires)) if expires is not None else None
            except ValueError as e:
                fail_input(f"line {event['_line']}: expiresAt: {e}")
            tokens[token] = {
                "token": token,
                "owner": field(event, "owner", str),
                "org": event.get("org"),
                "scopes": list(scopes),
                "fingerprint": field(event, "fingerprint", str),
                "createdAt": to_ms(event["_at"]),
                "createdSeq": event["seq"],
                "lastRotatedAt": None,
                "expiresAt": expires_ms,
                "status": None,
                "revokedAt": None,
                "reason": None,
            }
        elif kind == "token.rotated":
            token = field(event, "token", str)
            if token in tokens:
                tokens[token]["lastRotatedAt"] = to_ms(event["_at"])
                tokens[token]["fingerprint"] = field(event, "fingerprint", str)
        elif kind == "token.revoked":
            token = field(event, "token", str)
            if token in tokens and tokens[token]["revokedAt"] is None:
                tokens[token]["revokedAt"] = to_ms(event["_at"])
                tokens[token]["reason"] = field(event, "reason", str, optional=True)
    return tokens


def main():
    parser = argparse.ArgumentParser(prog="naive_tokens.py", description="naive token inventory")
    parser.add_argument("events")
    moment = parser.add_mutually_exclusive_group(required=True)
    moment.add_argument("--at-seq", type=parse_int)
    moment.add_argument("--at-time", type=parse_time_arg)
    moment.add_argument("--now-ms", type=parse_int)
    parser.add_argument("--owner")
    parser.add_argument("--stale", type=parse_days)
    args = parser.parse_args()

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

    tokens = replay(chosen)
    out = []
    for token_id in sorted(tokens):
        t = tokens[token_id]
        if t["revokedAt"] is not None:
            t["status"] = "revoked"
        elif t["expiresAt"] is not None and now >= t["expiresAt"]:
            t["status"] = "expired"
        else:
            t["status"] = "active"
        if args.owner is not None and t["owner"] != args.owner:
            continue
        if args.stale is not None:
            last = max(t["createdAt"], t["lastRotatedAt"] if t["lastRotatedAt"] is not None else t["createdAt"])
            if not (t["status"] == "active" and last < now - args.stale * DAY_MS):
                continue
        out.append(t)
    print(json.dumps({"tokens": out}))


main()
