# One image for both processes: `berth serve` (API) or `berth worker` (needs the engine socket).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY migrations ./migrations
COPY openapi ./openapi
# The worker talks to the engine socket, which is root-equivalent: mount it only into the worker.
USER node
EXPOSE 3000
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["serve"]
