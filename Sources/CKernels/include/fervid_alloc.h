#ifndef FERVID_ALLOC_H
#define FERVID_ALLOC_H

/// Makes the C allocator serve blocks of `bytes` and more straight from (and back to) the
/// system, with no dynamic raising of that threshold (glibc's M_MMAP_THRESHOLD; no-op where the
/// allocator has no such setting). Returns 1 when it was set.
int fervid_set_mmap_threshold(long bytes);

/// Caps the C allocator's arenas at `arenas` (glibc's M_ARENA_MAX; its default is 8 per core,
/// one per thread that allocates up to that). Call before the threads that allocate start.
/// Returns 1 when it was set (no-op, 0, where the allocator has no such setting).
int fervid_set_arena_max(int arenas);

#endif
