# One image for both roles: the API (default command) and the worker (`python -m worker`).

# ---- build: install pinned dependencies and the project into a virtualenv ----
FROM python:3.11.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements.lock ./
RUN pip install --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY app ./app
COPY imagegen ./imagegen
COPY worker ./worker
RUN pip install --no-deps . && pip check

# ---- runtime: the virtualenv and the config, no compilers, not root ----
FROM python:3.11.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    IMAGEGEN_BIND=0.0.0.0:8000 \
    IMAGEGEN_DATA_DIR=/tmp/imagegen
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY gunicorn.conf.py ./
# The root filesystem is read-only on ECS; /tmp is the writable volume. Declaring it here
# makes the mounted volume take the image's /tmp (mode 1777, with the data dir inside).
RUN install -d -o 10001 -g 10001 /tmp/imagegen
VOLUME ["/tmp"]
USER 10001:10001
EXPOSE 8000
# No curl in the image: a Python check covers both roles (IMAGEGEN_ROLE=worker checks Redis).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "imagegen.healthcheck"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app.wsgi:app"]
