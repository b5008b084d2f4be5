#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine with Swift: installs what is needed,
# then builds and tests.
set -euo pipefail
cd "$(dirname "$0")/.."
Tools/setup.sh
python3 Tools/check_layers.py
# The formatter configuration (.swift-format) is the code's layout: a change that departs from it fails here.
swift format lint --strict --recursive Sources Tests Tools Plugins Package.swift
swift build --build-tests
swift test --skip-build
