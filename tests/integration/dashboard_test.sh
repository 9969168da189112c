#!/usr/bin/env bash
# The dashboard (GET /) in a real browser. Starts steadyloop on a free port, checks the page's
# HTTP answer with curl, then opens it in headless Chromium and drives the browser over the
# DevTools protocol (--remote-debugging-pipe): after a few seconds of /loop/stream it reads the
# page's own counters from the DOM (every chart canvas holds data-points > 0, the body's
# data-events >= 3 and data-errors == 0) and saves a screenshot.
#
#   dashboard_test.sh <steadyloop binary> <index.html the binary embeds> <artifacts folder>
#
# Why not --dump-dom: headless Chromium dumps at the load event, before any event has come,
# and --virtual-time-budget waits for network fetches to end, which a never-ending
# EventSource never does. The DevTools protocol reads the live page whenever we like.
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 <steadyloop binary> <index.html> <artifacts folder>" >&2
  exit 2
fi
binary=$1
page_source=$2
artifacts=$3

fail() { echo "FAIL: $*" >&2; exit 1; }

chromium=${CHROMIUM:-}
if [[ -z $chromium ]]; then
  for candidate in chromium chromium-browser google-chrome; do
    if command -v "$candidate" >/dev/null; then chromium=$(command -v "$candidate"); break; fi
  done
fi
[[ -n $chromium ]] || fail "chromium is not installed (docker/deps.sh installs it with the test packages; or set CHROMIUM=<path>)"
[[ -x $chromium ]] || fail "CHROMIUM=$chromium is not an executable"
command -v python3 >/dev/null || fail "python3 is needed to drive chromium over the DevTools protocol"
command -v curl >/dev/null || fail "curl is not installed (docker/deps.sh installs it with the test packages)"
[[ -x $binary ]] || fail "no steadyloop binary at $binary"

tmp=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    # Give it its shutdown, then make sure.
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- the service, on a free port ----
"$binary" --port 0 --address 127.0.0.1 --db :memory: --workers 1 >"$tmp/server.out" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 150); do
  port=$(sed -n 's/^{"event":"listening".*"port":\([0-9]*\).*/\1/p' "$tmp/server.out" | head -n 1)
  [[ -n $port ]] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$tmp/server.out" >&2; fail "steadyloop exited before listening"; }
  sleep 0.1
done
[[ -n $port ]] || { cat "$tmp/server.out" >&2; fail "steadyloop did not print its listening line within 15 s"; }
base="http://127.0.0.1:$port"
echo "steadyloop listening on $base (pid $server_pid)"

# ---- the page over HTTP: the embedded bytes, the headers, HEAD ----
status=$(curl -sS --max-time 10 -D "$tmp/get.headers" -o "$tmp/page.html" -w '%{http_code}' "$base/")
[[ $status == 200 ]] || fail "GET / answered $status"
grep -qi '^content-type: text/html; charset=utf-8' "$tmp/get.headers" || { cat "$tmp/get.headers"; fail "GET / is not text/html; charset=utf-8"; }
grep -qi '^cache-control: no-cache' "$tmp/get.headers" || { cat "$tmp/get.headers"; fail "GET / has no Cache-Control: no-cache"; }
cmp -s "$tmp/page.html" "$page_source" || fail "GET / is not the bytes of $page_source (a stale build?)"
size=$(wc -c <"$tmp/page.html")
(( size < 65536 )) || fail "the page is $size bytes; it should stay light (under 64 KiB)"
status=$(curl -sS --max-time 10 -I -o "$tmp/head.headers" -w '%{http_code}' "$base/")
[[ $status == 200 ]] || fail "HEAD / answered $status"
grep -qi "^content-length: $size" "$tmp/head.headers" || { cat "$tmp/head.headers"; fail "HEAD / does not announce the page's $size bytes"; }
echo "GET / and HEAD /: 200, text/html, $size bytes, the embedded page"

# ---- the page in headless Chromium ----
mkdir -p "$artifacts"
screenshot="$artifacts/dashboard.png"
rm -f "$screenshot"
set +e
timeout --kill-after=5 90 python3 - "$chromium" "$base/" "$screenshot" "$tmp/profile" "$tmp/chromium.log" \
  >"$tmp/driver.out" 2>&1 <<'PY'
import base64, json, os, select, signal, subprocess, sys, time

chromium, url, screenshot, profile, chromium_log = sys.argv[1:6]
signal.signal(signal.SIGTERM, lambda *_: sys.exit("driver: terminated (time limit)"))

# Chromium reads DevTools commands on fd 3 and writes answers and events on fd 4, each
# message one JSON text ended by a NUL byte.
to_browser_r, to_browser_w = os.pipe()
from_browser_r, from_browser_w = os.pipe()

def child_fds():
    a, b = os.dup(to_browser_r), os.dup(from_browser_w)  # above 3 and 4, so dup2 clobbers nothing
    os.dup2(a, 3)
    os.dup2(b, 4)

flags = [
    "--headless",                    # the new headless mode: the real browser, no window
    "--no-sandbox",                  # needed as root and in most containers; our own page only
    "--disable-gpu",
    "--disable-dev-shm-usage",       # containers often have a 64 MB /dev/shm
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--user-data-dir=" + profile,
    "--window-size=1280,900",
    "--remote-debugging-pipe",
    "about:blank",
]
log = open(chromium_log, "wb")
browser = subprocess.Popen([chromium] + flags, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                           pass_fds=(3, 4), preexec_fn=child_fds, start_new_session=True)
os.close(to_browser_r)
os.close(from_browser_w)

page_log = []  # the page's console and exceptions, printed when the test fails
seen = set()   # the DevTools events that have come
pending = b""
next_id = 0

def read_message(deadline):
    global pending
    while b"\0" not in pending:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("chromium did not answer in time")
        ready, _, _ = select.select([from_browser_r], [], [], left)
        if ready:
            chunk = os.read(from_browser_r, 1 << 16)
            if not chunk:
                raise EOFError("chromium closed the DevTools pipe (it exited: see its output)")
            pending += chunk
    message, pending = pending.split(b"\0", 1)
    return json.loads(message)

def note_event(m):
    method, p = m.get("method"), m.get("params", {})
    seen.add(method)
    if method == "Runtime.consoleAPICalled":
        text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
        page_log.append(f"console.{p.get('type')}: {text}")
    elif method == "Runtime.exceptionThrown":
        d = p.get("exceptionDetails", {})
        page_log.append("exception: " + d.get("exception", {}).get("description", d.get("text", "")))
    elif method == "Log.entryAdded":
        e = p.get("entry", {})
        page_log.append(f"log {e.get('level')}: {e.get('text')} {e.get('url', '')}")

def call(method, params=None, session=None, timeout=15):
    global next_id
    next_id += 1
    message = {"id": next_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    data = json.dumps(message).encode() + b"\0"
    while data:
        data = data[os.write(to_browser_w, data):]
    deadline = time.monotonic() + timeout
    while True:
        m = read_message(deadline)
        if m.get("id") == next_id:
            if "error" in m:
                raise RuntimeError(f"{method}: {m['error']}")
            return m.get("result", {})
        note_event(m)

def wait_for(event, timeout):
    deadline = time.monotonic() + timeout
    while event not in seen:
        note_event(read_message(deadline))

STATE = """JSON.stringify({
  events: Number(document.body.dataset.events),
  errors: Number(document.body.dataset.errors),
  lastError: document.body.dataset.lastError || "",
  status: (document.getElementById("status") || {}).textContent || "",
  charts: Array.from(document.querySelectorAll("canvas"), c => ({id: c.id, points: Number(c.dataset.points)}))
})"""

def state(session):
    r = call("Runtime.evaluate", {"expression": STATE, "returnByValue": True}, session)
    if "exceptionDetails" in r:
        raise RuntimeError("reading the page's state failed: " + json.dumps(r["exceptionDetails"]))
    return json.loads(r["result"]["value"])

ok = False
try:
    targets = call("Target.getTargets", timeout=30)["targetInfos"]  # the first answer waits for start-up
    page = next(t for t in targets if t["type"] == "page")
    session = call("Target.attachToTarget", {"targetId": page["targetId"], "flatten": True})["sessionId"]
    for domain in ("Page", "Runtime", "Log"):
        call(domain + ".enable", session=session)
    # The screenshot is exactly 1280×900 CSS pixels, whatever the window's frame takes.
    call("Emulation.setDeviceMetricsOverride",
         {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session)
    nav = call("Page.navigate", {"url": url}, session)
    if nav.get("errorText"):
        raise RuntimeError(f"navigating to {url}: {nav['errorText']}")
    wait_for("Page.loadEventFired", 15)

    # Wait for about 3 s of events (12 at 250 ms), at most 20 s.
    deadline = time.monotonic() + 20
    s = state(session)
    while time.monotonic() < deadline:
        if s["events"] >= 12 and s["charts"] and all(c["points"] > 0 for c in s["charts"]):
            break
        time.sleep(0.25)
        s = state(session)
    print("page state:", json.dumps(s))

    shot = call("Page.captureScreenshot", {"format": "png"}, session, timeout=30)
    with open(screenshot, "wb") as f:
        f.write(base64.b64decode(shot["data"]))

    problems = []
    if len(s["charts"]) < 4:
        problems.append(f"expected 4 chart canvases, found {len(s['charts'])}")
    problems += [f"chart {c['id']} holds no points" for c in s["charts"] if not c["points"] > 0]
    if not s["events"] >= 3:
        problems.append(f"only {s['events']} events from /loop/stream reached the page")
    if s["errors"] != 0:
        problems.append(f"{s['errors']} page errors, the last: {s['lastError']}")
    if not s["status"].startswith("connected"):
        problems.append(f"the status says {s['status']!r}, not connected")
    for p in problems:
        print("problem:", p)
    ok = not problems
    try:
        call("Browser.close", timeout=5)
    except Exception:
        pass
except Exception as e:
    print(f"driver: {type(e).__name__}: {e}")
finally:
    if not ok and page_log:
        print("the page's console:")
        for line in page_log[-50:]:
            print("  " + line)
    try:
        browser.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(browser.pid, signal.SIGKILL)  # chromium and every helper process it started
    except ProcessLookupError:
        pass
    browser.wait()
sys.exit(0 if ok else 1)
PY
driver=$?
set -e
cat "$tmp/driver.out"
[[ -f $screenshot ]] && echo "dashboard screenshot: $screenshot"
if [[ $driver -ne 0 ]]; then
  [[ $driver -eq 124 || $driver -eq 137 ]] && echo "the browser run passed its 90 s limit" >&2
  echo "---- chromium's output ----" >&2
  grep -v 'dbus' "$tmp/chromium.log" | tail -n 80 >&2 || true  # less the noise of a machine without D-Bus
  echo "---- steadyloop's output ----" >&2
  tail -n 40 "$tmp/server.out" >&2 || true
  fail "the dashboard did not work in chromium"
fi
echo "PASS: the dashboard draws /loop/stream in chromium without errors"
