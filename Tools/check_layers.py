#!/usr/bin/env python3
"""Fails when a module imports what its layer must not, or what Package.swift does not declare.

Two checks over every Swift target of the package (Sources/, Tools/, Tests/):

1. Each import of ours (a Hindsight* module or a C shim) must be a dependency the target
   declares in Package.swift: SwiftPM lets a target import a module it reaches only through
   another target's build, which works until a clean build of that target alone.
2. The library modules may import only what their layer allows (docs/architecture.md):
   - the vocabulary (HindsightCore) does no I/O and knows nothing above it;
   - the catalogue knows no log; the log knows no catalogue, privacy or read model, and
     cannot write: the writer is HindsightLogWriter, and only the engine uses it;
   - the vault seals, reveals and destroys keys, and never touches the log;
   - read models and evidence see the log only as readers do (HindsightReadSide): they import
     neither the engine, nor the writer, nor the vault;
   - the query service reaches the writer only through the engine.

Run from the repository root; Tools/test.sh runs it before the build.
"""
import json
import pathlib
import re
import subprocess
import sys

ALLOWED = {
    "HindsightCore": {"CShim"},
    "HindsightFiles": {"CShim", "HindsightCore"},
    "HindsightCatalog": {"CShim", "HindsightCore", "HindsightFiles"},
    "HindsightLog": {"CShim", "CLZ4", "HindsightCore", "HindsightFiles"},
    "HindsightLogWriter": {"CShim", "HindsightCore", "HindsightFiles", "HindsightLog"},
    "HindsightVault": {"HindsightCatalog", "HindsightCore", "HindsightFiles"},
    "HindsightReadSide": {"HindsightCatalog", "HindsightCore", "HindsightLog", "HindsightVault"},
    "HindsightEngine": {"HindsightCatalog", "HindsightCore", "HindsightFiles", "HindsightLog", "HindsightLogWriter", "HindsightReadSide", "HindsightVault"},
    "HindsightAccess": set(),
    "HindsightProjections": {"CSQLite", "HindsightAccess", "HindsightCore", "HindsightFiles", "HindsightLog", "HindsightReadSide"},
    "HindsightEvidence": {"HindsightCore", "HindsightFiles", "HindsightLog", "HindsightProjections", "HindsightReadSide"},
    "HindsightQuery": {"HindsightAccess", "HindsightCatalog", "HindsightCore", "HindsightEngine", "HindsightEvidence", "HindsightLog", "HindsightProjections", "HindsightReadSide"},
    "HindsightRPC": {"HindsightCore", "HindsightQuery"},
    "HindsightMCP": {"HindsightCore", "HindsightQuery", "HindsightRPC", "Logging", "MCP"},
}

# Ours: what the checks are about (Foundation, Crypto, Dispatch and the like are not).
OURS = re.compile(r"^(Hindsight\w*|C[A-Z]\w*)$")
IMPORT = re.compile(
    r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|private|fileprivate)\s+)?import\s+"
    r"(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)", re.M)


def targets():
    """Each Swift target of the package: its name, source folder and declared dependencies."""
    manifest = json.loads(subprocess.run(["swift", "package", "dump-package"], check=True, capture_output=True, text=True).stdout)
    for target in manifest["targets"]:
        if target["type"] in ("system", "plugin"):
            continue
        default = {"test": "Tests"}.get(target["type"], "Sources")
        folder = pathlib.Path(target.get("path") or f"{default}/{target['name']}")
        declared = set()
        for dependency in target["dependencies"]:
            for kind in ("byName", "target"):
                if kind in dependency:
                    declared.add(dependency[kind][0])
        yield target["name"], folder, declared


def main() -> int:
    problems = []
    checked = 0
    for name, folder, declared in targets():
        files = sorted(folder.rglob("*.swift"))
        if not files:
            continue
        checked += 1
        if name.startswith("Hindsight") and not name.endswith(("Tests", "Support")) and name not in ALLOWED and name != "HindsightWorkload":
            problems.append(f"{folder}: module {name} has no layer rule; add it to Tools/check_layers.py")
        for path in files:
            text = path.read_text()
            for match in IMPORT.finditer(text):
                imported = match.group(1)
                if not OURS.match(imported) or imported == name:
                    continue
                line = text[: match.start()].count("\n") + 1
                if imported not in declared:
                    problems.append(f"{path}:{line}: {name} imports {imported}, which Package.swift does not declare for it")
                if name in ALLOWED and imported not in ALLOWED[name]:
                    problems.append(f"{path}:{line}: {name} must not import {imported}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} import(s) break the layers (Tools/check_layers.py)", file=sys.stderr)
        return 1
    print(f"layers: {checked} targets import only what they declare and their layer allows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
