#!/usr/bin/env bash
# Shipped models, converted from Python-package-index wheels (see docs/assets.md).
# Filled in by the shipped-models work (issue 5).
set -euo pipefail
exit 0
