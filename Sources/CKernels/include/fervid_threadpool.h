#ifndef FERVID_THREADPOOL_H
#define FERVID_THREADPOOL_H

/// A task for fervid_pool_run: called once per chunk index.
typedef void (*fervid_task)(void *context, int chunk);

/// Runs task(context, i) for every i in [0, chunks) on the calling thread and up to
/// `threads` − 1 pool workers, and returns 1 when all have finished. Workers spin briefly
/// (tens of microseconds) between jobs before sleeping, so back-to-back parallel regions cost
/// about a microsecond each instead of a thread wake-up. Returns 0 without running anything
/// when the pool is busy with another caller's job (or called from inside a job): the caller
/// then uses another way (GCD, or serially). Chunks are handed out dynamically; each index
/// runs exactly once.
int fervid_pool_run(int chunks, fervid_task task, void *context, int threads);

#endif
