#!/usr/bin/env bash
# Build stand-ins for images that cannot be pulled where no registry is reachable.
# Each stand-in is tagged with the upstream name the Dockerfiles and compose file use, so they
# build and run unchanged. An image that already exists (pulled or built before) is kept.
# Usage: scripts/offline-images.sh [base|prometheus|gateway|blackbox|alertmanager|all]   (root; debootstrap, docker)
# Stand-ins: the Python base (debootstrap), Prometheus, the nginx gateway, the blackbox exporter
# and Alertmanager (Debian's packages on that base). Loki, Alloy, Jaeger and Grafana have no Debian build: an offline run leaves them out
# (docker-compose.offline.yml; `make up OFFLINE=1`).
set -euo pipefail

BASE_TAG=${BASE_TAG:-python:3.11-slim-bookworm}
# Keep these in step with the image: lines of docker-compose.yml (a static test checks it).
PROMETHEUS_TAG=${PROMETHEUS_TAG:-prom/prometheus:v2.55.1}
GATEWAY_TAG=${GATEWAY_TAG:-nginx:1.27.4-alpine}
BLACKBOX_TAG=${BLACKBOX_TAG:-prom/blackbox-exporter:v0.25.0}
ALERTMANAGER_TAG=${ALERTMANAGER_TAG:-prom/alertmanager:v0.27.0}
WORK=${OFFLINE_WORK:-$(pwd)/.offline}
what=${1:-all}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# The mirror comes from this machine's own apt configuration; no host name is written here.
apt_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' | grep -v security | head -1 || true)
  fi
  [ -n "$uri" ] || { echo "no Debian mirror found in /etc/apt" >&2; exit 1; }
  echo "$uri"
}

build_base() {
  if have_image "$BASE_TAG"; then echo "have $BASE_TAG"; return; fi
  if timeout 20 docker pull -q "$BASE_TAG" >/dev/null 2>&1; then echo "pulled $BASE_TAG"; return; fi
  command -v debootstrap >/dev/null || { echo "debootstrap is needed to build $BASE_TAG" >&2; exit 1; }
  local rootfs="$WORK/base-rootfs" mirror
  mirror=$(apt_mirror)
  rm -rf "$rootfs"; mkdir -p "$rootfs"
  echo "building stand-in $BASE_TAG with debootstrap from $mirror"
  debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  # Outgoing TLS may be re-signed by a local CA: trust what this machine trusts.
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -f "$rootfs"/usr/lib/python3.11/EXTERNALLY-MANAGED
  ln -sf /usr/bin/python3 "$rootfs/usr/local/bin/python"
  ln -sf /usr/bin/pip3 "$rootfs/usr/local/bin/pip"
  cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | docker import \
    -c 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["python3"]' - "$BASE_TAG" >/dev/null
  rm -rf "$rootfs"
  echo "built $BASE_TAG"
}

# Debian packages installed on the stand-in base; apt uses the sources the base inherited from
# this machine. Service start-up is disabled (there is no init during an image build).
apt_layer() {
  cat <<EOF
FROM $BASE_TAG
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \\
 && apt-get -o Acquire::Check-Valid-Until=false -o Acquire::Check-Date=false update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $* \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
EOF
}

# Prometheus 2.42 from Debian, laid out like the upstream image: binary as ENTRYPOINT, config in
# /etc/prometheus, data in /prometheus owned by nobody, wget for health checks (upstream: busybox).
build_prometheus() {
  if have_image "$PROMETHEUS_TAG"; then echo "have $PROMETHEUS_TAG"; return; fi
  if timeout 20 docker pull -q "$PROMETHEUS_TAG" >/dev/null 2>&1; then echo "pulled $PROMETHEUS_TAG"; return; fi
  build_base
  echo "building stand-in $PROMETHEUS_TAG from Debian's prometheus package"
  { apt_layer prometheus wget
    cat <<'EOF'
RUN mkdir -p /prometheus /etc/prometheus && chown -R nobody:nogroup /prometheus
USER nobody
WORKDIR /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
  } | docker build -q -t "$PROMETHEUS_TAG" - >/dev/null
  echo "built $PROMETHEUS_TAG ($(docker run --rm "$PROMETHEUS_TAG" --version 2>&1 | head -1))"
}

# nginx from Debian, laid out like the upstream image: logs to stdout/stderr, daemon off, wget
# for health checks (upstream alpine: busybox wget).
build_gateway() {
  if have_image "$GATEWAY_TAG"; then echo "have $GATEWAY_TAG"; return; fi
  if timeout 20 docker pull -q "$GATEWAY_TAG" >/dev/null 2>&1; then echo "pulled $GATEWAY_TAG"; return; fi
  build_base
  echo "building stand-in $GATEWAY_TAG from Debian's nginx package"
  { apt_layer nginx wget
    cat <<'EOF'
RUN ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log \
 && rm -f /etc/nginx/sites-enabled/default
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
EOF
  } | docker build -q -t "$GATEWAY_TAG" - >/dev/null
  echo "built $GATEWAY_TAG ($(docker run --rm "$GATEWAY_TAG" nginx -v 2>&1 | head -1))"
}

# The blackbox exporter 0.23 from Debian, laid out like the upstream image: binary as ENTRYPOINT
# (the compose file passes --config.file), wget for health checks (upstream: busybox).
build_blackbox() {
  if have_image "$BLACKBOX_TAG"; then echo "have $BLACKBOX_TAG"; return; fi
  if timeout 20 docker pull -q "$BLACKBOX_TAG" >/dev/null 2>&1; then echo "pulled $BLACKBOX_TAG"; return; fi
  build_base
  echo "building stand-in $BLACKBOX_TAG from Debian's prometheus-blackbox-exporter package"
  { apt_layer prometheus-blackbox-exporter wget
    cat <<'EOF'
USER nobody
EXPOSE 9115
ENTRYPOINT ["/usr/bin/prometheus-blackbox-exporter"]
CMD ["--config.file=/etc/prometheus/blackbox.yml"]
EOF
  } | docker build -q -t "$BLACKBOX_TAG" - >/dev/null
  echo "built $BLACKBOX_TAG ($(docker run --rm "$BLACKBOX_TAG" --version 2>&1 | head -1))"
}

# Alertmanager 0.25 from Debian, laid out like the upstream image: binary as ENTRYPOINT (the
# compose file passes the flags), state in /alertmanager owned by nobody, wget for health checks.
build_alertmanager() {
  if have_image "$ALERTMANAGER_TAG"; then echo "have $ALERTMANAGER_TAG"; return; fi
  if timeout 20 docker pull -q "$ALERTMANAGER_TAG" >/dev/null 2>&1; then echo "pulled $ALERTMANAGER_TAG"; return; fi
  build_base
  echo "building stand-in $ALERTMANAGER_TAG from Debian's prometheus-alertmanager package"
  { apt_layer prometheus-alertmanager wget
    cat <<'EOF'
RUN mkdir -p /alertmanager /etc/alertmanager && chown -R nobody:nogroup /alertmanager
USER nobody
WORKDIR /alertmanager
EXPOSE 9093
ENTRYPOINT ["/usr/bin/prometheus-alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
EOF
  } | docker build -q -t "$ALERTMANAGER_TAG" - >/dev/null
  echo "built $ALERTMANAGER_TAG ($(docker run --rm "$ALERTMANAGER_TAG" --version 2>&1 | head -1))"
}

mkdir -p "$WORK"
case "$what" in
  base) build_base ;;
  prometheus) build_prometheus ;;
  gateway) build_gateway ;;
  blackbox) build_blackbox ;;
  alertmanager) build_alertmanager ;;
  all) build_base; build_prometheus; build_gateway; build_blackbox; build_alertmanager ;;
  *) echo "usage: $0 [base|prometheus|gateway|blackbox|alertmanager|all]" >&2; exit 2 ;;
esac
