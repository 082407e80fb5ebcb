#!/usr/bin/env bash
# Installs the Debian packages `fervid-serve`'s tests use: a real PostgreSQL 15 server (started by
# the tests themselves with initdb + pg_ctl), headless Chromium for the dashboard test, wrk for
# the load test, curl as the Server-Sent Events client. Quiet and quick when they are present.
set -euo pipefail
exec bash "$(dirname "$0")/setup.sh" setup-serve postgresql-15 chromium wrk ffmpeg curl
