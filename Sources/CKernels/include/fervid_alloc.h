#ifndef FERVID_ALLOC_H
#define FERVID_ALLOC_H

/// Makes the C allocator serve blocks of `bytes` and more straight from (and back to) the
/// system, with no dynamic raising of that threshold (glibc's M_MMAP_THRESHOLD; no-op where the
/// allocator has no such setting). Returns 1 when it was set.
int fervid_set_mmap_threshold(long bytes);

#endif
