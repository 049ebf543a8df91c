# One image for every newsworker role (worker per queue, beat, Flower).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY tasks ./tasks
COPY worker ./worker
RUN pip install '.[postgres]' && useradd --create-home news && mkdir -p /data && chown news /data
USER news
ENV NEWS_DATA_DIR=/data NEWS_FEEDS_FILE=/app/config/feeds.toml
CMD ["newsworker", "--help"]
