// The Models module: see docs/architecture.md.
