/* The run configuration: the shipped configs load, validate and describe the
   seed network; to_yaml round-trips; --set overrides (and the inheritance of
   phase optimizers) work; malformed configs fail with file:line:column, the
   key and the valid choices. */
#include "fer/config.h"

#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char source_dir[1024];

/* Equal as configurations: the file each came from, and which phase keys were
   given rather than inherited (a dump gives them all), aside. */
static int configs_equal(const fer_config *a, const fer_config *b)
{
    static fer_config x, y;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    memset(x.source, 0, sizeof x.source);
    memset(y.source, 0, sizeof y.source);
    for (int p = 0; p < FER_MAX_PHASES; p++)
        x.schedule[p].optimizer_given = y.schedule[p].optimizer_given = 0;
    return memcmp(&x, &y, sizeof x) == 0;
}

/* Parameters as Keras counts them (BatchNorm: gamma, beta and the two moving
   statistics), and the spatial side before global average pooling. */
static long count_params(const fer_model_cfg *m, int *side_before_gap)
{
    long n = 0;
    int side = m->input_size, c = m->channels;
    for (int l = 0; l < m->n_layers; l++) {
        const fer_layer_cfg *L = &m->layers[l];
        if (L->type == FER_LAYER_CONV2D) {
            n += (long)L->kernel_size * L->kernel_size * c * L->filters + L->filters;
            c = L->filters;
            side -= L->padding_same ? 0 : L->kernel_size - 1;
        } else if (L->type == FER_LAYER_MAXPOOL) {
            side /= 2;
        } else if (L->type == FER_LAYER_BATCHNORM) {
            n += 4L * c;
        } else if (L->type == FER_LAYER_GAP) {
            *side_before_gap = side;
        } else if (L->type == FER_LAYER_DENSE) {
            int units = L->units ? L->units : m->classes;
            n += (long)c * units + units;
            c = units;
        }
    }
    return n;
}

static void test_defaults(void)
{
    fer_config c;
    fer_config_defaults(&c);
    printf("defaults: seed %llu run_dir %s input %d batch %d lr %g eps %g rotation %g keep_last %d "
           "every_steps %d\n",
           (unsigned long long)c.seed, c.run_dir, c.model.input_size, c.data.batch_size, c.optimizer.lr,
           c.optimizer.epsilon, c.augment.rotation_range, c.checkpoint.keep_last, c.logging.every_steps);
    CHECK(c.seed == 1 && !strcmp(c.run_dir, "runs/default"));
    CHECK(c.model.input_size == 96 && c.model.channels == 3 && c.model.classes == 7 &&
          c.model.preprocess_caffe);
    CHECK(c.model.n_layers == 0 && c.n_phases == 0);
    CHECK(!strcmp(c.data.path, "synthetic") && c.data.batch_size == 64 && c.data.equalize);
    CHECK(!strcmp(c.data.train_usage, "Training") && !strcmp(c.data.val_usage, "PublicTest") &&
          !strcmp(c.data.test_usage, "PrivateTest"));
    CHECK(c.data.synthetic_train == 2800 && c.data.synthetic_val == 700 && c.data.synthetic_test == 700);
    CHECK(c.data.prefetch && c.data.limit_train == 0 && c.data.class_weights == FER_CLASS_WEIGHTS_NONE);
    CHECK(c.augment.enabled && c.augment.rotation_range == 40 && c.augment.width_shift_range == 0.2 &&
          c.augment.height_shift_range == 0.2 && c.augment.shear_range == 0.1 &&
          c.augment.zoom_range == 0.4 && c.augment.horizontal_flip &&
          c.augment.fill_mode == FER_FILL_NEAREST);
    CHECK(c.optimizer.name == FER_OPT_SGD && c.optimizer.lr == 0.01 && c.optimizer.beta1 == 0.9 &&
          c.optimizer.beta2 == 0.999 && c.optimizer.epsilon == 1e-7 && c.optimizer.momentum == 0);
    CHECK(c.checkpoint.every_epochs == 1 && c.checkpoint.keep_last == 3 && c.distribution.sync_batchnorm);
    CHECK(c.logging.progress == FER_PROGRESS_AUTO && c.logging.every_steps == 50 &&
          c.logging.on_nonfinite == FER_NONFINITE_STOP);
    CHECK(!strcmp(fer_layer_type_name(FER_LAYER_GAP), "gap") && !strcmp(fer_layer_type_name(99), "unknown"));
}

/* to_yaml -> load_string gives an equal config, and dumping that again gives
   the same text. */
static void check_round_trip(const fer_config *c, const char *what)
{
    char *yaml = fer_config_to_yaml(c);
    CHECK(yaml != NULL);
    if (!yaml)
        return;
    fer_config back;
    fer_err err = {{0}};
    int rc = fer_config_load_string(&back, yaml, "dump.yaml", &err);
    CHECK_MSG(rc == FER_OK, "%s: %s", what, err.msg);
    char *again = rc == FER_OK ? fer_config_to_yaml(&back) : NULL;
    int equal = rc == FER_OK && configs_equal(c, &back);
    int same_text = again && !strcmp(yaml, again);
    printf("round trip %s: %zu bytes of YAML, reloaded config %s, re-dumped text %s\n", what, strlen(yaml),
           equal ? "equal" : "DIFFERENT", same_text ? "identical" : "DIFFERENT");
    CHECK(equal);
    CHECK(same_text);
    CHECK(!strstr(yaml, "source"));
    free(again);
    free(yaml);
}

static int load_shipped(fer_config *c, const char *name)
{
    char path[1200];
    fer_err err = {{0}};
    snprintf(path, sizeof path, "%s/configs/%s", source_dir, name);
    int rc = fer_config_load(c, path, &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    if (rc == FER_OK) {
        rc = fer_config_validate(c, &err);
        CHECK_MSG(rc == FER_OK, "%s", err.msg);
    }
    return rc;
}

static void print_schedule(const fer_config *c, const char *name)
{
    for (int p = 0; p < c->n_phases; p++) {
        const fer_phase_cfg *ph = &c->schedule[p];
        printf("  %s phase %d %s: %d epochs from %s, %s lr %g decay %g momentum %g nesterov %d wd %g warmup "
               "%g\n",
               name, p, ph->name, ph->epochs, ph->trainable,
               ph->optimizer.name == FER_OPT_SGD ? "sgd" : "adam", ph->optimizer.lr, ph->optimizer.decay,
               ph->optimizer.momentum, ph->optimizer.nesterov, ph->optimizer.weight_decay,
               ph->optimizer.warmup_epochs);
    }
}

static const char *const seed_layer_names[] = {"block1_conv1",
                                               "block1_conv2",
                                               "block1_pool",
                                               "block2_conv1",
                                               "block2_conv2",
                                               "block2_pool",
                                               "block3_conv1",
                                               "block3_conv2",
                                               "block3_conv3",
                                               "block3_pool",
                                               "batch_normalization_1",
                                               "conv2d_1",
                                               "batch_normalization_2",
                                               "activation_1",
                                               "conv2d_2",
                                               "dropout_1",
                                               "conv2d_3",
                                               "dropout_2",
                                               "global_average_pooling2d_1",
                                               "dense_1"};

/* Same layer names, kinds and order as the seed table. */
static void check_seed_layout(const fer_model_cfg *m, const char *name)
{
    int same = m->n_layers == 20;
    for (int l = 0; same && l < 20; l++)
        same = !strcmp(m->layers[l].name, seed_layer_names[l]);
    printf("  %s: %d layers, names and order %s the seed's\n", name, m->n_layers,
           same ? "match" : "DIFFER FROM");
    CHECK(same);
    if (!same)
        return;
    CHECK(m->layers[11].type == FER_LAYER_CONV2D && !m->layers[11].padding_same && !m->layers[11].relu);
    CHECK(m->layers[14].kernel_size == 1 && m->layers[14].relu && m->layers[16].kernel_size == 1);
    CHECK(m->layers[15].type == FER_LAYER_DROPOUT && m->layers[15].rate == 0.5);
    CHECK(m->layers[18].type == FER_LAYER_GAP && m->layers[19].type == FER_LAYER_DENSE);
    CHECK(m->layers[10].momentum == 0.99 && m->layers[10].epsilon == 1e-3);
}

static void test_seed_config(void)
{
    fer_config c;
    if (load_shipped(&c, "fer2013_vgg16_nin.yaml"))
        return;
    int side = 0;
    long params = count_params(&c.model, &side);
    printf("fer2013_vgg16_nin: %ld parameters (seed: 3083847), %dx%d before GAP (seed: 10x10)\n", params,
           side, side);
    check_seed_layout(&c.model, "fer2013_vgg16_nin");
    print_schedule(&c, "fer2013_vgg16_nin");
    CHECK(params == 3083847 && side == 10);
    CHECK(c.model.input_size == 96 && !strcmp(c.data.path, "data/fer2013.h5") && c.data.batch_size == 64);
    CHECK(!strcmp(c.model.weights, "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"));
    CHECK(c.augment.rotation_range == 40 && c.augment.zoom_range == 0.4 && c.augment.shear_range == 0.1);
    CHECK(c.n_phases == 2 && !strcmp(c.schedule[0].trainable, "batch_normalization_1"));
    CHECK(c.schedule[0].epochs == 50 && c.schedule[0].optimizer.lr == 0.1 &&
          c.schedule[0].optimizer.decay == 1e-6);
    CHECK(c.schedule[1].epochs == 50 && !strcmp(c.schedule[1].trainable, "all"));
    CHECK(c.schedule[1].optimizer.lr == 1e-4 && c.schedule[1].optimizer.decay == 1e-6);
    CHECK(!strcmp(c.run_dir, "runs/fer2013_vgg16_nin"));
    check_round_trip(&c, "fer2013_vgg16_nin.yaml");
}

static void test_scaled_configs(void)
{
    fer_config c;
    int side = 0;
    if (load_shipped(&c, "fer2013_scratch.yaml") == FER_OK) {
        long params = count_params(&c.model, &side);
        printf("fer2013_scratch: %ld parameters (seed: 3083847)\n", params);
        CHECK(params == 3083847);
        check_seed_layout(&c.model, "fer2013_scratch");
        print_schedule(&c, "fer2013_scratch");
        /* From scratch: every phase trains every layer, no weight file, at
           FER2013's native size; the phases only lower Adam's rate. */
        CHECK(c.model.weights[0] == '\0' && c.model.input_size == 48);
        int epochs = 0;
        for (int p = 0; p < c.n_phases; p++) {
            const fer_optimizer_cfg *o = &c.schedule[p].optimizer;
            epochs += c.schedule[p].epochs;
            CHECK(!strcmp(c.schedule[p].trainable, "all") && o->name == FER_OPT_ADAM);
            CHECK(p == 0 || o->lr < c.schedule[p - 1].optimizer.lr);
            CHECK(o->warmup_epochs == (p == 0 ? 1 : 0));
        }
        printf("fer2013_scratch: %d phases, %d epochs\n", c.n_phases, epochs);
        CHECK(c.n_phases == 3 && epochs == 40);
        check_round_trip(&c, "fer2013_scratch.yaml");
    }
    if (load_shipped(&c, "quickstart.yaml") == FER_OK) {
        long params = count_params(&c.model, &side);
        printf("quickstart: %ld parameters, %dx%d before GAP\n", params, side, side);
        check_seed_layout(&c.model, "quickstart");
        print_schedule(&c, "quickstart");
        CHECK(side == 4 && c.model.input_size == 48 && c.model.layers[0].filters == 16 &&
              c.model.layers[8].filters == 64 && c.model.layers[11].filters == 128 &&
              c.model.layers[16].filters == 32);
        CHECK(!strcmp(c.data.path, "synthetic") && c.data.synthetic_train == 2800 && c.data.batch_size == 64);
        /* The two seed stages; both phases inherit the top-level optimizer. */
        CHECK(c.n_phases == 2 && !strcmp(c.schedule[0].trainable, "batch_normalization_1") &&
              !strcmp(c.schedule[1].trainable, "all"));
        CHECK(c.schedule[0].optimizer.name == c.optimizer.name &&
              c.schedule[1].optimizer.lr == c.optimizer.lr);
        CHECK(c.augment.rotation_range == 15 && c.augment.zoom_range == 0.1 && c.augment.horizontal_flip);
        check_round_trip(&c, "quickstart.yaml");
    }
    if (load_shipped(&c, "tiny.yaml") == FER_OK) {
        long params = count_params(&c.model, &side);
        printf("tiny: %ld parameters, %dx%d before GAP\n", params, side, side);
        check_seed_layout(&c.model, "tiny");
        print_schedule(&c, "tiny");
        CHECK(side == 1 && c.model.input_size == 24 && c.data.synthetic_train == 256 &&
              c.data.batch_size == 32);
        CHECK(c.schedule[0].epochs == 1 && c.schedule[0].optimizer.lr == 0.05 && c.schedule[1].epochs == 2 &&
              c.schedule[1].optimizer.lr == 0.01 && c.schedule[1].optimizer.momentum == 0.9);
        CHECK(c.logging.progress == FER_PROGRESS_PLAIN && c.logging.every_steps == 5 &&
              c.checkpoint.keep_last == 3);
        check_round_trip(&c, "tiny.yaml");
    }
}

/* fer2013_sota_seed.yaml is the seed network under fer2013_sota.yaml's
   recipe: the seed's layers, and every other key equal to the recipe's. */
static void test_sota_seed_config(void)
{
    static fer_config sota, seed;
    if (load_shipped(&sota, "fer2013_sota.yaml") || load_shipped(&seed, "fer2013_sota_seed.yaml"))
        return;
    int side = 0;
    long params = count_params(&seed.model, &side);
    printf("fer2013_sota_seed: %ld parameters (seed at 48x48: 3083847)\n", params);
    CHECK(params == 3083847 && seed.model.input_size == 48);
    check_seed_layout(&seed.model, "fer2013_sota_seed");
    print_schedule(&sota, "fer2013_sota");
    CHECK(!strcmp(seed.run_dir, "runs/fer2013_sota_seed"));
    memcpy(&seed.model, &sota.model, sizeof seed.model);
    memcpy(seed.run_dir, sota.run_dir, sizeof seed.run_dir);
    int same = configs_equal(&sota, &seed);
    printf("fer2013_sota_seed: every key but the layers and run_dir %s fer2013_sota's\n",
           same ? "equals" : "DIFFERS FROM");
    CHECK(same);
    check_round_trip(&seed, "fer2013_sota_seed.yaml");
}

static int set_ok(fer_config *c, const char *assignment)
{
    fer_err err = {{0}};
    int rc = fer_config_set(c, assignment, &err);
    CHECK_MSG(rc == FER_OK, "--set %s: %s", assignment, err.msg);
    return rc;
}

/* A top-level optimizer override reaches the phases that inherit the key,
   not the ones that give it, even after the document was resolved. */
static void test_overrides(void)
{
    fer_config c;
    if (load_shipped(&c, "tiny.yaml"))
        return;
    set_ok(&c, "optimizer.lr=0.03");
    set_ok(&c, "optimizer.momentum=0.5");
    set_ok(&c, "schedule.0.epochs=3");
    set_ok(&c, "model.layers.4.filters=32");
    set_ok(&c, "schedule.1.optimizer.weight_decay=1e-4");
    set_ok(&c, "augment.horizontal_flip=off");
    set_ok(&c, "data.equalize=No");
    set_ok(&c, "model.weights=");
    set_ok(&c, "run_dir=runs/tiny 'quoted'");
    set_ok(&c, "seed=18446744073709551615");
    print_schedule(&c, "after --set");
    printf(
        "overrides: head lr %g momentum %g, finetune lr %g momentum %g wd %g, layer 4 filters %d, flip %d, "
        "equalize %d, run_dir '%s', seed %llu\n",
        c.schedule[0].optimizer.lr, c.schedule[0].optimizer.momentum, c.schedule[1].optimizer.lr,
        c.schedule[1].optimizer.momentum, c.schedule[1].optimizer.weight_decay, c.model.layers[4].filters,
        c.augment.horizontal_flip, c.data.equalize, c.run_dir, (unsigned long long)c.seed);
    CHECK(c.schedule[0].optimizer.lr == 0.05 && c.schedule[0].optimizer.momentum == 0);   /* given */
    CHECK(c.schedule[1].optimizer.lr == 0.03 && c.schedule[1].optimizer.momentum == 0.5); /* inherited */
    CHECK(c.schedule[1].optimizer.weight_decay == 1e-4 && c.schedule[0].optimizer.weight_decay == 0);
    CHECK(c.schedule[0].epochs == 3 && c.model.layers[4].filters == 32);
    CHECK(!c.augment.horizontal_flip && !c.data.equalize && c.model.weights[0] == '\0');
    CHECK(!strcmp(c.run_dir, "runs/tiny 'quoted'") && c.seed == UINT64_MAX);

    /* Once a phase gives a key, later top-level overrides no longer reach it. */
    set_ok(&c, "schedule.1.optimizer.lr=1e-4");
    set_ok(&c, "optimizer.lr=0.2");
    printf("after schedule.1.optimizer.lr=1e-4 then optimizer.lr=0.2: finetune lr %g, top-level lr %g\n",
           c.schedule[1].optimizer.lr, c.optimizer.lr);
    CHECK(c.schedule[1].optimizer.lr == 1e-4 && c.optimizer.lr == 0.2);

    /* Flow mappings and lists as values. */
    set_ok(&c, "schedule.0.optimizer={name: adam, beta1: 0.8}");
    set_ok(&c, "model.layers.2={type: dropout, rate: 0.25}");
    printf("flow values: phase 0 %s beta1 %g lr %g; layer 2 %s rate %g\n",
           c.schedule[0].optimizer.name == FER_OPT_ADAM ? "adam" : "sgd", c.schedule[0].optimizer.beta1,
           c.schedule[0].optimizer.lr, fer_layer_type_name(c.model.layers[2].type), c.model.layers[2].rate);
    CHECK(c.schedule[0].optimizer.name == FER_OPT_ADAM && c.schedule[0].optimizer.beta1 == 0.8);
    CHECK(c.schedule[0].optimizer.lr == 0.05);
    CHECK(c.model.layers[2].type == FER_LAYER_DROPOUT && c.model.layers[2].rate == 0.25);
    fer_err err = {{0}};
    CHECK(fer_config_validate(&c, &err) == FER_OK);
    check_round_trip(&c, "tiny.yaml after overrides");

    set_ok(&c, "schedule=[{name: only, epochs: 4, trainable: conv2d_1, optimizer: {lr: 0.3}}]");
    printf("schedule replaced: %d phase(s), %s %d epochs from %s lr %g momentum %g\n", c.n_phases,
           c.schedule[0].name, c.schedule[0].epochs, c.schedule[0].trainable, c.schedule[0].optimizer.lr,
           c.schedule[0].optimizer.momentum);
    CHECK(c.n_phases == 1 && c.schedule[0].epochs == 4 && c.schedule[0].optimizer.lr == 0.3 &&
          c.schedule[0].optimizer.momentum == 0.5);
    check_round_trip(&c, "tiny.yaml with a replaced schedule");
}

/* Inheritance is resolved after the whole document: a schedule written
   before the optimizer section still inherits from it. */
static void test_document_order(void)
{
    const char *yaml = "schedule:\n"
                       "  - {name: a, epochs: 1, optimizer: {momentum: 0.7}}\n"
                       "optimizer: {name: adam, lr: 0.003}\n"
                       "model:\n"
                       "  layers:\n"
                       "    - {name: gap, type: gap}\n"
                       "    - {name: out, type: dense}\n";
    fer_config c;
    fer_err err = {{0}};
    int rc = fer_config_load_string(&c, yaml, "order.yaml", &err);
    CHECK_MSG(rc == FER_OK, "%s", err.msg);
    printf("schedule before optimizer: phase a %s lr %g momentum %g (top-level adam lr 0.003)\n",
           c.schedule[0].optimizer.name == FER_OPT_ADAM ? "adam" : "sgd", c.schedule[0].optimizer.lr,
           c.schedule[0].optimizer.momentum);
    CHECK(rc == FER_OK && c.schedule[0].optimizer.name == FER_OPT_ADAM &&
          c.schedule[0].optimizer.lr == 0.003 && c.schedule[0].optimizer.momentum == 0.7);
    CHECK(rc == FER_OK && !strcmp(c.schedule[0].trainable, "all") && !strcmp(c.source, "order.yaml"));
    CHECK(fer_config_validate(&c, &err) == FER_OK);
}

typedef struct {
    const char *name; /* also the "file" name in messages */
    const char *yaml;
    const char *where; /* expected "name:line:column" */
    const char *what;  /* expected key text */
} bad_case;

#define LAYERS(item) "model:\n  layers:\n    - " item "\n"

static const bad_case bad_cases[] = {
    {"unknown_key.yaml", "data:\n  path: x\n  bath_size: 4\n",
     "unknown_key.yaml:3:3: ", "unknown key 'bath_size' in data (valid: path, batch_size, equalize,"},
    {"unknown_top.yaml", "seed: 1\nmodle: {}\n",
     "unknown_top.yaml:2:1: ", "unknown key 'modle' at the top level"},
    {"bad_enum.yaml", "optimizer:\n  lr: 0.1\n  name: adamw\n",
     "bad_enum.yaml:3:9: ", "optimizer.name: expected one of sgd, adam, got 'adamw'"},
    {"negative.yaml", "data:\n  batch_size: -4\n",
     "negative.yaml:2:15: ", "data.batch_size: expected an integer in [1, 2147483647], got '-4'"},
    {"fraction.yaml", "data:\n  batch_size: 1.5\n",
     "fraction.yaml:2:15: ", "data.batch_size: expected an integer"},
    {"syntax.yaml", "data:\n  path: [a, b\n", "syntax.yaml:3:1: ", "YAML syntax error"},
    {"tab.yaml", "data:\n\tpath: x\n",
     "tab.yaml:2:1: ", "YAML syntax error: found character that cannot start"},
    {"empty.yaml", "", "empty.yaml:1:1: ", "empty configuration"},
    {"comments.yaml", "# nothing here\n", "comments.yaml:1:1: ", "empty configuration"},
    {"list_top.yaml", "- seed\n- model\n",
     "list_top.yaml:1:1: ", "expected a mapping with keys seed, run_dir"},
    {"scalar_top.yaml", "hello\n", "scalar_top.yaml:1:1: ", "at the top level, got 'hello'"},
    {"dup_top.yaml", "seed: 1\nseed: 2\n",
     "dup_top.yaml:2:1: ", "duplicate key 'seed' at the top level (first at line 1)"},
    {"dup_nested.yaml", "optimizer:\n  lr: 0.1\n  lr: 0.2\n",
     "dup_nested.yaml:3:3: ", "duplicate key 'lr' in optimizer (first at line 2)"},
    {"section_scalar.yaml", "model: 3\n",
     "section_scalar.yaml:1:8: ", "model: expected a mapping with keys input_size"},
    {"list_mapping.yaml", "schedule: {a: 1}\n",
     "list_mapping.yaml:1:11: ", "schedule: expected a list of phases"},
    {"layer_scalar.yaml", LAYERS("conv2d"),
     "layer_scalar.yaml:3:7: ", "model.layers.0: expected a mapping of layer keys, got 'conv2d'"},
    {"layer_no_type.yaml", LAYERS("{name: a, rate: 0.1}"),
     "layer_no_type.yaml:3:7: ", "model.layers.0: missing key 'type' (every layer needs name, type)"},
    {"layer_type.yaml", LAYERS("{name: a, type: conv3d}"), "layer_type.yaml:3:23: ",
     "model.layers.0.type: expected one of conv2d, maxpool, batchnorm, relu, dropout, gap, dense, avgpool, "
     "got 'conv3d'"},
    {"padding.yaml", LAYERS("{name: a, type: conv2d, filters: 4, padding: full}"),
     "padding.yaml:3:52: ", "model.layers.0.padding: expected one of same, valid, got 'full'"},
    {"softmax_conv.yaml", LAYERS("{name: a, type: conv2d, filters: 4, activation: softmax}"),
     "softmax_conv.yaml:3:55: ", "model.layers.0.activation: softmax is only valid on a dense layer"},
    {"pool_filters.yaml", LAYERS("{name: p, filters: 3, type: maxpool}"), "pool_filters.yaml:3:26: ",
     "model.layers.0.filters: a maxpool layer takes no 'filters' (its keys: name, type)"},
    {"kernel_even.yaml", LAYERS("{name: a, type: conv2d, filters: 4, kernel_size: 4}"),
     "kernel_even.yaml:3:56: ", "model.layers.0.kernel_size: expected an odd integer in [1, 31], got '4'"},
    {"layer_name.yaml", LAYERS("{name: 'a b', type: relu}"), "layer_name.yaml:3:14: ",
     "model.layers.0.name: expected a non-empty string of at most 63 letters, digits, '_' or '-', got 'a b'"},
    {"bool.yaml", "augment:\n  horizontal_flip: maybe\n", "bool.yaml:2:20: ",
     "augment.horizontal_flip: expected a boolean (true/false, yes/no, on/off), got 'maybe'"},
    {"rate.yaml", LAYERS("{name: d, type: dropout, rate: 1.0}"),
     "rate.yaml:3:38: ", "model.layers.0.rate: expected a number in [0, 1), got '1.0'"},
    {"lr_zero.yaml", "optimizer:\n  lr: 0\n",
     "lr_zero.yaml:2:7: ", "optimizer.lr: expected a number > 0, got '0'"},
    {"lr_nan.yaml", "optimizer:\n  lr: .nan\n",
     "lr_nan.yaml:2:7: ", "optimizer.lr: expected a number > 0, got '.nan'"},
    {"lr_inf.yaml", "optimizer: {lr: inf}\n",
     "lr_inf.yaml:1:17: ", "optimizer.lr: expected a number > 0, got 'inf'"},
    {"phase_epochs.yaml", "schedule:\n  - {name: a}\n",
     "phase_epochs.yaml:2:5: ", "schedule.0: missing key 'epochs' (every phase needs name, epochs)"},
    {"phase_opt_key.yaml", "schedule:\n  - name: a\n    epochs: 1\n    optimizer: {lr: 0.1, lrr: 2}\n",
     "phase_opt_key.yaml:4:26: ", "unknown key 'lrr' in schedule.0.optimizer (valid: name, lr, decay,"},
    {"phase_opt_enum.yaml", "schedule:\n  - name: a\n    epochs: 1\n    optimizer:\n      name: rmsprop\n",
     "phase_opt_enum.yaml:5:13: ", "schedule.0.optimizer.name: expected one of sgd, adam, got 'rmsprop'"},
    {"phases.yaml",
     "schedule: [{name: a, epochs: 1}, {name: b, epochs: 1}, {name: c, epochs: 1}, {name: d, epochs: 1},\n"
     "           {name: e, epochs: 1}, {name: f, epochs: 1}, {name: g, epochs: 1}, {name: h, epochs: 1},\n"
     "           {name: i, epochs: 1}]\n",
     "phases.yaml:3:12: ", "schedule: at most 8 phases, got 9"},
    {"seed.yaml", "seed: -1\n",
     "seed.yaml:1:7: ", "seed: expected an integer in [0, 18446744073709551615], got '-1'"},
    {"seed_big.yaml", "seed: 18446744073709551616\n",
     "seed_big.yaml:1:7: ", "seed: expected an integer in [0,"},
    {"channels.yaml", "model: {channels: 2}\n",
     "channels.yaml:1:19: ", "model.channels: expected one of 1, 3, got '2'"},
    {"two_docs.yaml", "seed: 1\n---\nseed: 2\n", "two_docs.yaml:3:1: ", "a second YAML document"},
    {"complex_key.yaml", "? [a, b]\n: 1\n", "complex_key.yaml:1:3: ", "expected a key, got a list"},
    {"epochs_text.yaml", "schedule:\n  - {name: a, epochs: 3x}\n",
     "epochs_text.yaml:2:23: ", "schedule.0.epochs: expected an integer in [1, 1000000], got '3x'"},
    {"run_dir_empty.yaml", "run_dir: ''\n",
     "run_dir_empty.yaml:1:10: ", "run_dir: expected a non-empty string of at most 511 bytes, got ''"},
    {"fill.yaml", "augment:\n  fill_mode: mirror\n",
     "fill.yaml:2:14: ", "augment.fill_mode: expected one of nearest, constant, reflect, wrap, got 'mirror'"},
    {"progress.yaml", "logging: {progress: fancy}\n",
     "progress.yaml:1:21: ", "logging.progress: expected one of auto, bar, plain, none, got 'fancy'"},
    {"scalar_mapping.yaml", "optimizer:\n  lr: {a: 1}\n",
     "scalar_mapping.yaml:2:7: ", "optimizer.lr: expected a number > 0, got a mapping"},
};

/* The message has the expected location and key text, and *c is untouched. */
static void check_bad_case(const bad_case *b)
{
    fer_config c, before;
    fer_err err = {{0}};
    fer_config_defaults(&c);
    c.seed = 777;
    memcpy(&before, &c, sizeof c);
    int rc = fer_config_load_string(&c, b->yaml, b->name, &err);
    printf("%-22s -> %s\n", b->name, err.msg);
    CHECK_MSG(rc == FER_ERROR, "%s loaded", b->name);
    CHECK_MSG(strstr(err.msg, b->where) == err.msg, "expected location '%s'", b->where);
    CHECK_MSG(strstr(err.msg, b->what) != NULL, "expected text '%s'", b->what);
    CHECK(!memcmp(&c, &before, sizeof c));
}

static void test_bad_configs(void)
{
    int n = (int)(sizeof bad_cases / sizeof bad_cases[0]);
    printf("%d malformed configs:\n", n);
    for (int i = 0; i < n; i++)
        check_bad_case(&bad_cases[i]);
    CHECK(n >= 20);
}

/* Through a real file: its path in messages, and a missing file. */
static void test_files(void)
{
    char dir[] = "/tmp/fer_test_config_XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/x.yaml", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f)
        return;
    fputs("seed: 3\ndata:\n  path: x\n  bath_size: 4\n", f);
    fclose(f);
    fer_config c;
    fer_err err = {{0}};
    char expect[128];
    int rc = fer_config_load(&c, path, &err);
    snprintf(expect, sizeof expect, "%s:4:3: unknown key 'bath_size' in data", path);
    printf("file -> %s\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, expect) == err.msg);
    unlink(path);
    rc = fer_config_load(&c, path, &err);
    snprintf(expect, sizeof expect, "cannot open %s: %s", path, strerror(ENOENT));
    printf("missing file -> %s\n", err.msg);
    CHECK(rc == FER_ERROR && !strcmp(err.msg, expect) && strstr(err.msg, "No such file or directory"));
    rc = fer_config_load(&c, dir, &err);
    printf("directory -> %s\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, dir) && strstr(err.msg, "directory"));
    rmdir(dir);
}

typedef struct {
    const char *assignment;
    const char *expect; /* the message starts with it */
} bad_set;

static const bad_set bad_sets[] = {
    {"optimizer.lr=abc", "--set optimizer.lr: expected a number > 0, got 'abc'"},
    {"optimizer.name=adamw", "--set optimizer.name: expected one of sgd, adam, got 'adamw'"},
    {"data.bath_size=4", "--set data.bath_size: unknown key 'bath_size' in data (valid: path, batch_size,"},
    {"modle.input_size=4", "--set modle: unknown key 'modle' at the top level (valid: seed, run_dir, model,"},
    {"schedule.5.epochs=3",
     "--set schedule.5: expected a phase index in 0..1 (schedule has 2 phases), got '5'"},
    {"model.layers.x.filters=3", "--set model.layers.x: expected a layer index in 0..19"},
    {"optimizer.lr.x=3", "--set optimizer.lr: has no sub-keys, cannot set 'x' in it"},
    {"model.layers.2.filters=8", "--set model.layers.2.filters: a maxpool layer takes no 'filters'"},
    {"model.layers.0.activation=softmax",
     "--set model.layers.0.activation: softmax is only valid on a dense layer"},
    {"schedule.0.optimizer={lr: -1}", "--set schedule.0.optimizer.lr: expected a number > 0, got '-1'"},
    {"data.batch_size=[1, 2]", "--set data.batch_size: expected an integer in [1, 2147483647], got a list"},
    {"optimizer.lr=[1", "--set optimizer.lr: cannot read the value '[1' as YAML"},
    {"optimizer.lr", "--set optimizer.lr: expected key.path=value"},
    {"=3", "--set =3: expected key.path=value"},
    {"data.path=", "--set data.path: expected a non-empty string"},
};

static void test_bad_overrides(void)
{
    fer_config c, before;
    if (load_shipped(&c, "tiny.yaml"))
        return;
    memcpy(&before, &c, sizeof c);
    int n = (int)(sizeof bad_sets / sizeof bad_sets[0]);
    printf("%d malformed overrides:\n", n);
    for (int i = 0; i < n; i++) {
        fer_err err = {{0}};
        int rc = fer_config_set(&c, bad_sets[i].assignment, &err);
        printf("--set %-34s -> %s\n", bad_sets[i].assignment, err.msg);
        CHECK_MSG(rc == FER_ERROR && strstr(err.msg, bad_sets[i].expect) == err.msg, "expected '%s'",
                  bad_sets[i].expect);
        CHECK(!memcmp(&c, &before, sizeof c));
    }
}

/* Cross-field checks run after overrides. */
static void test_validate(void)
{
    static const struct {
        const char *set, *expect;
    } cases[] = {
        {"model.layers=[]", "model.layers: the model has no layers"},
        {"schedule=[]", "schedule: no phases"},
        {"model.layers.3.name=block1_conv1",
         "model.layers.3: duplicate layer name 'block1_conv1' (also model.layers.0)"},
        {"schedule.0.trainable=block9_conv1", "schedule.0.trainable: no layer named 'block9_conv1' (valid: "
                                              "all, block1_conv1, block1_conv2, block1_pool,"},
        {"model.layers.19.type=relu", "model.layers.19 (dense_1): the last layer must be dense"},
        {"model.layers.2.type=conv2d", "model.layers.2 (block1_pool): a conv2d layer needs 'filters'"},
        {"schedule.1.name=head", "schedule.1: duplicate phase name 'head' (also schedule.0)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fer_config c;
        fer_err err = {{0}};
        if (load_shipped(&c, "tiny.yaml") || set_ok(&c, cases[i].set))
            continue;
        int rc = fer_config_validate(&c, &err);
        printf("validate after --set %-34s -> %s\n", cases[i].set, err.msg);
        CHECK_MSG(rc == FER_ERROR && strstr(err.msg, cases[i].expect), "expected '%s'", cases[i].expect);
        CHECK(strstr(err.msg, "tiny.yaml: ") != NULL);
    }
    fer_config c;
    fer_err err = {{0}};
    fer_config_defaults(&c);
    int rc = fer_config_validate(&c, &err);
    printf("validate defaults -> %s\n", err.msg);
    CHECK(rc == FER_ERROR && strstr(err.msg, "no layers"));
    /* A config built in code is range-checked too. */
    if (load_shipped(&c, "tiny.yaml"))
        return;
    c.data.batch_size = 0;
    rc = fer_config_validate(&c, &err);
    printf("validate batch_size 0 -> %s\n", err.msg);
    CHECK(rc == FER_ERROR &&
          strstr(err.msg, "data.batch_size: expected an integer in [1, 2147483647], got 0"));
}

/* A layer whose type changes drops the keys the new type does not take, so
   the dump (which writes only those) still reads back equal. */
static void test_type_change(void)
{
    fer_config c;
    if (load_shipped(&c, "tiny.yaml"))
        return;
    set_ok(&c, "model.layers.15.rate=0.3");
    set_ok(&c, "model.layers.15.type=batchnorm");
    printf("dropout_1 as batchnorm: rate %g (default 0.5), momentum %g\n", c.model.layers[15].rate,
           c.model.layers[15].momentum);
    CHECK(c.model.layers[15].rate == 0.5 && c.model.layers[15].momentum == 0.99);
    check_round_trip(&c, "tiny.yaml with a changed layer type");
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = calloc(1, 1 << 16);
    size_t n = text ? fread(text, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (text)
        text[n] = '\0';
    return text;
}

/* Bad input never crashes, and whatever loads also round-trips: tiny.yaml
   with single bytes replaced all along it. */
static void test_mutations(void)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/configs/tiny.yaml", source_dir);
    char *text = read_text(path);
    CHECK(text != NULL);
    if (!text)
        return;
    static const char replacements[] = {':', '-', '{', '\'', '9', ' ', '\n', '\t', 'x', '#'};
    size_t len = strlen(text);
    int loaded = 0, failed = 0, trips = 0;
    for (size_t i = 0; i < len; i += 3) {
        char saved = text[i];
        text[i] = replacements[i % sizeof replacements];
        fer_config c, back;
        fer_err err = {{0}};
        if (fer_config_load_string(&c, text, "mutant.yaml", &err) == FER_OK) {
            loaded++;
            char *yaml = fer_config_to_yaml(&c);
            trips += yaml && fer_config_load_string(&back, yaml, "dump.yaml", &err) == FER_OK &&
                     configs_equal(&c, &back);
            free(yaml);
        } else {
            failed += strncmp(err.msg, "mutant.yaml:", 12) == 0;
        }
        text[i] = saved;
    }
    int n = (int)((len + 2) / 3);
    printf("mutations: %d variants of tiny.yaml, %d loaded (%d of them round-trip), %d rejected with a "
           "located message\n",
           n, loaded, trips, failed);
    CHECK(trips == loaded && loaded + failed == n && failed > 0);
    free(text);
}

int main(void)
{
    const char *dir = getenv("FER_SOURCE_DIR");
    snprintf(source_dir, sizeof source_dir, "%s", dir ? dir : ".");
    test_defaults();
    test_seed_config();
    test_scaled_configs();
    test_sota_seed_config();
    test_overrides();
    test_document_order();
    test_bad_configs();
    test_files();
    test_bad_overrides();
    test_validate();
    test_type_change();
    test_mutations();
    return check_report("test_config");
}
