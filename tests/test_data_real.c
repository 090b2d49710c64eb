/* The real FER2013 CSV (../shared/data/fer2013.csv.gz): the counts per usage
   and class of its README, and a parse that takes seconds. Skipped (77) when
   the data set is absent. */
#include "check.h"
#include "fer/dataset.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const long want[FER_N_USAGES][7] = {{3995, 436, 4097, 7215, 4830, 3171, 4965},
                                           {467, 56, 496, 895, 653, 415, 607},
                                           {491, 55, 528, 879, 594, 416, 626}};

int main(void)
{
    const char *src = getenv("FER_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/../shared/data/fer2013.csv.gz", src ? src : ".");
    if (access(path, R_OK) != 0) {
        printf("skipped: %s is absent (the real data set is not part of the repository)\n", path);
        return CHECK_SKIP;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fer_dataset ds;
    fer_err err;
    long skipped = -1;
    int rc = fer_dataset_read_csv(&ds, path, 0, &skipped, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    if (rc)
        return check_report("test_data_real");
    printf("read %d images of %dx%d in %.2f s (%ld skipped)\n", ds.n, ds.h, ds.w,
           (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec), skipped);
    CHECK(ds.n == 35887 && ds.h == 48 && ds.w == 48 && skipped == 0);
    long counts[FER_N_USAGES][FER_MAX_CLASSES];
    fer_dataset_counts(&ds, counts);
    int differ = 0;
    for (int u = 0; u < FER_N_USAGES; u++) {
        printf("%-12s", fer_usage_name(u));
        for (int c = 0; c < 7; c++) {
            printf(" %5ld", counts[u][c]);
            differ += counts[u][c] != want[u][c];
        }
        printf("\n");
    }
    printf("counts differing from the README table: %d (want 0)\n", differ);
    CHECK(differ == 0);
    fer_dataset_free(&ds);
    return check_report("test_data_real");
}
