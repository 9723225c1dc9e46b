.PHONY: up test test-fast bench lint docs
up:        ## install, start Kafka + PostgreSQL + the services, feed the demo
	bash scripts/up.sh
test:      ## install, start what is needed, run every test (unit, integration, e2e, slow faults)
	bash scripts/test.sh
test-fast: ## the same without the slow fault-injection tests
	bash scripts/test.sh -m "not slow"
bench:     ## the pipeline benchmark against the raw Kafka / PostgreSQL ceilings
	bash scripts/bench.sh
docs:      ## build the documentation site into site/ (strict: a broken link or a page left out fails)
	test -x .venv/bin/mkdocs || { python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]" -c constraints.txt; }
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict -d site
lint:
	.venv/bin/ruff check saylau services tests bench scripts
	.venv/bin/lint-imports
