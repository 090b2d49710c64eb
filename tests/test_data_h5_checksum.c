/* Data set files carry checksums: a byte changed in a stored pixel chunk or
   in the file's metadata makes fer_dataset_read_h5 fail with a message,
   never return wrong pixels (or hand HDF5 a corrupt header to decode:
   fuzzing crashed HDF5 1.10.8 inside H5Dread and H5Dopen on such files). */
#include "check.h"
#include "fer/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/fer_test_h5_sum_XXXXXX";

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static unsigned char *read_all(const char *path, long n)
{
    unsigned char *buf = malloc((size_t)n);
    FILE *f = fopen(path, "rb");
    if (!buf || !f || fread(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
    return buf;
}

static void write_all(const char *path, const unsigned char *buf, long n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, (size_t)n, f) != (size_t)n)
        abort();
    fclose(f);
}

/* Flips one byte of the file at offset and reads it: the read must fail. */
static void expect_detected(const char *path, const unsigned char *orig, long n, long offset,
                            const char *what)
{
    unsigned char *bad = malloc((size_t)n);
    memcpy(bad, orig, (size_t)n);
    bad[offset] ^= 0x5a;
    char corrupt[600];
    snprintf(corrupt, sizeof corrupt, "%s.corrupt", path);
    write_all(corrupt, bad, n);
    free(bad);
    /* In a child that leaves with _exit: after a chunk fails its checksum,
       HDF5 1.10.8 cannot shut itself down at exit ("infinite loop closing
       library") and leaks its own memory, which is not what this checks. */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        fer_dataset ds;
        fer_err err = {{0}};
        int rc = fer_dataset_read_h5(&ds, corrupt, &err);
        printf("%s (byte %ld of %ld flipped): rc %d, %s\n", what, offset, n, rc, rc ? err.msg : "read back");
        if (rc == FER_OK)
            fer_dataset_free(&ds);
        fflush(stdout);
        _exit(rc == FER_ERROR && err.msg[0] ? 0 : 1);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "a corrupted %s was read without an error",
              what);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    char path[512];
    snprintf(path, sizeof path, "%s/data.h5", dir);

    /* Random pixels do not compress: deflate stores them as they are, so
       they can be found in the file and one of them changed. */
    fer_dataset ds = {.n = 4, .h = 48, .w = 48, .n_classes = 7};
    size_t np = (size_t)ds.n * ds.h * ds.w;
    ds.pixels = malloc(np);
    ds.labels = calloc((size_t)ds.n, 1);
    ds.usage = calloc((size_t)ds.n, 1);
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < np; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ds.pixels[i] = (uint8_t)(x >> 32);
    }
    for (int c = 0; c < ds.n_classes; c++)
        snprintf(ds.class_names[c], sizeof ds.class_names[c], "%s", fer_emotion_names[c]);
    fer_err err = {{0}};
    CHECK_MSG(fer_dataset_write_h5(&ds, path, &err) == FER_OK, "%s", err.msg);

    long n = file_size(path);
    unsigned char *orig = read_all(path, n);
    unsigned char *hit = memmem(orig, (size_t)n, ds.pixels + np / 2, 64);
    printf("pixel run found in the file: %s\n", hit ? "yes" : "no");
    CHECK(hit != NULL);
    if (hit)
        expect_detected(path, orig, n, (long)(hit - orig) + 10, "pixel chunk");
    /* The root group's object header sits right after the superblock. */
    expect_detected(path, orig, n, 60, "object header");

    free(orig);
    fer_dataset_free(&ds);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_report("test_data_h5_checksum");
}
