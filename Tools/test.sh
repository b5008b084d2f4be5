#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine with Swift: installs what is needed,
# then builds and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/setup.sh
python3 Tools/check_layers.py
swift build --build-tests
swift test --skip-build
