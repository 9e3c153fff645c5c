FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk libgomp1 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY platform ./platform
COPY generation ./generation
COPY ranking ./ranking
COPY analytics ./analytics
COPY manage.py ./
# torch first, on its own, pinned: anything else pulls a different build.
RUN pip install --no-cache-dir torch==2.13.0 && pip install --no-cache-dir -e .
ENV DEBUG=0
EXPOSE 8000
CMD ["gunicorn", "kaleido.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--pythonpath", "platform,."]
