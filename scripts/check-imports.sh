#!/usr/bin/env bash
# Every module a target imports is one it declares (issue 19): for each target of Package.swift, the
# modules its Swift files import must be its own dependencies — a target it names, or a module of a
# product it names. SwiftPM builds a target that imports a module arriving only through another
# dependency, and `--explicit-target-dependency-import-check error` lets that pass too; this check
# does not. It needs no build: only `swift package dump-package` of our own manifest.
#
# Prints `TARGET: imports X but does not declare it` for each miss and exits 1; exits 0 when none.
#
#   bash scripts/check-imports.sh                  # the check (CI)
#   bash scripts/check-imports.sh --verify-table   # also compare PRODUCT_MODULES below with the
#                                                  # manifests under .build/checkouts (after a resolve)
#
# Product → module names come from the explicit table PRODUCT_MODULES below, not from the dependency
# packages' manifests: dumping each checkout's manifest costs seconds per package and needs the
# packages resolved first, while this check must be cheap and run from a clean clone. The table cannot
# go stale silently: a declared product missing from it is an error, and `--verify-table` checks every
# entry against the checkouts' manifests.
set -euo pipefail
cd "$(dirname "$0")/.."

manifest=$(mktemp)
trap 'rm -f "$manifest"' EXIT
swift package dump-package >"$manifest"

python3 - "$manifest" "${1:-}" <<'PYTHON'
import json
import os
import re
import subprocess
import sys

# (package identity, product) → the modules that product makes importable.
PRODUCT_MODULES = {
    ("swift-argument-parser", "ArgumentParser"): {"ArgumentParser"},
    ("swift-configuration", "Configuration"): {"Configuration"},
    ("swift-system", "SystemPackage"): {"SystemPackage"},
    ("swift-crypto", "Crypto"): {"Crypto"},
    ("swift-log", "Logging"): {"Logging"},
    ("swift-metrics", "Metrics"): {"Metrics"},
    ("swift-protobuf", "SwiftProtobuf"): {"SwiftProtobuf"},
    ("hummingbird", "Hummingbird"): {"Hummingbird"},
    ("hummingbird", "HummingbirdCore"): {"HummingbirdCore"},
    ("hummingbird", "HummingbirdTLS"): {"HummingbirdTLS"},
    ("hummingbird", "HummingbirdTesting"): {"HummingbirdTesting"},
    ("swift-mustache", "Mustache"): {"Mustache"},
    ("async-http-client", "AsyncHTTPClient"): {"AsyncHTTPClient"},
    ("swift-prometheus", "Prometheus"): {"Prometheus"},
    ("swift-service-lifecycle", "ServiceLifecycle"): {"ServiceLifecycle"},
    ("swift-service-lifecycle", "UnixSignals"): {"UnixSignals"},
    ("swift-nio", "NIOCore"): {"NIOCore"},
    ("swift-nio", "NIOPosix"): {"NIOPosix"},
    ("swift-nio", "NIOHTTP1"): {"NIOHTTP1"},
    ("swift-nio-ssl", "NIOSSL"): {"NIOSSL"},
    ("swift-nio-extras", "NIOHTTPTypes"): {"NIOHTTPTypes"},
    ("postgres-nio", "PostgresNIO"): {"PostgresNIO"},
}

# Modules of the toolchain and the platform, never declared.
SYSTEM_MODULES = {
    "Swift", "_Concurrency", "_StringProcessing", "RegexBuilder", "Observation", "Distributed",
    "Foundation", "FoundationEssentials", "FoundationInternationalization", "FoundationNetworking",
    "FoundationXML", "CoreFoundation", "Dispatch", "Synchronization", "Testing", "XCTest",
    "Glibc", "Musl", "Darwin", "Android", "Bionic", "WASILibc", "WinSDK", "ucrt", "os",
}

IMPORT = re.compile(
    r"^\s*(?:@\w+(?:\([^)]*\))?\s+)*"  # @testable, @preconcurrency, @_exported, @_spi(X)…
    r"(?:(?:public|package|internal|fileprivate|private)\s+)?"
    r"import\s+(?:(?:typealias|struct|class|enum|protocol|let|var|func)\s+)?"
    r"([A-Za-z_]\w*)"
)
CONDITION = re.compile(r"^\s*#(if|elseif|else|endif)\b(.*)$")


def imported_modules(path):
    """The modules a Swift file imports, leaving out those inside `#if canImport(…)` blocks (every
    branch of such a block: they are platform alternatives, and the build decides which applies)."""
    modules = set()
    stack = []  # for each open #if: whether any of its conditions so far uses canImport
    in_block_comment = False
    with open(path, encoding="utf-8") as source:
        for line in source:
            if in_block_comment:
                if "*/" not in line:
                    continue
                line = line.split("*/", 1)[1]
                in_block_comment = False
            line = line.split("//", 1)[0]
            if "/*" in line:
                before, after = line.split("/*", 1)
                in_block_comment = "*/" not in after
                line = before
            directive = CONDITION.match(line)
            if directive:
                kind, condition = directive.groups()
                if kind == "if":
                    stack.append("canImport" in condition)
                elif kind == "elseif" and stack:
                    stack[-1] = stack[-1] or "canImport" in condition
                elif kind == "endif" and stack:
                    stack.pop()
                continue
            if any(stack):
                continue
            match = IMPORT.match(line)
            if match:
                modules.add(match.group(1))
    return modules


def swift_files(folder):
    for root, _, files in os.walk(folder):
        for name in files:
            if name.endswith(".swift"):
                yield os.path.join(root, name)


def module_name(target_name):
    return re.sub(r"[^A-Za-z0-9_]", "_", target_name)


def verify_table():
    """Compares PRODUCT_MODULES with the products' targets in the checkouts' manifests."""
    problems = []
    for package in sorted({package for package, _ in PRODUCT_MODULES}):
        folder = os.path.join(".build", "checkouts", package)
        if not os.path.isdir(folder):
            problems.append(f"{package}: not under .build/checkouts (run `swift package resolve`)")
            continue
        dumped = json.loads(subprocess.run(
            ["swift", "package", "dump-package"], cwd=folder, check=True, capture_output=True, text=True).stdout)
        products = {product["name"]: {module_name(t) for t in product["targets"]} for product in dumped["products"]}
        for (owner, product), modules in sorted(PRODUCT_MODULES.items()):
            if owner != package:
                continue
            if product not in products:
                problems.append(f"{package}: has no product {product}")
            elif products[product] != modules:
                problems.append(
                    f"{package}: product {product} holds {sorted(products[product])}, the table says {sorted(modules)}")
    return problems


def main():
    manifest = json.load(open(sys.argv[1]))
    misses = []
    for target in manifest["targets"]:
        if target["type"] in ("system", "binary", "plugin", "macro"):
            continue
        name = target["name"]
        folder = target.get("path") or os.path.join("Tests" if target["type"] == "test" else "Sources", name)
        declared = set()
        for dependency in target["dependencies"]:
            kind, value = next(iter(dependency.items()))
            if kind in ("byName", "target"):
                declared.add(module_name(value[0]))
            elif kind == "product":
                product, package = value[0], value[1]
                modules = PRODUCT_MODULES.get((package, product))
                if modules is None:
                    misses.append(
                        f"{name}: declares product {product} of {package}, which scripts/check-imports.sh "
                        "does not know: add it to PRODUCT_MODULES")
                    continue
                declared |= modules
        imported = set()
        for path in swift_files(folder):
            imported |= imported_modules(path)
        for module in sorted(imported - declared - SYSTEM_MODULES - {module_name(name)}):
            misses.append(f"{name}: imports {module} but does not declare it")
    if len(sys.argv) > 2 and sys.argv[2] == "--verify-table":
        misses += [f"PRODUCT_MODULES: {problem}" for problem in verify_table()]
    for miss in misses:
        print(miss)
    if misses:
        print(f"error: {len(misses)} undeclared import(s); declare them in Package.swift", file=sys.stderr)
        sys.exit(1)
    print(f"Every imported module is declared ({len(manifest['targets'])} targets).")


main()
PYTHON
