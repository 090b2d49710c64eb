/* Checks of a whole configuration after loading and overrides: the ones no
   single key can make (layer names, the schedule's references to them), and
   every key's range again, for configurations built in code. Shapes (does a
   valid convolution fit its input) are checked by fer_model_init. */
#include "config_schema.h"
#include "fer/layer_kind.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PATH_LEN 256

__attribute__((format(printf, 3, 4))) static int invalid(const fer_config *c, fer_err *err, const char *fmt,
                                                         ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n = (int)strnlen(c->source, sizeof c->source);
    if (n)
        return fer_fail(err, "%.*s: %s", n, c->source, msg);
    return fer_fail(err, "%s", msg);
}

static int find_layer(const fer_model_cfg *m, int before, const char *name)
{
    for (int j = 0; j < before; j++)
        if (!strncmp(m->layers[j].name, name, FER_NAME_LEN))
            return j;
    return -1;
}

static int check_layers(const fer_config *c, fer_err *err)
{
    const fer_model_cfg *m = &c->model;
    if (m->n_layers < 1)
        return invalid(c, err, "model.layers: the model has no layers");
    if (m->n_layers > FER_MAX_LAYERS)
        return invalid(c, err, "model.layers: %d layers, at most %d", m->n_layers, FER_MAX_LAYERS);
    for (int l = 0; l < m->n_layers; l++) {
        const fer_layer_cfg *L = &m->layers[l];
        int twin = find_layer(m, l, L->name);
        if (twin >= 0)
            return invalid(c, err, "model.layers.%d: duplicate layer name '%.*s' (also model.layers.%d)", l,
                           FER_NAME_LEN, L->name, twin);
        if (fer_layer_kind_takes(fer_layer_kind_of(L->type), "filters") && L->filters < 1)
            return invalid(c, err, "model.layers.%d (%.*s): a %s layer needs 'filters' (>= 1)", l,
                           FER_NAME_LEN, L->name, fer_layer_type_name(L->type));
    }
    const fer_layer_cfg *last = &m->layers[m->n_layers - 1];
    if (last->type != FER_LAYER_DENSE)
        return invalid(c, err,
                       "model.layers.%d (%.*s): the last layer must be dense (the classifier), got %s",
                       m->n_layers - 1, FER_NAME_LEN, last->name, fer_layer_type_name(last->type));
    return FER_OK;
}

/* "all, block1_conv1, block1_conv2, block1_pool, ... (20 layers)" */
static void some_layer_names(const fer_model_cfg *m, char *buf, size_t cap)
{
    size_t len = (size_t)snprintf(buf, cap, "all");
    for (int l = 0; l < m->n_layers && l < 4 && len < cap; l++)
        len += (size_t)snprintf(buf + len, cap - len, ", %.*s", FER_NAME_LEN, m->layers[l].name);
    if (m->n_layers > 4 && len < cap)
        snprintf(buf + len, cap - len, ", ... (%d layers)", m->n_layers);
}

static int check_schedule(const fer_config *c, fer_err *err)
{
    if (c->n_phases < 1)
        return invalid(c, err, "schedule: no phases (add at least one, e.g. {name: all, epochs: 10})");
    if (c->n_phases > FER_MAX_PHASES)
        return invalid(c, err, "schedule: %d phases, at most %d", c->n_phases, FER_MAX_PHASES);
    for (int p = 0; p < c->n_phases; p++) {
        const fer_phase_cfg *ph = &c->schedule[p];
        for (int q = 0; q < p; q++)
            if (!strncmp(c->schedule[q].name, ph->name, FER_NAME_LEN))
                return invalid(c, err, "schedule.%d: duplicate phase name '%.*s' (also schedule.%d)", p,
                               FER_NAME_LEN, ph->name, q);
        if (strncmp(ph->trainable, "all", FER_NAME_LEN) &&
            find_layer(&c->model, c->model.n_layers, ph->trainable) < 0) {
            char valid[400];
            some_layer_names(&c->model, valid, sizeof valid);
            return invalid(c, err, "schedule.%d.trainable: no layer named '%.*s' (valid: %s)", p,
                           FER_NAME_LEN, ph->trainable, valid);
        }
        /* One schedule at a time: Keras's time-based decay would silently
           bend the cosine or the plateau's levels. */
        if (ph->lr_schedule.name != FER_LR_CONSTANT && ph->optimizer.decay != 0)
            return invalid(
                c, err,
                "schedule.%d.lr_schedule: a %s schedule replaces optimizer.decay (got %g); set the "
                "phase's decay to 0",
                p, ph->lr_schedule.name == FER_LR_COSINE ? "cosine" : "plateau", ph->optimizer.decay);
        if (ph->lr_schedule.name == FER_LR_COSINE && ph->lr_schedule.min_lr > ph->optimizer.lr)
            return invalid(c, err, "schedule.%d.lr_schedule.min_lr: %g is above the phase's lr %g", p,
                           ph->lr_schedule.min_lr, ph->optimizer.lr);
    }
    return FER_OK;
}

static int check_section(const fer_config *c, const cfg_section *sec, const char *item, const char *path,
                         fer_err *err);

static int check_list(const fer_config *c, const cfg_field *f, const char *base, const char *path,
                      fer_err *err)
{
    int count = *(const int *)(base + f->count_offset);
    if (count < 0 || count > f->max_items)
        return invalid(c, err, "%s: %d %ss, expected 0 to %d", path, count, f->item_noun, f->max_items);
    for (int k = 0; k < count; k++) {
        char item_path[PATH_LEN + 16];
        snprintf(item_path, sizeof item_path, "%s.%d", path, k);
        if (check_section(c, f->section, base + f->offset + (size_t)k * f->item_size, item_path, err))
            return FER_ERROR;
    }
    return FER_OK;
}

/* Whether the stored value of a scalar field is one the parser accepts. */
static int value_ok(const cfg_field *f, const char *v)
{
    switch (f->kind) {
    case CFG_INT:
        return cfg_in_range(f, *(const int *)v);
    case CFG_DOUBLE:
        return cfg_in_range(f, *(const double *)v);
    case CFG_BOOL:
        return *(const int *)v == 0 || *(const int *)v == 1;
    case CFG_ENUM:
        return cfg_choice_of(f, *(const int *)v) >= 0;
    case CFG_STRING:
        return cfg_string_ok(f, v, strnlen(v, f->capacity));
    default:
        return 1;
    }
}

static int check_field(const fer_config *c, const cfg_field *f, const char *item, const char *path,
                       fer_err *err)
{
    const char *v = item + f->offset;
    if (f->kind == CFG_SECTION)
        return check_section(c, f->section, v, path, err);
    if (f->kind == CFG_LIST)
        return check_list(c, f, item, path, err);
    if (value_ok(f, v))
        return FER_OK;
    char want[512];
    cfg_expectation(f, want, sizeof want);
    if (f->kind == CFG_DOUBLE)
        return invalid(c, err, "%s: expected %s, got %g", path, want, *(const double *)v);
    if (f->kind == CFG_STRING)
        return invalid(c, err, "%s: expected %s, got '%.*s'", path, want, (int)strnlen(v, f->capacity), v);
    return invalid(c, err, "%s: expected %s, got %d", path, want, *(const int *)v);
}

static int check_section(const fer_config *c, const cfg_section *sec, const char *item, const char *path,
                         fer_err *err)
{
    unsigned relevant = sec->relevant ? sec->relevant(item) : ~0u;
    for (int i = 0; i < sec->n_fields; i++) {
        char key_path[PATH_LEN];
        snprintf(key_path, sizeof key_path, "%s%s%s", path, path[0] ? "." : "", sec->fields[i].key);
        if ((relevant & 1u << i) && check_field(c, &sec->fields[i], item, key_path, err))
            return FER_ERROR;
    }
    return FER_OK;
}

/* The crop is taken from the model-size image and the erased area's bounds
   must be ordered: keys that only make sense together. */
static int check_augment(const fer_config *c, fer_err *err)
{
    const fer_augment_cfg *a = &c->augment;
    if (a->random_crop.size > c->model.input_size)
        return invalid(c, err,
                       "augment.random_crop.size: %d is larger than model.input_size %d (the crop is taken "
                       "in the model's input space)",
                       a->random_crop.size, c->model.input_size);
    if (a->random_crop.padding > 0 && a->random_crop.size == 0)
        return invalid(c, err, "augment.random_crop.padding: %d needs a crop size (augment.random_crop.size)",
                       a->random_crop.padding);
    if (a->random_erasing.scale_min > a->random_erasing.scale_max)
        return invalid(c, err, "augment.random_erasing: scale_min %g is above scale_max %g",
                       a->random_erasing.scale_min, a->random_erasing.scale_max);
    if (a->random_erasing.ratio_min > a->random_erasing.ratio_max)
        return invalid(c, err, "augment.random_erasing: ratio_min %g is above ratio_max %g",
                       a->random_erasing.ratio_min, a->random_erasing.ratio_max);
    return FER_OK;
}

int fer_config_validate(const fer_config *c, fer_err *err)
{
    if (check_layers(c, err) || check_section(c, &cfg_top_section, (const char *)c, "", err) ||
        check_schedule(c, err) || check_augment(c, err))
        return FER_ERROR;
    return FER_OK;
}
