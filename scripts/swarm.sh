#!/usr/bin/env bash
# `make up-swarm` / `make down-swarm` (docs/swarm.md): the stack on a single-node Docker Swarm.
#   scripts/swarm.sh up   [PYTHON] : join a swarm if none is active, build, deploy, wait healthy
#   scripts/swarm.sh down [PYTHON] : remove the stack; leave the swarm only if `up` created it
# OFFLINE=1 adds docker-compose.offline.yml, as `make up-offline` does. RELIA_STACK (relia) names
# the stack (the policy engine's COMPOSE_PROJECT follows it) and RELIA_PORT_OFFSET (0) shifts
# every published port: a second stack beside the compose one (CI runs the swarm e2e so).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${2:-python3}
STACK=${RELIA_STACK:-relia}
export RELIA_STACK=$STACK RELIA_PORT_OFFSET=${RELIA_PORT_OFFSET:-0}
GEN=.swarm/$STACK   # generated files of this stack (its Prometheus config is mounted from here)
UP_TIMEOUT=${UP_TIMEOUT:-240}
MARK=.swarm/created-by-relia   # this checkout initialised the swarm: `down` may leave it
FILES=(-f docker-compose.yml)
case "${OFFLINE:-}" in 1|true|yes) FILES+=(-f docker-compose.offline.yml) ;; esac

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'; }

ready() {
  # every service at its replica count (Swarm counts a task with a health check as running
  # only once it is healthy), and no container of the stack still starting or unhealthy
  local lines bad
  lines=$(docker stack services "$STACK" --format '{{.Replicas}}') || return 1
  [ -n "$lines" ] || return 1
  bad=$(awk -F'[/ ]' '$1 != $2 || $2 == 0' <<<"$lines")
  [ -z "$bad" ] || return 1
  ! docker ps --filter "label=com.docker.stack.namespace=$STACK" --format '{{.Status}}' \
    | grep -qE 'health: starting|unhealthy'
}

up() {
  local start state
  start=$(date +%s)
  mkdir -p "$GEN"
  read -r state _ <<<"$(swarm_state)"
  if [ "$state" = inactive ]; then
    docker swarm init --advertise-addr 127.0.0.1 >/dev/null
    touch "$MARK"
    echo "initialised a single-node swarm (make down-swarm leaves it again)"
  elif [ "$(swarm_state)" != "active true" ]; then
    echo "the engine is in swarm state '$(swarm_state)': need an active manager or none" >&2
    exit 1
  fi
  docker compose "${FILES[@]}" build
  "$PY" scripts/swarm_stack.py --prometheus monitoring/prometheus/prometheus.yml "$GEN/prometheus.yml"
  docker compose "${FILES[@]}" -f docker-compose.swarm.yml config --format json \
    | "$PY" scripts/swarm_stack.py >"$GEN/stack.json"
  # A first deploy onto ports another stack holds would leave tasks pending until the timeout.
  if ! docker stack ls --format '{{.Name}}' | grep -qx "$STACK"; then
    "$PY" scripts/swarm_stack.py --busy-ports "$GEN/stack.json" || exit 1
  fi
  # Images are local (single node): no registry lookup for their digests.
  docker stack deploy --resolve-image never --prune -c "$GEN/stack.json" "$STACK"
  local deadline=$((start + UP_TIMEOUT))
  until ready; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      docker stack services "$STACK"
      docker stack ps --no-trunc "$STACK" | head -40
      echo "stack not healthy after ${UP_TIMEOUT}s (docker service logs ${STACK}_<service>)" >&2
      exit 1
    fi
    sleep 2
  done
  docker stack services "$STACK" --format 'table {{.Name}}\t{{.Replicas}}\t{{.Ports}}'
  echo "swarm stack healthy in $(($(date +%s) - start))s"
}

down() {
  if docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$STACK"; then
    docker stack rm "$STACK"
  fi
  # Swarm removes tasks and the network asynchronously: wait, so `up` or compose can follow.
  local deadline=$(($(date +%s) + 90))
  while docker ps -aq --filter "label=com.docker.stack.namespace=$STACK" | grep -q . \
    || docker network ls -q --filter "label=com.docker.stack.namespace=$STACK" | grep -q .; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "stack $STACK still being removed" >&2; exit 1; }
    sleep 1
  done
  if [ -f "$MARK" ]; then
    docker swarm leave --force >/dev/null && echo "left the swarm this checkout created"
    rm -f "$MARK"
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down [PYTHON]" >&2; exit 2 ;;
esac
