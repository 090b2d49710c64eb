/* A facial-expression data set in memory: 48x48 (or any h x w) grey uint8
   images, labels and the usage split, as `fer prepare` writes it to HDF5. */
#ifndef FER_DATASET_H
#define FER_DATASET_H

#include "fer/error.h"

#include <stdint.h>

#define FER_MAX_CLASSES 16

/* The largest data set fer reads or builds (docs/limits.md): images, and
   bytes of pixels (n x h x w). A file declaring more is refused before
   anything is allocated, as is one larger than the machine's memory. */
#define FER_MAX_IMAGES (1 << 20)
#define FER_MAX_PIXEL_BYTES (1LL << 33)
/* Largest image side in a dataset HDF5 file. */
#define FER_MAX_DATASET_SIDE 4096

/* FER_OK when n images of h x w pixels are within the limits above and the
   machine's physical memory; otherwise an error naming what (the caller
   prefixes the file). */
int fer_dataset_check_size(long long n, long long h, long long w, fer_err *err);

enum { FER_USAGE_TRAINING = 0, FER_USAGE_PUBLIC_TEST = 1, FER_USAGE_PRIVATE_TEST = 2, FER_N_USAGES = 3 };

typedef struct {
    int n;           /* samples */
    int h, w;        /* image size (48 x 48 for FER2013) */
    uint8_t *pixels; /* n x h x w, owned */
    uint8_t *labels; /* n, owned */
    uint8_t *usage;  /* n, FER_USAGE_*, owned */
    int n_classes;
    char class_names[FER_MAX_CLASSES][32];
    int synthetic; /* 1 for the embedded synthetic set (named so everywhere) */
} fer_dataset;

/* FER2013 class names in label order: Angry, Disgust, Fear, Happy, Sad,
   Surprise, Neutral. */
extern const char *const fer_emotion_names[7];
const char *fer_usage_name(int usage); /* "Training", "PublicTest", "PrivateTest" */
int fer_usage_parse(const char *name); /* -1 if unknown */

void fer_dataset_free(fer_dataset *ds);

/* Kaggle fer2013.csv (plain or gzip, LF or CRLF). Errors name path:line and
   what is wrong; with skip_bad, bad rows are counted in *skipped instead. */
int fer_dataset_read_csv(fer_dataset *ds, const char *path, int skip_bad, long *skipped, fer_err *err);

/* Folder layout root/{train,test}/<class>/<image>.{png,jpg,jpeg}; class folder names
   matched case-insensitively to fer_emotion_names; train -> Training, test ->
   PublicTest (and "val"/"validation" -> PublicTest, "private" -> PrivateTest).
   Images of other sizes are converted to grey and resized to 48x48. */
int fer_dataset_read_folders(fer_dataset *ds, const char *root, int skip_bad, long *skipped, fer_err *err);

/* HDF5 dataset file: /pixels uint8 (n,h,w), /labels uint8 (n), /usage uint8
   (n), attribute class_names, attribute usage_names, attribute synthetic.
   Written in HDF5's 1.8 format (metadata with checksums), chunks deflated and
   Fletcher-32 checksummed, so a corrupted file fails to read. */
int fer_dataset_write_h5(const fer_dataset *ds, const char *path, fer_err *err);
int fer_dataset_read_h5(fer_dataset *ds, const char *path, fer_err *err);

/* The embedded synthetic set: deterministic 48x48 grey cartoon faces for the
   7 classes (face oval, eyes, brows and mouth shaped by the expression, with
   position, size, lighting and noise jitter), n_train/n_val/n_test samples in
   Training/PublicTest/PrivateTest, classes balanced. Depends only on seed. */
int fer_dataset_synthetic(fer_dataset *ds, int n_train, int n_val, int n_test, uint64_t seed, fer_err *err);

/* Counts per usage and class: counts[usage][class]. */
void fer_dataset_counts(const fer_dataset *ds, long counts[FER_N_USAGES][FER_MAX_CLASSES]);

#endif
