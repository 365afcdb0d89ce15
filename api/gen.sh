#!/usr/bin/env bash
# Generates the Go code for the protobuf definitions under api/ (checked in,
# next to each .proto, paths=source_relative).
#
#   api/gen.sh          regenerate in place              (make proto)
#   api/gen.sh --check  regenerate into a temporary dir and fail when the
#                       checked-in code differs or is missing (make proto-check)
#
# Needs protoc 3.x (Debian/Ubuntu: apt-get install protobuf-compiler). The Go
# generators are pinned below and installed into bin/tools when missing or at
# another version. The generated headers name the protoc version; the check
# ignores that one line so that any protoc 3.x passes it.
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12     # google.golang.org/protobuf, as in go.mod
PROTOC_GEN_GO_GRPC_VERSION=v1.6.2  # google.golang.org/grpc/cmd/protoc-gen-go-grpc

cd "$(dirname "$0")/.."
GO=${GO:-go}
TOOLS=$PWD/bin/tools

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! command -v protoc >/dev/null 2>&1; then
  echo "protoc not found: install protoc 3.x (apt-get install protobuf-compiler)" >&2
  exit 1
fi
pv=$(protoc --version 2>/dev/null || true)
case "$pv" in
  "libprotoc 3."*) ;;
  *) echo "protoc 3.x needed, found '${pv:-nothing}' at $(command -v protoc): apt-get install protobuf-compiler" >&2
     exit 1 ;;
esac

# install NAME PACKAGE VERSION: puts NAME at VERSION into bin/tools.
install_tool() {
  local name=$1 pkg=$2 want=$3 have=""
  if [ -x "$TOOLS/$name" ]; then
    have=$("$TOOLS/$name" --version 2>/dev/null | awk '{print $NF}')
  fi
  if [ "${have#v}" != "${want#v}" ]; then
    echo "installing $pkg@$want into bin/tools" >&2
    mkdir -p "$TOOLS"
    GOBIN=$TOOLS "$GO" install "$pkg@$want"
  fi
}
install_tool protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_tool protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

mapfile -t protos < <(find api -name '*.proto' | LC_ALL=C sort)
if [ ${#protos[@]} -eq 0 ]; then
  echo "no .proto files under api/" >&2
  exit 1
fi

generate() { # generate OUTDIR
  PATH=$TOOLS:$PATH protoc -I . \
    --plugin=protoc-gen-go="$TOOLS/protoc-gen-go" \
    --plugin=protoc-gen-go-grpc="$TOOLS/protoc-gen-go-grpc" \
    --go_out="$1" --go_opt=paths=source_relative \
    --go-grpc_out="$1" --go-grpc_opt=paths=source_relative \
    "${protos[@]}"
}

if ! $check; then
  generate .
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/new" "$tmp/old"
generate "$tmp/new"
# Compare everything generated against the checked-in files, and flag
# generated files that no .proto produces any more; the protoc version line
# of the headers is left out of the comparison.
(cd "$tmp/new" && find api -name '*.pb.go') | while read -r f; do
  mkdir -p "$tmp/old/$(dirname "$f")"
  if [ -f "$f" ]; then cp "$f" "$tmp/old/$f"; fi
done
find api -name '*.pb.go' | while read -r f; do
  if [ ! -f "$tmp/new/$f" ]; then mkdir -p "$tmp/old/$(dirname "$f")"; cp "$f" "$tmp/old/$f"; fi
done
find "$tmp/new" "$tmp/old" -name '*.pb.go' -exec sed -i -E '/^\/\/ (\t|- )protoc +v[0-9]/d' {} +
if ! diff -ru "$tmp/old/api" "$tmp/new/api" >"$tmp/diff"; then
  head -n 60 "$tmp/diff" >&2
  echo "the generated protobuf code under api/ is stale: run 'make proto' and commit the result" >&2
  exit 1
fi
