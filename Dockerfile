# Tokenrank image for compose.yaml: one image for web, worker and beat.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 TOKENRANK_DATA_DIR=/app/var
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY rankings ./rankings
COPY ingest ./ingest
COPY templates ./templates
COPY static ./static
COPY manage.py ./
RUN pip install --no-cache-dir . && useradd --system tokenrank && mkdir -p var && chown tokenrank var
# The release's static files, collected once into the image (collectstatic needs settings but
# no services: point them at placeholders).
RUN DJANGO_ENV=production SECRET_KEY=build-only-key-build-only-key-build-only-key-0123456789 \
    DATABASE_URL=postgresql://x@localhost/x CELERY_BROKER_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput
USER tokenrank
EXPOSE 8000
CMD ["gunicorn", "-c", "python:config.gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--threads", "4"]
