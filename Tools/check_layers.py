#!/usr/bin/env python3
"""Fails when a module imports what its layer must not (docs/architecture.md).

Each module of Sources/ may import only the modules listed for it here; anything else of
ours (a Hindsight* module or a C shim) is a broken layer. The lists are the architecture:

- the vocabulary (HindsightCore) does no I/O and knows nothing above it;
- the catalogue knows no log, the log knows no catalogue, privacy or read model, and
  cannot write: the writer is HindsightLogWriter, and only the engine uses it;
- the vault seals, reveals and destroys keys, and never touches the log;
- read models, evidence and the query service reach the log only through the engine's
  read side (EventSource, LogReader): none of them may import the writer or the vault.

Run from the repository root; Tools/test.sh runs it before the build.
"""
import pathlib
import re
import sys

ALLOWED = {
    "HindsightCore": {"CShim"},
    "HindsightFiles": {"CShim", "HindsightCore"},
    "HindsightCatalog": {"CShim", "HindsightCore", "HindsightFiles"},
    "HindsightLog": {"CShim", "CLZ4", "HindsightCore", "HindsightFiles"},
    "HindsightLogWriter": {"CShim", "HindsightCore", "HindsightFiles", "HindsightLog"},
    "HindsightVault": {"HindsightCatalog", "HindsightCore", "HindsightFiles"},
    "HindsightEngine": {"HindsightCatalog", "HindsightCore", "HindsightFiles", "HindsightLog", "HindsightLogWriter", "HindsightVault"},
    "HindsightAccess": set(),
    "HindsightProjections": {"CSQLite", "HindsightAccess", "HindsightCore", "HindsightEngine", "HindsightFiles", "HindsightLog"},
    "HindsightEvidence": {"HindsightCore", "HindsightEngine", "HindsightFiles", "HindsightLog", "HindsightProjections"},
    "HindsightQuery": {"HindsightAccess", "HindsightCatalog", "HindsightCore", "HindsightEngine", "HindsightEvidence", "HindsightLog", "HindsightProjections"},
    "HindsightRPC": {"HindsightCore", "HindsightQuery"},
}

# Ours: what a layer rule is about (Foundation, Crypto, Dispatch and the like are not).
OURS = re.compile(r"^(Hindsight\w*|C[A-Z]\w*)$")
IMPORT = re.compile(r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*(?:(?:public|package|internal|private|fileprivate)\s+)?import\s+(?:(?:struct|class|enum|protocol|func|var|let|typealias)\s+)?(\w+)", re.M)


def main() -> int:
    root = pathlib.Path("Sources")
    problems = []
    modules = sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.rglob("*.swift")))
    for module in modules:
        if module not in ALLOWED:
            if module.startswith("Hindsight"):
                problems.append(f"Sources/{module}: a module with no layer rule; add it to Tools/check_layers.py")
            continue
        for path in sorted((root / module).rglob("*.swift")):
            for match in IMPORT.finditer(path.read_text()):
                imported = match.group(1)
                if OURS.match(imported) and imported != module and imported not in ALLOWED[module]:
                    line = path.read_text()[: match.start()].count("\n") + 1
                    problems.append(f"{path}:{line}: {module} must not import {imported}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} import(s) break the layers (Tools/check_layers.py lists what each module may import)", file=sys.stderr)
        return 1
    print(f"layers: {len(modules)} modules import only what their layer allows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
