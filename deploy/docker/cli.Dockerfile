# syntax=docker/dockerfile:1
# The gatehouse CLI image (issue 15 item 2), also the PKI init tool (make-pki.mjs) and the unseal
# script (unseal.sh). From the root:
#   docker build -f deploy/docker/cli.Dockerfile -t gatehouse/cli:0.1.0 .
#   docker run --rm --read-only -v gh-pki:/pki gatehouse/cli:0.1.0 status
# The CLI is a client, not a server: there is no health endpoint to probe (HEALTHCHECK NONE);
# `gatehouse status` asks every service's grpc.health.v1 and exits 1 unless all are SERVING.

# --- build: npm ci, contracts, bundle ---------------------------------------------------------
# On the builder's own platform: the bundle is plain JavaScript, and one devDependency (jongodb's
# test binary) installs only on linux/x64, so build on an x64 builder for any target platform.
FROM --platform=$BUILDPLATFORM node:20-bookworm-slim AS build
ENV NX_DAEMON=false NX_NO_CLOUD=true
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund \
 && node tools/codegen/generate-contracts.mjs \
 && node tools/build/bundle.mjs cli \
 && node deploy/tools/bundle.mjs make-pki \
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
 && mkdir -p /var/lib/gatehouse-cli /etc/gatehouse/tls /pki \
 && chown 10001:10001 /var/lib/gatehouse-cli /pki
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/apps/cli/main.mjs /src/dist/apps/cli/main.mjs.map ./
COPY --from=build /src/dist/deploy/make-pki.mjs ./
COPY deploy/tools/unseal.sh ./
ENV NODE_ENV=production \
    GATEHOUSE_TLS_DIR=/etc/gatehouse/tls \
    GATEHOUSE_CONFIG_DIR=/var/lib/gatehouse-cli
USER 10001:10001
# Writable paths (the stored session, 0600; /pki for make-pki); run with a read-only root filesystem.
VOLUME ["/var/lib/gatehouse-cli", "/pki", "/tmp"]
HEALTHCHECK NONE
ENTRYPOINT ["node", "--enable-source-maps", "/app/main.mjs"]
