/* The common FER2013 folder layout: root/{train,test}/<class>/<image>.png|jpg.
   Samples are ordered by usage, class and file name, so the same tree always
   gives the same data set. */
#include "dataset_builder.h"
#include "fer/image.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

enum { SIDE = 48, PATH_CAP = 4096 };

static const struct {
    const char *name;
    int usage;
} split_names[] = {{"train", FER_USAGE_TRAINING},         {"training", FER_USAGE_TRAINING},
                   {"test", FER_USAGE_PUBLIC_TEST},       {"val", FER_USAGE_PUBLIC_TEST},
                   {"validation", FER_USAGE_PUBLIC_TEST}, {"private", FER_USAGE_PRIVATE_TEST}};

static int split_usage(const char *name)
{
    for (size_t i = 0; i < sizeof split_names / sizeof split_names[0]; i++)
        if (!strcasecmp(name, split_names[i].name))
            return split_names[i].usage;
    return -1;
}

static int class_label(const char *name)
{
    for (int c = 0; c < 7; c++)
        if (!strcasecmp(name, fer_emotion_names[c]))
            return c;
    return -1;
}

static int is_image_name(const char *name)
{
    size_t n = strlen(name);
    if (name[0] == '.')
        return 0;
    return (n > 4 && (!strcasecmp(name + n - 4, ".png") || !strcasecmp(name + n - 4, ".jpg"))) ||
           (n > 5 && !strcasecmp(name + n - 5, ".jpeg"));
}

/* dir/name into path; 0 when it does not fit. */
static int join(char path[PATH_CAP], const char *dir, const char *name)
{
    return snprintf(path, PATH_CAP, "%s/%s", dir, name) < PATH_CAP;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Byte order, not the locale's: the same tree gives the same order anywhere. */
static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

typedef struct {
    struct dirent **entries;
    int n;
} listing;

static int list_dir(listing *l, const char *path, fer_err *err)
{
    l->n = scandir(path, &l->entries, NULL, by_name);
    if (l->n < 0) {
        l->entries = NULL;
        return fer_fail(err, "%s: cannot read folder", path);
    }
    return FER_OK;
}

static void listing_free(listing *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->entries[i]);
    free(l->entries);
}

/* Converts a grey image of any size to the 48x48 slot. */
static int store_image(uint8_t *slot, const uint8_t *grey, int h, int w)
{
    return fer_resize_grey_u8(slot, SIDE, SIDE, grey, h, w);
}

static int add_image(fer_dataset_builder *b, const char *path, int label, int usage, int skip_bad,
                     long *skipped, fer_err *err)
{
    uint8_t *grey = NULL;
    int h = 0, w = 0;
    if (fer_builder_full(b, err))
        return fer_fail_wrap(err, "%s", path);
    if (fer_image_read_grey(path, &grey, &h, &w, err)) {
        if (!skip_bad)
            return FER_ERROR;
        (*skipped)++;
        return FER_OK;
    }
    uint8_t *slot = fer_builder_next(b);
    int rc = slot ? store_image(slot, grey, h, w) : FER_ERROR;
    free(grey);
    if (rc)
        return fer_fail(err, "%s: out of memory", path);
    fer_builder_commit(b, label, usage);
    return FER_OK;
}

static int read_class(fer_dataset_builder *b, const char *dir, int label, int usage, int skip_bad,
                      long *skipped, fer_err *err)
{
    listing l;
    if (list_dir(&l, dir, err))
        return FER_ERROR;
    int rc = FER_OK;
    for (int i = 0; rc == FER_OK && i < l.n; i++) {
        char path[PATH_CAP];
        if (!is_image_name(l.entries[i]->d_name))
            continue;
        if (!join(path, dir, l.entries[i]->d_name))
            rc = fer_fail(err, "%s/%s: path too long", dir, l.entries[i]->d_name);
        else
            rc = add_image(b, path, label, usage, skip_bad, skipped, err);
    }
    listing_free(&l);
    return rc;
}

static int read_split(fer_dataset_builder *b, const char *dir, int usage, int skip_bad, long *skipped,
                      fer_err *err)
{
    listing l;
    if (list_dir(&l, dir, err))
        return FER_ERROR;
    char path[PATH_CAP];
    int rc = FER_OK;
    /* Classes in label order, whatever the folder order. */
    for (int label = 0; rc == FER_OK && label < 7; label++)
        for (int i = 0; rc == FER_OK && i < l.n; i++)
            if (class_label(l.entries[i]->d_name) == label && join(path, dir, l.entries[i]->d_name) &&
                is_dir(path))
                rc = read_class(b, path, label, usage, skip_bad, skipped, err);
    for (int i = 0; rc == FER_OK && i < l.n; i++) {
        const char *name = l.entries[i]->d_name;
        if (name[0] != '.' && class_label(name) < 0 && join(path, dir, name) && is_dir(path))
            rc = fer_fail(err,
                          "%s: unknown class folder (expected one of Angry, Disgust, Fear, Happy, Sad, "
                          "Surprise, Neutral, any case)",
                          path);
    }
    listing_free(&l);
    return rc;
}

static int read_root(fer_dataset_builder *b, const char *root, int skip_bad, long *skipped, fer_err *err)
{
    listing l;
    if (list_dir(&l, root, err))
        return FER_ERROR;
    char path[PATH_CAP];
    int rc = FER_OK, splits = 0;
    for (int i = 0; rc == FER_OK && i < l.n; i++) {
        const char *name = l.entries[i]->d_name;
        if (name[0] == '.' || !join(path, root, name) || !is_dir(path))
            continue;
        if (split_usage(name) < 0)
            rc = fer_fail(err, "%s: unknown split folder (expected train, test, val, validation or private)",
                          path);
    }
    /* Splits in usage order: Training, then PublicTest, then PrivateTest. */
    for (int usage = 0; rc == FER_OK && usage < FER_N_USAGES; usage++)
        for (int i = 0; rc == FER_OK && i < l.n; i++) {
            const char *name = l.entries[i]->d_name;
            if (split_usage(name) != usage || !join(path, root, name) || !is_dir(path))
                continue;
            splits++;
            rc = read_split(b, path, usage, skip_bad, skipped, err);
        }
    listing_free(&l);
    if (rc == FER_OK && splits == 0)
        return fer_fail(err, "%s: no train/ or test/ folder (expected %s/train/<class>/*.png)", root, root);
    return rc;
}

int fer_dataset_read_folders(fer_dataset *ds, const char *root, int skip_bad, long *skipped, fer_err *err)
{
    long skipped_here = 0;
    fer_dataset_builder b;
    fer_builder_init(&b, ds, SIDE, SIDE);
    int rc = read_root(&b, root, skip_bad, &skipped_here, err);
    if (skipped)
        *skipped = skipped_here;
    if (rc == FER_OK && ds->n == 0)
        rc = fer_fail(err, "%s: no images found (%ld unreadable skipped)", root, skipped_here);
    if (rc) {
        fer_dataset_free(ds);
        return FER_ERROR;
    }
    fer_builder_finish(&b);
    return FER_OK;
}
