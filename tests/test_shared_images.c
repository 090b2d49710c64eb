/* The run's image sets held once per node (fer_run_data_load with a dist:
   an MPI-3 shared-memory window filled by the node's local rank 0).

   On any number of ranks: every rank's sets equal, byte for byte, a
   reference this rank builds on its own (the whole data set, one
   fer_image_set_build per split, while fer_run_data builds in chunks of
   1024 samples: the default 1,800 samples span two), and every rank sees
   the same checksums; the data set's description (class names,
   synthetic) reaches every rank; a data file that cannot be read fails
   every rank with the writer's message.
   With several ranks on a node (tests/test_mpi_shared_data.sh runs it under
   mpirun -np 3): the readers (local rank > 0) allocate nothing for the data
   (the allocation accounting says 0 bytes and their private resident memory,
   RssAnon, grows by less than 2 MiB while the node's copy is 5 to 15 MiB),
   and the ranks' proportional shares (Pss) of the window's mapping add up
   to one copy (within 2% + 1 MiB), not one per rank.

   usage: test_shared_images [SYNTHETIC_TRAIN_IMAGES [DATASET.h5]]
   (default 1500 synthetic images; with a `fer prepare` file, that data set
   at 96x96 instead, to measure the real figures) */
#include "check_mpi.h"
#include "fer/dist.h"
#include "fer/run_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    long rss_kb, anon_kb, shmem_kb; /* /proc/self/status VmRSS, RssAnon, RssShmem */
    long pss_kb;                    /* /proc/self/smaps_rollup Pss, -1 when absent */
    long hwm_kb;                    /* VmHWM: peak resident memory so far */
} mem_figures;

static long field_kb(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    long kb = -1;
    size_t len = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, len) && line[len] == ':')
            kb = atol(line + len + 1);
    if (f)
        fclose(f);
    return kb;
}

static mem_figures measure(void)
{
    mem_figures m = {field_kb("/proc/self/status", "VmRSS"), field_kb("/proc/self/status", "RssAnon"),
                     field_kb("/proc/self/status", "RssShmem"), field_kb("/proc/self/smaps_rollup", "Pss"),
                     field_kb("/proc/self/status", "VmHWM")};
    return m;
}

/* Pss of the mapping holding addr (/proc/self/smaps), -1 when not found:
   this rank's proportional share of those pages. */
static long mapping_pss_kb(const void *addr)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int inside = 0;
    long kb = -1;
    while (f && kb < 0 && fgets(line, sizeof line, f)) {
        unsigned long start, end;
        if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' '))
            inside = (uintptr_t)addr >= start && (uintptr_t)addr < end;
        else if (inside && !strncmp(line, "Pss:", 4))
            kb = atol(line + 4);
    }
    if (f)
        fclose(f);
    return kb;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < bytes; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Reads every byte of the sets (so a reader's pages are really mapped). */
static uint64_t checksum(const fer_run_data *d)
{
    uint64_t h = 14695981039346656037ull;
    for (int s = 0; s < FER_N_SPLITS; s++) {
        const fer_image_set *set = &d->set[s];
        h = fnv1a(h, &set->n, sizeof set->n);
        h = fnv1a(h, set->pixels, (size_t)set->n * set->size * set->size);
        h = fnv1a(h, set->labels, (size_t)set->n);
        h = fnv1a(h, set->ids, (size_t)set->n * sizeof *set->ids);
    }
    return h;
}

static void config(fer_config *c, int n_train, const char *path)
{
    fer_config_defaults(c);
    snprintf(c->data.path, sizeof c->data.path, "%s", path);
    c->data.synthetic_train = n_train;
    c->data.synthetic_val = 200;
    c->data.synthetic_test = 100;
    if (!strcmp(path, "synthetic"))
        c->data.limit_val = 150; /* the limit is applied on the writer, seen by all */
    c->data.equalize = 1;
    c->model.input_size = 96;
    c->seed = 7;
}

/* The reference: the whole data set read here and each split built by one
   fer_image_set_build() call (fer_run_data builds in chunks). */
static int build_reference(fer_image_set ref[FER_N_SPLITS], const fer_config *c, fer_err *err)
{
    fer_dataset ds;
    const int usage[FER_N_SPLITS] = {FER_USAGE_TRAINING, FER_USAGE_PUBLIC_TEST, FER_USAGE_PRIVATE_TEST};
    const int limit[FER_N_SPLITS] = {c->data.limit_train, c->data.limit_val, 0};
    int rc = !strcmp(c->data.path, "synthetic")
                 ? fer_dataset_synthetic(&ds, c->data.synthetic_train, c->data.synthetic_val,
                                         c->data.synthetic_test, c->seed, err)
                 : fer_dataset_read_h5(&ds, c->data.path, err);
    for (int s = 0; s < FER_N_SPLITS && rc == FER_OK; s++) {
        uint8_t *pixels, *labels;
        int64_t *ids;
        rc = fer_image_set_build(&pixels, &labels, &ids, &ref[s].n, &ds, usage[s], c->model.input_size,
                                 c->data.equalize, limit[s], err);
        ref[s] = (fer_image_set){ref[s].n, c->model.input_size, pixels, labels, ids};
    }
    fer_dataset_free(&ds);
    return rc;
}

static void free_reference(fer_image_set ref[FER_N_SPLITS])
{
    for (int s = 0; s < FER_N_SPLITS; s++) {
        free((void *)ref[s].pixels);
        free((void *)ref[s].labels);
        free((void *)ref[s].ids);
    }
}

static void compare_with_reference(const fer_run_data *shared, const fer_config *c, int rank)
{
    fer_image_set ref[FER_N_SPLITS] = {{0}};
    fer_err err;
    if (build_reference(ref, c, &err)) {
        printf("rank %d: reference build failed: %s\n", rank, err.msg);
        CHECK(0);
        free_reference(ref);
        return;
    }
    int same = 1;
    for (int s = 0; s < FER_N_SPLITS; s++) {
        const fer_image_set *a = &shared->set[s], *b = &ref[s];
        same &= a->n == b->n && a->size == b->size;
        if (same)
            same &= !memcmp(a->pixels, b->pixels, (size_t)a->n * a->size * a->size) &&
                    !memcmp(a->labels, b->labels, (size_t)a->n) &&
                    !memcmp(a->ids, b->ids, (size_t)a->n * sizeof *a->ids);
    }
    printf("rank %d: shared sets (%d/%d/%d images) %s the reference (whole data set, one build per split)\n",
           rank, shared->set[0].n, shared->set[1].n, shared->set[2].n, same ? "equal" : "DIFFER FROM");
    CHECK(same);
    CHECK(shared->set[1].n == 150 || strcmp(c->data.path, "synthetic"));
    free_reference(ref);
}

static void check_description(const fer_run_data *d, int rank, int synthetic)
{
    int ok = d->ds.synthetic == synthetic && d->ds.n_classes == 7 && !strcmp(d->ds.class_names[3], "Happy") &&
             d->ds.pixels == NULL && d->ds.usage == NULL;
    printf("rank %d: data set description: %d classes, synthetic %d, class 3 '%s', raw images %s\n", rank,
           d->ds.n_classes, d->ds.synthetic, d->ds.class_names[3], d->ds.pixels ? "kept" : "dropped");
    CHECK(ok);
}

/* The figures of every rank, printed by rank 0 in rank order. */
static void memory_checks(const fer_dist *d, const fer_run_data *data, const mem_figures *before,
                          const mem_figures *after)
{
    enum { F = 8 };
    long mine[F] = {(long)data->images.rank_bytes,
                    after->rss_kb - before->rss_kb,
                    after->anon_kb - before->anon_kb,
                    after->shmem_kb - before->shmem_kb,
                    after->pss_kb - before->pss_kb,
                    (long)d->local_rank,
                    after->hwm_kb,
                    mapping_pss_kb(data->images.set[0].pixels)};
    long *all = malloc(sizeof mine * (size_t)d->size);
    if (!all) {
        CHECK(0);
        return;
    }
    MPI_Allgather(mine, F, MPI_LONG, all, F, MPI_LONG, d->comm);
    double node_mib = data->images.node_bytes / 1048576.0, pss_sum_mib = 0, pss_mapped_sum_mib = 0;
    if (d->rank == 0)
        printf("node copy %.1f MiB; growth per rank from loading and reading every image:\n", node_mib);
    for (int r = 0; r < d->size; r++) {
        long *f = all + F * r;
        pss_sum_mib += f[4] / 1024.0;
        pss_mapped_sum_mib += f[7] / 1024.0;
        if (d->rank == 0)
            printf("  rank %d (local %ld): allocated %.1f MiB; VmRSS %+.1f MiB, RssAnon %+.1f MiB, "
                   "RssShmem %+.1f MiB, Pss %+.1f MiB; peak RSS %.1f MiB\n",
                   r, f[5], f[0] / 1048576.0, f[1] / 1024.0, f[2] / 1024.0, f[3] / 1024.0, f[4] / 1024.0,
                   f[6] / 1024.0);
    }
    if (d->local_rank > 0) {
        CHECK_MSG(data->images.rank_bytes == 0, "a reader allocated %zu bytes", data->images.rank_bytes);
        CHECK_MSG(after->anon_kb - before->anon_kb < 2048,
                  "reader's RssAnon grew by %ld kB for %.1f MiB of data", after->anon_kb - before->anon_kb,
                  node_mib);
    } else {
        CHECK(data->images.rank_bytes == data->images.node_bytes);
    }
    /* The window's pages count once however many ranks map them: the
       ranks' shares add up to about one copy. Open MPI maps some shared
       segments of its own beside the window (measured: up to 4 MiB more at
       12.8 MiB of data), so the bound is "well under two copies", which a
       copy per rank (3 here) would break. A singleton's window is private
       memory. */
    if (d->rank == 0 && d->size == d->local_size && d->size > 1 && mine[7] >= 0) {
        printf(
            "sum over the node's %d ranks: Pss of the window's mapping %.1f MiB (expect one copy, %.1f MiB, "
            "and well under two), "
            "all Pss %+.1f MiB\n",
            d->size, pss_mapped_sum_mib, node_mib, pss_sum_mib);
        CHECK(pss_mapped_sum_mib > 0.98 * node_mib && pss_mapped_sum_mib < 1.5 * node_mib + 1);
    }
    free(all);
}

static void check_same_everywhere(const fer_dist *d, uint64_t sum)
{
    uint64_t *all = malloc(sizeof sum * (size_t)d->size);
    if (!all) {
        CHECK(0);
        return;
    }
    MPI_Allgather(&sum, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, d->comm);
    int same = 1;
    for (int r = 0; r < d->size; r++)
        same &= all[r] == all[0];
    if (d->rank == 0)
        printf("checksum of the sets on %d rank(s): %016llx, %s\n", d->size, (unsigned long long)all[0],
               same ? "the same on every rank" : "DIFFERENT across ranks");
    CHECK(same);
    free(all);
}

static void check_failure_reaches_everyone(const fer_dist *d, fer_config *c)
{
    snprintf(c->data.path, sizeof c->data.path, "/nonexistent/fer-data.h5");
    fer_run_data data;
    fer_err err = {{0}};
    int rc = fer_run_data_load(&data, c, d, NULL, 1u, &err);
    printf("rank %d: unreadable data file -> rc %d, '%s'\n", d->rank, rc, err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, "/nonexistent/fer-data.h5"));
    CHECK(data.set[0].n == 0 && data.images.node_bytes == 0);
    fer_run_data_free(&data); /* a no-op after a failed load */
}

int main(int argc, char **argv)
{
    int n_train = argc > 1 ? atoi(argv[1]) : 1500;
    fer_dist d;
    fer_err err;
    if (n_train < 1) {
        fprintf(stderr, "usage: test_shared_images [SYNTHETIC_TRAIN_IMAGES [DATASET.h5]]\n");
        return 2;
    }
    if (check_mpi_init(&d, &argc, &argv))
        return 1;
    fer_config *c = malloc(sizeof *c);
    if (!c)
        return 1;
    config(c, n_train, argc > 2 ? argv[2] : "synthetic");
    mem_figures before = measure();
    fer_run_data data;
    if (fer_run_data_load(&data, c, &d, NULL, 7u, &err)) {
        printf("rank %d: load failed: %s\n", d.rank, err.msg);
        CHECK(0);
    } else {
        uint64_t sum = checksum(&data);
        mem_figures after = measure();
        memory_checks(&d, &data, &before, &after);
        check_same_everywhere(&d, sum);
        check_description(&data, d.rank, !strcmp(c->data.path, "synthetic"));
        compare_with_reference(&data, c, d.rank);
        fer_run_data_free(&data);
    }
    check_failure_reaches_everyone(&d, c);
    free(c);
    return check_report_mpi(&d, "test_shared_images");
}
