/* The size limits of a data set (fer/dataset.h, docs/limits.md), checked
   against what a file declares before anything is allocated. */
#include "fer/dataset.h"

#include <unistd.h>

/* Physical memory in bytes; 0 when unknown. */
static long long physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (long long)pages * page : 0;
}

int fer_dataset_check_size(long long n, long long h, long long w, fer_err *err)
{
    if (n > FER_MAX_IMAGES)
        return fer_fail(err, "%lld images, more than the %d a data set may hold (docs/limits.md)", n,
                        FER_MAX_IMAGES);
    if (h < 1 || w < 1 || h > FER_MAX_DATASET_SIDE || w > FER_MAX_DATASET_SIDE)
        return fer_fail(err, "images of %lld x %lld pixels (sides must be 1..%d)", h, w,
                        FER_MAX_DATASET_SIDE);
    long long bytes = n * h * w, memory = physical_memory();
    if (bytes > FER_MAX_PIXEL_BYTES)
        return fer_fail(err,
                        "%lld images of %lld x %lld pixels: %.1f GiB, more than the %lld GiB limit "
                        "(docs/limits.md)",
                        n, h, w, (double)bytes / (1 << 30), FER_MAX_PIXEL_BYTES >> 30);
    if (memory > 0 && bytes > memory)
        return fer_fail(
            err, "%lld images of %lld x %lld pixels: %.1f GiB, more than this machine's memory (%.1f GiB)", n,
            h, w, (double)bytes / (1 << 30), (double)memory / (1 << 30));
    return FER_OK;
}
