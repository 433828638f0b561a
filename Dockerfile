# syntax=docker/dockerfile:1
#
# flowhook image: one image, every role (`flowhook run --roles …` or FLOWHOOK_ROLES).
#
#   docker build -t flowhook:dev .
#   docker run --rm -e KAFKA_BROKERS=broker:9092 -p 8080:8080 flowhook:dev
#   docker run --rm -e KAFKA_BROKERS=broker:9092 -v "$PWD/flows:/flows:ro" flowhook:dev flows apply /flows/welcome.json
#
# The runtime stage holds node, the production dependencies, dist/src, dist/schemas, schemas/
# and package.json (read for the version) — no compiler, no npm cache, no test code. It runs as
# uid/gid 10001 and writes nothing outside /tmp, so it runs with a read-only root filesystem
# (the Helm chart mounts an emptyDir on /tmp).
#
# Signals: node is PID 1 and needs no tini. `flowhook run` installs its own SIGTERM/SIGINT
# handlers (PID 1 gets only the signals it handles, and it handles these), drains and commits
# within FLOWHOOK_SHUTDOWN_GRACE, then exits; it starts no child processes in a container (the
# local-broker fallback needs KAFKA_BROKERS unset and Java, which this image does not have), so
# there are no zombies to reap. `docker run --init` is harmless but not needed.
#
# Without KAFKA_BROKERS, `flowhook run` tries to start a local broker and fails here: set it.

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: dev dependencies, tsc → dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` script builds, and the sources are not copied yet;
# no dependency needs an install script to build (native optional deps are prebuilt packages).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY schemas ./schemas
COPY src ./src
COPY console ./console
RUN npm run build

# ---- production dependencies only ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ARG FLOWHOOK_UID=10001
# npm is not needed at run time; drop it (and corepack) so the image carries less.
RUN groupadd --system --gid "${FLOWHOOK_UID}" flowhook \
 && useradd --system --uid "${FLOWHOOK_UID}" --gid "${FLOWHOOK_UID}" \
      --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin flowhook \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack \
      /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /root/.npm
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json ./
COPY --chown=root:root schemas ./schemas
COPY --from=build --chown=root:root /src/dist/src ./dist/src
COPY --from=build --chown=root:root /src/dist/schemas ./dist/schemas
COPY --from=build --chown=root:root /src/dist/console ./dist/console
# Files stay owned by root and read-only to the service user.
USER 10001:10001
EXPOSE 8080
# /metrics, /healthz, /readyz on FLOWHOOK_HTTP_PORT; Kubernetes probes them itself (helm/flowhook)
# and ignores HEALTHCHECK, which serves plain Docker and Compose (no curl in the image: node).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FLOWHOOK_HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run"]
