# The Python services (gateway, indexer, verify) as one image: `provenance` is the entrypoint.
#   docker build -t provenance .
#   docker run --rm provenance verify --help
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY chain/ chain/
COPY gateway/ gateway/
COPY indexer/ indexer/
COPY provenance/ provenance/
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PROVENANCE_ARTIFACTS_DIR=/opt/provenance/contracts/build
RUN groupadd --system --gid 10001 provenance \
    && useradd --system --uid 10001 --gid provenance --create-home --home-dir /home/provenance provenance \
    && mkdir -p /data /keys \
    && chown provenance:provenance /data /keys \
    && chmod 0700 /keys
COPY --from=build /opt/venv /opt/venv
# The compiled contracts are not package data: the deployer reads them from here.
COPY contracts/build/ /opt/provenance/contracts/build/
USER provenance
WORKDIR /home/provenance
EXPOSE 8000 8001
ENTRYPOINT ["provenance"]
CMD ["--help"]
