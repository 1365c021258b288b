# Sluice server image.
#
#   docker build -t sluice .
#   docker run -p 4000:4000 -e SLUICE_ADMIN_TOKEN=... -e DATABASE_URL=postgres://... sluice
#
# Without DATABASE_URL the server uses the embedded PGlite database under SLUICE_DATA_DIR
# (/var/lib/sluice here; mount a volume there to keep it). docker-compose.yml runs it with
# PostgreSQL 16.

# --- build: all dependencies, compile TypeScript (src, migrations, ...) into dist/ -----------
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && rm -rf dist/test dist/bench

# --- runtime: production dependencies and the compiled output only ---------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=4000 \
    SLUICE_DATA_DIR=/var/lib/sluice
WORKDIR /app
# bubblewrap sandboxes project code (command and module stages). It needs unprivileged user
# namespaces, which Docker's default seccomp profile refuses: run the container with a profile
# that allows them, or stages are refused (SANDBOX_UNAVAILABLE) — see docs/security.md.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends bubblewrap \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force \
 && mkdir -p /var/lib/sluice \
 && chown node:node /var/lib/sluice
# Migrations are compiled into dist/migrations; nothing else is read at run time.
COPY --from=build /app/dist ./dist
# The Python helper command stages import (runners/process/datasets.ts finds it beside the compiled runner).
COPY runners/process/python ./dist/runners/process/python
COPY bin ./bin
USER node
EXPOSE 4000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "bin/sluice.js", "server"]
