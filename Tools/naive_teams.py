#!/usr/bin/env python3
"""A naive, independent reference for the team inventory (teams.members / teams.invitations),
written from EVENTS.md and QUERIES.md only: it replays member.invited / invitation.accepted /
invitation.revoked / member.role_changed / member.removed events from a stored-event file
(NDJSON, one event a line, as `hindsight read` prints them), in seq order, up to a moment, and
prints one JSON object, every time in integer milliseconds since the Unix epoch (or null).
Standard library only.

    naive_teams.py EVENTS.ndjson (--at-seq N | --at-time RFC3339 | --now-ms MS)
                   (--members TEAM | --invitations TEAM [--status pending|accepted|revoked|expired])

The moment: --at-seq N replays the events with seq <= N and evaluates at the occurredAt of the
event with seq N; --at-time t replays the events whose occurredAt <= t (compared exactly) and
evaluates at t; --now-ms MS replays every event and evaluates at MS.

Members: a user joins team T only by invitation.accepted (in its data.team) of an invitation
invited earlier, with that invitation's role; accepting again while a member keeps `since` and
sets role / roleSince; member.role_changed of a member sets role / roleSince (of a non-member it
does nothing); member.removed ends the membership. Membership never expires.
Invitations: a repeated member.invited replaces the invitation entirely; the first acceptance
or revocation after the (latest) member.invited settles it; unsettled ones are expired if
expiresAt <= T, else pending.
Exit 2 for bad arguments, 1 for an unreadable or malformed event file.
"""
import argparse
import datetime
import json
import math
import re
import sys
from fractions import Fraction

RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)

STATUSES = ("pending", "accepted", "revoked", "expired")


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
    print(f"naive_teams.py: {message}", file=sys.stderr)
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
    except (OSError, UnicodeDecodeError) as e:
        fail_input(f"cannot read {path}: {e}")
    events.sort(key=lambda e: e["seq"])  # stable; the file should already be in seq order
    return events


def field(event, name, kind=str):
    data = event.get("data")
    if not isinstance(data, dict):
        fail_input(f"line {event['_line']}: {event.get('type')} without a data object")
    if name not in data or data[name] is None:
        fail_input(f"line {event['_line']}: {event.get('type')} without data.{name}")
    value = data[name]
    if not isinstance(value, kind):
        fail_input(f"line {event['_line']}: {event.get('type')} data.{name} has the wrong type")
    return value


def replay(events):
    """Returns (invitations by id, members as {(team, user): {...}})."""
    invitations = {}
    members = {}
    for event in events:
        kind = event.get("type")
        at = to_ms(event["_at"])
        if kind == "member.invited":
            invitation = field(event, "invitation")
            try:
                expires = parse_time(field(event, "expiresAt"))
            except ValueError as e:
                fail_input(f"line {event['_line']}: expiresAt: {e}")
            invitations[invitation] = {  # a re-invite replaces the earlier one entirely
                "invitation": invitation,
                "team": field(event, "team"),
                "email": field(event, "email"),  # copied as the reader shows it ("[erased]")
                "role": field(event, "role"),
                "invitedAt": at,
                "expiresAt": expires,  # exact here; printed as whole ms
                "status": None,  # None until settled; then "accepted" or "revoked"
                "acceptedAt": None,
                "acceptedBy": None,
                "revokedAt": None,
            }
        elif kind == "invitation.accepted":
            invitation = field(event, "invitation")
            team = field(event, "team")
            user = field(event, "user")
            inv = invitations.get(invitation)
            if inv is None:
                continue  # never invited: ignored entirely
            if inv["status"] is None:
                inv["status"] = "accepted"
                inv["acceptedAt"] = at
                inv["acceptedBy"] = user
            member = members.get((team, user))
            if member is None:
                members[(team, user)] = {"user": user, "role": inv["role"], "since": at, "roleSince": at}
            else:
                member["role"] = inv["role"]
                member["roleSince"] = at
        elif kind == "invitation.revoked":
            invitation = field(event, "invitation")
            field(event, "team")
            inv = invitations.get(invitation)
            if inv is not None and inv["status"] is None:
                inv["status"] = "revoked"
                inv["revokedAt"] = at
        elif kind == "member.role_changed":
            team = field(event, "team")
            user = field(event, "user")
            role = field(event, "role")
            member = members.get((team, user))
            if member is not None:
                member["role"] = role
                member["roleSince"] = at
        elif kind == "member.removed":
            team = field(event, "team")
            user = field(event, "user")
            members.pop((team, user), None)
    return invitations, members


def main():
    parser = argparse.ArgumentParser(prog="naive_teams.py", description="naive team inventory")
    parser.add_argument("events")
    moment = parser.add_mutually_exclusive_group(required=True)
    moment.add_argument("--at-seq", type=parse_int)
    moment.add_argument("--at-time", type=parse_time_arg)
    moment.add_argument("--now-ms", type=parse_int)
    question = parser.add_mutually_exclusive_group(required=True)
    question.add_argument("--members", metavar="TEAM")
    question.add_argument("--invitations", metavar="TEAM")
    parser.add_argument("--status", choices=STATUSES)
    args = parser.parse_args()
    if args.status is not None and args.invitations is None:
        fail_args(parser, "--status goes with --invitations")

    events = load_events(args.events)
    if args.at_seq is not None:
        at = [e for e in events if e["seq"] == args.at_seq]
        if not at:
            fail_args(parser, f"--at-seq {args.at_seq}: no event with that seq in {args.events}")
        now = at[0]["_at"]
        chosen = [e for e in events if e["seq"] <= args.at_seq]
    elif args.at_time is not None:
        now = args.at_time
        chosen = [e for e in events if e["_at"] <= args.at_time]
    else:
        now = args.now_ms
        chosen = events

    invitations, members = replay(chosen)

    if args.members is not None:
        out = [m for (team, user), m in members.items() if team == args.members]
        out.sort(key=lambda m: m["user"])
        print(json.dumps({"members": out}))
        return

    out = []
    for invitation_id in sorted(invitations):
        inv = invitations[invitation_id]
        if inv["team"] != args.invitations:
            continue
        if inv["status"] is None:
            inv["status"] = "expired" if inv["expiresAt"] <= now else "pending"  # exact instants
        inv["expiresAt"] = to_ms(inv["expiresAt"])
        if args.status is not None and inv["status"] != args.status:
            continue
        out.append(inv)
    print(json.dumps({"invitations": out}))


main()
