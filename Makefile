# The two commands that matter: `make demo` and `make test`. Both install what they need.
.PHONY: demo test bench cluster-up cluster-down crds

demo:
	scripts/demo

test:
	scripts/test

bench:
	scripts/bench

cluster-up:
	scripts/cluster up

cluster-down:
	scripts/cluster down

crds:
	cargo run --quiet -- crds --out-dir crds
