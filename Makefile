.PHONY: up test test-fast bench lint
up:        ## install, start Kafka + PostgreSQL + the services, feed the demo
	bash scripts/up.sh
test:      ## install, start what is needed, run every test (unit, integration, e2e, slow faults)
	bash scripts/test.sh
test-fast: ## the same without the slow fault-injection tests
	bash scripts/test.sh -m "not slow"
bench:     ## the pipeline benchmark against the raw Kafka / PostgreSQL ceilings
	bash scripts/bench.sh
lint:
	.venv/bin/ruff check saylau services tests bench scripts
