#!/usr/bin/env bash
# Bounded load test on loopback (issue 7): 64 concurrent connections on the
# employee trend endpoint for DURATION seconds (wrk), and at the same time 8
# ingest clients each posting 100-sample JSON batches in a loop (python3).
# Prints wrk's report and the ingest totals; exits 1 on any error.
#
#   scripts/load.sh                 # release build, 30 s
#   PROFILE=debug DURATION=30 scripts/load.sh
#
# Needs wrk (apt-get install wrk) and python3. Everything lives in a
# temporary directory (its own embedded PostgreSQL cluster), removed at exit.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30}
PROFILE=${PROFILE:-release}
EMPLOYEES=${EMPLOYEES:-200}
PORT=${PORT:-$((20000 + RANDOM % 10000))}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 is missing" >&2; exit 2; }

if [ "$PROFILE" = release ]; then cargo build --release --bin organism; else cargo build --bin organism; fi
TARGET=${CARGO_TARGET_DIR:-target}
WORK=$(mktemp -d /tmp/organism-load.XXXXXX)
chmod 755 "$WORK"  # the embedded server may run as another user (root cannot run initdb)
# Our own copy: a shared target directory may be rebuilt meanwhile.
cp "$TARGET/$PROFILE/organism" "$WORK/organism"
BIN="$WORK/organism"
export ORGANISM_DATA_DIR="$WORK/data" ORGANISM_LOG=warn
unset DATABASE_URL TIMESCALE_HOST
SERVER=""
cleanup() {
    if [ -n "$SERVER" ]; then kill -TERM "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== data: $EMPLOYEES employees, 7 days every 15 minutes"
"$BIN" demo --employees "$EMPLOYEES" --days 7 --no-serve | grep -v 'API key' || true
READER=$("$BIN" keys create --role reader --label load 2>/dev/null | sed -n 's/^reader API key: //p')
WRITER=$("$BIN" keys create --role writer --label load 2>/dev/null | sed -n 's/^writer API key: //p')
[ -n "$READER" ] && [ -n "$WRITER" ] || { echo "could not create keys" >&2; exit 1; }

"$BIN" serve --bind "127.0.0.1:$PORT" &
SERVER=$!
for _ in $(seq 1 300); do
    if curl -fsS -o /dev/null -H "Authorization: Bearer $READER" "http://127.0.0.1:$PORT/api/trends/health" 2>/dev/null; then break; fi
    sleep 0.2
done

cat > "$WORK/trend.lua" <<LUA
math.randomseed(7)
request = function()
  local path = string.format("/api/trends/employee/emp_%05d?days=7", math.random(1, $EMPLOYEES))
  return wrk.format("GET", path, {["Authorization"] = "Bearer $READER"})
end
LUA

cat > "$WORK/ingest.py" <<'PY'
import json, sys, threading, time, urllib.request, datetime
port, key, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
stats = {"batches": 0, "rows": 0, "errors": 0, "latencies": []}
lock = threading.Lock()
def client(n):
    end = time.monotonic() + duration
    i = 0
    while time.monotonic() < end:
        now = datetime.datetime.now(datetime.timezone.utc)
        rows = [{"time": (now - datetime.timedelta(seconds=k)).isoformat(),
                 "employee_id": f"load_{n}_{k % 10}", "team": f"Load {n}",
                 "degree_centrality": 0.1, "betweenness_centrality": 0.2,
                 "clustering_coeff": 0.3, "burnout_score": 50.0} for k in range(100)]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/metrics",
            data=json.dumps(rows).encode(), method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                body = json.load(r)
                ok = r.status == 200 and body.get("stored") == 100
        except Exception as e:
            print(f"ingest client {n}: {e}", file=sys.stderr)
            ok = False
        with lock:
            stats["latencies"].append(time.monotonic() - started)
            if ok:
                stats["batches"] += 1; stats["rows"] += 100
            else:
                stats["errors"] += 1
        i += 1
threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
started = time.monotonic()
for t in threads: t.start()
for t in threads: t.join()
elapsed = time.monotonic() - started
lat = sorted(stats["latencies"]) or [0]
print(f"ingest: 8 clients, {stats['batches']} batches of 100 ({stats['rows']} rows) in {elapsed:.1f} s = "
      f"{stats['rows']/elapsed:.0f} rows/s; batch latency p50 {lat[len(lat)//2]*1000:.0f} ms, "
      f"p99 {lat[min(len(lat)-1, int(len(lat)*0.99))]*1000:.0f} ms; errors {stats['errors']}")
sys.exit(1 if stats["errors"] else 0)
PY

echo "== load: wrk 64 connections on employee trends + 8 ingest clients, ${DURATION} s ($PROFILE build, $(nproc) cores)"
python3 "$WORK/ingest.py" "$PORT" "$WRITER" "$DURATION" > "$WORK/ingest.out" 2>&1 &
INGEST=$!
wrk -t2 -c64 -d"${DURATION}s" --timeout 10s --latency -s "$WORK/trend.lua" "http://127.0.0.1:$PORT" | tee "$WORK/wrk.out"
INGEST_OK=0; wait "$INGEST" || INGEST_OK=$?
cat "$WORK/ingest.out"

FAILED=0
if grep -q 'Non-2xx' "$WORK/wrk.out"; then echo "FAIL: wrk saw non-2xx answers" >&2; FAILED=1; fi
if grep -q 'Socket errors' "$WORK/wrk.out"; then echo "FAIL: wrk saw socket errors" >&2; FAILED=1; fi
if [ "$INGEST_OK" != 0 ]; then echo "FAIL: ingest errors" >&2; FAILED=1; fi
[ "$FAILED" = 0 ] && echo "== zero errors"
exit "$FAILED"
