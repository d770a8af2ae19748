#!/usr/bin/env bash
# Zips each Lambda bootstrap with the checks file (and its templates/ folder, if any) into DIST:
#   infra/package.sh CHECKS DIST   (after `cargo lambda build --profile lambda-release --arm64`)
set -euo pipefail
checks="$1"; dist="$2"
base=$(dirname "$checks")
mkdir -p "$dist"
for fn in probe alert rollup mailer pages ping; do
  bin="target/lambda/atalaya-$fn-fn/bootstrap"
  [ -x "$bin" ] || { echo "missing $bin: build with cargo-lambda first" >&2; exit 1; }
  stage=$(mktemp -d)
  cp "$bin" "$stage/bootstrap"
  cp "$checks" "$stage/checks.yaml"
  [ -d "$base/templates" ] && cp -r "$base/templates" "$stage/templates"
  rm -f "$dist/atalaya-$fn.zip"
  # Python's zipfile (no `zip` needed); fixed times and modes: the same inputs give the same zip
  # (and no needless Lambda update).
  python3 - "$stage" "$dist/atalaya-$fn.zip" <<'PY'
import os, sys, zipfile
stage, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for root, dirs, files in os.walk(stage):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            info = zipfile.ZipInfo(os.path.relpath(path, stage), date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if name == "bootstrap" else 0o100644) << 16  # regular file + mode
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read(), compresslevel=9)
PY
  rm -rf "$stage"
  echo "$dist/atalaya-$fn.zip: $(stat -c %s "$dist/atalaya-$fn.zip") bytes (bootstrap $(stat -c %s "$bin") bytes)"
done
