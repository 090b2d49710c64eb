/* Image sets held once per node in an MPI-3 shared-memory window (or in one
   malloc'd block without MPI): the layout, the collective protocol. */
#include "fer/shared_images.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 64

/* The start of the block; readers learn everything from it. */
typedef struct {
    int failed;
    fer_err writer_err;
    int n_sets, size;
    int count[FER_SHARED_MAX_SETS];
    size_t pixels_at[FER_SHARED_MAX_SETS], labels_at[FER_SHARED_MAX_SETS], ids_at[FER_SHARED_MAX_SETS];
    size_t meta_at, bytes;
} block_header;

static size_t align_up(size_t x)
{
    return (x + ALIGN - 1) / ALIGN * ALIGN;
}

/* Offsets of every array; returns the block's size, 0 when it would overflow. */
static size_t plan_layout(block_header *h, int n_sets, const int *counts, int size, size_t meta_bytes)
{
    memset(h, 0, sizeof *h);
    h->n_sets = n_sets;
    h->size = size;
    size_t at = align_up(sizeof *h);
    h->meta_at = at;
    at = align_up(at + meta_bytes);
    size_t image = (size_t)size * (size_t)size;
    for (int i = 0; i < n_sets; i++) {
        size_t n = counts[i] > 0 ? (size_t)counts[i] : 0;
        if (image && n > (SIZE_MAX / 2 - at) / image)
            return 0;
        h->count[i] = (int)n;
        h->pixels_at[i] = at;
        at = align_up(at + n * image);
        h->labels_at[i] = at;
        at = align_up(at + n);
        h->ids_at[i] = at;
        at = align_up(at + n * sizeof(int64_t));
    }
    h->bytes = at;
    return at;
}

static int alloc_window(fer_shared_images *s, const fer_dist *d, size_t bytes, fer_err *err)
{
    /* Only the writer's segment has memory; the readers' are empty and they
       map the writer's. */
    void *mine = NULL;
    MPI_Aint want = s->writer ? (MPI_Aint)bytes : 0;
    if (MPI_Win_allocate_shared(want, 1, MPI_INFO_NULL, d->node_comm, &mine, &s->win) != MPI_SUCCESS)
        return fer_fail(
            err, "shared images: MPI_Win_allocate_shared of %zu bytes failed (is /dev/shm big enough?)",
            bytes);
    s->windowed = 1;
    MPI_Aint got = 0;
    int disp_unit = 1;
    void *node = NULL;
    MPI_Win_shared_query(s->win, 0, &got, &disp_unit, &node);
    s->base = node;
    s->node_bytes = (size_t)got;
    s->rank_bytes = s->writer ? (size_t)got : 0;
    return FER_OK;
}

int fer_shared_images_alloc(fer_shared_images *s, const fer_dist *d, int n_sets, const int *counts, int size,
                            size_t meta_bytes, fer_err *err)
{
    memset(s, 0, sizeof *s);
    s->writer = !d || d->local_rank == 0;
    block_header h;
    size_t bytes = 0;
    int bad = 0;
    if (s->writer) {
        bad = n_sets < 0 || n_sets > FER_SHARED_MAX_SETS || size < 0;
        if (!bad)
            bytes = plan_layout(&h, n_sets, counts, size, meta_bytes);
        bad |= bytes == 0;
    }
    /* The window is collective: a writer with impossible arguments still
       allocates (header and metadata only) and reports the problem at publish. */
    if (bad)
        bytes = plan_layout(&h, 0, NULL, 0, meta_bytes);
    if (d) {
        if (alloc_window(s, d, bytes, err))
            return FER_ERROR;
    } else {
        s->base = malloc(bytes);
        if (!s->base)
            return fer_fail(err, "shared images: out of memory for %zu bytes of images", bytes);
        s->node_bytes = s->rank_bytes = bytes;
    }
    if (s->writer) {
        if (bad) {
            h.failed = 1;
            fer_fail(&h.writer_err, "shared images: %d sets of %d x %d images do not fit in memory", n_sets,
                     size, size);
        }
        memcpy(s->base, &h, sizeof h);
        s->meta = s->base + h.meta_at;
    }
    return FER_OK;
}

fer_image_slot fer_shared_images_slot(const fer_shared_images *s, int i)
{
    const block_header *h = (const block_header *)s->base;
    fer_image_slot slot = {0, 0, NULL, NULL, NULL};
    if (!s->writer || i < 0 || i >= h->n_sets)
        return slot;
    slot.n = h->count[i];
    slot.size = h->size;
    slot.pixels = s->base + h->pixels_at[i];
    slot.labels = s->base + h->labels_at[i];
    slot.ids = (int64_t *)(void *)(s->base + h->ids_at[i]);
    return slot;
}

int fer_shared_images_publish(fer_shared_images *s, int writer_failed, const fer_err *writer_err,
                              fer_err *err)
{
    block_header *h = (block_header *)s->base;
    if (s->writer && writer_failed && !h->failed) {
        h->failed = 1;
        snprintf(h->writer_err.msg, sizeof h->writer_err.msg, "%s",
                 writer_err && writer_err->msg[0] ? writer_err->msg : "shared images: the writer failed");
    }
    /* Makes the writer's stores visible to the node's readers (MPI-3 unified
       memory model: a fence completes and orders them). */
    if (s->windowed)
        MPI_Win_fence(0, s->win);
    if (h->failed) {
        fer_fail(err, "%s", h->writer_err.msg);
        fer_shared_images_free(s);
        return FER_ERROR;
    }
    s->n_sets = h->n_sets;
    s->meta = s->base + h->meta_at;
    for (int i = 0; i < h->n_sets; i++)
        s->set[i] = (fer_image_set){.n = h->count[i],
                                    .size = h->size,
                                    .pixels = s->base + h->pixels_at[i],
                                    .labels = s->base + h->labels_at[i],
                                    .ids = (const int64_t *)(const void *)(s->base + h->ids_at[i])};
    return FER_OK;
}

void fer_shared_images_free(fer_shared_images *s)
{
    if (s->windowed)
        MPI_Win_free(&s->win);
    else
        free(s->base);
    memset(s, 0, sizeof *s);
}
