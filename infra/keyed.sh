#!/bin/sh
# Prints a comma-separated list with each entry keyed for the SAM templates' subscription loops:
# `key=entry`, the key being the first 12 hex digits of the SHA-256 of the entry (lower-cased). The key names the subscription's resource: it stays the same when the list
# changes, and two addresses that differ only in punctuation get two keys.
#   infra/keyed.sh "oncall@acme.example,a.b@acme.example"
set -eu
# sha256sum (GNU) or shasum (macOS).
if command -v sha256sum >/dev/null 2>&1; then sha() { sha256sum; }; else sha() { shasum -a 256; }; fi
out=""
IFS=','
for entry in $1; do
  entry=$(printf '%s' "$entry" | tr -d ' ')
  [ -n "$entry" ] || continue
  key=$(printf '%s' "$entry" | tr 'A-Z' 'a-z' | sha | cut -c1-12)
  out="${out:+$out,}$key=$entry"
done
printf '%s\n' "$out"
