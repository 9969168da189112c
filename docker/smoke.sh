#!/usr/bin/env bash
# Builds the container image with podman and proves it on this machine: no Docker engine
# and no image registry are needed, only a Debian mirror.
#
#   docker/smoke.sh        (root, or a user with sudo; Debian 12)
#
# Sets podman up idempotently (packages from docker/deps.sh, the runc runtime, default
# ulimits within this machine's hard limits, a local debian:bookworm-slim made with
# debootstrap), builds the image, then runs it with its port on 127.0.0.1 and checks
# /healthz, /readyz, /ping, a password hash, an image resize, the image's own health
# check, the CPU quota (--cpus=1 gives one worker), reaping as PID 1, a clean exit 0 on
# SIGTERM, and that a key written before the stop is read back by a new container on
# the same volume. Every wait is bounded; containers and volumes are removed on exit;
# the image stays (tag steadyloop:smoke) so a second run builds from cache.
#
# Exits 0 with "smoke: skipped" when podman cannot be installed here.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "smoke: skipped: needs root (or sudo) for podman"; exit 0; }
  exec sudo bash "$0" "$@"
fi
cd "$(dirname "$0")/.."

image="${STEADYLOOP_SMOKE_IMAGE:-steadyloop:smoke}"
name="steadyloop-smoke-$$"
volume="steadyloop-smoke-$$"
work=$(mktemp -d /tmp/steadyloop-smoke.XXXXXX)
started_at=$SECONDS

say() { printf '== %s\n' "$*"; }
ok() { printf '   ok  %s\n' "$*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
timing() { printf '   time  %-24s %6s s\n' "$1" "$2"; timings+=("${1// /-}=${2}s"); }
timings=()

containers=()
cleanup() {
  local rc=$?
  for c in "${containers[@]}"; do timeout 60 podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; done
  timeout 60 podman volume rm -f "$volume" >/dev/null 2>&1 || true
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() {
  echo "smoke: FAILED: $*" >&2
  local c
  for c in "${containers[@]}"; do
    echo "---- podman logs $c (last 40 lines)" >&2
    timeout 30 podman logs --tail 40 "$c" >&2 2>&1 || true
  done
  exit 1
}

# podman with a deadline: nothing it does here should take two minutes.
pod() { timeout 120 podman "$@"; }

# Runs "$@" until it succeeds or `secs` pass.
wait_for() {
  local secs=$1
  shift
  local end=$((SECONDS + secs))
  until "$@"; do
    ((SECONDS < end)) || return 1
    sleep 0.1
  done
}

# ---- the deployment files parse, and their timings fit together ---------------------------

say "docker/compose.yaml, docker/k8s.yaml"
if /usr/bin/python3 -c 'import yaml' 2>/dev/null; then
  /usr/bin/python3 - <<'EOF' || fail "the deployment files"
import yaml
compose = yaml.safe_load(open("docker/compose.yaml"))
svc = compose["services"]["steadyloop"]
assert "/data" in svc["volumes"][0] and "healthcheck" in svc and "load" in compose["services"]
docs = {d["kind"]: d for d in yaml.safe_load_all(open("docker/k8s.yaml"))}
template = docs["Deployment"]["spec"]["template"]
pod, c = template["spec"], template["spec"]["containers"][0]
env = {e["name"]: e.get("value") for e in c["env"]}
grace_s = int(env["STEADYLOOP_SHUTDOWN_GRACE_MS"]) / 1000
pre_stop_s = int(c["lifecycle"]["preStop"]["exec"]["command"][-1])
assert pod["terminationGracePeriodSeconds"] > pre_stop_s + grace_s, "terminationGracePeriodSeconds too short"
assert c["livenessProbe"]["httpGet"]["path"] == "/healthz" and c["readinessProbe"]["httpGet"]["path"] == "/readyz"
assert docs["Service"]["spec"]["selector"].items() <= template["metadata"]["labels"].items()
print(f"   ok  both parse; k8s: grace {pod['terminationGracePeriodSeconds']} s > preStop {pre_stop_s} s + shutdown {grace_s:g} s")
EOF
else
  echo "   (no python3-yaml here: not parsed)"
fi

# ---- podman, set up the way it works here ---------------------------------------------

say "podman setup"
t=$(now)
if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! command -v debootstrap >/dev/null ||
  ! command -v curl >/dev/null; then
  if ! timeout 600 bash docker/deps.sh container >"$work/deps.log" 2>&1; then
    tail -n 5 "$work/deps.log"
    echo "smoke: skipped: podman cannot be installed here (docker/deps.sh container failed; see above)"
    exit 0
  fi
fi
command -v podman >/dev/null || { echo "smoke: skipped: podman is not available"; exit 0; }

# runc (crun rejects some kernels' cgroup layouts), and default ulimits no higher than
# this machine's hard limits (podman's defaults ask for more, and then nothing starts).
hard_nofile=$(ulimit -Hn)
[[ "$hard_nofile" == unlimited ]] && hard_nofile=1048576
hard_nproc=$(ulimit -Hu)
if [[ "$hard_nproc" == unlimited ]] || ((hard_nproc > 32768)); then hard_nproc=32768; fi
conf_dir=/etc/containers/containers.conf.d
conf="$conf_dir/50-steadyloop.conf"
cat >"$work/containers.conf" <<EOF
# Written by steadyloop's docker/smoke.sh: the settings podman needs on this machine.
[containers]
default_ulimits = ["nofile=$hard_nofile:$hard_nofile", "nproc=$hard_nproc:$hard_nproc"]

[engine]
runtime = "runc"

[network]
network_backend = "netavark"
EOF
if ! cmp -s "$work/containers.conf" "$conf"; then
  mkdir -p "$conf_dir"
  cp "$work/containers.conf" "$conf"
  ok "wrote $conf"
fi
runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>/dev/null) || fail "podman info does not work"
[[ "$runtime" == runc ]] || fail "podman uses $runtime, not runc ($conf is not read?)"
ok "$(podman --version), runtime $runtime, ulimits nofile=$hard_nofile nproc=$hard_nproc"
timing "podman setup" "$(since "$t")"

t=$(now)
timeout 900 bash docker/base-image.sh || fail "could not make the debian:bookworm-slim base image"
timing "base image" "$(since "$t")"

# ---- build ------------------------------------------------------------------------------

say "build $image"
t=$(now)
# --format docker keeps HEALTHCHECK; --pull=never: the base image is the local one.
if ! timeout 900 podman build --pull=never --format docker -t "$image" . >"$work/build.log" 2>&1; then
  tail -n 40 "$work/build.log"
  fail "podman build"
fi
timing "image build" "$(since "$t")"
grep -E '^ *Hits:' "$work/build.log" | sed 's/^/   ccache /' || true
size=$(pod image inspect --format '{{.Size}}' "$image")
ok "image size $(awk -v s="$size" 'BEGIN { printf "%.0f MB", s / 1e6 }')"

health=$(pod image inspect --format '{{json .Config.Healthcheck}}' "$image")
[[ "$health" == *probe* ]] || fail "the image has no HEALTHCHECK with the probe: $health"
user=$(pod image inspect --format '{{.Config.User}}' "$image")
[[ -n "$user" && "$user" != root && "$user" != 0* ]] || fail "the image runs as '$user'"
ok "HEALTHCHECK $health, user $user"

# The runtime image carries no compiler and no -dev package.
leftovers=$(pod run --rm --entrypoint /bin/sh "$image" -c \
  'dpkg-query -W -f="\${Package}\n" | grep -E -- "-dev$|^(gcc|g\+\+|cpp|clang|cmake|curl)(-[0-9]+)?$"; \
   for t in cc gcc g++ c++ curl wget; do command -v $t; done; true' 2>/dev/null)
[[ -z "$leftovers" ]] || fail "the runtime image contains: $leftovers"
ok "no compiler, no -dev package, no curl in the runtime image"

# ---- run --------------------------------------------------------------------------------

# GET helpers: -f fails on 4xx/5xx; every request has a deadline.
get() { curl -sS -f --max-time 10 "http://$addr$1"; }
status() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://$addr$1" || true; }
ready() { [[ "$(status /readyz)" == 200 ]]; }

# Starts a container on the volume with its port on 127.0.0.1 (a free one); sets $addr.
start() {
  local c=$1 label=$2
  shift 2
  containers+=("$c")
  local t0
  t0=$(now)
  pod run -d --name "$c" "$@" -p 127.0.0.1::8080 -v "$volume:/data" "$image" >/dev/null 2>>"$work/podman.log" ||
    { cat "$work/podman.log"; return 1; }
  addr=$(pod port "$c" 8080 | head -n 1)
  [[ -n "$addr" ]] || fail "no published port for $c"
  wait_for 30 ready || fail "$c was not ready within 30 s"
  timing "start to ready$label" "$(since "$t0")"
}

say "run (--cpus=1 --memory=1g, port on 127.0.0.1)"
pod volume create "$volume" >/dev/null
limits=(--cpus=1 --memory=1g)
if ! start "$name" "" "${limits[@]}"; then
  echo "   note: podman run with --cpus/--memory failed here; running without limits"
  pod rm -f "$name" >/dev/null 2>&1 || true
  limits=()
  start "$name" "" || fail "podman run"
fi
ok "listening on $addr"

[[ "$(get /healthz)" == '{"status":"ok"}' ]] || fail "/healthz"
ok "/healthz"
[[ "$(get /readyz)" == '{"status":"ready"}' ]] || fail "/readyz"
ok "/readyz"
[[ "$(get /ping)" == pong ]] || fail "/ping"
ok "/ping"

workers=$(get /loop | grep -o '"worker_pool":{"workers":[0-9]*' | grep -o '[0-9]*$' || true)
if ((${#limits[@]})); then
  [[ "$workers" == 1 ]] || fail "--cpus=1 should give 1 worker, /loop says ${workers:-nothing}"
  ok "--cpus=1: worker_pool.workers=1 (host has $(nproc) CPUs)"
else
  ok "worker_pool.workers=$workers (no CPU limit)"
fi

hash=$(curl -sS -f --max-time 20 -H 'Content-Type: application/json' -d '{"password":"correct horse"}' \
  "http://$addr/passwords/hash") || fail "POST /passwords/hash"
[[ "$hash" == '{"hash":"$argon2id$'* ]] || fail "POST /passwords/hash answered $hash"
ok "POST /passwords/hash: argon2id"

headers=$(curl -sS -f --max-time 20 --data-binary @docker/smoke.png -o "$work/thumb.png" -D - \
  "http://$addr/images/resize?width=64") || fail "POST /images/resize"
grep -qi '^Content-Type: image/png' <<<"$headers" || fail "resize: not a PNG: $headers"
grep -qi '^X-Image-Width: 64' <<<"$headers" || fail "resize: not 64 wide: $headers"
[[ "$(head -c 4 "$work/thumb.png" | od -An -c | tr -d ' ')" == '211PNG' ]] || fail "resize: the body is not a PNG"
ok "POST /images/resize?width=64: $(grep -i '^X-Image-Height' <<<"$headers" | tr -d '\r' | awk '{print "64x" $2}') PNG"

pod healthcheck run "$name" >/dev/null 2>>"$work/podman.log" || fail "podman healthcheck run: unhealthy"
ok "podman healthcheck run: healthy ($(pod exec "$name" /usr/local/bin/steadyloop probe 2>&1))"

code=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X PUT --data-binary 'kept across restarts' \
  -H 'Content-Type: text/plain' "http://$addr/kv/smoke") || fail "PUT /kv/smoke"
[[ "$code" == 201 || "$code" == 200 ]] || fail "PUT /kv/smoke answered $code"
ok "PUT /kv/smoke: $code"

# PID 1 reaps children it did not start: two orphans re-parented to it must not stay zombies.
pod exec "$name" /bin/sh -c 'sleep 0.2 & sleep 0.3 & exit 0'
zombies() {
  pod exec "$name" /bin/sh -c 'grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l'
}
no_zombies() { [[ "$(zombies)" == 0 ]]; }
sleep 0.5
wait_for 10 no_zombies || fail "zombie processes in the container"
[[ "$(pod exec "$name" cat /proc/1/comm)" == steadyloop ]] || fail "PID 1 is not steadyloop"
ok "PID 1 is steadyloop and reaps orphans (no zombies)"

say "stop with SIGTERM while a request is in flight"
# A 1.5 s request started before the signal still gets its answer (the grace period).
curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://$addr/demo/io?ms=1500&mode=async" \
  >"$work/inflight.status" 2>/dev/null &
inflight=$!
in_flight() { get /loop | grep -q '"in_flight":2'; }
wait_for 10 in_flight || fail "the slow request did not start"
t=$(now)
timeout 60 podman stop -t 30 "$name" >/dev/null 2>>"$work/podman.log" || fail "podman stop"
timing "stop (draining)" "$(since "$t")"
wait "$inflight" || true
[[ "$(cat "$work/inflight.status")" == 200 ]] || fail "the in-flight request got '$(cat "$work/inflight.status")', not 200"
ok "the request in flight at SIGTERM was answered 200"
exit_code=$(pod inspect --format '{{.State.ExitCode}}' "$name")
[[ "$exit_code" == 0 ]] || fail "exit code $exit_code after SIGTERM"
pod logs "$name" >"$work/run1.log" 2>&1
grep -q '"msg":"signal=15 ' "$work/run1.log" || fail "no draining line in the log"
[[ "$(grep -c '"msg":"stopped"' "$work/run1.log")" == 1 ]] || fail "no clean 'stopped' line in the log"
grep -v '^{' "$work/run1.log" | grep -v '^$' >"$work/not-json.log" || true
[[ ! -s "$work/not-json.log" ]] || fail "log lines that are not JSON: $(head -n 3 "$work/not-json.log")"
ok "exit code 0; log: $(grep -o '"msg":"signal=15[^"]*"' "$work/run1.log"), then \"stopped\"; every line JSON"

say "start again on the same volume"
start "$name-2" " (again)" "${limits[@]}" || fail "podman run (second)"
value=$(get /kv/smoke) || fail "GET /kv/smoke after the restart"
[[ "$value" == 'kept across restarts' ]] || fail "GET /kv/smoke answered '$value'"
ok "GET /kv/smoke: '$value'"
timeout 60 podman stop -t 30 "$name-2" >/dev/null 2>>"$work/podman.log" || fail "podman stop (second)"
[[ "$(pod inspect --format '{{.State.ExitCode}}' "$name-2")" == 0 ]] || fail "second container: exit code not 0"
ok "second container stopped with exit code 0"

timing "smoke total" "$((SECONDS - started_at))"
echo "smoke: passed (${timings[*]})"
