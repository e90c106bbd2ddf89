# bench/: benchmarks.  They print numbers and write BENCHMARKS.md; they are
# never part of `make test`.
bench-api: all
	bench/api.sh
