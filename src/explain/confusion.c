#include "fer/confusion.h"

#include "fer/path.h"

#include <errno.h>
#include <string.h>

long fer_confusion_total(const fer_confusion *c)
{
    long n = 0;
    for (int i = 0; i < c->classes * c->classes; i++)
        n += c->confusion[i];
    return n;
}

double fer_confusion_accuracy(const fer_confusion *c)
{
    long n = fer_confusion_total(c), hits = 0;
    for (int k = 0; k < c->classes; k++)
        hits += c->confusion[k * c->classes + k];
    return n ? (double)hits / (double)n : 0.0;
}

fer_class_score fer_confusion_score(const fer_confusion *c, int k)
{
    int K = c->classes;
    long tp = c->confusion[k * K + k], predicted = 0, actual = 0;
    for (int j = 0; j < K; j++) {
        predicted += c->confusion[j * K + k];
        actual += c->confusion[k * K + j];
    }
    fer_class_score s = {0, 0, 0, actual};
    s.precision = predicted ? (double)tp / (double)predicted : 0.0;
    s.recall = actual ? (double)tp / (double)actual : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    return s;
}

static void print_matrix(FILE *f, const fer_confusion *c, int normalized)
{
    int K = c->classes;
    fprintf(f, "%-10s", normalized ? "true\\pred%" : "true\\pred");
    for (int j = 0; j < K; j++)
        fprintf(f, " %8.8s", c->names[j]);
    fputc('\n', f);
    for (int i = 0; i < K; i++) {
        long row = 0;
        for (int j = 0; j < K; j++)
            row += c->confusion[i * K + j];
        fprintf(f, "%-10.10s", c->names[i]);
        for (int j = 0; j < K; j++) {
            long v = c->confusion[i * K + j];
            if (normalized)
                fprintf(f, " %8.1f", row ? 100.0 * (double)v / (double)row : 0.0);
            else
                fprintf(f, " %8ld", v);
        }
        fputc('\n', f);
    }
}

void fer_confusion_print(FILE *f, const fer_confusion *c, const char *title)
{
    int K = c->classes;
    fprintf(f, "%s: accuracy %.4f on %ld samples\n\n", title, fer_confusion_accuracy(c),
            fer_confusion_total(c));
    print_matrix(f, c, 0);
    fputc('\n', f);
    print_matrix(f, c, 1);
    fprintf(f, "\n%-10s %9s %9s %9s %9s\n", "class", "precision", "recall", "f1", "support");
    double mp = 0, mr = 0, mf = 0;
    for (int k = 0; k < K; k++) {
        fer_class_score s = fer_confusion_score(c, k);
        fprintf(f, "%-10.10s %9.4f %9.4f %9.4f %9ld\n", c->names[k], s.precision, s.recall, s.f1, s.support);
        mp += s.precision / K;
        mr += s.recall / K;
        mf += s.f1 / K;
    }
    fprintf(f, "%-10s %9.4f %9.4f %9.4f %9ld\n", "macro avg", mp, mr, mf, fer_confusion_total(c));
}

/* A class name as an RFC 4180 field: quoted, with quotes doubled, when it
   holds a comma, a quote or a line end (class names come from folder names
   and HDF5 attributes, so any byte may appear). */
static void put_csv_field(FILE *f, const char *s)
{
    if (!s[strcspn(s, ",\"\r\n")]) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A class name as a JSON string (RFC 8259 escapes). */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch == '\r')
            fputs("\\r", f);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static int write_csv(const fer_confusion *c, const char *path, fer_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fer_fail(err, "%s: %s", path, strerror(errno));
    int K = c->classes;
    fprintf(f, "true\\predicted");
    for (int j = 0; j < K; j++) {
        fputc(',', f);
        put_csv_field(f, c->names[j]);
    }
    fputc('\n', f);
    for (int i = 0; i < K; i++) {
        put_csv_field(f, c->names[i]);
        for (int j = 0; j < K; j++)
            fprintf(f, ",%ld", c->confusion[i * K + j]);
        fputc('\n', f);
    }
    return fclose(f) ? fer_fail(err, "%s: %s", path, strerror(errno)) : FER_OK;
}

static int write_json(const fer_confusion *c, const char *path, double loss, fer_err *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return fer_fail(err, "%s: %s", path, strerror(errno));
    int K = c->classes;
    fprintf(f, "{\n  \"samples\": %ld,\n  \"accuracy\": %.6f,\n  \"loss\": %.6f,\n  \"classes\": [",
            fer_confusion_total(c), fer_confusion_accuracy(c), loss);
    for (int k = 0; k < K; k++) {
        fputs(k ? ", " : "", f);
        put_json_string(f, c->names[k]);
    }
    fprintf(f, "],\n  \"confusion\": [");
    for (int i = 0; i < K; i++) {
        fprintf(f, "%s[", i ? ", " : "");
        for (int j = 0; j < K; j++)
            fprintf(f, "%s%ld", j ? ", " : "", c->confusion[i * K + j]);
        fputc(']', f);
    }
    fprintf(f, "],\n  \"per_class\": {");
    double mp = 0, mr = 0, mf = 0;
    for (int k = 0; k < K; k++) {
        fer_class_score s = fer_confusion_score(c, k);
        fputs(k ? ",\n    " : "\n    ", f);
        put_json_string(f, c->names[k]);
        fprintf(f, ": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f, \"support\": %ld}", s.precision,
                s.recall, s.f1, s.support);
        mp += s.precision / K;
        mr += s.recall / K;
        mf += s.f1 / K;
    }
    fprintf(f, "\n  },\n  \"macro_avg\": {\"precision\": %.6f, \"recall\": %.6f, \"f1\": %.6f}\n}\n", mp, mr,
            mf);
    return fclose(f) ? fer_fail(err, "%s: %s", path, strerror(errno)) : FER_OK;
}

int fer_confusion_write(const fer_confusion *c, const char *prefix, double loss, fer_err *err)
{
    char path[FER_FILE_PATH_LEN + sizeof ".json"]; /* a prefix fer built, then an extension */
    snprintf(path, sizeof path, "%s.csv", prefix);
    if (write_csv(c, path, err))
        return FER_ERROR;
    snprintf(path, sizeof path, "%s.json", prefix);
    return write_json(c, path, loss, err);
}
