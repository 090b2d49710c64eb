/* Reading the run configuration: a YAML document (libyaml's document API)
   applied to fer_config through the schema tables, and `--set key=value`
   overrides applied the same way. Errors name file:line:column (1-based) or
   `--set key`, the key, and what would have been valid. */
#include "config_schema.h"
#include "yaml_depth.h"

#include <yaml.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CFG_PATH_LEN 256
#define CFG_MAX_FILE_BYTES (16u << 20)

typedef struct {
    yaml_document_t *doc;
    const char *file; /* NULL: a --set override */
    fer_err *err;
} cfg_ctx;

/* ---- messages ------------------------------------------------------------- */
static int vfail_at(const cfg_ctx *x, const yaml_node_t *node, const char *path, int show_path,
                    const char *fmt, va_list ap)
{
    char msg[768];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!x->file)
        return fer_fail(x->err, "--set %s: %s", path, msg);
    unsigned long line = node ? (unsigned long)node->start_mark.line + 1 : 1;
    unsigned long column = node ? (unsigned long)node->start_mark.column + 1 : 1;
    if (show_path && path[0])
        return fer_fail(x->err, "%s:%lu:%lu: %s: %s", x->file, line, column, path, msg);
    return fer_fail(x->err, "%s:%lu:%lu: %s", x->file, line, column, msg);
}

/* A problem with the value at path: "file:L:C: path: msg". */
__attribute__((format(printf, 4, 5))) static int fail_value(const cfg_ctx *x, const yaml_node_t *node,
                                                            const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail_at(x, node, path, 1, fmt, ap);
    va_end(ap);
    return FER_ERROR;
}

/* A problem with a key (unknown, duplicate): the message names it itself. */
__attribute__((format(printf, 4, 5))) static int fail_key(const cfg_ctx *x, const yaml_node_t *node,
                                                          const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail_at(x, node, path, 0, fmt, ap);
    va_end(ap);
    return FER_ERROR;
}

static const char *scalar_text(const yaml_node_t *node)
{
    return node->type == YAML_SCALAR_NODE ? (const char *)node->data.scalar.value : NULL;
}

/* How a value appears in "got ..." */
static void describe_node(const yaml_node_t *node, char *buf, size_t cap)
{
    if (node->type == YAML_MAPPING_NODE)
        snprintf(buf, cap, "a mapping");
    else if (node->type == YAML_SEQUENCE_NODE)
        snprintf(buf, cap, "a list");
    else if (node->data.scalar.length > 60)
        snprintf(buf, cap, "'%.60s...'", scalar_text(node));
    else
        snprintf(buf, cap, "'%s'", scalar_text(node));
}

static int fail_expected(const cfg_ctx *x, const cfg_field *f, const yaml_node_t *node, const char *path)
{
    char want[512], got[80];
    cfg_expectation(f, want, sizeof want);
    describe_node(node, got, sizeof got);
    return fail_value(x, node, path, "expected %s, got %s", want, got);
}

/* "parent.key" into out (CFG_PATH_LEN bytes); long paths are cut short. */
static void child_path(char *out, const char *parent, const char *key, size_t key_len)
{
    size_t p = strnlen(parent, CFG_PATH_LEN - 2);
    memcpy(out, parent, p);
    if (p)
        out[p++] = '.';
    size_t k = key_len < CFG_PATH_LEN - 1 - p ? key_len : CFG_PATH_LEN - 1 - p;
    memcpy(out + p, key, k);
    out[p + k] = '\0';
}

/* "in data", "in schedule.1.optimizer", "at the top level" */
static void where_in(const char *parent, char *buf, size_t cap)
{
    if (parent[0])
        snprintf(buf, cap, "in %s", parent);
    else
        snprintf(buf, cap, "at the top level");
}

static int fail_unknown(const cfg_ctx *x, const cfg_section *sec, const yaml_node_t *node, const char *parent,
                        const char *key, size_t key_len)
{
    char path[CFG_PATH_LEN], where[CFG_PATH_LEN + 16], valid[512];
    child_path(path, parent, key, key_len);
    where_in(parent, where, sizeof where);
    cfg_join_keys(sec, ~0u, valid, sizeof valid);
    return fail_key(x, node, path, "unknown key '%.*s' %s (valid: %s)", key_len > 60 ? 60 : (int)key_len, key,
                    where, valid);
}

/* ---- scalars -------------------------------------------------------------- */
/* YAML's null: a plain empty scalar, "~" or "null". */
static int is_null(const yaml_node_t *node)
{
    const char *t = scalar_text(node);
    return t && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           (!t[0] || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") || !strcmp(t, "NULL"));
}

static int parse_integer(const char *s, long long *out)
{
    char *end;
    if (!(s[0] == '-' || s[0] == '+' || (s[0] >= '0' && s[0] <= '9')))
        return 0;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return !errno && end != s && !*end;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!(s[0] >= '0' && s[0] <= '9'))
        return 0;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return 0;
    *out = v;
    return 1;
}

static int parse_number(const char *s, double *out)
{
    char *end;
    if (!s[0] || isspace((unsigned char)s[0]))
        return 0;
    errno = 0;
    *out = strtod(s, &end);
    return end != s && !*end;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i]))
            return *out = 1, 1;
        if (!strcasecmp(s, no[i]))
            return *out = 0, 1;
    }
    return 0;
}

static int apply_enum(const cfg_field *f, const char *s, int *dst)
{
    for (int i = 0; f->choices[i]; i++)
        if (!strcmp(s, f->choices[i])) {
            *dst = f->values ? f->values[i] : i;
            return 1;
        }
    return 0;
}

/* Parses a scalar into the field's slot; 0 when it is not a valid value. */
static int parse_scalar(const cfg_field *f, const yaml_node_t *node, char *dst)
{
    const char *s = scalar_text(node);
    long long i;
    double d;
    switch (f->kind) {
    case CFG_INT:
        if (!parse_integer(s, &i) || i < INT_MIN || i > INT_MAX || !cfg_in_range(f, (double)i))
            return 0;
        return *(int *)dst = (int)i, 1;
    case CFG_U64:
        return parse_u64(s, (uint64_t *)dst);
    case CFG_DOUBLE:
        if (!parse_number(s, &d) || !cfg_in_range(f, d))
            return 0;
        return *(double *)dst = d, 1;
    case CFG_BOOL:
        return parse_bool(s, (int *)dst);
    case CFG_ENUM:
        return apply_enum(f, s, (int *)dst);
    case CFG_STRING:
        if (is_null(node))
            return memset(dst, 0, f->capacity), !f->nonempty;
        if (!cfg_string_ok(f, s, node->data.scalar.length))
            return 0;
        memset(dst, 0, f->capacity);
        memcpy(dst, s, node->data.scalar.length);
        return 1;
    default:
        return 0;
    }
}

/* ---- mappings and lists -------------------------------------------------------- */
static int apply_value(const cfg_ctx *x, const cfg_field *f, void *base, yaml_node_t *node, const char *path);

/* Runs the section's consistency check on an item after keys were applied;
   values holds the value node of each given key. */
static int run_check(const cfg_ctx *x, const cfg_section *sec, void *item, unsigned given,
                     yaml_node_t *const *values, const char *path, const yaml_node_t *where)
{
    if (!sec->check)
        return FER_OK;
    const char *text[CFG_MAX_FIELDS] = {0};
    for (int i = 0; i < sec->n_fields; i++)
        if (values[i])
            text[i] = scalar_text(values[i]);
    char why[512], key_path[CFG_PATH_LEN];
    int bad = sec->check(item, given, text, why, sizeof why);
    if (bad < 0)
        return FER_OK;
    child_path(key_path, path, sec->fields[bad].key, strlen(sec->fields[bad].key));
    return fail_value(x, values[bad] ? values[bad] : where, key_path, "%s", why);
}

static int check_required(const cfg_ctx *x, const cfg_field *list, unsigned given, const yaml_node_t *node,
                          const char *path);

/* Applies every key of a YAML mapping to item; *given gets a bit per key.
   new_item_of: the list whose new item this is (its required keys must all be
   given), or NULL. */
static int apply_mapping(const cfg_ctx *x, const cfg_section *sec, void *item, yaml_node_t *node,
                         const char *path, const cfg_field *new_item_of, unsigned *given)
{
    yaml_node_t *keys[CFG_MAX_FIELDS] = {0}, *values[CFG_MAX_FIELDS] = {0};
    char where[CFG_PATH_LEN + 16], key_path[CFG_PATH_LEN];
    *given = 0;
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *key = yaml_document_get_node(x->doc, p->key);
        yaml_node_t *value = yaml_document_get_node(x->doc, p->value);
        const char *k = scalar_text(key);
        if (!k)
            return fail_value(x, key, path, "expected a key, got %s",
                              key->type == YAML_MAPPING_NODE ? "a mapping" : "a list");
        int i = cfg_find_key(sec, k, key->data.scalar.length);
        if (i < 0)
            return fail_unknown(x, sec, key, path, k, key->data.scalar.length);
        child_path(key_path, path, k, key->data.scalar.length);
        where_in(path, where, sizeof where);
        if (keys[i])
            return fail_key(x, key, key_path, "duplicate key '%s' %s (first at line %lu)", k, where,
                            (unsigned long)keys[i]->start_mark.line + 1);
        if (apply_value(x, &sec->fields[i], item, value, key_path))
            return FER_ERROR;
        keys[i] = key;
        values[i] = value;
        *given |= 1u << i;
    }
    if (new_item_of && check_required(x, new_item_of, *given, node, path))
        return FER_ERROR;
    return run_check(x, sec, item, *given, values, path, node);
}

static int apply_section(const cfg_ctx *x, const cfg_field *f, void *base, yaml_node_t *node,
                         const char *path)
{
    if (is_null(node))
        return FER_OK;
    if (node->type != YAML_MAPPING_NODE)
        return fail_expected(x, f, node, path);
    unsigned given;
    if (apply_mapping(x, f->section, (char *)base + f->offset, node, path, NULL, &given))
        return FER_ERROR;
    if (f->tracks_given)
        *(unsigned *)((char *)base + f->given_offset) |= given;
    return FER_OK;
}

static int check_required(const cfg_ctx *x, const cfg_field *list, unsigned given, const yaml_node_t *node,
                          const char *path)
{
    const cfg_section *sec = list->section;
    unsigned required = 0;
    for (int i = 0; i < sec->n_fields; i++)
        required |= sec->fields[i].required ? 1u << i : 0;
    for (int i = 0; i < sec->n_fields; i++)
        if ((required & 1u << i) && !(given & 1u << i)) {
            char names[256];
            cfg_join_keys(sec, required, names, sizeof names);
            return fail_value(x, node, path, "missing key '%s' (every %s needs %s)", sec->fields[i].key,
                              list->item_noun, names);
        }
    return FER_OK;
}

/* A YAML list replaces the whole list: each item starts from its defaults. */
static int apply_list(const cfg_ctx *x, const cfg_field *f, void *base, yaml_node_t *node, const char *path)
{
    int *count = (int *)((char *)base + f->count_offset);
    char *items = (char *)base + f->offset;
    if (is_null(node)) {
        memset(items, 0, (size_t)f->max_items * f->item_size);
        return *count = 0, FER_OK;
    }
    if (node->type != YAML_SEQUENCE_NODE)
        return fail_expected(x, f, node, path);
    long n = node->data.sequence.items.top - node->data.sequence.items.start;
    /* Unused slots stay zero, so configs with equal contents are memcmp-equal. */
    memset(items, 0, (size_t)f->max_items * f->item_size);
    for (long k = 0; k < n; k++) {
        yaml_node_t *item = yaml_document_get_node(x->doc, node->data.sequence.items.start[k]);
        char item_path[CFG_PATH_LEN], got[80];
        snprintf(item_path, sizeof item_path, "%s.%ld", path, k);
        if (k >= f->max_items)
            return fail_value(x, item, path, "at most %d %ss, got %ld", f->max_items, f->item_noun, n);
        if (item->type != YAML_MAPPING_NODE) {
            describe_node(item, got, sizeof got);
            return fail_value(x, item, item_path, "expected a mapping of %s keys, got %s", f->item_noun, got);
        }
        void *slot = items + (size_t)k * f->item_size;
        unsigned given;
        if (f->section->init)
            f->section->init(slot);
        if (apply_mapping(x, f->section, slot, item, item_path, f, &given))
            return FER_ERROR;
    }
    *count = (int)n;
    return FER_OK;
}

static int apply_value(const cfg_ctx *x, const cfg_field *f, void *base, yaml_node_t *node, const char *path)
{
    if (f->kind == CFG_SECTION)
        return apply_section(x, f, base, node, path);
    if (f->kind == CFG_LIST)
        return apply_list(x, f, base, node, path);
    if (node->type != YAML_SCALAR_NODE || !parse_scalar(f, node, (char *)base + f->offset))
        return fail_expected(x, f, node, path);
    return FER_OK;
}

/* ---- whole documents --------------------------------------------------------- */
static int fail_syntax(const yaml_parser_t *p, const char *name, fer_err *err)
{
    if (p->error == YAML_MEMORY_ERROR)
        return fer_fail(err, "%s: out of memory while parsing YAML", name);
    if (p->error == YAML_READER_ERROR)
        return fer_fail(err, "%s: invalid input at byte %zu: %s", name, p->problem_offset,
                        p->problem ? p->problem : "unreadable");
    char context[160] = "";
    if (p->context)
        snprintf(context, sizeof context, " (%s at line %lu, column %lu)", p->context,
                 (unsigned long)p->context_mark.line + 1, (unsigned long)p->context_mark.column + 1);
    return fer_fail(err, "%s:%lu:%lu: YAML syntax error: %s%s", name, (unsigned long)p->problem_mark.line + 1,
                    (unsigned long)p->problem_mark.column + 1, p->problem ? p->problem : "invalid YAML",
                    context);
}

/* A configuration is exactly one document: a second one is a mistake
   (a stray "---"), not something to ignore. */
static int check_single_document(yaml_parser_t *parser, const char *name, fer_err *err)
{
    yaml_document_t next;
    if (!yaml_parser_load(parser, &next))
        return fail_syntax(parser, name, err);
    yaml_node_t *root = yaml_document_get_root_node(&next);
    int rc = FER_OK;
    if (root)
        rc = fer_fail(err, "%s:%lu:%lu: a second YAML document; a configuration is a single document", name,
                      (unsigned long)root->start_mark.line + 1, (unsigned long)root->start_mark.column + 1);
    yaml_document_delete(&next);
    return rc;
}

static int apply_document(yaml_parser_t *parser, yaml_document_t *doc, fer_config *c, const char *name,
                          fer_err *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    char keys[256], got[80];
    cfg_join_keys(&cfg_top_section, ~0u, keys, sizeof keys);
    if (!root)
        return fer_fail(err, "%s:1:1: empty configuration (expected a mapping with keys %s)", name, keys);
    cfg_ctx x = {doc, name, err};
    unsigned given;
    if (root->type != YAML_MAPPING_NODE) {
        describe_node(root, got, sizeof got);
        return fail_key(&x, root, "", "expected a mapping with keys %s at the top level, got %s", keys, got);
    }
    if (apply_mapping(&x, &cfg_top_section, c, root, "", NULL, &given))
        return FER_ERROR;
    return check_single_document(parser, name, err);
}

static int load_buffer(fer_config *c, const char *yaml, size_t n, const char *name, fer_err *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    if (fer_yaml_check_depth(yaml, n, name, err))
        return FER_ERROR;
    if (!yaml_parser_initialize(&parser))
        return fer_fail(err, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, n);
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = fail_syntax(&parser, name, err);
    } else {
        rc = apply_document(&parser, &doc, c, name, err);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}

/* Loads into a scratch copy, so *c changes only when the whole file is valid. */
static int load_into(fer_config *c, const char *yaml, size_t n, const char *name, fer_err *err)
{
    fer_config *work = malloc(sizeof *work);
    if (!work)
        return fer_fail(err, "%s: out of memory", name);
    fer_config_defaults(work);
    snprintf(work->source, sizeof work->source, "%s", name);
    int rc = load_buffer(work, yaml, n, name, err);
    if (rc == FER_OK) {
        cfg_resolve_phases(work);
        memcpy(c, work, sizeof *c);
    }
    free(work);
    return rc;
}

int fer_config_load_string(fer_config *c, const char *yaml, const char *name, fer_err *err)
{
    if (!name)
        name = "<string>";
    if (!yaml)
        return fer_fail(err, "%s: no YAML text", name);
    return load_into(c, yaml, strlen(yaml), name, err);
}

static char *read_file(const char *path, size_t *n, fer_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fer_fail(err, "cannot open %s: %s", path, strerror(errno)), NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    while (buf && !ferror(f) && !feof(f) && len < CFG_MAX_FILE_BYTES) {
        if (len == cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown)
                free(buf);
            buf = grown;
            continue;
        }
        len += fread(buf + len, 1, cap - len, f);
    }
    int failed = !buf || ferror(f) || len >= CFG_MAX_FILE_BYTES;
    if (failed && buf)
        fer_fail(err, "cannot read %s: %s", path, ferror(f) ? strerror(errno) : "larger than 16 MiB");
    else if (failed)
        fer_fail(err, "cannot read %s: out of memory", path);
    fclose(f);
    if (failed)
        return free(buf), NULL;
    *n = len;
    return buf;
}

int fer_config_load(fer_config *c, const char *path, fer_err *err)
{
    size_t n;
    char *text = read_file(path, &n, err);
    if (!text)
        return FER_ERROR;
    int rc = load_into(c, text, n, path, err);
    free(text);
    return rc;
}

/* ---- --set key.path=value ---------------------------------------------------------- */
static int set_key(const cfg_ctx *x, const cfg_section *sec, void *item, const char *key, const char *parent,
                   yaml_node_t *value, unsigned *given);

/* key starts with an item index of the list f ("3" or "3.filters"). */
static int set_list_item(const cfg_ctx *x, const cfg_field *f, void *base, const char *key, const char *path,
                         yaml_node_t *value)
{
    int count = *(int *)((char *)base + f->count_offset);
    size_t n = strcspn(key, ".");
    char item_path[CFG_PATH_LEN];
    child_path(item_path, path, key, n);
    long index = -1;
    if (n > 0 && n < 6 && strspn(key, "0123456789") == n)
        index = strtol(key, NULL, 10);
    if (index < 0 || index >= count) {
        if (count == 0)
            return fail_value(x, value, item_path, "%s is empty, there is no %s to change", path,
                              f->item_noun);
        return fail_value(x, value, item_path, "expected a %s index in 0..%d (%s has %d %ss), got '%.*s'",
                          f->item_noun, count - 1, path, count, f->item_noun, (int)n, key);
    }
    void *slot = (char *)base + f->offset + (size_t)index * f->item_size;
    if (key[n] == '.')
        return set_key(x, f->section, slot, key + n + 1, item_path, value, NULL);
    if (value->type != YAML_MAPPING_NODE) {
        char got[80];
        describe_node(value, got, sizeof got);
        return fail_value(x, value, item_path, "expected a mapping of %s keys, got %s", f->item_noun, got);
    }
    unsigned given;
    return apply_mapping(x, f->section, slot, value, item_path, NULL, &given);
}

/* Applies value at the dotted key below item (of schema sec, at path parent);
   given, when not NULL, records the key as given by the item itself. */
static int set_key(const cfg_ctx *x, const cfg_section *sec, void *item, const char *key, const char *parent,
                   yaml_node_t *value, unsigned *given)
{
    size_t n = strcspn(key, ".");
    int i = cfg_find_key(sec, key, n);
    if (i < 0)
        return fail_unknown(x, sec, value, parent, key, n);
    const cfg_field *f = &sec->fields[i];
    char path[CFG_PATH_LEN];
    child_path(path, parent, key, n);
    if (key[n] != '.') {
        yaml_node_t *values[CFG_MAX_FIELDS] = {0};
        values[i] = value;
        if (apply_value(x, f, item, value, path))
            return FER_ERROR;
        if (given)
            *given |= 1u << i;
        return run_check(x, sec, item, 1u << i, values, parent, value);
    }
    const char *rest = key + n + 1;
    if (f->kind == CFG_SECTION)
        return set_key(x, f->section, (char *)item + f->offset, rest, path, value,
                       f->tracks_given ? (unsigned *)((char *)item + f->given_offset) : NULL);
    if (f->kind == CFG_LIST)
        return set_list_item(x, f, item, rest, path, value);
    return fail_value(x, value, path, "has no sub-keys, cannot set '%s' in it", rest);
}

static int set_parsed(fer_config *c, const char *key, yaml_document_t *doc, fer_err *err)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    if (!root)
        return fer_fail(err, "--set %s: no value after '='", key);
    fer_config *work = malloc(sizeof *work);
    if (!work)
        return fer_fail(err, "--set %s: out of memory", key);
    memcpy(work, c, sizeof *work);
    cfg_ctx x = {doc, NULL, err};
    int rc = set_key(&x, &cfg_top_section, work, key, "", root, NULL);
    if (rc == FER_OK) {
        cfg_resolve_phases(work);
        memcpy(c, work, sizeof *c);
    }
    free(work);
    return rc;
}

int fer_config_set(fer_config *c, const char *assignment, fer_err *err)
{
    const char *eq = strchr(assignment, '=');
    char key[CFG_PATH_LEN];
    if (!eq || eq == assignment)
        return fer_fail(err, "--set %s: expected key.path=value, e.g. optimizer.lr=0.05", assignment);
    if ((size_t)(eq - assignment) >= sizeof key)
        return fer_fail(err, "--set %.60s...: key longer than %zu characters", assignment, sizeof key - 1);
    snprintf(key, sizeof key, "%.*s", (int)(eq - assignment), assignment);
    /* An empty value is the empty string (e.g. model.weights=). */
    const char *value = eq[1] ? eq + 1 : "''";
    yaml_parser_t parser;
    yaml_document_t doc;
    char where[CFG_PATH_LEN + 8];
    snprintf(where, sizeof where, "--set %s", key);
    if (fer_yaml_check_depth(value, strlen(value), where, err))
        return FER_ERROR;
    if (!yaml_parser_initialize(&parser))
        return fer_fail(err, "--set %s: out of memory", key);
    yaml_parser_set_input_string(&parser, (const unsigned char *)value, strlen(value));
    int rc;
    if (!yaml_parser_load(&parser, &doc)) {
        rc = fer_fail(err, "--set %s: cannot read the value '%s' as YAML: %s", key, value,
                      parser.problem ? parser.problem : "invalid YAML");
    } else {
        rc = set_parsed(c, key, &doc, err);
        yaml_document_delete(&doc);
    }
    yaml_parser_delete(&parser);
    return rc;
}
