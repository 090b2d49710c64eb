/* The configuration schema (one row per key) and every default in one place. */
#include "config_schema.h"

#include "fer/dataset.h"
#include "fer/layer_kind.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Enum fields are read and written through an int. */
_Static_assert(sizeof(fer_opt_kind) == sizeof(int) && sizeof(fer_layer_type) == sizeof(int) &&
                   sizeof(fer_fill_mode) == sizeof(int) && sizeof(fer_class_weights) == sizeof(int) &&
                   sizeof(fer_progress_mode) == sizeof(int) && sizeof(fer_nonfinite_policy) == sizeof(int) &&
                   sizeof(fer_precision) == sizeof(int) && sizeof(fer_lr_schedule_kind) == sizeof(int) &&
                   sizeof(fer_overlap) == sizeof(int) && sizeof(fer_wire_dtype) == sizeof(int),
               "enums are int-sized");

#define BIT(i) (1u << (i))
#define MEMBER_SIZE(T, m) sizeof(((T *)0)->m)
#define KEY(T, m) .key = #m, .offset = offsetof(T, m)

/* Integers in [lo, hi]; hi < 0 means up to INT_MAX, still a bound: the
   field is an int, and a bigger value must be refused, not truncated. */
#define INT_KEY(T, m, lo_, hi_, ...)                                                                         \
    {                                                                                                        \
        KEY(T, m), .kind = CFG_INT, .lo = lo_, .lo_bound = CFG_INCL, .hi = (hi_) < 0 ? INT_MAX : (hi_),      \
                   .hi_bound = CFG_INCL, __VA_ARGS__                                                         \
    }
#define NUM_KEY(T, m, lb, lo_, hi_, hb)                                                                      \
    {                                                                                                        \
        KEY(T, m), .kind = CFG_DOUBLE, .lo_bound = lb, .lo = lo_, .hi = hi_, .hi_bound = hb                  \
    }
#define NONNEG_KEY(T, m) NUM_KEY(T, m, CFG_INCL, 0, 0, CFG_UNBOUNDED)
#define POSITIVE_KEY(T, m) NUM_KEY(T, m, CFG_EXCL, 0, 0, CFG_UNBOUNDED)
#define FRACTION_KEY(T, m) NUM_KEY(T, m, CFG_INCL, 0, 1, CFG_EXCL)
#define BOOL_KEY(T, m)                                                                                       \
    {                                                                                                        \
        KEY(T, m), .kind = CFG_BOOL                                                                          \
    }
#define STRING_KEY(T, m, ...)                                                                                \
    {                                                                                                        \
        KEY(T, m), .kind = CFG_STRING, .capacity = MEMBER_SIZE(T, m), __VA_ARGS__                            \
    }
#define ENUM_KEY(T, name, m, names, vals, ...)                                                               \
    {                                                                                                        \
        .key = name, .offset = offsetof(T, m), .kind = CFG_ENUM, .choices = names, .values = vals,           \
        __VA_ARGS__                                                                                          \
    }
#define SECTION_KEY(T, m, sec, ...)                                                                          \
    {                                                                                                        \
        KEY(T, m), .kind = CFG_SECTION, .section = &sec, __VA_ARGS__                                         \
    }
#define LIST_KEY(T, m, count, sec, noun, ...)                                                                \
    {                                                                                                        \
        KEY(T, m), .kind = CFG_LIST, .section = &sec, .count_offset = offsetof(T, count),                    \
                   .item_size = MEMBER_SIZE(T, m[0]),                                                        \
                   .max_items = (int)(MEMBER_SIZE(T, m) / MEMBER_SIZE(T, m[0])), .item_noun = noun,          \
                   __VA_ARGS__                                                                               \
    }
#define N_FIELDS(a) (int)(sizeof a / sizeof a[0])
#define FITS(a) _Static_assert(N_FIELDS(a) <= CFG_MAX_FIELDS, #a " has more keys than CFG_MAX_FIELDS")

/* ---- optimizer ------------------------------------------------------------ */
static const char *const optimizer_names[] = {"sgd", "adam", NULL};
static const cfg_field optimizer_fields[] = {
    ENUM_KEY(fer_optimizer_cfg, "name", name, optimizer_names, NULL),
    POSITIVE_KEY(fer_optimizer_cfg, lr),
    NONNEG_KEY(fer_optimizer_cfg, decay),
    FRACTION_KEY(fer_optimizer_cfg, momentum),
    BOOL_KEY(fer_optimizer_cfg, nesterov),
    NONNEG_KEY(fer_optimizer_cfg, weight_decay),
    FRACTION_KEY(fer_optimizer_cfg, beta1),
    FRACTION_KEY(fer_optimizer_cfg, beta2),
    POSITIVE_KEY(fer_optimizer_cfg, epsilon),
    NONNEG_KEY(fer_optimizer_cfg, warmup_epochs),
};
FITS(optimizer_fields);
const cfg_section cfg_optimizer_section = {optimizer_fields, N_FIELDS(optimizer_fields), NULL, NULL, NULL};

/* ---- learning-rate schedule of a phase ------------------------------------- */
static const char *const lr_schedule_names[] = {"constant", "cosine", "plateau", NULL};
enum { LR_NAME, LR_MIN_LR, LR_FACTOR, LR_PATIENCE, LR_COOLDOWN, LR_MIN_DELTA };
static const cfg_field lr_schedule_fields[] = {
    [LR_NAME] = ENUM_KEY(fer_lr_schedule_cfg, "name", name, lr_schedule_names, NULL),
    [LR_MIN_LR] = NONNEG_KEY(fer_lr_schedule_cfg, min_lr),
    [LR_FACTOR] = NUM_KEY(fer_lr_schedule_cfg, factor, CFG_EXCL, 0, 1, CFG_EXCL),
    [LR_PATIENCE] = INT_KEY(fer_lr_schedule_cfg, patience, 0, FER_MAX_PHASE_EPOCHS),
    [LR_COOLDOWN] = INT_KEY(fer_lr_schedule_cfg, cooldown, 0, FER_MAX_PHASE_EPOCHS),
    [LR_MIN_DELTA] = NONNEG_KEY(fer_lr_schedule_cfg, min_delta),
};
FITS(lr_schedule_fields);

/* Keras ReduceLROnPlateau's defaults. */
static void lr_schedule_defaults(fer_lr_schedule_cfg *s)
{
    memset(s, 0, sizeof *s);
    s->name = FER_LR_CONSTANT;
    s->factor = 0.1;
    s->patience = 10;
    s->min_delta = 1e-4;
}

static unsigned lr_schedule_relevant(const void *item)
{
    const fer_lr_schedule_cfg *s = item;
    if (s->name == FER_LR_PLATEAU)
        return ~0u;
    return s->name == FER_LR_COSINE ? BIT(LR_NAME) | BIT(LR_MIN_LR) : BIT(LR_NAME);
}

static const cfg_section lr_schedule_section;

/* Rejects keys the schedule does not take and resets them to their
   defaults, so that a dump (which writes only the keys that apply) reads
   back to the same value after a --set changed the name. */
static int lr_schedule_check(void *item, unsigned given, const char *const *text, char *why, size_t cap)
{
    (void)text;
    fer_lr_schedule_cfg *s = item;
    unsigned relevant = lr_schedule_relevant(s);
    for (int i = 0; i < N_FIELDS(lr_schedule_fields); i++)
        if ((given & BIT(i)) && !(relevant & BIT(i))) {
            char keys[160];
            cfg_join_keys(&lr_schedule_section, relevant, keys, sizeof keys);
            snprintf(why, cap, "a %s schedule takes no '%s' (its keys: %s)", lr_schedule_names[s->name],
                     lr_schedule_fields[i].key, keys);
            return i;
        }
    fer_lr_schedule_cfg defaults;
    lr_schedule_defaults(&defaults);
    for (int i = 0; i < N_FIELDS(lr_schedule_fields); i++)
        if (!(relevant & BIT(i)))
            cfg_copy_value(&lr_schedule_fields[i], s, &defaults);
    return -1;
}

static const cfg_section lr_schedule_section = {lr_schedule_fields, N_FIELDS(lr_schedule_fields), NULL,
                                                lr_schedule_relevant, lr_schedule_check};

/* ---- schedule phases ------------------------------------------------------- */
static void phase_init(void *item)
{
    fer_phase_cfg *p = item;
    memset(p, 0, sizeof *p);
    p->epochs = 1;
    strcpy(p->trainable, "all");
    lr_schedule_defaults(&p->lr_schedule);
}

static const cfg_field phase_fields[] = {
    STRING_KEY(fer_phase_cfg, name, .nonempty = 1, .identifier = 1, .required = 1),
    INT_KEY(fer_phase_cfg, epochs, 1, FER_MAX_PHASE_EPOCHS, .required = 1),
    STRING_KEY(fer_phase_cfg, trainable, .nonempty = 1, .identifier = 1),
    SECTION_KEY(fer_phase_cfg, optimizer, cfg_optimizer_section, .tracks_given = 1,
                .given_offset = offsetof(fer_phase_cfg, optimizer_given), .flow = 1),
    SECTION_KEY(fer_phase_cfg, lr_schedule, lr_schedule_section, .flow = 1),
};
FITS(phase_fields);
static const cfg_section phase_section = {phase_fields, N_FIELDS(phase_fields), phase_init, NULL, NULL};

/* ---- layers ---------------------------------------------------------------- */
static const char *const layer_type_names[] = {
#define FER_LAYER_KIND(ID, NAME) #NAME,
#include "fer/layer_kinds.def"
#undef FER_LAYER_KIND
    NULL};
static const char *const padding_names[] = {"same", "valid", NULL};
static const int padding_values[] = {1, 0};
/* Softmax is applied by the loss on the last dense layer's logits, so a
   "softmax" dense layer itself is linear. */
static const char *const activation_names[] = {"linear", "relu", "softmax", NULL};
static const int activation_values[] = {0, 1, 0};

enum {
    LK_NAME,
    LK_TYPE,
    LK_FILTERS,
    LK_KERNEL,
    LK_PADDING,
    LK_ACTIVATION,
    LK_RATE,
    LK_MOMENTUM,
    LK_EPSILON,
    LK_UNITS
};

static const cfg_field layer_fields[] = {
    [LK_NAME] = STRING_KEY(fer_layer_cfg, name, .nonempty = 1, .identifier = 1, .required = 1),
    [LK_TYPE] = ENUM_KEY(fer_layer_cfg, "type", type, layer_type_names, NULL, .required = 1),
    [LK_FILTERS] = INT_KEY(fer_layer_cfg, filters, 1, 65536),
    [LK_KERNEL] = INT_KEY(fer_layer_cfg, kernel_size, 1, 31, .odd = 1),
    [LK_PADDING] = ENUM_KEY(fer_layer_cfg, "padding", padding_same, padding_names, padding_values),
    [LK_ACTIVATION] = ENUM_KEY(fer_layer_cfg, "activation", relu, activation_names, activation_values),
    [LK_RATE] = FRACTION_KEY(fer_layer_cfg, rate),
    [LK_MOMENTUM] = FRACTION_KEY(fer_layer_cfg, momentum),
    [LK_EPSILON] = POSITIVE_KEY(fer_layer_cfg, epsilon),
    [LK_UNITS] = INT_KEY(fer_layer_cfg, units, 0, 65536),
};
FITS(layer_fields);

/* Keras layer defaults (Conv2D, BatchNormalization, Dropout). */
static void layer_init(void *item)
{
    fer_layer_cfg *l = item;
    memset(l, 0, sizeof *l);
    l->kernel_size = 3;
    l->padding_same = 1;
    l->relu = 0;
    l->rate = 0.5;
    l->momentum = 0.99;
    l->epsilon = 1e-3;
    l->units = 0;
}

/* The keys the layer's kind takes (include/fer/layer_kind.h), besides
   name and type. */
static unsigned layer_relevant(const void *item)
{
    const fer_layer_cfg *l = item;
    const fer_layer_kind *k = fer_layer_kind_of(l->type);
    unsigned own = 0;
    for (int i = 0; i < N_FIELDS(layer_fields); i++)
        if (fer_layer_kind_takes(k, layer_fields[i].key))
            own |= BIT(i);
    return BIT(LK_NAME) | BIT(LK_TYPE) | own;
}

static const cfg_section layer_section;

/* Rejects keys the layer's type does not take, and resets them to their
   defaults so that a dump (which writes only the keys that apply) reads back
   to the same value after a --set changed the type. */
static int layer_check(void *item, unsigned given, const char *const *text, char *why, size_t cap)
{
    fer_layer_cfg *l = item;
    unsigned relevant = layer_relevant(l);
    for (int i = 0; i < N_FIELDS(layer_fields); i++)
        if ((given & BIT(i)) && !(relevant & BIT(i))) {
            char keys[160];
            cfg_join_keys(&layer_section, relevant, keys, sizeof keys);
            snprintf(why, cap, "a %s layer takes no '%s' (its keys: %s)", fer_layer_type_name(l->type),
                     layer_fields[i].key, keys);
            return i;
        }
    if ((given & BIT(LK_ACTIVATION)) && text[LK_ACTIVATION] && !strcmp(text[LK_ACTIVATION], "softmax") &&
        l->type != FER_LAYER_DENSE) {
        snprintf(why, cap, "softmax is only valid on a dense layer, this is a %s layer",
                 fer_layer_type_name(l->type));
        return LK_ACTIVATION;
    }
    fer_layer_cfg defaults;
    layer_init(&defaults);
    for (int i = 0; i < N_FIELDS(layer_fields); i++)
        if (!(relevant & BIT(i)))
            cfg_copy_value(&layer_fields[i], l, &defaults);
    return -1;
}

static const cfg_section layer_section = {layer_fields, N_FIELDS(layer_fields), layer_init, layer_relevant,
                                          layer_check};

const char *fer_layer_type_name(fer_layer_type t)
{
    return (unsigned)t < sizeof layer_type_names / sizeof layer_type_names[0] - 1 ? layer_type_names[t]
                                                                                  : "unknown";
}

/* ---- sections ------------------------------------------------------------- */
static const char *const channel_names[] = {"1", "3", NULL};
static const int channel_values[] = {1, 3};
static const cfg_field model_fields[] = {
    INT_KEY(fer_model_cfg, input_size, 8, 4096),
    ENUM_KEY(fer_model_cfg, "channels", channels, channel_names, channel_values),
    /* The class count is bounded by what a data set, a confusion matrix and
       the reports hold (FER_MAX_CLASSES, docs/run-directory.md). */
    INT_KEY(fer_model_cfg, classes, 2, FER_MAX_CLASSES),
    BOOL_KEY(fer_model_cfg, preprocess_caffe),
    STRING_KEY(fer_model_cfg, weights),
    LIST_KEY(fer_model_cfg, layers, n_layers, layer_section, "layer", .flow = 1),
};
FITS(model_fields);
static const cfg_section model_section = {model_fields, N_FIELDS(model_fields), NULL, NULL, NULL};

static const char *const class_weight_names[] = {"none", "balanced", NULL};
static const cfg_field data_fields[] = {
    STRING_KEY(fer_data_cfg, path, .nonempty = 1),
    INT_KEY(fer_data_cfg, batch_size, 1, -1),
    BOOL_KEY(fer_data_cfg, equalize),
    STRING_KEY(fer_data_cfg, train_usage, .nonempty = 1),
    STRING_KEY(fer_data_cfg, val_usage, .nonempty = 1),
    STRING_KEY(fer_data_cfg, test_usage, .nonempty = 1),
    ENUM_KEY(fer_data_cfg, "class_weights", class_weights, class_weight_names, NULL),
    INT_KEY(fer_data_cfg, synthetic_train, 1, 10000000),
    INT_KEY(fer_data_cfg, synthetic_val, 1, 10000000),
    INT_KEY(fer_data_cfg, synthetic_test, 1, 10000000),
    INT_KEY(fer_data_cfg, limit_train, 0, -1),
    INT_KEY(fer_data_cfg, limit_val, 0, -1),
    BOOL_KEY(fer_data_cfg, prefetch),
};
FITS(data_fields);
static const cfg_section data_section = {data_fields, N_FIELDS(data_fields), NULL, NULL, NULL};

static const cfg_field crop_fields[] = {
    INT_KEY(fer_random_crop_cfg, size, 0, 4096),
    INT_KEY(fer_random_crop_cfg, padding, 0, 4096),
};
static const cfg_section crop_section = {crop_fields, N_FIELDS(crop_fields), NULL, NULL, NULL};

static const cfg_field erasing_fields[] = {
    NUM_KEY(fer_random_erasing_cfg, p, CFG_INCL, 0, 1, CFG_INCL),
    NUM_KEY(fer_random_erasing_cfg, scale_min, CFG_EXCL, 0, 1, CFG_INCL),
    NUM_KEY(fer_random_erasing_cfg, scale_max, CFG_EXCL, 0, 1, CFG_INCL),
    POSITIVE_KEY(fer_random_erasing_cfg, ratio_min),
    POSITIVE_KEY(fer_random_erasing_cfg, ratio_max),
    NUM_KEY(fer_random_erasing_cfg, value, CFG_INCL, -1e6, 1e6, CFG_INCL),
};
static const cfg_section erasing_section = {erasing_fields, N_FIELDS(erasing_fields), NULL, NULL, NULL};

static const char *const fill_mode_names[] = {"nearest", "constant", "reflect", "wrap", NULL};
static const cfg_field augment_fields[] = {
    BOOL_KEY(fer_augment_cfg, enabled),
    NUM_KEY(fer_augment_cfg, rotation_range, CFG_INCL, 0, 360, CFG_INCL),
    NONNEG_KEY(fer_augment_cfg, width_shift_range),
    NONNEG_KEY(fer_augment_cfg, height_shift_range),
    NUM_KEY(fer_augment_cfg, shear_range, CFG_INCL, 0, 90, CFG_EXCL),
    FRACTION_KEY(fer_augment_cfg, zoom_range),
    BOOL_KEY(fer_augment_cfg, horizontal_flip),
    ENUM_KEY(fer_augment_cfg, "fill_mode", fill_mode, fill_mode_names, NULL),
    NUM_KEY(fer_augment_cfg, cval, CFG_INCL, 0, 255, CFG_INCL),
    SECTION_KEY(fer_augment_cfg, random_crop, crop_section, .flow = 1),
    SECTION_KEY(fer_augment_cfg, random_erasing, erasing_section),
};
FITS(augment_fields);
static const cfg_section augment_section = {augment_fields, N_FIELDS(augment_fields), NULL, NULL, NULL};

static const cfg_field checkpoint_fields[] = {
    INT_KEY(fer_checkpoint_cfg, every_epochs, 1, -1),
    INT_KEY(fer_checkpoint_cfg, every_steps, 0, -1),
    INT_KEY(fer_checkpoint_cfg, keep_last, 1, -1),
};
static const cfg_section checkpoint_section = {checkpoint_fields, N_FIELDS(checkpoint_fields), NULL, NULL,
                                               NULL};

static const char *const overlap_names[] = {"auto", "on", "off", NULL};
static const char *const wire_dtype_names[] = {"fp32", "bf16", NULL};
static const cfg_field distribution_fields[] = {
    INT_KEY(fer_distribution_cfg, threads, 0, 4096),
    BOOL_KEY(fer_distribution_cfg, sync_batchnorm),
    NONNEG_KEY(fer_distribution_cfg, bucket_mb),
    ENUM_KEY(fer_distribution_cfg, "overlap", overlap, overlap_names, NULL),
    ENUM_KEY(fer_distribution_cfg, "allreduce_dtype", allreduce_dtype, wire_dtype_names, NULL),
};
static const cfg_section distribution_section = {distribution_fields, N_FIELDS(distribution_fields), NULL,
                                                 NULL, NULL};

static const char *const progress_names[] = {"auto", "bar", "plain", "none", NULL};
static const char *const nonfinite_names[] = {"stop", "skip", NULL};
static const cfg_field logging_fields[] = {
    ENUM_KEY(fer_logging_cfg, "progress", progress, progress_names, NULL),
    INT_KEY(fer_logging_cfg, every_steps, 1, -1),
    ENUM_KEY(fer_logging_cfg, "on_nonfinite", on_nonfinite, nonfinite_names, NULL),
};
static const cfg_section logging_section = {logging_fields, N_FIELDS(logging_fields), NULL, NULL, NULL};

static const cfg_field train_fields[] = {
    INT_KEY(fer_train_cfg, bn_recompute_batches, 0, 100000),
    FRACTION_KEY(fer_train_cfg, label_smoothing),
    NUM_KEY(fer_train_cfg, mixup_alpha, CFG_INCL, 0, 1000, CFG_INCL),
    NUM_KEY(fer_train_cfg, mixup_prob, CFG_INCL, 0, 1, CFG_INCL),
    FRACTION_KEY(fer_train_cfg, ema),
    BOOL_KEY(fer_train_cfg, ema_warmup),
};
static const cfg_section train_section = {train_fields, N_FIELDS(train_fields), NULL, NULL, NULL};

static const char *const precision_names[] = {"fp32", "bf16", "auto", NULL};
static const cfg_field top_fields[] = {
    {KEY(fer_config, seed), .kind = CFG_U64},
    STRING_KEY(fer_config, run_dir, .nonempty = 1),
    SECTION_KEY(fer_config, model, model_section),
    SECTION_KEY(fer_config, data, data_section),
    SECTION_KEY(fer_config, augment, augment_section),
    SECTION_KEY(fer_config, optimizer, cfg_optimizer_section),
    LIST_KEY(fer_config, schedule, n_phases, phase_section, "phase"),
    SECTION_KEY(fer_config, checkpoint, checkpoint_section),
    SECTION_KEY(fer_config, distribution, distribution_section),
    SECTION_KEY(fer_config, logging, logging_section),
    ENUM_KEY(fer_config, "precision", precision, precision_names, NULL),
    SECTION_KEY(fer_config, train, train_section),
};
FITS(top_fields);
const cfg_section cfg_top_section = {top_fields, N_FIELDS(top_fields), NULL, NULL, NULL};

/* ---- defaults --------------------------------------------------------------- */
static void augment_defaults(fer_augment_cfg *a)
{
    /* The seed's ImageDataGenerator arguments. */
    a->enabled = 1;
    a->rotation_range = 40;
    a->width_shift_range = 0.2;
    a->height_shift_range = 0.2;
    a->shear_range = 0.1;
    a->zoom_range = 0.4;
    a->horizontal_flip = 1;
    a->fill_mode = FER_FILL_NEAREST;
    a->cval = 0;
    /* Off; the rest are torchvision RandomErasing's defaults. */
    a->random_crop.size = 0;
    a->random_crop.padding = 0;
    a->random_erasing.p = 0;
    a->random_erasing.scale_min = 0.02;
    a->random_erasing.scale_max = 0.33;
    a->random_erasing.ratio_min = 0.3;
    a->random_erasing.ratio_max = 3.3;
    a->random_erasing.value = 0;
}

static void data_defaults(fer_data_cfg *d)
{
    strcpy(d->path, "synthetic");
    d->batch_size = 64;
    d->equalize = 1;
    strcpy(d->train_usage, "Training");
    strcpy(d->val_usage, "PublicTest");
    strcpy(d->test_usage, "PrivateTest");
    d->class_weights = FER_CLASS_WEIGHTS_NONE;
    d->synthetic_train = 2800;
    d->synthetic_val = 700;
    d->synthetic_test = 700;
    d->prefetch = 1;
}

/* Keras SGD defaults, and Adam's betas and epsilon. */
static void optimizer_defaults(fer_optimizer_cfg *o)
{
    o->name = FER_OPT_SGD;
    o->lr = 0.01;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->epsilon = 1e-7;
}

void fer_config_defaults(fer_config *c)
{
    /* Zeroing first keeps padding and string tails zero, so equal configs
       compare equal with memcmp. */
    memset(c, 0, sizeof *c);
    c->seed = 1;
    strcpy(c->run_dir, "runs/default");
    c->model.input_size = 96;
    c->model.channels = 3;
    c->model.classes = 7;
    c->model.preprocess_caffe = 1;
    data_defaults(&c->data);
    augment_defaults(&c->augment);
    optimizer_defaults(&c->optimizer);
    c->checkpoint.every_epochs = 1;
    c->checkpoint.keep_last = 3;
    c->distribution.sync_batchnorm = 1;
    c->logging.progress = FER_PROGRESS_AUTO;
    c->logging.every_steps = 50;
    c->logging.on_nonfinite = FER_NONFINITE_STOP;
    c->train.mixup_prob = 1.0;
}

/* ---- helpers ---------------------------------------------------------------- */
int cfg_find_key(const cfg_section *sec, const char *key, size_t n)
{
    for (int i = 0; i < sec->n_fields; i++)
        if (strlen(sec->fields[i].key) == n && !memcmp(sec->fields[i].key, key, n))
            return i;
    return -1;
}

static void join(char *buf, size_t cap, const char *const *words, int n, unsigned only)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (!(only & BIT(i)))
            continue;
        int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", words[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            snprintf(buf + (cap > 5 ? cap - 5 : 0), cap > 5 ? 5 : cap, " ...");
            return;
        }
        len += (size_t)w;
    }
}

void cfg_join_keys(const cfg_section *sec, unsigned only, char *buf, size_t cap)
{
    const char *keys[CFG_MAX_FIELDS];
    for (int i = 0; i < sec->n_fields; i++)
        keys[i] = sec->fields[i].key;
    join(buf, cap, keys, sec->n_fields, only);
}

void cfg_join_choices(const cfg_field *f, char *buf, size_t cap)
{
    int n = 0;
    while (f->choices[n])
        n++;
    join(buf, cap, f->choices, n, ~0u);
}

int cfg_string_ok(const cfg_field *f, const char *s, size_t n)
{
    if (n >= f->capacity || (f->nonempty && n == 0) || memchr(s, '\0', n))
        return 0;
    for (size_t i = 0; f->identifier && i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
              s[i] == '_' || s[i] == '-'))
            return 0;
    return 1;
}

int cfg_choice_of(const cfg_field *f, int v)
{
    for (int i = 0; f->choices[i]; i++)
        if ((f->values ? f->values[i] : i) == v)
            return i;
    return -1;
}

static void describe_range(const cfg_field *f, char *buf, size_t cap)
{
    if (f->hi_bound == CFG_UNBOUNDED)
        snprintf(buf, cap, "%s %.15g", f->lo_bound == CFG_INCL ? ">=" : ">", f->lo);
    else
        snprintf(buf, cap, "in %c%.15g, %.15g%c", f->lo_bound == CFG_INCL ? '[' : '(', f->lo, f->hi,
                 f->hi_bound == CFG_INCL ? ']' : ')');
}

void cfg_expectation(const cfg_field *f, char *buf, size_t cap)
{
    char part[256];
    switch (f->kind) {
    case CFG_INT:
        describe_range(f, part, sizeof part);
        snprintf(buf, cap, "an %sinteger %s", f->odd ? "odd " : "", part);
        break;
    case CFG_U64:
        snprintf(buf, cap, "an integer in [0, %" PRIu64 "]", UINT64_MAX);
        break;
    case CFG_DOUBLE:
        describe_range(f, part, sizeof part);
        snprintf(buf, cap, "a number %s", part);
        break;
    case CFG_BOOL:
        snprintf(buf, cap, "a boolean (true/false, yes/no, on/off)");
        break;
    case CFG_STRING:
        snprintf(buf, cap, "%s of at most %zu %s", f->nonempty ? "a non-empty string" : "a string",
                 f->capacity - 1, f->identifier ? "letters, digits, '_' or '-'" : "bytes");
        break;
    case CFG_ENUM:
        cfg_join_choices(f, part, sizeof part);
        snprintf(buf, cap, "one of %s", part);
        break;
    case CFG_SECTION:
        cfg_join_keys(f->section, ~0u, part, sizeof part);
        snprintf(buf, cap, "a mapping with keys %s", part);
        break;
    case CFG_LIST:
        snprintf(buf, cap, "a list of %ss", f->item_noun);
        break;
    }
}

int cfg_in_range(const cfg_field *f, double v)
{
    if (!isfinite(v))
        return 0;
    if ((f->lo_bound == CFG_INCL && v < f->lo) || (f->lo_bound == CFG_EXCL && v <= f->lo))
        return 0;
    if ((f->hi_bound == CFG_INCL && v > f->hi) || (f->hi_bound == CFG_EXCL && v >= f->hi))
        return 0;
    return !f->odd || fmod(v, 2.0) != 0.0;
}

void cfg_copy_value(const cfg_field *f, void *dst, const void *src)
{
    size_t size = f->kind == CFG_DOUBLE   ? sizeof(double)
                  : f->kind == CFG_U64    ? sizeof(uint64_t)
                  : f->kind == CFG_STRING ? f->capacity
                                          : sizeof(int);
    memcpy((char *)dst + f->offset, (const char *)src + f->offset, size);
}

void cfg_resolve_phases(fer_config *c)
{
    for (int p = 0; p < c->n_phases && p < FER_MAX_PHASES; p++)
        for (int i = 0; i < cfg_optimizer_section.n_fields; i++)
            if (!(c->schedule[p].optimizer_given & BIT(i)))
                cfg_copy_value(&optimizer_fields[i], &c->schedule[p].optimizer, &c->optimizer);
}
