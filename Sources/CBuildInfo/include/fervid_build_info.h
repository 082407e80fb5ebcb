#ifndef FERVID_BUILD_INFO_H
#define FERVID_BUILD_INFO_H

/// The git commit the binary was built from ("abcdef012345" or "abcdef012345-dirty"), or
/// "unknown" when the build did not record one. `make build` records it (tools/build-info.sh);
/// a plain `swift build` does not.
const char *fervid_build_commit(void);

#endif
