# The two commands that matter: `make demo` and `make test`. Both install what they need.
.PHONY: demo test bench cluster-up cluster-down crds

demo:
	scripts/demo

test:
	scripts/test

# make bench N=200 U=1000 for a shorter run.
bench:
	scripts/bench $(N) $(U)

cluster-up:
	scripts/cluster up

cluster-down:
	scripts/cluster down

crds:
	scripts/gen-crds
