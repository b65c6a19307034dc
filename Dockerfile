# prickle's container image: the release binary on Debian slim, as a non-root
# user, SQLite in /var/lib/prickle unless DATABASE_URL says otherwise.
#   docker build -t prickle .
#   docker run -p 8000:8000 -v prickle-data:/var/lib/prickle -e SITE_URL=http://localhost:8000 prickle
# tests/api/container.rs runs the debug binary with this file's final-stage
# ENTRYPOINT, CMD, ENV and HEALTHCHECK: keep them in exec (JSON) form.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
WORKDIR /src
# Every target Cargo.toml declares must exist for the manifest to load;
# Cargo.lock pins every crate (--locked refuses to change it).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY assets ./assets
COPY benches ./benches
COPY tests ./tests
RUN cargo build --release --locked --bin prickle \
    && install -m 0755 target/release/prickle /usr/local/bin/prickle

FROM debian:${DEBIAN_RELEASE}-slim
# ca-certificates: PostgreSQL over TLS against the system's roots
# (sslrootcert=system, verify-full) and SMTP over TLS; curl: the HEALTHCHECK.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 prickle \
    && useradd --system --uid 10001 --gid prickle --home-dir /var/lib/prickle --shell /usr/sbin/nologin prickle \
    && install -d -o prickle -g prickle -m 0750 /var/lib/prickle
COPY --from=builder /usr/local/bin/prickle /usr/local/bin/prickle

USER prickle:prickle
WORKDIR /var/lib/prickle
VOLUME ["/var/lib/prickle"]
ENV PRICKLE_BIND=0.0.0.0:8000 \
    DATABASE_URL=sqlite:///var/lib/prickle/prickle.db \
    PRICKLE_LOG_FORMAT=json
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8000/_health"]
ENTRYPOINT ["/usr/local/bin/prickle"]
# After SIGTERM, 10 s of serving with /_ready at 503 (a balancer checking every
# 2-3 s drops the process first), then at most PRICKLE_SHUTDOWN_GRACE_SECONDS
# (30) of draining: give the engine more than 40 s before SIGKILL
# (`docker stop -t 45`, compose's stop_grace_period).
CMD ["serve", "--shutdown-delay-seconds", "10"]
