#!/usr/bin/env bash
# Runs a command with moto listening on a free loopback port, exported to it as
# ATALAYA_MOTO_ENDPOINT, and stops moto afterwards.  Usage: tests/with-moto.sh MOTO_SERVER CMD...
# moto runs from MOTO_SERVER's virtualenv, one request at a time (tests/moto_serial.py: DynamoDB's
# conditional writes are atomic, moto's threaded server's are not).
set -euo pipefail
moto="$1"; shift
python="$(dirname "$moto")/python"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log="${TMPDIR:-/tmp}/atalaya-moto.$port.log"
"$python" "$(dirname "$0")/moto_serial.py" -H 127.0.0.1 -p "$port" > "$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
python3 - "$port" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit("moto_server did not start: see the log")
PY
ATALAYA_MOTO_ENDPOINT="http://127.0.0.1:$port" "$@"
