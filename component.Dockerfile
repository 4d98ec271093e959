# One image recipe for the platform components: anomaly_service, policy_engine, dashboard.
# Build context: the repository root; the component is a build argument, e.g.
#   docker build -f component.Dockerfile --build-arg COMPONENT=policy_engine \
#     --build-arg EXTRA=policy --build-arg PORT=8081 --build-arg RUN_AS=root -t relia-policy-engine .
# It installs only that component's extra (.[EXTRA]) and runs `python -m COMPONENT`.
# (The demo services have their own services/Dockerfile: one image for three domains.)
FROM python:3.11-slim-bookworm

ARG COMPONENT
ARG EXTRA
ARG PORT
# The policy engine needs root: the Docker socket it drives is root:docker 0660 and the docker
# group's id differs from host to host. Everything else runs unprivileged.
ARG RUN_AS=relia

RUN test -n "$COMPONENT" && test -n "$EXTRA" && test -n "$PORT" \
 || { echo "build args COMPONENT, EXTRA and PORT are required" >&2; exit 1; }

# MALLOC_ARENA_MAX: glibc gives each thread that allocates an arena of its own (up to 8 per
# core); uvicorn's thread pool and the exporters' threads made RSS grow with them. Two arenas
# hold that down (the stack has a memory bar, SPEC 4: < 400 MiB; docs/stack.md).
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOST=0.0.0.0 \
    PORT=${PORT} \
    RELIA_COMPONENT=${COMPONENT}

WORKDIR /app

# Dependencies first, in their own layer: a source change does not reinstall them. The package
# directory is a placeholder here, so the project itself is uninstalled again right away.
COPY pyproject.toml README.md ./
RUN mkdir "$COMPONENT" && touch "$COMPONENT/__init__.py" \
 && pip install ".[$EXTRA]" \
 && pip uninstall -y relia \
 && rm -rf "$COMPONENT"

# relia_web: the request guard every component shares (standard library only).
COPY relia_web ./relia_web
# relia_contracts: the wire definitions every component shares (pydantic and PyYAML only).
COPY relia_contracts ./relia_contracts
# The shipped metric catalog, where relia_contracts/catalog.py reads the signal names from in
# every image (the policy engine and the dashboard use them until the anomaly service answers).
COPY anomaly_service/catalog.yml ./anomaly_service/catalog.yml
COPY ${COMPONENT} ./${COMPONENT}

# /var/lib/relia: a named volume mounted there starts with this owner (state of the component).
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin relia \
 && mkdir -p /var/lib/relia && chown relia /var/lib/relia
USER ${RUN_AS}

EXPOSE ${PORT}
# exec: python, not the shell, is PID 1 and receives the stop signal.
CMD ["sh", "-c", "exec python -m \"$RELIA_COMPONENT\""]
