// mallopt is declared in <malloc.h>, which the Glibc Swift module does not include.
#include "fervid_malloc.h"

#include <stdlib.h>  // defines __GLIBC__ (through <features.h>) on glibc

#if defined(__GLIBC__)
#include <malloc.h>

int fervid_malloc_set_arena_max(int arenas) {
    return mallopt(M_ARENA_MAX, arenas) == 1 ? 1 : 0;
}
#else
int fervid_malloc_set_arena_max(int arenas) {
    (void)arenas;
    return 0;
}
#endif
