/* libFuzzer target: the fer2013.csv reader (fer_dataset_read_csv), strict and
   with skip_bad, on arbitrary bytes. Input that is not gzip is also
   gzip-compressed and read again: the compressed file must mean exactly what
   the plain one means (same status, rows, pixels, labels, usage, skipped
   count). Gzip input itself exercises the decompression error paths. */
#include "fer/dataset.h"
#include "fuzz_input.h"

#include <string.h>
#include <zlib.h>

typedef struct {
    int rc;
    long skipped;
    fer_dataset ds;
} csv_result;

static void read_csv(csv_result *r, const uint8_t *data, size_t size, int skip_bad)
{
    fuzz_file f;
    fuzz_file_open(&f, data, size, ".csv");
    fer_err err = {{0}};
    memset(r, 0, sizeof *r);
    r->rc = fer_dataset_read_csv(&r->ds, f.path, skip_bad, &r->skipped, &err);
    fuzz_note(r->rc, &err);
    fuzz_expect(r->rc == FER_OK || err.msg[0], "fer_dataset_read_csv failed without a message", NULL);
    fuzz_file_close(&f);
}

/* In-memory gzip (RFC 1952), as gzip(1) writes it. NULL when out of memory. */
static uint8_t *gzip_bytes(const uint8_t *data, size_t size, size_t *out_size)
{
    z_stream z = {0};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    uLong cap = deflateBound(&z, (uLong)size) + 32;
    uint8_t *out = malloc(cap);
    if (out) {
        z.next_in = (Bytef *)data;
        z.avail_in = (uInt)size;
        z.next_out = out;
        z.avail_out = (uInt)cap;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
            free(out);
            out = NULL;
        }
        *out_size = z.total_out;
    }
    deflateEnd(&z);
    return out;
}

static void compare(const csv_result *a, const csv_result *b)
{
    fuzz_expect(a->rc == b->rc, "plain and gzip readings differ:", "status");
    fuzz_expect(a->skipped == b->skipped, "plain and gzip readings differ:", "skipped rows");
    if (a->rc != FER_OK)
        return;
    const fer_dataset *x = &a->ds, *y = &b->ds;
    fuzz_expect(x->n == y->n && x->h == y->h && x->w == y->w, "plain and gzip readings differ:", "size");
    size_t n = (size_t)x->n;
    fuzz_expect(!n || !memcmp(x->pixels, y->pixels, n * (size_t)x->h * (size_t)x->w),
                "plain and gzip readings differ:", "pixels");
    fuzz_expect(!n || !memcmp(x->labels, y->labels, n), "plain and gzip readings differ:", "labels");
    fuzz_expect(!n || !memcmp(x->usage, y->usage, n), "plain and gzip readings differ:", "usage");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int is_gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
    for (int skip_bad = 0; skip_bad <= 1; skip_bad++) {
        csv_result plain;
        read_csv(&plain, data, size, skip_bad);
        size_t gz_size = 0;
        uint8_t *gz = is_gzip ? NULL : gzip_bytes(data, size, &gz_size);
        if (gz) {
            csv_result packed;
            read_csv(&packed, gz, gz_size, skip_bad);
            compare(&plain, &packed);
            fer_dataset_free(&packed.ds);
            free(gz);
        }
        fer_dataset_free(&plain.ds);
    }
    return 0;
}
