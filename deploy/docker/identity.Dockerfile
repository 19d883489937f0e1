# syntax=docker/dockerfile:1
# The identity service image (issue 15 item 2). Build from the repository root:
#   docker build -f deploy/docker/identity.Dockerfile -t gatehouse/identity:0.1.0 .
# Runtime: the esbuild bundle, the health probe and production dependencies only, as uid 10001,
# configured by environment variables and mounted files (docs/operations.md).

# --- build: npm ci, contracts, bundle ---------------------------------------------------------
# On the builder's own platform: the bundle is plain JavaScript, and one devDependency (jongodb's
# test binary) installs only on linux/x64, so build on an x64 builder for any target platform.
FROM --platform=$BUILDPLATFORM node:20-bookworm-slim AS build
ENV NX_DAEMON=false NX_NO_CLOUD=true
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
 && node tools/codegen/generate-contracts.mjs \
 && node tools/build/bundle.mjs identity \
 && node deploy/tools/bundle.mjs health-probe \
 && mkdir /manifests && find apps libs tools -maxdepth 2 -name package.json -exec cp --parents {} /manifests/ \;

# --- deps: production dependencies, better-sqlite3 built for this very base image -------------
FROM node:20-bookworm-slim AS deps
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /src/package.json /src/package-lock.json ./
COPY --from=build /manifests/ ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm rebuild better-sqlite3 \
 && rm -rf node_modules/@gatehouse \
 && node -e "new (require('better-sqlite3'))(':memory:').exec('select 1')"

# --- runtime ---------------------------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
RUN groupadd --system --gid 10001 gatehouse \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin gatehouse \
 && mkdir -p /var/lib/gatehouse /etc/gatehouse/tls \
 && chown 10001:10001 /var/lib/gatehouse
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/apps/identity/main.mjs /src/dist/apps/identity/main.mjs.map ./
COPY --from=build /src/dist/deploy/health-probe.mjs ./
ENV NODE_ENV=production \
    GATEHOUSE_ENV=production \
    GATEHOUSE_HOST=0.0.0.0 \
    GATEHOUSE_PORT=7101 \
    GATEHOUSE_METRICS_PORT=9101 \
    GATEHOUSE_DATA_DIR=/var/lib/gatehouse \
    GATEHOUSE_TLS_DIR=/etc/gatehouse/tls
USER 10001:10001
# Writable paths; run with a read-only root filesystem (docker run --read-only, compose read_only).
VOLUME ["/var/lib/gatehouse", "/tmp"]
EXPOSE 7101 9101
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 CMD ["node", "/app/health-probe.mjs", "identity"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--enable-source-maps", "/app/main.mjs"]
