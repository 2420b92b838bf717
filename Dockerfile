# ghcr.io/orrery/orrery: the project image that step Jobs (`orrery execute-step`), the operator
# (`orrery operator`) and inference Deployments (`orrery serve`) run. No build step: the CLI runs
# the TypeScript sources through tsx, as on a laptop.
#
#   docker build -t ghcr.io/orrery/orrery:0.1.0 .
FROM node:20-bookworm-slim

WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Production dependencies only; onnxruntime-node's CPU binary ships in the package (.npmrc skips
# its CUDA download).
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY bin ./bin
COPY cli ./cli
COPY core ./core
COPY adapters ./adapters
COPY assets ./assets
COPY checks ./checks
COPY operator ./operator
COPY graphql ./graphql
COPY serving ./serving
COPY configs ./configs
COPY crds ./crds
COPY trainers ./trainers
RUN ln -s /app/bin/orrery.js /usr/local/bin/orrery && chmod +x /app/bin/orrery.js

# Non-root, with state under a writable volume (the Deployments mount one at /var/lib/orrery).
ENV ORRERY_HOME=/var/lib/orrery \
    ORRERY_CONFIGS=/app/configs \
    NODE_ENV=production
USER 10001
ENTRYPOINT []
CMD ["orrery", "--help"]
