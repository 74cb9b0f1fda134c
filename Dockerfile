# lora-squeeze: the adapter service in a small Debian image.
#   docker build -t lora-squeeze .
#   docker run -p 8080:8080 -v lora-data:/data lora-squeeze
FROM swift:6.1-bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopenblas-dev liblapacke-dev libsqlite3-dev libssl-dev pkg-config \
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
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libopenblas0-pthread liblapacke libsqlite3-0 libssl3 curl ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data lora \
    && mkdir -p /data && chown lora /data
COPY --from=build /usr/local/bin/lora-squeeze /usr/local/bin/lora-squeeze
USER lora
VOLUME ["/data"]
EXPOSE 8080
ENV LORA_SQUEEZE_DATA=/data LORA_SQUEEZE_HOST=0.0.0.0 LORA_SQUEEZE_PORT=8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
# SIGTERM drains: readyz turns 503, in-flight requests finish, then the process exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["lora-squeeze", "serve"]
