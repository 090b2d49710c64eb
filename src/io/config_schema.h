/* The schema of the run configuration: one table row per YAML key, giving its
   kind, where it lives in fer_config, its valid range or choices. The parser
   (config.c), the emitter (config_emit.c) and the defaults all read these
   tables, so a new key is one new row. Private to src/io/. */
#ifndef FER_IO_CONFIG_SCHEMA_H
#define FER_IO_CONFIG_SCHEMA_H

#include "fer/config.h"

#include <stddef.h>

typedef enum { CFG_INT, CFG_U64, CFG_DOUBLE, CFG_BOOL, CFG_STRING, CFG_ENUM, CFG_SECTION, CFG_LIST } cfg_kind;

/* How a numeric range ends: unbounded, inclusive or exclusive. */
typedef enum { CFG_UNBOUNDED = 0, CFG_INCL, CFG_EXCL } cfg_bound;

/* The most keys one mapping may have: the parser keeps one slot per key. */
#define CFG_MAX_FIELDS 16

typedef struct cfg_section cfg_section;

typedef struct {
    const char *key;
    cfg_kind kind;
    size_t offset; /* of the value in the enclosing struct */
    int required;  /* list items: the key must be given */
    /* CFG_INT, CFG_DOUBLE */
    double lo, hi;
    cfg_bound lo_bound, hi_bound;
    int odd; /* CFG_INT: odd values only (kernel sizes) */
    /* CFG_STRING */
    size_t capacity; /* buffer size, NUL included */
    int nonempty;    /* "" is not valid */
    int identifier;  /* letters, digits, '_' and '-' only (layer and phase names) */
    /* CFG_ENUM: names (NULL-terminated) and the int stored for each (NULL: index) */
    const char *const *choices;
    const int *values;
    /* CFG_SECTION, CFG_LIST: the schema of the mapping (of each item) */
    const cfg_section *section;
    /* CFG_SECTION: record the keys given in an unsigned mask at given_offset */
    int tracks_given;
    size_t given_offset;
    /* CFG_LIST */
    size_t count_offset, item_size;
    int max_items;
    const char *item_noun; /* "layer", "phase" */
    int flow;              /* emit items (CFG_LIST) or the mapping (CFG_SECTION) in flow style */
} cfg_field;

struct cfg_section {
    const cfg_field *fields;
    int n_fields;
    /* List items: fills an item with its defaults (NULL: zeros). */
    void (*init)(void *item);
    /* The keys that apply to this item (bit per field), NULL: all. */
    unsigned (*relevant)(const void *item);
    /* After a mapping was applied to item: given has a bit per key given,
       text the scalar text of each given key (NULL when not a scalar).
       Returns the index of the offending key and fills why, or -1 when the
       item is consistent (it may then normalize keys that do not apply). */
    int (*check)(void *item, unsigned given, const char *const *text, char *why, size_t cap);
};

extern const cfg_section cfg_top_section;       /* fer_config */
extern const cfg_section cfg_optimizer_section; /* fer_optimizer_cfg */

/* The field's index in sec whose key is key (length n), or -1. */
int cfg_find_key(const cfg_section *sec, const char *key, size_t n);

/* "a, b, c": the keys of sec, or the choices of an enum, into buf. */
void cfg_join_keys(const cfg_section *sec, unsigned only, char *buf, size_t cap);
void cfg_join_choices(const cfg_field *f, char *buf, size_t cap);

/* What a valid value of f looks like, for messages: "an integer >= 1",
   "a number in [0, 1)", "one of sgd, adam". */
void cfg_expectation(const cfg_field *f, char *buf, size_t cap);

/* Whether v lies in the range of a CFG_INT or CFG_DOUBLE field (and is odd
   when f->odd). */
int cfg_in_range(const cfg_field *f, double v);

/* Whether the n bytes at s are a valid value of a CFG_STRING field. */
int cfg_string_ok(const cfg_field *f, const char *s, size_t n);

/* The index of the choice of a CFG_ENUM field whose stored value is v, or -1. */
int cfg_choice_of(const cfg_field *f, int v);

/* Copies the scalar value of f from the struct at src to the one at dst. */
void cfg_copy_value(const cfg_field *f, void *dst, const void *src);

/* Every phase optimizer key a phase did not give takes the top-level value. */
void cfg_resolve_phases(fer_config *c);

#endif
