#!/usr/bin/env bash
# Zips each Lambda bootstrap with the checks file (and its templates/ folder, if any) into DIST:
#   infra/package.sh CHECKS DIST   (after `cargo lambda build --profile lambda-release --arm64`)
set -euo pipefail
checks="$1"; dist="$2"
base=$(dirname "$checks")
mkdir -p "$dist"
for fn in probe alert; do
  bin="target/lambda/atalaya-$fn-fn/bootstrap"
  [ -x "$bin" ] || { echo "missing $bin: build with cargo-lambda first" >&2; exit 1; }
  stage=$(mktemp -d)
  cp "$bin" "$stage/bootstrap"
  cp "$checks" "$stage/checks.yaml"
  [ -d "$base/templates" ] && cp -r "$base/templates" "$stage/templates"
  rm -f "$dist/atalaya-$fn.zip"
  # Fixed times: the same inputs give the same zip (and no needless Lambda update).
  find "$stage" -exec touch -h -d "2020-01-01 00:00:00" {} +
  (cd "$stage" && zip -qrX "$OLDPWD/$dist/atalaya-$fn.zip" .)
  rm -rf "$stage"
  echo "$dist/atalaya-$fn.zip: $(stat -c %s "$dist/atalaya-$fn.zip") bytes (bootstrap $(stat -c %s "$bin") bytes)"
done
