# Relia: `make up` runs the platform, `make test` runs every test. `make help` lists the rest.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | sort | awk 'BEGIN{FS=":.*?## "}{printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP) ## create or update the local virtual environment (.venv)

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP) ## apply ruff's formatting and safe fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: $(STAMP) ## the fast unit tests only
	$(VPY) -m pytest tests/unit -q $(PYTEST_ARGS)

test: $(STAMP) ## lint, type-check and run the whole suite (unit, integration, browser; the compose e2e and the swarm e2e beside them: three lanes)
	VPY=$(VPY) PYTEST_ARGS="$(PYTEST_ARGS)" bash scripts/run-tests.sh

test-busy: $(STAMP) ## `make test` beside a competing CPU-bound process (a busy host changes timings, not verdicts)
	VPY=$(VPY) PYTEST_ARGS="$(PYTEST_ARGS)" RELIA_TEST_CPU_HOG=1 bash scripts/run-tests.sh

.PHONY: help venv lint format unit test test-busy

# ---------------------------------------------------------------------------------------------
# The compose stack (docs/stack.md). OFFLINE=1 leaves out what no registry-less machine can run
# (Loki, Alloy, Jaeger, Grafana) via docker-compose.offline.yml.
OFFLINE ?=
COMPOSE_FILES := -f docker-compose.yml $(if $(filter 1 true yes,$(OFFLINE)),-f docker-compose.offline.yml)
COMPOSE := docker compose $(COMPOSE_FILES)
UP_TIMEOUT ?= 180
S ?=
CHAOS_ARGS ?=

up: ## build and start the stack, wait until every container is healthy, print the URLs
	@start=$$(date +%s); \
	$(COMPOSE) up -d --build --remove-orphans --wait --wait-timeout $(UP_TIMEOUT) \
	  || { $(COMPOSE) ps; echo "stack not up/healthy after $(UP_TIMEOUT)s: make logs S=<service>" \
	       "(no image registry here? make up-offline)"; exit 1; }; \
	echo "stack healthy in $$(( $$(date +%s) - start ))s"
	@$(MAKE) --no-print-directory urls OFFLINE=$(OFFLINE)

up-offline: offline-images ## like `up` on a machine without a registry (stand-in images, OFFLINE=1)
	@$(MAKE) --no-print-directory up OFFLINE=1

offline-images: ## build the stand-in images (base, Prometheus, nginx, blackbox exporter) where nothing can be pulled
	bash scripts/offline-images.sh all

down: ## stop and remove the stack's containers (volumes are kept)
	$(COMPOSE) down --remove-orphans

up-swarm: $(STAMP) ## the stack on a single-node Docker Swarm (docs/swarm.md): init if none, build, stack deploy, wait healthy
	@OFFLINE=$(OFFLINE) UP_TIMEOUT=$(UP_TIMEOUT) bash scripts/swarm.sh up $(VPY)
	@$(MAKE) --no-print-directory urls OFFLINE=$(OFFLINE)

up-swarm-offline: offline-images ## like `up-swarm` on a machine without a registry (stand-in images)
	@$(MAKE) --no-print-directory up-swarm OFFLINE=1

down-swarm: ## remove the swarm stack (volumes kept); leave the swarm only if up-swarm created it
	@bash scripts/swarm.sh down

build: ## build the Relia images
	$(COMPOSE) build

rebuild: ## rebuild the images without cache and restart the stack
	$(COMPOSE) build --no-cache
	@$(MAKE) --no-print-directory up OFFLINE=$(OFFLINE)

logs: ## follow the logs (S=orders for one service)
	$(COMPOSE) logs -f --tail=100 $(S)

status: ## containers with their health, and the policy engine's state
	@$(COMPOSE) ps --format 'table {{.Name}}\t{{.Service}}\t{{.Status}}\t{{.Ports}}'
	@echo; curl -fsS --max-time 3 http://127.0.0.1:8081/status 2>/dev/null | $(PYTHON) -m json.tool 2>/dev/null \
	  || echo "policy engine not reachable on 127.0.0.1:8081"

health: ## probe every published endpoint once
	@fail=0; for u in 8001/health 8002/health 8003/health 8080/ready 8081/ready 3000/health 9090/-/ready \
	  $(if $(filter 1 true yes,$(OFFLINE)),,3001/api/health 3100/ready 16686/); do \
	  code=$$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 http://127.0.0.1:$$u); \
	  printf '  %-28s %s\n' "127.0.0.1:$$u" "$$code"; [ "$$code" = 200 ] || fail=1; done; exit $$fail

urls: ## print the stack's URLs
	@echo "  dashboard        http://localhost:3000"
	@echo "  orders/users/payments (gateway) http://localhost:8001 / 8002 / 8003"
	@echo "  anomaly service  http://localhost:8080/docs"
	@echo "  policy engine    http://localhost:8081/docs"
	@echo "  Prometheus       http://localhost:9090"
	@echo "  Alertmanager     http://localhost:9093"
	@$(if $(filter 1 true yes,$(OFFLINE)),echo "  (offline: no Grafana, Loki, Jaeger)",\
	  echo "  Grafana          http://localhost:3001 (admin/admin)"; \
	  echo "  Loki             http://localhost:3100"; \
	  echo "  Jaeger           http://localhost:16686")

chaos: $(STAMP) ## inject faults the default policies cure by restarting (chaos chaos)
	$(VENV)/bin/chaos chaos $(CHAOS_ARGS)

chaos-load: $(STAMP) ## healthy steady load that must trigger nothing (chaos load)
	$(VENV)/bin/chaos load $(CHAOS_ARGS)

chaos-spike: $(STAMP) ## saturating CPU-bound traffic: scale up, then back down (chaos spike)
	$(VENV)/bin/chaos spike $(CHAOS_ARGS)

clean: ## remove the stack with its volumes and built images, and local caches
	-$(COMPOSE) down -v --remove-orphans --rmi local
	rm -rf .pytest_cache .mypy_cache .ruff_cache .artifacts

e2e: $(STAMP) ## only the end-to-end scenarios on the compose stack (real engine)
	$(VPY) -m pytest tests/e2e -m e2e -s $(PYTEST_ARGS)

e2e-swarm: $(STAMP) ## the end-to-end scenarios on `make up-swarm` (RELIA_STACK/RELIA_PORT_OFFSET: beside a compose stack)
	$(VPY) -m pytest tests/e2e_swarm -m e2e_swarm -q $(PYTEST_ARGS)

.PHONY: up up-offline up-swarm up-swarm-offline down-swarm offline-images down build rebuild logs status health urls chaos chaos-load chaos-spike clean e2e e2e-swarm
