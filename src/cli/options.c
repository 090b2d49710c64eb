#include "options.h"

#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag *find_flag(const cli_flag *flags, const char *arg)
{
    for (const cli_flag *f = flags; f && f->name; f++)
        if (!strcmp(f->name, arg))
            return f;
    return NULL;
}

#define CLI_MAX_SETS 256

typedef struct {
    const char *sets[CLI_MAX_SETS];
    int n_sets;
    const char *config;
} parsed;

static int parse(cli_options *o, parsed *p, const char *cmd, int argc, char **argv, const cli_flag *flags,
                 int want_config)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const cli_flag *f = find_flag(flags, a);
        int is_set = want_config && !strcmp(a, "--set"), is_config = want_config && !strcmp(a, "--config");
        if ((f && f->has_value) || is_set || is_config) {
            if (i + 1 >= argc)
                return cli_usage(cmd, "%s needs a value", a);
            const char *v = argv[++i];
            if (is_set) {
                if (p->n_sets == CLI_MAX_SETS)
                    return cli_usage(cmd, "too many --set options (at most %d)", CLI_MAX_SETS);
                p->sets[p->n_sets++] = v;
            } else if (is_config) {
                p->config = v;
            } else {
                *f->value = v;
            }
        } else if (f) {
            *f->flag = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return cli_usage(cmd, "unknown option '%s'", a);
        } else if (want_config && !p->config) {
            p->config = a;
        } else {
            if (o->n_positional == CLI_MAX_POSITIONAL)
                return cli_usage(cmd, "too many arguments");
            o->positional[o->n_positional++] = a;
        }
    }
    return FER_EXIT_OK;
}

int cli_parse_flags(cli_options *o, const char *cmd, int argc, char **argv, const cli_flag *flags)
{
    parsed p = {0};
    o->n_positional = 0;
    return parse(o, &p, cmd, argc, argv, flags, 0);
}

int cli_parse_config_options(cli_options *o, const char *cmd, int argc, char **argv, const cli_flag *flags)
{
    parsed p = {0};
    o->n_positional = 0;
    int rc = parse(o, &p, cmd, argc, argv, flags, 1);
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

int cli_parse_int(const char *text, long lo, long hi, long *out)
{
    if (!text || !(isdigit((unsigned char)text[0]) || text[0] == '-' || text[0] == '+'))
        return 0;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}
