# The Python services (gateway, indexer, verify) as one image: `provenance` is the entrypoint.
#   docker build -t provenance .
#   docker run --rm provenance verify --help
# Every dependency comes from requirements.lock, pinned with hashes (`make lock` renews it), and
# the package is installed without resolving anything again. The in-process chain (the
# `embedded` extra: eth-tester and py-evm, both beta) is not in the image: the services talk to a
# real node (PROVENANCE_*_CHAIN_URL).
FROM python:3.12.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY medledger/ medledger/
COPY chain/ chain/
COPY servicekit/ servicekit/
COPY gateway/ gateway/
COPY indexer/ indexer/
COPY dashboard/ dashboard/
COPY provenance/ provenance/
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . \
    && /opt/venv/bin/pip check

FROM python:3.12.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 provenance \
    && useradd --system --uid 10001 --gid provenance --create-home --home-dir /home/provenance provenance \
    && mkdir -p /data /keys \
    && chown provenance:provenance /data /keys \
    && chmod 0700 /keys
# The compiled contracts are package data (chain/compiled): the wheel carries them.
COPY --from=build /opt/venv /opt/venv
USER provenance
WORKDIR /home/provenance
EXPOSE 8000 8001
ENTRYPOINT ["provenance"]
CMD ["--help"]
