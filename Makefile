.PHONY: setup test demo shell lint bench

# Everything is set up by scripts/bootstrap.sh (idempotent): Debian packages, the pinned venv,
# the CMake path fix and colcon build. Every target below runs it first.
setup:
	bash scripts/bootstrap.sh

# The whole suite: lint, then every test tier (core, messages, live nodes, bags).
test: setup
	scripts/with-env ruff check spatial_ros test scripts
	scripts/with-env python -m pytest

# The main job on the embedded default scene.
demo: setup
	scripts/with-env spatial-ros demo

# A shell inside the built environment.
shell: setup
	scripts/with-env bash

lint: setup
	scripts/with-env ruff check spatial_ros test scripts

bench: setup
	scripts/with-env spatial-ros bench codec
