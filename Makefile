# The two commands a newcomer needs: `make demo` and `make test`.
.PHONY: demo test lint crds harness bench

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

harness:
	bash tests/harness/build.sh

bench:
	cargo bench --workspace
