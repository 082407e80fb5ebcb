// The Video module: see docs/architecture.md.
