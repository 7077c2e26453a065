#!/usr/bin/env bash
# Fails when Protocol/relais.proto, or the Swift code generated from it, changed without
# regenerating. scripts/generate-protocol.sh records both hashes in the generated file's first two
# lines; this script recomputes them. Cheap (no build, no plugin); CI runs it from the repository root.
set -euo pipefail

cd "$(dirname "$0")/.."
PROTO="Protocol/relais.proto"
GENERATED="Sources/RelaisProtocol/Generated/relais.pb.swift"

fail() {
    echo "check-protocol: $1" >&2
    echo "  Run scripts/generate-protocol.sh and commit the result." >&2
    exit 1
}

if command -v sha256sum >/dev/null 2>&1; then
    sha() { sha256sum | cut -d' ' -f1; }
else
    sha() { shasum -a 256 | cut -d' ' -f1; }
fi

[[ -f "$PROTO" ]] || fail "$PROTO is missing."
[[ -f "$GENERATED" ]] || fail "$GENERATED is missing."

recorded_proto="$(sed -n '1s|^// relais.proto sha256: ||p' "$GENERATED")"
recorded_body="$(sed -n '2s|^// generated code sha256: ||p' "$GENERATED")"
[[ -n "$recorded_proto" && -n "$recorded_body" ]] || fail "$GENERATED has no hash header."

actual_proto="$(sha < "$PROTO")"
actual_body="$(tail -n +3 "$GENERATED" | sha)"

if [[ "$actual_proto" != "$recorded_proto" ]]; then
    fail "$PROTO changed since the Swift code was generated (sha256 $actual_proto, generated from $recorded_proto)."
fi
if [[ "$actual_body" != "$recorded_body" ]]; then
    fail "$GENERATED was edited by hand (its sha256 no longer matches its header)."
fi
echo "check-protocol: $PROTO and $GENERATED match (sha256 $actual_proto)."

# When protoc is installed, cross-check the golden vectors with an independent implementation (the
# C++ protobuf runtime): each .bin must decode, and re-encode to exactly the same bytes.
if command -v protoc >/dev/null 2>&1; then
    scratch="$(mktemp)"
    trap 'rm -f "$scratch"' EXIT
    checked=0
    for bin in Protocol/vectors/*.bin; do
        name="$(basename "$bin" .bin)"
        case "$name" in
            push-request*) type=PushRequest ;;
            push-response*) type=PushResponse ;;
            pull-request*) type=PullRequest ;;
            pull-response*) type=PullResponse ;;
            enroll-request*) type=EnrollRequest ;;
            enroll-response*) type=EnrollResponse ;;
            replica-renew-request*) type=ReplicaRenewRequest ;;
            replica-renew-response*) type=ReplicaRenewResponse ;;
            error*) type=Error ;;
            *) fail "$bin: no message type known for this vector name." ;;
        esac
        protoc --proto_path=Protocol --decode="relais.v1.$type" "$PROTO" < "$bin" \
            | protoc --proto_path=Protocol --encode="relais.v1.$type" "$PROTO" > "$scratch" \
            || fail "$bin does not decode as relais.v1.$type with protoc."
        cmp -s "$scratch" "$bin" || fail "$bin re-encodes differently with protoc."
        checked=$((checked + 1))
    done
    echo "check-protocol: protoc decodes and re-encodes all $checked golden vectors byte for byte."
fi
