# steadyloop container image.
#
#   docker build -t steadyloop .                                  (Docker, BuildKit)
#   podman build --format docker -t steadyloop .                  (podman: keeps HEALTHCHECK)
#   docker run -p 8080:8080 -v steadyloop-data:/data steadyloop
#
# Two stages on debian:bookworm-slim. The build stage installs the build packages from
# docker/deps.sh (the one package list) and builds the `release` preset; the runtime
# stage has the runtime libraries from the same list, the binary, and nothing else: no
# compiler, no -dev package, no shell tools beyond the base image's.
#
# Configuration is by STEADYLOOP_* environment variables only (`steadyloop --help` lists
# them); logs are JSON lines on stdout. The process runs as PID 1 without an init: it
# reaps every child itself and exits 0 after draining on SIGTERM.

FROM debian:bookworm-slim AS build

# Downloaded packages stay in a cache mount (the base image's docker-clean would delete
# them), so a changed package list does not fetch everything again.
RUN rm -f /etc/apt/apt.conf.d/docker-clean \
 && echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' >/etc/apt/apt.conf.d/keep-cache
COPY docker/deps.sh /src/docker/deps.sh
RUN --mount=type=cache,id=steadyloop-apt,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,id=steadyloop-apt-lists,target=/var/lib/apt/lists,sharing=locked \
    apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $(bash /src/docker/deps.sh --print build) >/dev/null

# Only what the release build reads (tests are not built): editing a test, the README
# or the deployment files does not rebuild the binary.
WORKDIR /src
COPY CMakeLists.txt CMakePresets.json ./
COPY cmake cmake
COPY lib lib
COPY service service
# ccache (found by CMakeLists.txt) keeps its objects in a cache mount across builds;
# every file is compiled with a precompiled header, which ccache caches only when told
# that the header's defines and timestamps may be trusted.
ENV CCACHE_DIR=/ccache \
    CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
RUN --mount=type=cache,id=steadyloop-ccache,target=/ccache \
    ccache --zero-stats >/dev/null \
 && cmake --preset release >/dev/null \
 && cmake --build --preset release \
 && strip build/release/steadyloop \
 && build/release/steadyloop --version \
 && ccache --show-stats | grep -E '^ *(Hits|Misses):' | head -n 2 | tr -s ' ' | tr '\n' ' ' && echo


FROM debian:bookworm-slim AS runtime

# The runtime libraries, from the same list (apt lists and downloads are not kept). No
# cache mount here: one shared with the build stage can deadlock podman's multi-stage
# builds (a locked cache mount stays locked until the whole build ends), and BuildKit
# may run both stages' apt at once.
COPY docker/deps.sh /tmp/deps.sh
RUN bash /tmp/deps.sh runtime >/dev/null \
 && rm -rf /var/lib/apt/lists/* /tmp/deps.sh /var/log/apt /var/log/dpkg.log /var/cache/debconf/*-old

# An unprivileged user; /data is its database volume.
RUN groupadd --gid 10001 steadyloop \
 && useradd --uid 10001 --gid steadyloop --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin steadyloop \
 && mkdir -p /data && chown steadyloop:steadyloop /data

COPY --from=build /src/build/release/steadyloop /usr/local/bin/steadyloop

# Every option is a STEADYLOOP_* variable; these are the image's defaults. The worker
# count follows the container's CPU quota (cgroup v2 cpu.max or v1 CFS quota) unless
# STEADYLOOP_WORKERS is set.
ENV STEADYLOOP_ADDRESS=0.0.0.0 \
    STEADYLOOP_PORT=8080 \
    STEADYLOOP_DB=/data/steadyloop.db \
    STEADYLOOP_LOG_FORMAT=json \
    STEADYLOOP_SHUTDOWN_GRACE_MS=10000

USER steadyloop:steadyloop
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8080
STOPSIGNAL SIGTERM
# The binary probes itself (no curl in the image): GET /healthz on STEADYLOOP_PORT,
# exit 0 for a 2xx answer.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/steadyloop", "probe"]

ENTRYPOINT ["/usr/local/bin/steadyloop"]
