/* The run configuration: one YAML file describes a whole run (model, data,
   augmentation, optimizer, schedule, checkpointing, distribution, logging).
   Every key can be overridden with `--set key.path=value`; list items are
   addressed by index (`schedule.0.epochs`, `model.layers.3.filters`).

   A fer_config is a plain value: fixed-size arrays, no heap, copy freely. */
#ifndef FER_CONFIG_H
#define FER_CONFIG_H

#include "fer/error.h"
#include "fer/path.h"
#include "fer/precision.h"

#include <stdint.h>

#define FER_MAX_LAYERS 64
#define FER_MAX_PHASES 8
#define FER_MAX_PHASE_EPOCHS 1000000 /* schedule.N.epochs */
#define FER_NAME_LEN 64

typedef enum { FER_OPT_SGD = 0, FER_OPT_ADAM = 1 } fer_opt_kind;

typedef struct {
    fer_opt_kind name;            /* sgd | adam */
    double lr;                    /* > 0 */
    double decay;                 /* Keras time-based decay: lr / (1 + decay * iterations), >= 0 */
    double momentum;              /* sgd, in [0, 1) */
    int nesterov;                 /* sgd */
    double weight_decay;          /* L2 coefficient added to the gradient, >= 0 */
    double beta1, beta2, epsilon; /* adam */
    double warmup_epochs;         /* linear warm-up from 0 over this many epochs, >= 0 */
} fer_optimizer_cfg;

/* How the learning rate moves within a phase (src/train/lr_schedule.c). */
typedef enum { FER_LR_CONSTANT = 0, FER_LR_COSINE, FER_LR_PLATEAU } fer_lr_schedule_kind;

typedef struct {
    fer_lr_schedule_kind name; /* constant (Keras decay only) | cosine | plateau */
    double min_lr;             /* cosine: the floor it ends at; plateau: no reduction below it */
    double factor;             /* plateau: lr *= factor on a plateau, in (0, 1) */
    int patience;              /* plateau: non-improving epochs before a reduction */
    int cooldown;              /* plateau: epochs after a reduction before counting again */
    double min_delta;          /* plateau: an improvement is val_acc > best + min_delta */
} fer_lr_schedule_cfg;

typedef struct {
    char name[FER_NAME_LEN];
    int epochs;                   /* >= 1 */
    char trainable[FER_NAME_LEN]; /* "all" or the first trainable layer's name */
    fer_optimizer_cfg optimizer;  /* inherits the top-level optimizer, then overrides */
    fer_lr_schedule_cfg lr_schedule;
    /* Private to the parser (src/io/config.c, config_schema.c), not part of
       the contract: one bit per optimizer key the phase sets itself; the
       others follow the top-level optimizer, also after later --set
       overrides of it. It lives here because a fer_config is a plain value
       that carries this between fer_config_load and fer_config_set. */
    unsigned optimizer_given;
} fer_phase_cfg;

/* One value per line of the registry, include/fer/layer_kinds.def. */
typedef enum {
#define FER_LAYER_KIND(ID, NAME) FER_LAYER_##ID,
#include "fer/layer_kinds.def"
#undef FER_LAYER_KIND
    FER_LAYER_KINDS
} fer_layer_type;

typedef struct {
    char name[FER_NAME_LEN];
    fer_layer_type type; /* a kind's name in include/fer/layer_kinds.def */
    int filters;         /* conv2d, >= 1 */
    int kernel_size;     /* conv2d: 1 or 3 (odd, >= 1) */
    int padding_same;    /* conv2d: padding same (1) or valid (0) */
    int relu;            /* conv2d/dense: activation relu (1) or linear (0); dense softmax is 0 */
    double rate;         /* dropout, in [0, 1) */
    double momentum;     /* batchnorm, in [0, 1), Keras default 0.99 */
    double epsilon;      /* batchnorm, > 0, Keras default 1e-3 */
    int units;           /* dense; 0 means model.classes */
} fer_layer_cfg;

typedef enum { FER_FILL_NEAREST = 0, FER_FILL_CONSTANT, FER_FILL_REFLECT, FER_FILL_WRAP } fer_fill_mode;

/* Both act in the model's input space (model.input_size pixels), during
   training only when augment.enabled; docs/configuration.md. */
typedef struct {
    int size;    /* crop side, 0 = off; evaluation takes the centre crop */
    int padding; /* pad each side first (filled as augment.fill_mode/cval) */
} fer_random_crop_cfg;

typedef struct {
    double p;                    /* probability of erasing a sample, 0 = off */
    double scale_min, scale_max; /* erased area, fraction of the image */
    double ratio_min, ratio_max; /* aspect (height / width), drawn log-uniformly */
    double value;                /* erased value, in the preprocessed input */
} fer_random_erasing_cfg;

typedef struct {
    int enabled;
    double rotation_range;     /* degrees, >= 0 */
    double width_shift_range;  /* < 1: fraction of width; >= 1: pixels */
    double height_shift_range; /* likewise */
    double shear_range;        /* degrees, >= 0 */
    double zoom_range;         /* zx, zy drawn from [1 - z, 1 + z], in [0, 1) */
    int horizontal_flip;
    fer_fill_mode fill_mode; /* nearest | constant | reflect | wrap */
    double cval;             /* fill value for constant, 0..255 */
    fer_random_crop_cfg random_crop;
    fer_random_erasing_cfg random_erasing;
} fer_augment_cfg;

typedef enum { FER_CLASS_WEIGHTS_NONE = 0, FER_CLASS_WEIGHTS_BALANCED } fer_class_weights;

typedef struct {
    char path[FER_PATH_LEN];         /* dataset HDF5 written by `fer prepare`, or "synthetic" */
    int batch_size;                  /* the global batch, independent of the rank count, >= 1 */
    int equalize;                    /* histogram equalization at load time */
    char train_usage[32];            /* Training */
    char val_usage[32];              /* PublicTest */
    char test_usage[32];             /* PrivateTest */
    fer_class_weights class_weights; /* none | balanced */
    int synthetic_train;             /* samples of the embedded synthetic set, per split */
    int synthetic_val;
    int synthetic_test;
    int limit_train; /* use only the first N training samples (0 = all) */
    int limit_val;   /* likewise for validation */
    int prefetch;    /* prepare batches on a background thread */
} fer_data_cfg;

typedef struct {
    int input_size;             /* square input side, >= 8 */
    int channels;               /* 3 (grey replicated) or 1 */
    int classes;                /* >= 2 */
    int preprocess_caffe;       /* VGG16 "caffe" preprocessing (BGR, mean subtraction) */
    char weights[FER_PATH_LEN]; /* optional Keras HDF5 weights, "" for none */
    int n_layers;
    fer_layer_cfg layers[FER_MAX_LAYERS];
} fer_model_cfg;

typedef struct {
    int every_epochs; /* checkpoint every N epochs, >= 1 */
    int every_steps;  /* also every N steps within an epoch (0 = never) */
    int keep_last;    /* keep the last K checkpoints, >= 1 */
} fer_checkpoint_cfg;

/* distribution.overlap: whether a communication thread exchanges gradient
   buckets while backward runs (auto: with more than one rank). */
typedef enum { FER_OVERLAP_AUTO = 0, FER_OVERLAP_ON, FER_OVERLAP_OFF } fer_overlap;
/* distribution.allreduce_dtype: the gradients' type on the wire. */
typedef enum { FER_WIRE_FP32 = 0, FER_WIRE_BF16 } fer_wire_dtype;

typedef struct {
    int threads;        /* BLAS threads per rank; 0 = cores / local ranks */
    int sync_batchnorm; /* BatchNorm statistics over the global batch */
    double bucket_mb;   /* overlapped exchange's bucket size in MiB; 0 = one bucket per layer */
    fer_overlap overlap;
    fer_wire_dtype allreduce_dtype;
} fer_distribution_cfg;

typedef enum {
    FER_PROGRESS_AUTO = 0,
    FER_PROGRESS_BAR,
    FER_PROGRESS_PLAIN,
    FER_PROGRESS_NONE
} fer_progress_mode;
typedef enum { FER_NONFINITE_STOP = 0, FER_NONFINITE_SKIP } fer_nonfinite_policy;

typedef struct {
    fer_progress_mode progress;        /* auto | bar | plain | none */
    int every_steps;                   /* plain progress line every N steps, >= 1 */
    fer_nonfinite_policy on_nonfinite; /* stop | skip */
} fer_logging_cfg;

typedef struct {
    /* Before each validation, recompute the BatchNorm moving statistics as
       the plain average over this many global training batches, with the
       epoch's final weights (0: keep Keras's running averages). */
    int bn_recompute_batches;
    /* Training targets (1 - eps) * onehot + eps / classes (0: one-hot). */
    double label_smoothing;
    /* Mixup: each training sample, with probability mixup_prob, becomes
       lambda * itself + (1 - lambda) * a partner from the whole training
       set, lambda ~ Beta(alpha, alpha), targets likewise (0: off). */
    double mixup_alpha;
    double mixup_prob;
    /* Exponential moving average of the weights and BatchNorm statistics,
       updated after every optimizer step (0: none); evaluation, best.h5 and
       the checkpoints' /model_weights use it (src/train/ema.c). */
    double ema;
    int ema_warmup; /* decay min(ema, (1 + n) / (10 + n)) at the n-th update */
} fer_train_cfg;

typedef struct {
    char source[FER_PATH_LEN]; /* the file it was loaded from, for messages */
    uint64_t seed;
    char run_dir[FER_PATH_LEN];
    fer_precision precision; /* fp32 | bf16 | auto: the products' operands (include/fer/precision.h) */
    fer_model_cfg model;
    fer_data_cfg data;
    fer_augment_cfg augment;
    fer_optimizer_cfg optimizer; /* defaults every phase inherits */
    int n_phases;
    fer_phase_cfg schedule[FER_MAX_PHASES];
    fer_checkpoint_cfg checkpoint;
    fer_distribution_cfg distribution;
    fer_logging_cfg logging;
    fer_train_cfg train;
} fer_config;

/* Fills every field with its documented default (the model has no layers). */
void fer_config_defaults(fer_config *c);

/* Defaults, then the YAML file at path. Errors name path:line:column, the key
   and the valid choices, e.g.
   "configs/x.yaml:12:5: optimizer.name: expected one of sgd, adam, got 'adamw'". */
int fer_config_load(fer_config *c, const char *path, fer_err *err);

/* Same, from a YAML string; name is used in messages in place of a path. */
int fer_config_load_string(fer_config *c, const char *yaml, const char *name, fer_err *err);

/* Applies one `key.path=value` override (value parsed as YAML scalar or flow
   sequence/mapping), with the same checks as the file. */
int fer_config_set(fer_config *c, const char *assignment, fer_err *err);

/* Cross-field checks after loading and overrides: at least one layer and one
   phase, unique layer names, every phase's trainable names a layer or "all",
   the last layer is dense. */
int fer_config_validate(const fer_config *c, fer_err *err);

/* The resolved configuration as YAML (stored in checkpoints, printed by
   `fer train --print-config`); loading it back gives an equal config.
   Returns a malloc'd string the caller frees, or NULL on allocation failure. */
char *fer_config_to_yaml(const fer_config *c);

/* Names for messages and dumps. */
const char *fer_layer_type_name(fer_layer_type t);

#endif
