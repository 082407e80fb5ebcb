#ifndef FERVID_ALLOC_H
#define FERVID_ALLOC_H

/// Gives the free memory inside the C allocator's heaps back to the system (glibc's
/// malloc_trim(0), which also releases whole free pages in the middle of a heap). Returns 1 when
/// some memory was released; no-op, 0, elsewhere.
int fervid_release_free_memory(void);

/// Caps the C allocator's arenas at `arenas` (glibc's M_ARENA_MAX; its default is 8 per core,
/// one per thread that allocates up to that). Call before the threads that allocate start.
/// Returns 1 when it was set (no-op, 0, where the allocator has no such setting).
int fervid_set_arena_max(int arenas);

#endif
