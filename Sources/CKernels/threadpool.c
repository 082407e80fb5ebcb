// A small spinning thread pool for the engine's parallel loops (see include/fervid_pool.h).
// One job at a time; a caller that finds the pool busy is told so and runs its loop another way.
//
// Protocol: `ticket` holds (job number << 32 | next chunk). The caller writes the job's fields,
// then publishes ticket = job << 32 (release). Everyone claims chunk i by a compare-and-swap of
// ticket from (job, i) to (job, i + 1), so a chunk of job j is only ever claimed while job j is
// current and unfinished; the fields a claimer read after seeing job j are therefore job j's
// (the next job's fields are written only after every chunk of this one is done). The caller
// returns when `done` reaches the chunk count.
#include "fervid_threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

#define MAX_WORKERS 63
/// Spin iterations a worker waits for the next job before sleeping (~50–150 µs with pause).
#define SPIN_LIMIT 4000

static pthread_mutex_t run_lock = PTHREAD_MUTEX_INITIALIZER;   // held by a job's caller
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;

static _Atomic uint64_t ticket;
static _Atomic int done_chunks, sleepers, wanted;
static _Atomic(fervid_task) job_task;
static _Atomic(void *) job_context;
static _Atomic int job_chunks;
static uint64_t job_number;               // guarded by run_lock
static int workers;                       // started so far (guarded by run_lock)
static _Thread_local int inside_job;

/// Claims and runs chunks of job `job` until none is left or the job changed.
static void run_chunks(uint64_t job) {
    const fervid_task task = atomic_load_explicit(&job_task, memory_order_relaxed);
    void *const context = atomic_load_explicit(&job_context, memory_order_relaxed);
    const int chunks = atomic_load_explicit(&job_chunks, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&ticket, memory_order_acquire);
    for (;;) {
        if ((t >> 32) != job) return;
        const int i = (int)(t & 0xffffffffu);
        if (i >= chunks) return;
        if (atomic_compare_exchange_weak_explicit(&ticket, &t, t + 1, memory_order_acq_rel, memory_order_acquire)) {
            task(context, i);
            atomic_fetch_add_explicit(&done_chunks, 1, memory_order_release);
            t = atomic_load_explicit(&ticket, memory_order_acquire);
        }
    }
}

static void *worker_main(void *arg) {
    const int index = (int)(intptr_t)arg;
    inside_job = 1;   // a pool worker never publishes jobs itself
    uint64_t seen = atomic_load_explicit(&ticket, memory_order_acquire) >> 32;
    for (;;) {
        uint64_t job;
        int spins = 0;
        while ((job = atomic_load_explicit(&ticket, memory_order_acquire) >> 32) == seen) {
            if (++spins < SPIN_LIMIT) {
                CPU_RELAX();
                continue;
            }
            pthread_mutex_lock(&sleep_lock);
            atomic_fetch_add(&sleepers, 1);
            // Sequentially consistent with the caller's publish-then-check-sleepers: one of the two
            // sees the other, so a wake-up is never lost.
            while ((atomic_load(&ticket) >> 32) == seen) pthread_cond_wait(&wake, &sleep_lock);
            atomic_fetch_sub(&sleepers, 1);
            pthread_mutex_unlock(&sleep_lock);
            spins = 0;
        }
        seen = job;
        // A job that asked for fewer threads leaves the higher-numbered workers out.
        if (index < atomic_load_explicit(&wanted, memory_order_relaxed)) run_chunks(job);
    }
    return NULL;
}

int fervid_pool_run(int chunks, fervid_task task, void *context, int threads) {
    if (chunks <= 0) return 1;
    if (inside_job || pthread_mutex_trylock(&run_lock) != 0) return 0;
    if (threads > MAX_WORKERS + 1) threads = MAX_WORKERS + 1;
    while (workers < threads - 1) {
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int rc = pthread_create(&t, &attr, worker_main, (void *)(intptr_t)(workers + 1));
        pthread_attr_destroy(&attr);
        if (rc != 0) break;
        workers++;
    }
    atomic_store_explicit(&job_task, task, memory_order_relaxed);
    atomic_store_explicit(&job_context, context, memory_order_relaxed);
    atomic_store_explicit(&job_chunks, chunks, memory_order_relaxed);
    atomic_store_explicit(&wanted, threads, memory_order_relaxed);
    atomic_store_explicit(&done_chunks, 0, memory_order_relaxed);
    const uint64_t job = ++job_number;
    atomic_store(&ticket, job << 32);
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&sleep_lock);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&sleep_lock);
    }
    inside_job = 1;
    run_chunks(job);
    inside_job = 0;
    while (atomic_load_explicit(&done_chunks, memory_order_acquire) < chunks) CPU_RELAX();
    pthread_mutex_unlock(&run_lock);
    return 1;
}
