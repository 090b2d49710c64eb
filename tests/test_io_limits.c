/* Hostile input files and the documented limits (docs/limits.md), issue 19:
   each check names the defect it guards. Files are written to a temp dir;
   every error message is printed before it is checked. */
#include "check.h"
#include "fer/checkpoint.h"
#include "fer/config.h"
#include "fer/confusion.h"
#include "fer/dataset.h"
#include "fer/image.h"
#include "fer/weights.h"
#include "h5_fixtures.h"

/* jpeglib.h uses FILE without including stdio.h. */
#include <stdio.h>

#include <hdf5.h>
#include <jpeglib.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

static char dir[256];

static const char *in_dir(const char *name)
{
    static char path[4][512];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", dir, name);
    return p;
}

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

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

/* ---- JPEG ------------------------------------------------------------------ */
/* A grey h x w JPEG with a gradient, progressive or baseline. */
static void write_jpeg(const char *path, int h, int w, int progressive)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr e;
    c.err = jpeg_std_error(&e);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = 1;
    c.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&c);
    if (progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    uint8_t *row = malloc((size_t)w);
    while (c.next_scanline < (JDIMENSION)h) {
        for (int x = 0; x < w; x++)
            row[x] = (uint8_t)((x * 3 + (int)c.next_scanline * 5) & 255);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

/* Rewrites the size in the file's SOFn marker: a small file that declares a
   huge image (a decompression bomb). */
static int patch_jpeg_size(const char *path, unsigned h, unsigned w)
{
    FILE *f = fopen(path, "r+b");
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    int done = 0;
    for (size_t i = 0; i + 9 < n && !done; i++)
        if (buf[i] == 0xFF && (buf[i + 1] == 0xC0 || buf[i + 1] == 0xC2)) {
            uint8_t size[4] = {(uint8_t)(h >> 8), (uint8_t)h, (uint8_t)(w >> 8), (uint8_t)w};
            fseek(f, (long)i + 5, SEEK_SET);
            fwrite(size, 1, 4, f);
            done = 1;
        }
    fclose(f);
    return done;
}

static long peak_rss_kb(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/* Issue 19 item 7: the declared size is checked from the header, before
   libjpeg allocates the whole-image coefficient buffer of a progressive file
   (134 MB for the 8200 x 8200 declared here, just over the pixel limit). */
static void test_jpeg_bomb(void)
{
    const char *path = in_dir("bomb.jpg");
    write_jpeg(path, 16, 16, 1);
    CHECK(patch_jpeg_size(path, 8200, 8200));
    long before = peak_rss_kb();
    uint8_t *px = NULL;
    int h = 0, w = 0;
    fer_err err = {{0}};
    int rc = fer_image_read_grey(path, &px, &h, &w, &err);
    long grew_kb = peak_rss_kb() - before;
    printf("jpeg bomb (%ld bytes declaring 8200 x 8200): rc %d, peak memory grew %ld KB: %s\n",
           file_size(path), rc, grew_kb, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "8200 x 8200") && contains(err.msg, "too large"));
    CHECK_MSG(grew_kb < 32 * 1024, "the bomb allocated %ld KB before the size check", grew_kb);
    free(px);

    /* The boundary: the largest side is accepted (16384 x 8, a real file). */
    path = in_dir("wide.jpg");
    write_jpeg(path, 8, 16384, 0);
    rc = fer_image_read_grey(path, &px, &h, &w, &err);
    printf("jpeg 8 x 16384: rc %d h %d w %d %s\n", rc, h, w, rc ? err.msg : "");
    CHECK(rc == FER_OK && h == 8 && w == 16384);
    free(px);
    px = NULL;
    path = in_dir("wider.jpg");
    write_jpeg(path, 8, 16385, 0);
    rc = fer_image_read_grey(path, &px, &h, &w, &err);
    printf("jpeg 8 x 16385: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "too large"));
    free(px);
}

/* Issue 19 item 10: a JPEG cut short is refused (libjpeg's "premature end"
   warning used to be swallowed, giving an image with a blank lower half). */
static void test_jpeg_truncated(void)
{
    const char *path = in_dir("cut.jpg");
    write_jpeg(path, 64, 64, 0);
    long n = file_size(path);
    CHECK(truncate(path, n / 2) == 0);
    uint8_t *px = NULL;
    int h = 0, w = 0;
    fer_err err = {{0}};
    int rc = fer_image_read_grey(path, &px, &h, &w, &err);
    printf("jpeg cut to %ld of %ld bytes: rc %d: %s\n", n / 2, n, rc, rc ? err.msg : "(accepted)");
    CHECK(rc == FER_ERROR && contains(err.msg, "cut.jpg") && contains(err.msg, "truncated"));
    free(px);
}

/* ---- configuration integers ------------------------------------------------ */
static void expect_set_fails(const char *assignment, const char *key)
{
    fer_config c;
    fer_config_defaults(&c);
    fer_err err = {{0}};
    int rc = fer_config_set(&c, assignment, &err);
    printf("--set %s: rc %d batch %d every_steps %d: %s\n", assignment, rc, c.data.batch_size,
           c.checkpoint.every_steps, err.msg);
    CHECK_MSG(rc == FER_ERROR && contains(err.msg, key), "%s accepted", assignment);
}

/* Issue 19 item 8: integer keys beyond int are errors, not truncated. */
static void test_config_integers(void)
{
    expect_set_fails("data.batch_size=4294967328", "data.batch_size");
    expect_set_fails("checkpoint.every_steps=4294967296", "checkpoint.every_steps");
    expect_set_fails("checkpoint.every_steps=2147483648", "checkpoint.every_steps");
    expect_set_fails("checkpoint.keep_last=-4294967295", "checkpoint.keep_last");
    fer_config c;
    fer_config_defaults(&c);
    fer_err err = {{0}};
    int rc = fer_config_set(&c, "checkpoint.every_steps=2147483647", &err);
    printf("--set checkpoint.every_steps=2147483647: rc %d value %d\n", rc, c.checkpoint.every_steps);
    CHECK(rc == FER_OK && c.checkpoint.every_steps == INT_MAX);
}

/* ---- configuration nesting --------------------------------------------------- */
/* "a: [[[...]]]" nested depth deep, as a YAML text. */
static char *nested_yaml(const char *key, int depth)
{
    size_t n = strlen(key) + 2 * (size_t)depth + 8;
    char *s = malloc(n);
    size_t len = (size_t)sprintf(s, "%s: ", key);
    memset(s + len, '[', (size_t)depth);
    memset(s + len + depth, ']', (size_t)depth);
    strcpy(s + len + 2 * (size_t)depth, "\n");
    return s;
}

/* Issue 19 item 9: deep nesting is refused before libyaml parses it (libyaml
   is quadratic in the depth of flow collections). The limit counts the
   top-level mapping as level 1. */
static void test_config_depth(void)
{
    fer_config c;
    fer_err err = {{0}};
    char *yaml = nested_yaml("seed", 63);
    fer_config_defaults(&c);
    int rc = fer_config_load_string(&c, yaml, "deep63.yaml", &err);
    printf("64 levels: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && !contains(err.msg, "nest"));
    free(yaml);

    yaml = nested_yaml("seed", 64);
    fer_config_defaults(&c);
    rc = fer_config_load_string(&c, yaml, "deep64.yaml", &err);
    printf("65 levels: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "deep64.yaml") && contains(err.msg, "nested more than 64"));
    free(yaml);

    /* A million levels is refused at once (libyaml alone takes minutes). */
    yaml = nested_yaml("seed", 1000000);
    fer_config_defaults(&c);
    rc = fer_config_load_string(&c, yaml, "deep.yaml", &err);
    printf("1000001 levels: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "nested more than 64"));
    free(yaml);

    /* Block style nests too ("a:\n  b:\n    c: ..."), and quotes and
       comments do not count. */
    char block[8192] = "seed: 1\nmodel: {note: \"[[[[\"} # [[[[\n";
    size_t len = strlen(block);
    for (int i = 0; i < 70; i++)
        len += (size_t)sprintf(block + len, "%*sk%d:\n", 2 * i, "", i);
    fer_config_defaults(&c);
    rc = fer_config_load_string(&c, block, "block.yaml", &err);
    printf("70 block levels: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "nested more than 64"));
}

/* A config file of exactly bytes bytes: "seed: 7" and a comment. */
static void write_padded_config(const char *path, size_t bytes)
{
    char *text = malloc(bytes + 1);
    memset(text, '#', bytes);
    memcpy(text, "seed: 7\n", 8);
    text[bytes - 1] = '\n';
    text[bytes] = '\0';
    fixture_write_text(path, text);
    free(text);
}

/* The documented file-size limit of a config, at its boundary. */
static void test_config_file_size(void)
{
    fer_config c;
    fer_err err = {{0}};
    const char *path = in_dir("big.yaml");
    write_padded_config(path, (16u << 20) - 1);
    fer_config_defaults(&c);
    int rc = fer_config_load(&c, path, &err);
    printf("config of 16 MiB - 1 bytes: rc %d seed %llu %s\n", rc, (unsigned long long)c.seed,
           rc ? err.msg : "");
    CHECK(rc == FER_OK && c.seed == 7);
    write_padded_config(path, 16u << 20);
    rc = fer_config_load(&c, path, &err);
    printf("config of 16 MiB: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "big.yaml") && contains(err.msg, "larger than 16 MiB"));
}

/* ---- eval reports -------------------------------------------------------------- */
/* Issue 19 item 15: class names with quotes, backslashes, commas and control
   characters are escaped in the JSON and quoted in the CSV. */
static void test_report_escaping(void)
{
    const char *names[3] = {"say \"hi\"", "back\\slash,comma", "tab\there"};
    long confusion[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    fer_confusion c = {3, names, confusion};
    fer_err err = {{0}};
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/eval", dir);
    int rc = fer_confusion_write(&c, prefix, 0.5, &err);
    CHECK(rc == FER_OK);
    char text[4096] = {0};
    FILE *f = fopen(in_dir("eval.json"), "rb");
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    printf("eval.json classes line: %.*s\n", (int)strcspn(strstr(text, "\"classes\"") ?: text, "\n"),
           strstr(text, "\"classes\"") ?: text);
    CHECK(contains(text, "\"say \\\"hi\\\"\", \"back\\\\slash,comma\", \"tab\\there\""));
    CHECK(contains(text, "\"say \\\"hi\\\"\": {\"precision\""));
    f = fopen(in_dir("eval.csv"), "rb");
    n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = '\0';
    printf("eval.csv:\n%s", text);
    CHECK(contains(text, "true\\predicted,\"say \"\"hi\"\"\",\"back\\slash,comma\",tab\there\n"));
    CHECK(contains(text, "\n\"back\\slash,comma\",4,5,6\n"));
}

/* ---- CSV messages ------------------------------------------------------------------ */
static char row_text[12000];

static const char *pixel_row(void)
{
    size_t len = 0;
    for (int i = 0; i < 2304; i++)
        len += (size_t)sprintf(row_text + len, "%s%d", i ? " " : "", (i * 7) % 256);
    return row_text;
}

static int read_csv(const char *path, fer_dataset *ds, fer_err *err)
{
    long skipped = 0;
    return fer_dataset_read_csv(ds, path, 0, &skipped, err);
}

/* Issue 19 item 17: CR-only line ends are read (classic Mac, some
   spreadsheet exports), not reported as "no data rows". */
static void test_csv_cr_only(void)
{
    const char *path = in_dir("cr.csv");
    static char text[30000];
    snprintf(text, sizeof text, "emotion,pixels,Usage\r3,%s,Training\r5,%s,PublicTest\r", pixel_row(),
             pixel_row());
    CHECK(fixture_write_text(path, text) == 0);
    fer_dataset ds;
    fer_err err = {{0}};
    int rc = read_csv(path, &ds, &err);
    printf("CR-only CSV: rc %d n %d %s\n", rc, rc ? 0 : ds.n, rc ? err.msg : "");
    CHECK(rc == FER_OK && ds.n == 2 && ds.labels[1] == 5 && ds.usage[1] == FER_USAGE_PUBLIC_TEST);
    if (rc == FER_OK)
        fer_dataset_free(&ds);
}

/* Issue 19 item 17: a header of more than 16 columns. */
static void test_csv_wide_header(void)
{
    const char *path = in_dir("wide.csv");
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 20; i++)
        fprintf(f, "extra%d,", i);
    fprintf(f, "emotion,pixels,Usage\n");
    for (int i = 0; i < 20; i++)
        fprintf(f, "%d,", i);
    fprintf(f, "3,%s,Training\n", pixel_row());
    fclose(f);
    fer_dataset ds;
    fer_err err = {{0}};
    int rc = read_csv(path, &ds, &err);
    printf("23-column CSV: rc %d n %d %s\n", rc, rc ? 0 : ds.n, rc ? err.msg : "");
    CHECK(rc == FER_OK && ds.n == 1 && ds.labels[0] == 3);
    if (rc == FER_OK)
        fer_dataset_free(&ds);

    path = in_dir("too_wide.csv");
    f = fopen(path, "wb");
    for (int i = 0; i < 70; i++)
        fprintf(f, "extra%d,", i);
    fprintf(f, "emotion,pixels,Usage\n");
    fclose(f);
    rc = read_csv(path, &ds, &err);
    printf("73-column CSV: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "too_wide.csv:1:") && contains(err.msg, "73 columns") &&
          contains(err.msg, "at most 64"));
}

/* Issue 19 item 17: a .gz damaged far into the file (here its CRC, which
   zlib checks at the end) names the line where the good data ends and says
   the compressed data is damaged (it said "read error near line 1020"). */
static void test_csv_gz_damaged(void)
{
    const char *path = in_dir("damaged.csv.gz");
    gzFile g = gzopen(path, "wb1");
    gzprintf(g, "emotion,pixels,Usage\n");
    pixel_row();
    for (int r = 0; r < 2000; r++) {
        gzprintf(g, "%d,", r % 7);
        gzwrite(g, row_text, (unsigned)strlen(row_text));
        gzprintf(g, ",Training\n");
    }
    gzclose(g);
    long n = file_size(path);
    FILE *f = fopen(path, "r+b");
    fseek(f, n - 8, SEEK_SET); /* the CRC-32 of the trailer */
    uint8_t junk[4] = {0xA5, 0xA5, 0xA5, 0xA5};
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    fer_dataset ds;
    fer_err err = {{0}};
    int rc = read_csv(path, &ds, &err);
    printf("gz with a bad CRC after 2001 lines: rc %d: %s\n", rc, err.msg);
    long line = 0;
    const char *at = strstr(err.msg, "damaged.csv.gz:");
    if (at)
        line = strtol(at + strlen("damaged.csv.gz:"), NULL, 10);
    CHECK(rc == FER_ERROR && contains(err.msg, "compressed data is damaged"));
    CHECK_MSG(line >= 1900 && line <= 2002, "line %ld named, expected one near the end (2002)", line);

    path = in_dir("cut.csv.gz");
    g = gzopen(path, "wb1");
    gzprintf(g, "emotion,pixels,Usage\n");
    for (int r = 0; r < 100; r++) {
        gzprintf(g, "%d,", r % 7);
        gzwrite(g, row_text, (unsigned)strlen(row_text));
        gzprintf(g, ",Training\n");
    }
    gzclose(g);
    n = file_size(path);
    CHECK(truncate(path, n / 2) == 0);
    rc = read_csv(path, &ds, &err);
    printf("gz cut in half: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "cut.csv.gz:") && contains(err.msg, "cut short"));
}

/* ---- non-finite weights ------------------------------------------------------------ */
/* Overwrites element `at` of the float dataset name in file path with v. */
static void poke_float(const char *path, const char *name, size_t at, float v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t space = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    float *x = malloc((size_t)n * sizeof *x);
    H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    x[at] = v;
    H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    free(x);
    H5Sclose(space);
    H5Dclose(ds);
    H5Fclose(f);
}

/* Issue 19 item 12: a NaN or Inf in a weights file or a checkpoint is refused
   on load, naming the file, the layer and the dataset. */
static void test_nonfinite_weights(void)
{
    fer_model_cfg cfg;
    fixture_small_model(&cfg, 6);
    fer_model m;
    fer_err err = {{0}};
    CHECK(fer_model_init(&m, &cfg, 1, &err) == FER_OK);
    fixture_fill(m.params, m.n_params, 3);
    const char *path = in_dir("nan_weights.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(fer_weights_write(f, "model_weights", &m, &err) == FER_OK);
    H5Fclose(f);
    fer_weights_report rep;
    int rc = fer_weights_load(&m, path, 1, &rep, &err);
    printf("finite weights file: rc %d %s\n", rc, rc ? err.msg : "");
    CHECK(rc == FER_OK);
    poke_float(path, "model_weights/conv_a/conv_a/kernel:0", 5, NAN);
    rc = fer_weights_load(&m, path, 1, &rep, &err);
    printf("weights file with a NaN: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "nan_weights.h5") && contains(err.msg, "conv_a") &&
          contains(err.msg, "kernel:0") && contains(err.msg, "value 5 of 162 is NaN"));

    fixture_fill(m.params, m.n_params, 3); /* the failed load left its NaN in m */
    fer_train_state st;
    memset(&st, 0, sizeof st);
    st.best_val_acc = -1;
    float *slot = calloc(m.n_params, sizeof *slot);
    fer_checkpoint_out out = {&m, slot, NULL, &st, NULL, "seed: 1\n", NULL, NULL};
    path = in_dir("inf_ckpt.h5");
    rc = fer_checkpoint_save(path, &out, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    poke_float(path, "model_weights/bn_a/bn_a/moving_variance:0", 2, -INFINITY);
    rc = fer_checkpoint_load(path, &m, slot, NULL, &st, NULL, NULL, &err);
    printf("checkpoint with -Inf: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "inf_ckpt.h5") && contains(err.msg, "bn_a") &&
          contains(err.msg, "moving_variance:0") && contains(err.msg, "-Inf"));
    fixture_fill(m.stats, m.n_stats, 4); /* again */
    rc = fer_checkpoint_save(path, &out, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    poke_float(path, "optimizer/slot0", 0, NAN);
    rc = fer_checkpoint_load(path, &m, slot, NULL, &st, NULL, NULL, &err);
    printf("checkpoint with a NaN momentum: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "inf_ckpt.h5") && contains(err.msg, "slot0") &&
          contains(err.msg, "NaN"));
    free(slot);
    fer_model_free(&m);
}

/* ---- data set sizes ------------------------------------------------------------------- */
/* A data set of n images of 1 x 1 pixel: the count limit, cheaply. */
static int write_tiny_images(const char *path, int n, fer_err *err)
{
    fer_dataset ds;
    memset(&ds, 0, sizeof ds);
    ds.n = n;
    ds.h = ds.w = 1;
    ds.n_classes = 7;
    for (int c = 0; c < 7; c++)
        snprintf(ds.class_names[c], sizeof ds.class_names[c], "%s", fer_emotion_names[c]);
    ds.pixels = calloc((size_t)n, 1);
    ds.labels = calloc((size_t)n, 1);
    ds.usage = calloc((size_t)n, 1);
    for (int i = 0; i < n; i++)
        ds.pixels[i] = (uint8_t)(i * 7);
    int rc = fer_dataset_write_h5(&ds, path, err);
    fer_dataset_free(&ds);
    return rc;
}

/* An HDF5 file declaring n images of 48 x 48 in chunked datasets that were
   never written: a few KB on disk. */
static void write_hollow(const char *path, hsize_t n)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[3] = {n, 48, 48}, chunk[3] = {1024, 48, 48};
    const char *names[3] = {"pixels", "labels", "usage"};
    for (int k = 0; k < 3; k++) {
        int rank = k == 0 ? 3 : 1;
        hid_t space = H5Screate_simple(rank, dims, NULL);
        hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(plist, rank, chunk);
        hid_t set = H5Dcreate2(f, names[k], H5T_STD_U8LE, space, H5P_DEFAULT, plist, H5P_DEFAULT);
        H5Dclose(set);
        H5Pclose(plist);
        H5Sclose(space);
    }
    H5Fclose(f);
}

/* Issue 19 item 11: a data set declaring more than can be held is refused
   before anything is allocated, with the limit named. */
static void test_dataset_limits(void)
{
    fer_err err = {{0}};
    fer_dataset ds;
    const char *path = in_dir("max_images.h5");
    CHECK(write_tiny_images(path, FER_MAX_IMAGES, &err) == FER_OK);
    int rc = fer_dataset_read_h5(&ds, path, &err);
    printf("%d images of 1 x 1: rc %d %s\n", FER_MAX_IMAGES, rc, rc ? err.msg : "");
    CHECK(rc == FER_OK && ds.n == FER_MAX_IMAGES &&
          ds.pixels[FER_MAX_IMAGES - 1] == (uint8_t)((FER_MAX_IMAGES - 1) * 7));
    if (rc == FER_OK)
        fer_dataset_free(&ds);
    path = in_dir("too_many_images.h5");
    rc = write_tiny_images(path, FER_MAX_IMAGES + 1, &err);
    CHECK(rc == FER_OK);
    rc = fer_dataset_read_h5(&ds, path, &err);
    printf("%d images of 1 x 1: rc %d: %s\n", FER_MAX_IMAGES + 1, rc, err.msg);
    CHECK(rc == FER_ERROR &&
          contains(err.msg, "too_many_images.h5: /pixels: 1048577 images, more than the 1048576"));

    /* A few KB declaring 1.5M images: refused by count at once. */
    path = in_dir("hollow_1500k.h5");
    write_hollow(path, 1500000);
    long before = peak_rss_kb();
    rc = fer_dataset_read_h5(&ds, path, &err);
    printf("%ld-byte file declaring 1500000 images: rc %d, peak memory grew %ld KB: %s\n", file_size(path),
           rc, peak_rss_kb() - before, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "1500000 images, more than the 1048576"));
    /* Within the count, but with no pixels stored: refused, not read as
       100000 blank images. */
    path = in_dir("hollow_100k.h5");
    write_hollow(path, 100000);
    rc = fer_dataset_read_h5(&ds, path, &err);
    printf("%ld-byte file declaring 100000 images: rc %d: %s\n", file_size(path), rc,
           rc ? err.msg : "(read)");
    CHECK(rc == FER_ERROR &&
          contains(err.msg, "hollow_100k.h5: /pixels: 230400000 bytes declared but only 0 stored"));
    if (rc == FER_OK)
        fer_dataset_free(&ds);

    /* The byte limit at its boundary (the machine's memory may be the
       smaller bound; then the message names it). */
    rc = fer_dataset_check_size(524288, 128, 128, &err);
    printf("524288 x 128 x 128 (8 GiB): rc %d %s\n", rc, rc ? err.msg : "");
    CHECK(rc == FER_OK || contains(err.msg, "more than this machine's memory"));
    rc = fer_dataset_check_size(524289, 128, 128, &err);
    printf("524289 x 128 x 128: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "more than the 8 GiB limit"));
    rc = fer_dataset_check_size(10, 4097, 48, &err);
    printf("10 x 4097 x 48: rc %d: %s\n", rc, err.msg);
    CHECK(rc == FER_ERROR && contains(err.msg, "sides must be 1..4096"));
}

int main(void)
{
    if (fixture_tmpdir(dir, sizeof dir, "limits")) {
        perror("mkdtemp");
        return 1;
    }
    test_jpeg_bomb();
    test_jpeg_truncated();
    test_config_integers();
    test_config_depth();
    test_config_file_size();
    test_report_escaping();
    test_csv_cr_only();
    test_csv_wide_header();
    test_csv_gz_damaged();
    test_nonfinite_weights();
    test_dataset_limits();
    fixture_rmtree(dir);
    return check_report("test_io_limits");
}
