.PHONY: bench bench-quick bench-litellm

# bench/README.md: the benchmark, its figures and the budget.
bench:
	bench/run.sh

bench-quick:
	bench/run.sh --quick

bench-litellm:
	bench/litellm.sh
