// The Timeline module: see docs/architecture.md.
