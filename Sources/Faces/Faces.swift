// The Faces module: see docs/architecture.md.
