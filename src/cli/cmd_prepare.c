/* fer prepare: FER2013 CSV or image folders (or the synthetic set) -> the
   dataset HDF5 file, with a table of counts per usage and class. */
#include "commands.h"
#include "options.h"

#include "../io/atomic_file.h"
#include "fer/dataset.h"
#include "fer/dist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "usage: fer prepare INPUT --out FILE.h5 [--skip-bad]\n"
    "       fer prepare --synthetic N_TRAIN,N_VAL,N_TEST --out FILE.h5 [--seed S]\n"
    "\n"
    "Converts FER2013 into one dataset HDF5 file holding the original 48x48 uint8\n"
    "pixels, labels, usage split (Training, PublicTest, PrivateTest) and class names,\n"
    "and prints the number of images per usage and class. INPUT is either\n"
    "  - the Kaggle fer2013.csv, plain or gzip'd (columns emotion,pixels,Usage;\n"
    "    LF or CRLF line ends), or\n"
    "  - a folder INPUT/train/<class>/*.png|jpg|jpeg and INPUT/test/<class>/...\n"
    "    (also val|validation -> PublicTest, private -> PrivateTest; class folders\n"
    "    named like the emotions, any case; other sizes are made grey 48x48).\n"
    "\n"
    "options:\n"
    "  --out FILE.h5        the file to write (written to a temporary name, then renamed)\n"
    "  --skip-bad           skip malformed CSV rows and unreadable images, and say how\n"
    "                       many; without it the first one stops with file:line and why\n"
    "  --synthetic A,B,C    write the embedded synthetic cartoon-face set instead:\n"
    "                       A Training, B PublicTest, C PrivateTest images\n"
    "  --seed S             seed of the synthetic set (default 1)\n";

static void print_counts(const fer_dataset *ds)
{
    long counts[FER_N_USAGES][FER_MAX_CLASSES], total[FER_MAX_CLASSES + 1] = {0};
    fer_dataset_counts(ds, counts);
    printf("%-12s", "Usage");
    for (int c = 0; c < ds->n_classes; c++)
        printf(" %8s", ds->class_names[c]);
    printf(" %8s\n", "Total");
    for (int u = 0; u < FER_N_USAGES; u++) {
        long sum = 0;
        printf("%-12s", fer_usage_name(u));
        for (int c = 0; c < ds->n_classes; c++) {
            printf(" %8ld", counts[u][c]);
            sum += counts[u][c];
            total[c] += counts[u][c];
        }
        printf(" %8ld\n", sum);
        total[ds->n_classes] += sum;
    }
    printf("%-12s", "Total");
    for (int c = 0; c <= ds->n_classes; c++)
        printf(" %8ld", total[c]);
    printf("\n");
}

/* "A,B,C": three image counts, each checked as the other numbers are. */
static int parse_split_sizes(const char *s, int n[3])
{
    char part[3][32];
    const char *p = s;
    for (int k = 0; k < 3; k++) {
        const char *end = k < 2 ? strchr(p, ',') : p + strlen(p);
        if (!end || end - p >= (long)sizeof part[k] || (k == 2 && strchr(p, ',')))
            return cli_usage("prepare", "--synthetic: expected N_TRAIN,N_VAL,N_TEST, got '%s'", s);
        snprintf(part[k], sizeof part[k], "%.*s", (int)(end - p), p);
        p = end + 1;
    }
    static const char *const names[] = {"--synthetic N_TRAIN", "--synthetic N_VAL", "--synthetic N_TEST"};
    for (int k = 0; k < 3; k++) {
        int rc = cli_number_int("prepare", names[k], part[k], 0, FER_MAX_IMAGES, &n[k]);
        if (rc != FER_EXIT_OK)
            return rc;
    }
    return FER_EXIT_OK;
}

static int load_input(fer_dataset *ds, const char *input, int skip_bad, long *skipped, fer_err *err)
{
    struct stat st;
    if (stat(input, &st) != 0)
        return fer_fail(err, "%s: %s", input, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fer_dataset_read_folders(ds, input, skip_bad, skipped, err);
    return fer_dataset_read_csv(ds, input, skip_bad, skipped, err);
}

int cmd_prepare(int argc, char **argv, const cli_setup *setup)
{
    (void)setup; /* logs no setup */
    if (cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return FER_EXIT_OK;
    }
    const char *out = NULL, *synthetic = NULL, *seed_text = NULL;
    int skip_bad = 0;
    cli_flag flags[] = {{"--out", 1, &out, NULL},
                        {"--synthetic", 1, &synthetic, NULL},
                        {"--seed", 1, &seed_text, NULL},
                        {"--skip-bad", 0, NULL, &skip_bad},
                        {NULL, 0, NULL, NULL}};
    cli_options o = {0};
    int rc = cli_parse_flags(&o, "prepare", argc, argv, flags);
    if (rc != FER_EXIT_OK)
        return rc;
    if (!out)
        return cli_usage("prepare", "missing --out FILE.h5");
    if (synthetic ? o.n_positional != 0 : o.n_positional != 1)
        return cli_usage("prepare",
                         synthetic ? "--synthetic takes no INPUT" : "expected one INPUT (CSV or folder)");
    fer_dataset ds;
    fer_err err;
    long skipped = 0;
    /* Refused before minutes of reading: rename() would replace a device
       node or a link rather than write into it. */
    if (fer_atomic_check_target(out, &err))
        return cli_fail("%s", err.msg);
    /* SIGTERM and Ctrl-C set a flag that the CSV reader and the writer poll,
       so that a stopped prepare leaves neither OUT nor its temporary file. */
    fer_stop_install();
    if (synthetic) {
        int n[3];
        uint64_t seed = 1;
        if ((rc = parse_split_sizes(synthetic, n)) != FER_EXIT_OK ||
            (rc = cli_number_seed("prepare", "--seed", seed_text, &seed)) != FER_EXIT_OK)
            return rc;
        rc = fer_dataset_synthetic(&ds, n[0], n[1], n[2], seed, &err);
    } else {
        rc = load_input(&ds, o.positional[0], skip_bad, &skipped, &err);
    }
    if (rc == FER_OK && fer_stop_requested()) {
        fer_dataset_free(&ds);
        rc = fer_fail(&err, "%s: not written: stopped by signal %d", out, fer_stop_signal());
    }
    if (rc)
        return cli_fail("%s", err.msg);
    printf("%s: %d images of %dx%d%s", synthetic ? "synthetic" : o.positional[0], ds.n, ds.h, ds.w,
           ds.synthetic ? " (synthetic cartoon faces)" : "");
    if (skip_bad)
        printf(", %ld bad %s skipped", skipped, skipped == 1 ? "entry" : "entries");
    printf("\n");
    print_counts(&ds);
    rc = fer_dataset_write_h5(&ds, out, &err);
    fer_dataset_free(&ds);
    if (rc)
        return cli_fail("%s", err.msg);
    printf("wrote %s\n", out);
    return FER_EXIT_OK;
}
