# steadyloop container image — not built yet.
# The multi-stage image (build with docker/deps.sh on debian:bookworm-slim, run as a
# non-root user with only the runtime libraries) arrives with the container work.
FROM debian:bookworm-slim
RUN echo "steadyloop: the container image is not built yet; see README.md" && exit 1
