/* The Kaggle fer2013.csv reader. The real file is 300 MB of text, so it is
   read through zlib (which also reads plain files) in large blocks and the
   pixel integers are parsed by hand: this takes seconds, not minutes. */
#include "dataset_builder.h"
#include "fer/dist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

enum { FER_SIDE = 48, FER_PIXELS = FER_SIDE * FER_SIDE, BLOCK = 8 << 20, CHUNK = 64 << 10 };

/* The most columns a header may have (docs/limits.md). */
enum { MAX_COLUMNS = 64 };

typedef struct {
    gzFile f;
    char *buf;
    size_t len, pos; /* bytes held, start of the unread part */
    int eof;
    long line;            /* number of the line last returned (1-based) */
    char read_error[200]; /* why reading stopped early; reported once the lines before it are used */
} line_reader;

/* Column positions from the header; -1 when absent. */
typedef struct {
    int emotion, pixels, usage, n_fields;
} csv_columns;

/* Why gzread failed, in words: zlib's own message ("incorrect data check",
   "unexpected end of file") says little about the file. */
static void describe_read_error(line_reader *r, const char *path, int errnum, const char *msg)
{
    size_t n = strlen(path); /* zlib's message starts with the path too */
    if (!strncmp(msg, path, n) && !strncmp(msg + n, ": ", 2))
        msg += n + 2;
    if (errnum == Z_BUF_ERROR)
        snprintf(r->read_error, sizeof r->read_error, "the compressed file is cut short (%s)", msg);
    else if (errnum == Z_DATA_ERROR)
        snprintf(r->read_error, sizeof r->read_error, "the compressed data is damaged (%s)", msg);
    else
        snprintf(r->read_error, sizeof r->read_error, "read error: %s", msg);
}

/* Reads one more chunk (small, so that data lost with a failing gzread is
   little and the line named in the error is the damaged one). */
static void fill(line_reader *r, const char *path)
{
    memmove(r->buf, r->buf + r->pos, r->len - r->pos);
    r->len -= r->pos;
    r->pos = 0;
    size_t room = BLOCK - r->len < CHUNK ? BLOCK - r->len : CHUNK;
    int got = gzread(r->f, r->buf + r->len, (unsigned)room);
    int errnum = Z_OK;
    const char *msg = gzerror(r->f, &errnum);
    if (got > 0)
        r->len += (size_t)got; /* what came before the error is good data */
    if (got < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
        describe_read_error(r, path, errnum, msg);
        r->eof = 1;
    } else if (got == 0) {
        r->eof = 1;
    }
}

/* The end of the line starting at start (LF, CRLF or a lone CR) within the
   held bytes, and where the next line starts; NULL when the held bytes end
   before the line does (a CR at the very end may be half of a CRLF). */
static char *line_end(line_reader *r, char *start, char **next)
{
    char *held_end = r->buf + r->len;
    char *nl = memchr(start, '\n', (size_t)(held_end - start));
    char *cr = memchr(start, '\r', (size_t)((nl ? nl : held_end) - start));
    if (cr && cr + 1 == held_end && !r->eof)
        return NULL;
    if (cr) {
        *next = cr + 1 < held_end && cr[1] == '\n' ? cr + 2 : cr + 1;
        return cr;
    }
    if (nl)
        *next = nl + 1;
    return nl;
}

/* Next line without its line end. Returns 1 with a line, 0 at the end. */
static int next_line(line_reader *r, const char *path, const char **s, size_t *n, fer_err *err)
{
    for (;;) {
        char *start = r->buf + r->pos, *next = NULL;
        char *end = line_end(r, start, &next);
        if (!end && r->eof && r->pos < r->len && !r->read_error[0])
            end = next = r->buf + r->len; /* the last line has no line end */
        if (end) {
            r->pos = (size_t)(next - r->buf);
            *s = start;
            *n = (size_t)(end - start);
            r->line++;
            return 1;
        }
        if (r->read_error[0])
            return fer_fail(err, "%s:%ld: %s; the %ld lines before it were read", path, r->line + 1,
                            r->read_error, r->line);
        if (r->eof)
            return 0;
        if (r->pos == 0 && r->len == BLOCK)
            return fer_fail(err, "%s:%ld: line longer than %d bytes (not a FER2013 CSV?)", path, r->line + 1,
                            BLOCK);
        fill(r, path);
    }
}

/* Splits a line at commas into at most max fields, dropping surrounding
   double quotes; returns the number of fields found. */
static int split_fields(const char *s, size_t n, const char **f, size_t *fn, int max)
{
    int k = 0;
    const char *end = s + n;
    for (;;) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        if (k < max) {
            const char *b = s;
            if (e - b >= 2 && *b == '"' && e[-1] == '"') {
                b++;
                e--;
            }
            f[k] = b;
            fn[k] = (size_t)(e - b);
        }
        k++;
        if (!comma)
            return k;
        s = comma + 1;
    }
}

/* Copies a field into a short NUL-terminated string for messages; bytes that
   are not printable ASCII (a binary file given as CSV) show as '?'. */
static const char *quote(char *out, size_t cap, const char *s, size_t n)
{
    size_t m = n < cap - 4 ? n : cap - 4;
    for (size_t i = 0; i < m; i++)
        out[i] = s[i] >= 32 && s[i] < 127 ? s[i] : '?';
    strcpy(out + m, n > m ? "..." : "");
    return out;
}

static int field_is(const char *s, size_t n, const char *name)
{
    return strlen(name) == n && !strncasecmp(s, name, n);
}

static int parse_header(csv_columns *c, const char *s, size_t n, const char *path, fer_err *err)
{
    const char *f[MAX_COLUMNS];
    size_t fn[MAX_COLUMNS];
    char shown[64];
    if (n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) { /* UTF-8 byte-order mark */
        s += 3;
        n -= 3;
    }
    int k = split_fields(s, n, f, fn, MAX_COLUMNS);
    c->emotion = c->pixels = c->usage = -1;
    c->n_fields = k;
    if (k > MAX_COLUMNS)
        return fer_fail(err, "%s:1: the header has %d columns; fer reads at most %d (emotion,pixels,Usage)",
                        path, k, MAX_COLUMNS);
    for (int i = 0; i < k; i++) {
        if (field_is(f[i], fn[i], "emotion"))
            c->emotion = i;
        else if (field_is(f[i], fn[i], "pixels"))
            c->pixels = i;
        else if (field_is(f[i], fn[i], "Usage"))
            c->usage = i;
    }
    if (c->emotion < 0 || c->pixels < 0)
        return fer_fail(err, "%s:1: missing header: expected 'emotion,pixels,Usage', got '%s'", path,
                        quote(shown, sizeof shown, s, n));
    return FER_OK;
}

/* Parses the space-separated pixel field into out (FER_PIXELS values). */
static int parse_pixels(uint8_t *out, const char *s, size_t n, char *why, size_t whycap)
{
    const char *p = s, *end = s + n;
    int count = 0;
    for (;;) {
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (p == end)
            break;
        const char *tok = p;
        unsigned v = 0;
        while (p < end && *p >= '0' && *p <= '9' && v < 1000)
            v = v * 10 + (unsigned)(*p++ - '0');
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == tok || (p < end && *p != ' ' && *p != '\t')) {
            const char *e = tok;
            while (e < end && *e != ' ' && *e != '\t')
                e++;
            char shown[32];
            snprintf(why, whycap, "pixel %d: expected an integer 0..255, got '%s'", count + 1,
                     quote(shown, sizeof shown, tok, (size_t)(e - tok)));
            return FER_ERROR;
        }
        if (v > 255) {
            char shown[32];
            snprintf(why, whycap, "pixel %d is %s, outside 0..255", count + 1,
                     quote(shown, sizeof shown, tok, (size_t)(p - tok)));
            return FER_ERROR;
        }
        if (count < FER_PIXELS)
            out[count] = (uint8_t)v;
        count++;
    }
    if (count != FER_PIXELS) {
        snprintf(why, whycap, "expected %d pixels, got %d", FER_PIXELS, count);
        return FER_ERROR;
    }
    return FER_OK;
}

static int parse_label(const char *s, size_t n, int *label, char *why, size_t whycap)
{
    char shown[32];
    int v = 0;
    size_t i = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && v < 1000)
        v = v * 10 + (s[i++] - '0');
    if (n == 0 || i != n) {
        int negative = n > 1 && s[0] == '-' && s[1] >= '0' && s[1] <= '9';
        snprintf(why, whycap,
                 negative ? "label %s outside 0..6" : "emotion: expected an integer label 0..6, got '%s'",
                 quote(shown, sizeof shown, s, n));
        return FER_ERROR;
    }
    if (v > 6) {
        snprintf(why, whycap, "label %s outside 0..6", quote(shown, sizeof shown, s, n));
        return FER_ERROR;
    }
    *label = v;
    return FER_OK;
}

static int parse_usage(const char *s, size_t n, int *usage, char *why, size_t whycap)
{
    char name[40];
    quote(name, sizeof name, s, n);
    *usage = fer_usage_parse(name);
    if (*usage < 0) {
        snprintf(why, whycap, "unknown Usage '%s' (expected Training, PublicTest or PrivateTest)", name);
        return FER_ERROR;
    }
    return FER_OK;
}

static int parse_row(fer_dataset_builder *b, const csv_columns *c, const char *s, size_t n, char *why,
                     size_t whycap)
{
    const char *f[MAX_COLUMNS];
    size_t fn[MAX_COLUMNS];
    int k = split_fields(s, n, f, fn, MAX_COLUMNS);
    if (k != c->n_fields) {
        snprintf(why, whycap, "expected %d comma-separated fields, got %d", c->n_fields, k);
        return FER_ERROR;
    }
    int label = 0, usage = FER_USAGE_TRAINING;
    if (parse_label(f[c->emotion], fn[c->emotion], &label, why, whycap))
        return FER_ERROR;
    if (c->usage >= 0 && parse_usage(f[c->usage], fn[c->usage], &usage, why, whycap))
        return FER_ERROR;
    fer_err full;
    if (fer_builder_full(b, &full)) {
        snprintf(why, whycap, "%.200s", full.msg);
        return FER_ERROR;
    }
    uint8_t *pixels = fer_builder_next(b);
    if (!pixels) {
        snprintf(why, whycap, "out of memory after %d rows", b->ds->n);
        return FER_ERROR;
    }
    if (parse_pixels(pixels, f[c->pixels], fn[c->pixels], why, whycap))
        return FER_ERROR;
    fer_builder_commit(b, label, usage);
    return FER_OK;
}

static int read_rows(fer_dataset_builder *b, line_reader *r, const char *path, int skip_bad, long *skipped,
                     fer_err *err)
{
    const char *s;
    size_t n;
    int got = next_line(r, path, &s, &n, err);
    if (got < 0)
        return FER_ERROR;
    if (got == 0)
        return fer_fail(err, "%s: empty file", path);
    csv_columns cols;
    if (parse_header(&cols, s, n, path, err))
        return FER_ERROR;
    while ((got = next_line(r, path, &s, &n, err)) == 1) {
        char why[256];
        if (fer_stop_requested())
            return fer_fail(err, "%s:%ld: stopped by signal %d", path, r->line, fer_stop_signal());
        if (n == 0)
            continue;
        if (parse_row(b, &cols, s, n, why, sizeof why) == FER_OK)
            continue;
        if (!skip_bad || !strncmp(why, "out of memory", 13) || b->ds->n >= FER_MAX_IMAGES)
            return fer_fail(err, "%s:%ld: %s", path, r->line, why);
        (*skipped)++;
    }
    if (got < 0)
        return FER_ERROR;
    if (b->ds->n == 0)
        return fer_fail(err, "%s: no data rows after the header (%ld skipped)", path, *skipped);
    return FER_OK;
}

int fer_dataset_read_csv(fer_dataset *ds, const char *path, int skip_bad, long *skipped, fer_err *err)
{
    long skipped_here = 0;
    fer_dataset_builder b;
    fer_builder_init(&b, ds, FER_SIDE, FER_SIDE);
    line_reader r = {0};
    r.f = gzopen(path, "rb");
    if (!r.f)
        return fer_fail(err, "%s: cannot open: %s", path, errno ? strerror(errno) : "out of memory");
    /* Half a chunk: gzread then inflates straight into our buffer, chunk by
       chunk, rather than through zlib's own (twice as large) buffer, whose
       contents are lost with a data error. */
    gzbuffer(r.f, CHUNK / 2);
    r.buf = malloc(BLOCK);
    int rc = r.buf ? read_rows(&b, &r, path, skip_bad, &skipped_here, err)
                   : fer_fail(err, "%s: out of memory for the read buffer", path);
    free(r.buf);
    gzclose(r.f);
    if (skipped)
        *skipped = skipped_here;
    if (rc) {
        fer_dataset_free(ds);
        return FER_ERROR;
    }
    fer_builder_finish(&b);
    return FER_OK;
}
