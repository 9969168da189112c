#!/usr/bin/env bash
# The one list of Debian 12 packages steadyloop needs. Used by the README, by .ci/run
# and by the Dockerfile.
#
#   docker/deps.sh            install build + runtime + test packages (default)
#   docker/deps.sh runtime    install only what the built binary needs to run
#   docker/deps.sh container  install the container tooling docker/smoke.sh uses (podman)
#   docker/deps.sh --print build|runtime|test|container   print a list, install nothing
set -euo pipefail

# Compilers, build tools and the -dev packages of every library the code uses.
build_pkgs=(
  ca-certificates g++ cmake ninja-build ccache pkg-config git
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsqlite3-dev prometheus-cpp-dev libssl-dev libvips-dev libsodium-dev
  libseccomp-dev
)

# Shared libraries the release binary links against (no compiler, no -dev packages).
runtime_pkgs=(
  ca-certificates
  libboost-json1.81.0 libboost-url1.81.0
  libspdlog1.10 libfmt9
  libsqlite3-0 libprometheus-cpp-core1.0 libssl3 libvips42 libsodium23 libseccomp2
)

# Tools the test and load suites use besides the build.
# chromium (headless) loads the dashboard page in its browser test; it needs a font to draw text.
# python3 drives chromium there and runs the benchmark report; gnuplot draws its lag trace.
# clang-14 builds the fuzz preset (tests/fuzz); libclang-rt-14-dev holds libFuzzer and
# clang's sanitizer runtimes (only recommended by clang-14's dependencies, so named here).
# Test packages rather than build ones: the container's release build needs neither.
test_pkgs=(curl wrk chromium fonts-dejavu-core python3 gnuplot-nox clang-14 libclang-rt-14-dev)

# Building and running the image without a Docker engine (docker/smoke.sh): podman with
# the runc runtime, debootstrap for a local base image, netavark for published ports.
container_pkgs=(podman runc conmon netavark aardvark-dns iptables uidmap debootstrap curl)

mode=all
if [[ "${1:-}" == "--print" ]]; then
  case "${2:-}" in
    build) printf '%s\n' "${build_pkgs[@]}" ;;
    runtime) printf '%s\n' "${runtime_pkgs[@]}" ;;
    test) printf '%s\n' "${test_pkgs[@]}" ;;
    container) printf '%s\n' "${container_pkgs[@]}" ;;
    *) echo "usage: $0 --print build|runtime|test|container" >&2; exit 2 ;;
  esac
  exit 0
fi
[[ $# -gt 0 ]] && mode="$1"

case "$mode" in
  all) pkgs=("${build_pkgs[@]}" "${runtime_pkgs[@]}" "${test_pkgs[@]}") ;;
  runtime) pkgs=("${runtime_pkgs[@]}") ;;
  container) pkgs=("${container_pkgs[@]}") ;;
  *) echo "usage: $0 [all|runtime|container] | --print build|runtime|test|container" >&2; exit 2 ;;
esac

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Nothing to do when every package is already installed (fast repeated runs).
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed' || missing+=("$p")
done

# Debian 12's default Boost is 1.74; its -dev headers conflict with 1.81's. Remove any
# Boost 1.74 development package (headers only; the 1.74 shared libraries stay, so
# programs linked against them keep working).
if [[ "$mode" == all ]]; then
  old_boost=$(dpkg-query -W -f='${Package} ${Status}\n' 'libboost*-dev' 2>/dev/null \
    | awk '$NF == "installed" && $1 !~ /1\.81/ {print $1}' || true)
  if [[ -n "$old_boost" ]]; then
    echo "deps.sh: removing Boost -dev packages that conflict with 1.81: $(echo $old_boost)"
    $sudo apt-get remove -y $old_boost
  fi
fi

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "deps.sh: all ${#pkgs[@]} packages present"
  exit 0
fi

echo "deps.sh: installing ${missing[*]}"
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
