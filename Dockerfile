# lora-squeeze: the adapter service in a small Debian image.
#   docker build -t lora-squeeze .
#   docker run -p 8080:8080 -v lora-data:/data lora-squeeze
# Kubernetes (Deploy/overlays) and systemd (Deploy/systemd): see Deploy/README.md. `make deploy-lint`
# lints this file; `make deploy-check` installs the runtime stage's packages in a bare Debian root,
# runs the release binary there as uid 10001 and checks that the builder's Swift is the local one.
# The builder's Swift is the toolchain the project is built and tested with (`swift --version`).
FROM swift:6.3-bookworm AS build
# No version pins (DL3008): Debian's security updates replace a version in the archive, so a pinned
# install breaks once one lands; bookworm's stable ABI is the pin.
# hadolint ignore=DL3008
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopenblas-dev liblapacke-dev libsqlite3-dev libpq-dev libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
COPY Benchmarks ./Benchmarks
RUN swift build -c release --product lora-squeeze --static-swift-stdlib \
    && cp "$(swift build -c release --show-bin-path)/lora-squeeze" /usr/local/bin/

FROM debian:bookworm-slim
# Deploy/check-runtime.sh runs this RUN in a debootstrapped bookworm root (its packages are what the
# binary needs there), so keep it one RUN. No version pins (DL3008): see above.
# hadolint ignore=DL3008
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopenblas0-pthread liblapacke libsqlite3-0 libpq5 libssl3 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 lora \
    && useradd --system --uid 10001 --gid lora --home-dir /data lora \
    && mkdir -p /data && chown lora:lora /data
COPY --from=build /usr/local/bin/lora-squeeze /usr/local/bin/lora-squeeze
# Numeric, so that Kubernetes' runAsNonRoot can tell it is not root (Deploy/base runs as 10001 too).
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8080
ENV LORA_SQUEEZE_DATA=/data LORA_SQUEEZE_HOST=0.0.0.0 LORA_SQUEEZE_PORT=8080
# Docker only (Kubernetes uses the probes in Deploy/base). Exec form, no shell: curl -f exits
# non-zero on an error status, which Docker counts as unhealthy.
HEALTHCHECK --interval=10s --timeout=3s CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8080/healthz"]
# SIGTERM drains: readyz turns 503, in-flight requests finish, then the process exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["lora-squeeze", "serve"]
