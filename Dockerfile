# One image for every role: SERVICE_TYPE=web | worker (| all) picks the
# supervisord programs at start (see deployment/supervisord.conf).
FROM python:3.11-slim

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --system --uid 1000 --home-dir /data sonarium \
    && mkdir -p /data /music \
    && chown sonarium /data \
    && chmod +x deployment/entrypoint.sh

ENV SONARIUM_DATA_DIR=/data \
    MUSIC_DIR=/music \
    WEB_HOST=0.0.0.0 \
    WEB_PORT=8000
USER sonarium
EXPOSE 8000
VOLUME ["/data"]
ENTRYPOINT ["deployment/entrypoint.sh"]
