// The CNN module: see docs/architecture.md.
