#ifndef FERVID_MALLOC_H
#define FERVID_MALLOC_H

/// Caps glibc's malloc arenas at `arenas` (mallopt M_ARENA_MAX; glibc's default is 8 per core).
/// Call before the threads that allocate start. Returns 1 when set, 0 when refused or when the
/// C library is not glibc (then nothing is changed).
int fervid_malloc_set_arena_max(int arenas);

#endif
