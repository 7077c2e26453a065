#!/usr/bin/env bash
# Regenerates the Swift messages from Protocol/relais.proto and records the schema's hash.
#
#   scripts/generate-protocol.sh            # messages + hash
#   scripts/generate-protocol.sh --vectors  # also rewrite Protocol/vectors/ (scripts/write-vectors.sh)
#
# Needs protoc (`apt-get install -y protobuf-compiler`). Builds protoc-gen-swift from swift-protobuf
# 1.39.0 once, into .build-protoc/ (gitignored), and reuses it afterwards. CI never runs this: it
# runs scripts/check-protocol.sh, which only compares hashes.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$PWD"
SWIFT_PROTOBUF_VERSION="1.39.0"
CACHE="$ROOT/.build-protoc"
PLUGIN="$CACHE/swift-protobuf/.build/release/protoc-gen-swift"
OUT="$ROOT/Sources/RelaisProtocol/Generated"

if ! command -v protoc >/dev/null 2>&1; then
    echo "error: protoc not found; install it with: apt-get install -y protobuf-compiler" >&2
    exit 1
fi

if [[ ! -x "$PLUGIN" ]] || [[ "$("$PLUGIN" --version 2>/dev/null)" != *"$SWIFT_PROTOBUF_VERSION"* ]]; then
    echo "Building protoc-gen-swift $SWIFT_PROTOBUF_VERSION into $CACHE (once, about 90 s)..."
    mkdir -p "$CACHE"
    if [[ ! -d "$CACHE/swift-protobuf/.git" ]]; then
        git clone --quiet https://github.com/apple/swift-protobuf.git "$CACHE/swift-protobuf"
    fi
    git -C "$CACHE/swift-protobuf" fetch --quiet --tags || true
    git -C "$CACHE/swift-protobuf" checkout --quiet "$SWIFT_PROTOBUF_VERSION"
    (cd "$CACHE/swift-protobuf" && swift build -c release --product protoc-gen-swift -j 2)
fi

mkdir -p "$OUT"
protoc \
    --plugin=protoc-gen-swift="$PLUGIN" \
    --proto_path="$ROOT/Protocol" \
    --swift_opt=Visibility=Public \
    --swift_opt=UseAccessLevelOnImports=true \
    --swift_out="$OUT" \
    "$ROOT/Protocol/relais.proto"

# The hashes CI checks (scripts/check-protocol.sh), as the generated file's first two lines: the
# schema's, and the generated code's own (everything after those two lines), so that an edit to
# either one without regenerating is caught. (A sidecar file inside the target would be an
# unhandled resource to SwiftPM.)
if command -v sha256sum >/dev/null 2>&1; then
    sha() { sha256sum | cut -d' ' -f1; }
else
    sha() { shasum -a 256 | cut -d' ' -f1; }
fi
GENERATED="$OUT/relais.pb.swift"
PROTO_SHA="$(sha < "$ROOT/Protocol/relais.proto")"
BODY_SHA="$(sha < "$GENERATED")"
{
    echo "// relais.proto sha256: $PROTO_SHA"
    echo "// generated code sha256: $BODY_SHA"
    cat "$GENERATED"
} > "$GENERATED.tmp"
mv "$GENERATED.tmp" "$GENERATED"
rm -f "$OUT/relais.proto.sha256"
echo "Wrote $GENERATED (relais.proto sha256 $PROTO_SHA)"

if [[ "${1:-}" == "--vectors" ]]; then
    echo "Rewriting Protocol/vectors/..."
    bash "$ROOT/scripts/write-vectors.sh"
fi
