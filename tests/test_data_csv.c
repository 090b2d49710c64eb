/* fer_dataset_read_csv on good and malformed inputs written to a temp dir:
   LF, CRLF, gzip, quoting, and every error message checked word for word. */
#include "check.h"
#include "fer/dataset.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static char dir[] = "/tmp/fer_test_csv_XXXXXX";

/* A pixel field of n values: value i is (i * 7 + row) % 256. */
static void pixels_text(char *out, int n, int row, int bad_at, const char *bad)
{
    out[0] = '\0';
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (i == bad_at)
            len += sprintf(out + len, "%s%s", i ? " " : "", bad);
        else
            len += sprintf(out + len, "%s%d", i ? " " : "", (i * 7 + row) % 256);
    }
}

static const char *write_file(const char *name, const char *text, int gz)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (gz) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, text, (unsigned)strlen(text));
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static char text[200000], px[3][12000];

static void good_rows(const char *eol)
{
    for (int r = 0; r < 3; r++)
        pixels_text(px[r], 2304, r, -1, NULL);
    snprintf(text, sizeof text, "emotion,pixels,Usage%s3,%s,Training%s0,%s,PublicTest%s6,%s,PrivateTest%s",
             eol, px[0], eol, px[1], eol, px[2], eol);
}

static int check_good(const char *what, const char *path)
{
    fer_dataset ds;
    fer_err err = {{0}};
    long skipped = -1;
    int rc = fer_dataset_read_csv(&ds, path, 0, &skipped, &err);
    printf("%-28s rc %d n %d skipped %ld %s\n", what, rc, rc ? 0 : ds.n, skipped, rc ? err.msg : "");
    CHECK_MSG(rc == FER_OK, "%s: %s", what, err.msg);
    if (rc)
        return 1;
    CHECK(ds.n == 3 && ds.h == 48 && ds.w == 48 && ds.n_classes == 7 && skipped == 0 && !ds.synthetic);
    CHECK(ds.labels[0] == 3 && ds.labels[1] == 0 && ds.labels[2] == 6);
    CHECK(ds.usage[0] == FER_USAGE_TRAINING && ds.usage[1] == FER_USAGE_PUBLIC_TEST &&
          ds.usage[2] == FER_USAGE_PRIVATE_TEST);
    int bad = 0;
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 2304; i++)
            bad += ds.pixels[r * 2304 + i] != (i * 7 + r) % 256;
    CHECK_MSG(bad == 0, "%s: %d pixels differ", what, bad);
    CHECK(!strcmp(ds.class_names[5], "Surprise"));
    fer_dataset_free(&ds);
    return 0;
}

/* Reads path and expects failure with message "<path>:<suffix>". */
static void check_error(const char *name, const char *content, const char *suffix)
{
    const char *path = write_file(name, content, 0);
    fer_dataset ds;
    fer_err err = {{0}};
    char want[1024];
    snprintf(want, sizeof want, "%s%s", path, suffix);
    int rc = fer_dataset_read_csv(&ds, path, 0, NULL, &err);
    printf("%-16s -> %s\n", name, err.msg);
    CHECK_MSG(rc == FER_ERROR && !strcmp(err.msg, want), "got '%s', want '%s'", err.msg, want);
}

/* A file with header + one good row + one row with `bad` in place of pixel k. */
static void check_row_error(const char *name, const char *row_prefix, int n_pixels, int bad_at,
                            const char *bad, const char *row_suffix, const char *want)
{
    static char content[40000];
    pixels_text(px[0], 2304, 0, -1, NULL);
    pixels_text(px[1], n_pixels, 1, bad_at, bad);
    snprintf(content, sizeof content, "emotion,pixels,Usage\n2,%s,Training\n%s%s%s\n", px[0], row_prefix,
             px[1], row_suffix);
    check_error(name, content, want);
}

static void check_skip_bad(void)
{
    static char content[80000];
    pixels_text(px[0], 2304, 0, -1, NULL);
    pixels_text(px[1], 2303, 0, -1, NULL);
    pixels_text(px[2], 2304, 0, 5, "300");
    snprintf(content, sizeof content,
             "emotion,pixels,Usage\n1,%s,Training\n1,%s,Training\n1,%s,Training\n9,%s,Training\n4,%s,Bogus\n",
             px[0], px[1], px[2], px[0], px[0]);
    const char *path = write_file("skip.csv", content, 0);
    fer_dataset ds;
    fer_err err;
    long skipped = 0;
    int rc = fer_dataset_read_csv(&ds, path, 1, &skipped, &err);
    printf("skip-bad: rc %d n %d skipped %ld (want 1 row, 4 skipped)\n", rc, rc ? -1 : ds.n, skipped);
    CHECK(rc == FER_OK && ds.n == 1 && skipped == 4 && ds.labels[0] == 1);
    if (rc == FER_OK)
        fer_dataset_free(&ds);
    /* Nothing valid left: an error, not an empty data set. */
    snprintf(content, sizeof content, "emotion,pixels,Usage\n1,%s,Training\n", px[1]);
    path = write_file("allbad.csv", content, 0);
    rc = fer_dataset_read_csv(&ds, path, 1, &skipped, &err);
    printf("skip-bad, all bad: %s\n", rc ? err.msg : "(no error)");
    CHECK(rc == FER_ERROR && strstr(err.msg, "no data rows") && skipped == 1);
}

static void check_variants(void)
{
    static char content[40000];
    pixels_text(px[0], 2304, 0, -1, NULL);
    /* Quoted fields, a byte-order mark, no Usage column, blank lines. */
    snprintf(content, sizeof content, "\xef\xbb\xbf\"emotion\",\"pixels\"\n\n5,\"%s\"\n\n", px[0]);
    fer_dataset ds;
    fer_err err;
    int rc = fer_dataset_read_csv(&ds, write_file("variant.csv", content, 0), 0, NULL, &err);
    printf("BOM + quotes + no Usage: rc %d %s\n", rc, rc ? err.msg : "");
    CHECK(rc == FER_OK && ds.n == 1 && ds.labels[0] == 5 && ds.usage[0] == FER_USAGE_TRAINING &&
          ds.pixels[1] == 7);
    if (rc == FER_OK)
        fer_dataset_free(&ds);
    /* A last line without its newline. */
    snprintf(content, sizeof content, "emotion,pixels,Usage\r\n4,%s,PrivateTest", px[0]);
    rc = fer_dataset_read_csv(&ds, write_file("noeol.csv", content, 0), 0, NULL, &err);
    CHECK(rc == FER_OK && ds.n == 1 && ds.labels[0] == 4 && ds.usage[0] == FER_USAGE_PRIVATE_TEST);
    if (rc == FER_OK)
        fer_dataset_free(&ds);
}

static void check_errors(void)
{
    check_error("empty.csv", "", ": empty file");
    check_error("header_only.csv", "emotion,pixels,Usage\n", ": no data rows after the header (0 skipped)");
    pixels_text(px[0], 2304, 0, -1, NULL);
    static char content[40000];
    snprintf(content, sizeof content, "0,%s,Training\n", px[0]);
    check_error(
        "noheader.csv", content,
        ":1: missing header: expected 'emotion,pixels,Usage', got '0,0 7 14 21 28 35 42 49 56 63 70 77 84 91 "
        "98 105 112 119 126...'");
    check_row_error("short.csv", "1,", 2303, -1, NULL, ",Training", ":3: expected 2304 pixels, got 2303");
    check_row_error("long.csv", "1,", 2305, -1, NULL, ",Training", ":3: expected 2304 pixels, got 2305");
    check_row_error("range.csv", "1,", 2304, 41, "256", ",Training", ":3: pixel 42 is 256, outside 0..255");
    check_row_error("negative.csv", "1,", 2304, 0, "-1", ",Training",
                    ":3: pixel 1: expected an integer 0..255, got '-1'");
    check_row_error("alpha.csv", "1,", 2304, 99, "12a", ",Training",
                    ":3: pixel 100: expected an integer 0..255, got '12a'");
    check_row_error("float.csv", "1,", 2304, 7, "3.5", ",Training",
                    ":3: pixel 8: expected an integer 0..255, got '3.5'");
    check_row_error("label7.csv", "7,", 2304, -1, NULL, ",Training", ":3: label 7 outside 0..6");
    check_row_error("label_neg.csv", "-1,", 2304, -1, NULL, ",Training", ":3: label -1 outside 0..6");
    check_row_error("label_text.csv", "happy,", 2304, -1, NULL, ",Training",
                    ":3: emotion: expected an integer label 0..6, got 'happy'");
    check_row_error("usage.csv", "1,", 2304, -1, NULL, ",Train",
                    ":3: unknown Usage 'Train' (expected Training, PublicTest or PrivateTest)");
    check_row_error("fields.csv", "1,", 2304, -1, NULL, "", ":3: expected 3 comma-separated fields, got 2");
    check_row_error("fields4.csv", "1,", 2304, -1, NULL, ",Training,x",
                    ":3: expected 3 comma-separated fields, got 4");
    fer_dataset ds;
    fer_err err;
    int rc = fer_dataset_read_csv(&ds, "/nonexistent/fer.csv", 0, NULL, &err);
    printf("missing file -> %s\n", err.msg);
    CHECK(rc == FER_ERROR &&
          !strcmp(err.msg, "/nonexistent/fer.csv: cannot open: No such file or directory"));
}

/* A gzip file cut in the middle must fail with a read error, not crash. */
static void check_truncated_gzip(void)
{
    good_rows("\n");
    const char *path = write_file("cut.csv.gz", text, 1);
    FILE *f = fopen(path, "rb");
    static unsigned char gz[100000];
    size_t n = fread(gz, 1, sizeof gz, f);
    fclose(f);
    f = fopen(path, "wb");
    fwrite(gz, 1, n / 2, f);
    fclose(f);
    fer_dataset ds;
    fer_err err;
    int rc = fer_dataset_read_csv(&ds, path, 0, NULL, &err);
    printf("truncated gzip (%zu of %zu bytes) -> %s\n", n / 2, n, err.msg);
    CHECK(rc == FER_ERROR &&
          strstr(err.msg, "cut.csv.gz:2: the compressed file is cut short (unexpected end of file)"));
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    good_rows("\n");
    check_good("LF", write_file("lf.csv", text, 0));
    good_rows("\r\n");
    check_good("CRLF", write_file("crlf.csv", text, 0));
    check_good("CRLF gzip", write_file("crlf.csv.gz", text, 1));
    good_rows("\n");
    check_good("LF gzip, no .gz name", write_file("gz_named_plain.csv", text, 1));
    check_variants();
    check_errors();
    check_skip_bad();
    check_truncated_gzip();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", dir);
    return check_report("test_data_csv");
}
