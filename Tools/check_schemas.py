#!/usr/bin/env python3
"""Checks EventSchemas/ with a standard JSON Schema validator, independently of the engine.

Every example must be valid against its type's schema, every counter-example invalid
(except those breaking the engine's secret rules, which are not JSON Schema), and every
shared definition of common.json must accept its `examples` and refuse its
`x-counterExamples`. The engine's tests run this beside their own checks, so the schemas
mean the same to the engine and to any other tool.

    python3 Tools/check_schemas.py [EventSchemas]

Needs the `jsonschema` package (Debian: python3-jsonschema).
"""
import json
import pathlib
import sys
import warnings

import jsonschema

folder = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent / "EventSchemas")
schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in folder.glob("*.json")}
by_type = {}
for name, schema in schemas.items():
    if name in ("common.json", "envelope.json"):
        continue
    props = schema["properties"]
    by_type[(props["type"]["const"], props["schemaVersion"]["const"])] = schema


def validator(schema):
    """A draft 2020-12 validator that resolves common.json and envelope.json from the folder."""
    cls = jsonschema.Draft202012Validator
    try:
        from referencing import Registry, Resource
        registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
        return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)
    except ImportError:  # jsonschema before 4.18
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            resolver = jsonschema.RefResolver.from_schema(schema, store={s["$id"]: s for s in schemas.values()})
            return cls(schema, resolver=resolver, format_checker=cls.FORMAT_CHECKER)


def schema_for(event):
    return by_type.get((event.get("type"), event.get("schemaVersion", 1)))


problems = []
checked = 0
for path in sorted((folder / "examples").glob("*.ndjson")):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        event = json.loads(line)
        schema = schema_for(event)
        errors = [] if schema else ["no schema for its type and version"]
        if schema:
            errors = [e.message for e in validator(schema).iter_errors(event)]
        if errors:
            problems.append(f"examples/{path.name} line {number}: {errors[0]}")
        checked += 1

for path in sorted((folder / "invalid").glob("*.ndjson")):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        case = json.loads(line)
        if case["rule"] == "secret":
            continue  # the engine's secret rules go beyond JSON Schema
        schema = schema_for(case["event"])
        if schema and validator(schema).is_valid(case["event"]):
            problems.append(f"invalid/{path.name} line {number}: valid by the schema, but should break {case['rule']} at {case['pointer']}")
        checked += 1

common = schemas["common.json"]
for name, definition in common["$defs"].items():
    check = validator({"$ref": f"{common['$id']}#/$defs/{name}"})
    for value in definition.get("examples", []):
        if not check.is_valid(value):
            problems.append(f"common.json {name}: refuses its example {value!r}")
        checked += 1
    for value in definition.get("x-counterExamples", []):
        if check.is_valid(value):
            problems.append(f"common.json {name}: accepts its counter-example {value!r}")
        checked += 1

for problem in problems:
    print(problem)
print(f"{checked} checks, {len(problems)} problems")
sys.exit(1 if problems else 0)
