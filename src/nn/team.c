#include "team.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>

enum { TEAM_MAX = 256, BARRIER_SPINS = 1 << 14 };

typedef struct {
    void (*fn)(void *ctx, int worker, int workers);
    void *ctx;
    int worker, workers;
} team_member;

static void *member_main(void *arg)
{
    team_member *m = arg;
    m->fn(m->ctx, m->worker, m->workers);
    return NULL;
}

int fer_team_size(void)
{
    int n = openblas_get_num_threads();
    return n < 1 ? 1 : n > TEAM_MAX ? TEAM_MAX : n;
}

int fer_team_for(size_t count, size_t min_each)
{
    size_t by_work = min_each > 0 ? count / min_each : count, size = (size_t)fer_team_size();
    size = size < by_work ? size : by_work;
    return size > 0 ? (int)size : 1;
}

void fer_team_run(int workers, void (*fn)(void *ctx, int worker, int workers), void *ctx)
{
    workers = workers < 1 ? 1 : workers > TEAM_MAX ? TEAM_MAX : workers;
    int blas_threads = openblas_get_num_threads();
    if (blas_threads > 1)
        openblas_set_num_threads(1);
    team_member members[TEAM_MAX];
    pthread_t threads[TEAM_MAX];
    int started[TEAM_MAX];
    for (int w = 1; w < workers; w++) {
        members[w] = (team_member){fn, ctx, w, workers};
        started[w] = pthread_create(&threads[w], NULL, member_main, &members[w]) == 0;
    }
    fn(ctx, 0, workers);
    for (int w = 1; w < workers; w++) {
        if (started[w])
            pthread_join(threads[w], NULL);
        else
            fn(ctx, w, workers);
    }
    if (blas_threads > 1)
        openblas_set_num_threads(blas_threads);
}

void fer_team_barrier_init(fer_team_barrier *b, int workers)
{
    atomic_init(&b->arrived, 0);
    atomic_init(&b->generation, 0);
    b->workers = workers;
}

void fer_team_barrier_wait(fer_team_barrier *b)
{
    int generation = atomic_load(&b->generation);
    if (atomic_fetch_add(&b->arrived, 1) == b->workers - 1) {
        atomic_store(&b->arrived, 0);
        atomic_fetch_add(&b->generation, 1);
        return;
    }
    for (int spins = 0; atomic_load(&b->generation) == generation; spins++)
        if (spins >= BARRIER_SPINS)
            sched_yield();
}
