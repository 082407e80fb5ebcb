#include "fervid_build_info.h"

// tools/build-info.sh writes .build/fervid-commit.h (`#define FERVID_COMMIT "..."`) before each
// `make build`, rewriting it only when the commit changes: the compiler's dependency file then
// recompiles this one file and relinks, nothing else. The path is relative to this file, so it
// holds wherever the tree is checked out.
#if __has_include("../../.build/fervid-commit.h")
#include "../../.build/fervid-commit.h"
#endif
#ifndef FERVID_COMMIT
#define FERVID_COMMIT "unknown"
#endif

const char *fervid_build_commit(void) { return FERVID_COMMIT; }
