# The two commands of README.md:
#   make run    run socialwatch on the embedded default (proxy, classifier, storage, metrics on loopback)
#   make test   install what the tests need and run them
# Both install what they need by themselves on a fresh Debian machine.

PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEBIAN_TEST_PACKAGES := clickhouse-server prometheus libpcap0.8 chromium nftables nodejs zookeeper

.PHONY: run test bench venv clean

run: $(STAMP)
	$(VENV)/bin/socialwatch run --config socialwatch.example.toml

test: $(STAMP) debian-test-packages
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(VENV)/bin/python bench/classifier_throughput.py
	$(VENV)/bin/python bench/sensor_throughput.py
	$(VENV)/bin/python bench/storage_writer.py
	$(VENV)/bin/python bench/proxy_throughput.py
	$(VENV)/bin/python bench/proxy_throughput.py --storage server --writer process
	$(VENV)/bin/python bench/review_pages.py
	$(VENV)/bin/python bench/dashboard_rollups.py

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 12))' || \
	  { echo "socialwatch needs Python 3.12 or newer; $(PYTHON) is older (pyenv: 'pyenv install 3.12')" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

.PHONY: debian-test-packages
debian-test-packages:
	@missing=""; for p in $(DEBIAN_TEST_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache
