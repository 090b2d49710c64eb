#include "options.h"

#include "commands.h"

#include <stdio.h>
#include <string.h>

/* True when argument a is option `name`, alone ("--name") or with its value
   ("--name=VALUE", GNU style): then *inline_value points after the '='. */
static int names(const char *a, const char *name, const char **inline_value)
{
    size_t len = strlen(name);
    if (strncmp(a, name, len) != 0 || (a[len] != '\0' && a[len] != '='))
        return 0;
    *inline_value = a[len] == '=' ? a + len + 1 : NULL;
    return 1;
}

static const cli_flag *find_flag(const cli_flag *flags, const char *a, const char **inline_value)
{
    for (const cli_flag *f = flags; f && f->name; f++)
        if (names(a, f->name, inline_value))
            return f;
    return NULL;
}

#define CLI_MAX_SETS 256

typedef struct {
    const char *sets[CLI_MAX_SETS];
    int n_sets;
    const char *config;
    const char **positional; /* room for max_positional */
    int n_positional, max_positional;
} parsed;

/* The value of option a (named `name`): after its '=', or the next argument. */
static int take_value(const char *cmd, const char *name, const char *inline_value, int argc, char **argv,
                      int *i, const char **value)
{
    if (inline_value) {
        *value = inline_value;
        return FER_EXIT_OK;
    }
    if (*i + 1 >= argc)
        return cli_usage(cmd, "%s needs a value", name);
    *value = argv[++*i];
    return FER_EXIT_OK;
}

static int add_positional(parsed *p, const char *cmd, const char *a)
{
    if (p->n_positional == p->max_positional)
        return cli_usage(cmd, "too many arguments");
    p->positional[p->n_positional++] = a;
    return FER_EXIT_OK;
}

static int store_value(const cli_flag *f, const char *cmd, const char *v)
{
    if (f->has_value != CLI_REPEATED) {
        *f->value = v;
        return FER_EXIT_OK;
    }
    if (*f->flag == CLI_MAX_REPEATS)
        return cli_usage(cmd, "too many %s options (at most %d)", f->name, CLI_MAX_REPEATS);
    f->value[(*f->flag)++] = v;
    return FER_EXIT_OK;
}

/* One argument that is not an option: CONFIG first when wanted. */
static int add_argument(parsed *p, const char *cmd, const char *a, int want_config)
{
    if (want_config && !p->config) {
        p->config = a;
        return FER_EXIT_OK;
    }
    return add_positional(p, cmd, a);
}

static int parse(parsed *p, const char *cmd, int argc, char **argv, const cli_flag *flags, int want_config)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *inline_value = NULL, *v = NULL;
        const cli_flag *f = find_flag(flags, a, &inline_value);
        int is_set = want_config && names(a, "--set", &inline_value);
        int is_config = !is_set && want_config && names(a, "--config", &inline_value);
        int rc = FER_EXIT_OK;
        if ((f && f->has_value) || is_set || is_config) {
            const char *name = f ? f->name : is_set ? "--set" : "--config";
            if ((rc = take_value(cmd, name, inline_value, argc, argv, &i, &v)) != FER_EXIT_OK)
                return rc;
            if (is_set && p->n_sets == CLI_MAX_SETS)
                return cli_usage(cmd, "too many --set options (at most %d)", CLI_MAX_SETS);
            if (is_set)
                p->sets[p->n_sets++] = v;
            else if (is_config)
                p->config = v;
            else if ((rc = store_value(f, cmd, v)) != FER_EXIT_OK)
                return rc;
        } else if (f || names(a, "--help", &inline_value)) {
            if (inline_value)
                return cli_usage(cmd, "%s takes no value, got '%s'", f ? f->name : "--help", a);
            if (f)
                *f->flag = 1;          /* a bare --help was answered before parsing */
        } else if (!strcmp(a, "--")) { /* the rest are arguments, even if they start with '-' */
            while (++i < argc && rc == FER_EXIT_OK)
                rc = add_argument(p, cmd, argv[i], want_config);
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage(cmd, "unknown option '%s'", a);
        } else {
            rc = add_argument(p, cmd, a, want_config);
        }
        if (rc != FER_EXIT_OK)
            return rc;
    }
    return FER_EXIT_OK;
}

int cli_parse_args(const char *cmd, int argc, char **argv, const cli_flag *flags, const char **positional,
                   int *n_positional)
{
    parsed p = {.positional = positional, .max_positional = argc};
    int rc = parse(&p, cmd, argc, argv, flags, 0);
    *n_positional = p.n_positional;
    return rc;
}

int cli_parse_flags(cli_options *o, const char *cmd, int argc, char **argv, const cli_flag *flags)
{
    parsed p = {.positional = o->positional, .max_positional = CLI_MAX_POSITIONAL};
    int rc = parse(&p, cmd, argc, argv, flags, 0);
    o->n_positional = p.n_positional;
    return rc;
}

int cli_parse_config_options(cli_options *o, const char *cmd, int argc, char **argv, const cli_flag *flags)
{
    parsed p = {.positional = o->positional, .max_positional = CLI_MAX_POSITIONAL};
    int rc = parse(&p, cmd, argc, argv, flags, 1);
    o->n_positional = p.n_positional;
    if (rc != FER_EXIT_OK)
        return rc;
    if (p.config)
        o->config_path = p.config;
    if (!o->config_path)
        return cli_usage(cmd, "missing CONFIG (a YAML run configuration, e.g. configs/quickstart.yaml)");
    fer_err err;
    if (fer_config_load(&o->config, o->config_path, &err))
        return cli_fail("%s", err.msg);
    for (int i = 0; i < p.n_sets; i++)
        if (fer_config_set(&o->config, p.sets[i], &err))
            return cli_fail("%s", err.msg);
    if (fer_config_validate(&o->config, &err))
        return cli_fail("%s", err.msg);
    return FER_EXIT_OK;
}
