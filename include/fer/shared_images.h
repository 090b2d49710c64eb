/* Input-size image sets held once per node, not once per rank.

   The node's local rank 0 (the writer) builds the sets inside an MPI-3
   shared-memory window allocated on the node communicator
   (MPI_Win_allocate_shared; Open MPI backs it with a file in /dev/shm); the
   node's other ranks (readers) map the same pages (MPI_Win_shared_query) and
   read them in place. Without a fer_dist (tools, single-process tests) the
   same layout lives in one malloc'd block and the process is the writer, so
   callers have one code path.

   The block holds a header (the writer's status and error message, the sets'
   shapes), the caller's metadata bytes, then per set its pixels, labels and
   ids, each 64-byte aligned.

   Protocol: every rank of the node makes each collective call, in order.
     1. fer_shared_images_alloc     collective; only the writer's counts,
                                    size and meta_bytes matter.
     2. the writer fills fer_shared_images_slot(s, i) for each set and the
        metadata area s->meta; readers do nothing (they wait in step 3).
     3. fer_shared_images_publish   collective; the writer says whether step 2
                                    worked. On success every rank's set[] and
                                    meta view the node's copy; on failure every
                                    rank gets the writer's message and the
                                    block is freed.
     4. fer_shared_images_free      collective, once the sets are no longer read.
   The writer may also fail before step 1 (e.g. an unreadable file): it then
   allocates with zero counts and publishes its failure, so readers never
   wait forever and every rank reports the same reason. */
#ifndef FER_SHARED_IMAGES_H
#define FER_SHARED_IMAGES_H

#include "fer/dist.h"
#include "fer/error.h"
#include "fer/loader.h"

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#define FER_SHARED_MAX_SETS 4

/* The writer's writable view of one set. */
typedef struct {
    int n, size;
    uint8_t *pixels; /* n x size x size */
    uint8_t *labels; /* n */
    int64_t *ids;    /* n */
} fer_image_slot;

typedef struct {
    int writer; /* 1 on the rank that fills the block */
    int n_sets;
    fer_image_set set[FER_SHARED_MAX_SETS]; /* after publish: views into the node's copy */
    void *meta;                             /* the caller's metadata bytes in the node's copy */
    size_t node_bytes;                      /* size of the node's copy */
    size_t rank_bytes; /* what this rank allocated: node_bytes on the writer, 0 on readers */
    /* private */
    unsigned char *base;
    MPI_Win win;
    int windowed; /* 1: base lives in win; 0: malloc'd (or nothing) */
} fer_shared_images;

/* Step 1. d NULL: a private malloc'd block, this process the writer. With
   d: collective over d->node_comm; the writer is d->local_rank 0, and only its
   n_sets (<= FER_SHARED_MAX_SETS), counts, size and meta_bytes matter. */
int fer_shared_images_alloc(fer_shared_images *s, const fer_dist *d, int n_sets, const int *counts, int size,
                            size_t meta_bytes, fer_err *err);

/* Step 2, writer only: where set i's images go. */
fer_image_slot fer_shared_images_slot(const fer_shared_images *s, int i);

/* Step 3. writer_failed and writer_err (may be NULL) are the writer's;
   readers pass 0 and NULL. Returns FER_OK with set[] and meta valid on every
   rank, or FER_ERROR on every rank with the writer's message in err. */
int fer_shared_images_publish(fer_shared_images *s, int writer_failed, const fer_err *writer_err,
                              fer_err *err);

/* Step 4. Collective when windowed; a zeroed or already freed struct is a no-op. */
void fer_shared_images_free(fer_shared_images *s);

#endif
