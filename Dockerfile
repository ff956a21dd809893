# syntax=docker/dockerfile:1
# The certwright controller image. Build from the repository root:
#   docker build -t certwright:0.1.0 .
# No Docker engine runs in CI: scripts/image-build-check runs the same cargo command (and
# checks this file still names it), so the image build cannot drift from what is tested.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN_RELEASE} AS builder
# aws-lc-rs (the crypto provider of rustls and rcgen) compiles C with cmake.
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake make g++ perl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# Dependency layer: build every dependency against stub sources, so editing src/ reuses this
# layer and only certwright itself recompiles. Every target Cargo.toml declares needs a stub
# (cargo refuses a manifest whose targets are missing); the image-build check enforces that.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs benches/pki.rs \
 && cargo build --release --locked --bin certwright \
 && rm -rf src benches

COPY src ./src
COPY benches ./benches
# The stubs' build outputs are newer than the real sources' mtimes from COPY: touch so cargo
# rebuilds the crate itself.
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked --bin certwright \
 && cp target/release/certwright /certwright

FROM debian:${DEBIAN_RELEASE}-slim
# Root CAs for ACME servers; nothing else: no shell tools are needed at run time.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="certwright" \
      org.opencontainers.image.description="Kubernetes certificate controller serving the cert-manager.io/v1 API" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /certwright /usr/local/bin/certwright
# The same uid/gid the chart's securityContext asks for; no home, no writable root needed.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/certwright"]
CMD ["controller"]
