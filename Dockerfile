# queuectl: one image for every container of the stack (workers, the one-shot migration, the CLI
# shell, the dashboard). Two stages: `build` compiles with the dev dependencies; the runtime stage has
# the production dependencies, the compiled CLI and the SQL migrations, nothing else.
#
# Base: Node.js 26, the Active LTS line since 2026-10-28, on Debian 13 (trixie), the Debian stable
# release (bookworm left regular security support in June 2026). Override with
#   docker build --build-arg NODE_IMAGE=node:24-trixie-slim .

ARG NODE_IMAGE=node:26-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# Dependencies first: this layer is reused until the lockfile changes. --ignore-scripts because
# `prepare` is the build (the sources are not here yet) and no dependency needs an install script.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json prisma.config.ts ./
COPY scripts ./scripts
COPY prisma ./prisma
COPY src ./src
# prisma generate (into src/generated, see scripts/prisma-generate.mjs) + tsc into dist/.
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Production dependencies only. --ignore-scripts: `npm ci` would otherwise run `prepare` (the build),
# which needs the dev dependencies. --omit=optional drops what a container does not use: the embedded
# PostgreSQL binaries (a container always gets DATABASE_URL; without it queuectl says that its local
# server is not installed), the Prisma CLI and TypeScript (optional peers of @prisma/client, which
# `--omit=dev` alone keeps: ~300 MB), pg-cloudflare, and the colours of table headers.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
# `queuectl db migrate` reads ../../prisma/migrations relative to dist/db/migrate.js.
COPY prisma/migrations ./prisma/migrations
# The end-to-end check, so that `./verify.sh` works in the app container.
COPY verify.sh ./
RUN chmod 755 dist/cli/main.js verify.sh && ln -s /app/dist/cli/main.js /usr/local/bin/queuectl

# The official node image's unprivileged user (uid 1000). Local state (worker logs of
# `queuectl worker start` without --foreground) goes to its home.
USER node
ENV QUEUECTL_HOME=/home/node/.queuectl
# Exec form: the signal `docker stop` sends reaches node itself (the compose file adds an init
# process, `init: true`, that forwards it and reaps orphaned grandchildren of job commands).
# SIGTERM = finish the running jobs, take no new ones, exit.
CMD ["queuectl", "worker", "start", "--foreground"]
