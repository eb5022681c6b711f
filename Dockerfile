# The OpenAperture Builder image (docs/deploy.md). Stages:
#   build    compiles the TypeScript and bundles it into dist/oa-builder.js, with every dependency installed
#   deps     production dependencies only
#   tools    git smart-HTTP server and fake Manager for docker-compose.yml; for trying things, not production
#   runtime  the builder (the default target): production node_modules, dist/, bin/ and config/, as user node
#
# The base is Node LTS, pinned by tag; to pin a digest or use a mirror: --build-arg NODE_IMAGE=<image>@sha256:...
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts: the only ones are ssh2's and cpu-features' optional native bindings, which the builder
# does not use (it never speaks SSH) and which would need a compiler.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.build.json ./
COPY scripts/bundle.js ./scripts/
COPY src ./src
COPY actors ./actors
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS tools
# git-http-server.js runs `git http-backend`; the builder itself needs no git binary (it uses isomorphic-git).
RUN apt-get update \
  && apt-get install -y --no-install-recommends git \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir /repos \
  && chown node:node /repos
WORKDIR /srv
COPY scripts/git-http-server.js scripts/fake-manager.js scripts/fake-manager-rules.js scripts/seed-bare-repo.sh ./scripts/
USER node
EXPOSE 4000 8174

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="OpenAperture Builder" \
  org.opencontainers.image.licenses="MPL-2.0"
# In a container the health endpoint must listen beyond loopback for probes and scrapes from outside it;
# it is reachable only where the port is published or the network allows.
ENV NODE_ENV=production \
  HEALTH_LISTEN=0.0.0.0:9464
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY config ./config
COPY --from=build /app/dist ./dist
# Work directories (BUILDER_TMPDIR, default /tmp/openaperture) go under /tmp, which user node may write.
# The Docker engine is reached over BUILD_HOSTS: tcp://host:2375 needs nothing more; a mounted
# /var/run/docker.sock needs the socket's group added (docker run --group-add <gid>, compose group_add).
USER node
EXPOSE 9464
# GET /healthz on HEALTH_LISTEN (a wildcard host is asked on loopback); healthy on 200.
HEALTHCHECK --interval=30s --timeout=10s --start-period=2m --retries=3 \
  CMD ["node", "-e", "const m = /^(?:\\[([^\\]]+)\\]|([^:]*)):(\\d+)$/.exec((process.env.HEALTH_LISTEN || '127.0.0.1:9464').trim()); if (!m) process.exit(1); let h = m[1] || m[2] || '127.0.0.1'; if (h === '0.0.0.0') h = '127.0.0.1'; if (h === '::') h = '::1'; const host = h.includes(':') ? `[${h}]` : h; fetch(`http://${host}:${m[3]}/healthz`, { signal: AbortSignal.timeout(8000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1));"]
ENTRYPOINT ["node", "bin/oa-builder.js"]
CMD ["serve"]
