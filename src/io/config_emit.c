/* The resolved configuration as YAML, written through libyaml's emitter (which
   quotes strings as needed) from the same schema tables the parser reads. */
#include "config_schema.h"

#include <yaml.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
    char *text;
    size_t len, cap;
} out_text;

static int write_out(void *data, unsigned char *buffer, size_t size)
{
    out_text *o = data;
    if (o->len + size + 1 > o->cap) {
        size_t cap = (o->len + size + 1) * 2;
        char *grown = realloc(o->text, cap);
        if (!grown)
            return 0;
        o->text = grown;
        o->cap = cap;
    }
    memcpy(o->text + o->len, buffer, size);
    o->len += size;
    o->text[o->len] = '\0';
    return 1;
}

/* The shortest %.Ng that reads back to the same double: 0.1 stays "0.1"
   rather than %.17g's "0.10000000000000001", and every value round-trips.
   An exponent gets a mantissa with a dot ("1.0e-06"), which YAML 1.1 readers
   such as PyYAML need to see a float rather than a string. */
static void format_double(double v, char *buf, size_t cap)
{
    char text[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v)
            break;
    }
    char *e = strchr(text, 'e');
    if (e && !memchr(text, '.', (size_t)(e - text)))
        snprintf(buf, cap, "%.*s.0%s", (int)(e - text), text, e);
    else
        snprintf(buf, cap, "%s", text);
}

/* Whether a YAML 1.1 reader would take the plain scalar s for a null, a
   boolean or a number rather than a string. */
static int looks_typed(const char *s)
{
    static const char *const words[] = {"", "~", "null", "true", "false", "yes", "no", "on", "off", "y", "n"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (!strcasecmp(s, words[i]))
            return 1;
    char *end;
    strtod(s, &end);
    return end != s && !*end;
}

static int emit_scalar(yaml_emitter_t *em, const char *text, size_t len, yaml_scalar_style_t style)
{
    yaml_event_t ev;
    return yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)text, (int)len, 1, 1, style) &&
           yaml_emitter_emit(em, &ev);
}

/* Strings that read as something else are quoted (our reader takes "null"
   as the empty string, other readers "yes" as a boolean); the emitter quotes
   whatever else needs it. */
static int emit_string(yaml_emitter_t *em, const char *s, size_t capacity)
{
    size_t len = strnlen(s, capacity);
    if (len == capacity)
        return 0;
    return emit_scalar(em, s, len, looks_typed(s) ? YAML_SINGLE_QUOTED_SCALAR_STYLE : YAML_ANY_SCALAR_STYLE);
}

static int emit_plain(yaml_emitter_t *em, const cfg_field *f, const char *value)
{
    char text[64];
    int choice;
    switch (f->kind) {
    case CFG_INT:
        snprintf(text, sizeof text, "%d", *(const int *)value);
        break;
    case CFG_U64:
        snprintf(text, sizeof text, "%" PRIu64, *(const uint64_t *)value);
        break;
    case CFG_DOUBLE:
        format_double(*(const double *)value, text, sizeof text);
        break;
    case CFG_BOOL:
        snprintf(text, sizeof text, "%s", *(const int *)value ? "true" : "false");
        break;
    case CFG_ENUM:
        /* An out-of-range value is written as its number, which loading rejects. */
        choice = cfg_choice_of(f, *(const int *)value);
        if (choice >= 0)
            snprintf(text, sizeof text, "%s", f->choices[choice]);
        else
            snprintf(text, sizeof text, "%d", *(const int *)value);
        break;
    default:
        return 0;
    }
    return emit_scalar(em, text, strlen(text), YAML_PLAIN_SCALAR_STYLE);
}

static int emit_mapping(yaml_emitter_t *em, const cfg_section *sec, const void *item, int flow);

static int emit_list(yaml_emitter_t *em, const cfg_field *f, const char *base)
{
    yaml_event_t ev;
    int count = *(const int *)(base + f->count_offset);
    if (count < 0 || count > f->max_items)
        return 0;
    if (!yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE) ||
        !yaml_emitter_emit(em, &ev))
        return 0;
    for (int k = 0; k < count; k++)
        if (!emit_mapping(em, f->section, base + f->offset + (size_t)k * f->item_size, f->flow))
            return 0;
    return yaml_sequence_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
}

static int emit_value(yaml_emitter_t *em, const cfg_field *f, const char *base)
{
    switch (f->kind) {
    case CFG_SECTION:
        return emit_mapping(em, f->section, base + f->offset, f->flow);
    case CFG_LIST:
        return emit_list(em, f, base);
    case CFG_STRING:
        return emit_string(em, base + f->offset, f->capacity);
    default:
        return emit_plain(em, f, base + f->offset);
    }
}

/* Writes the keys that apply to the item (a layer gets only its type's keys). */
static int emit_mapping(yaml_emitter_t *em, const cfg_section *sec, const void *item, int flow)
{
    yaml_event_t ev;
    unsigned relevant = sec->relevant ? sec->relevant(item) : ~0u;
    if (!yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
                                             flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE) ||
        !yaml_emitter_emit(em, &ev))
        return 0;
    for (int i = 0; i < sec->n_fields; i++)
        if ((relevant & 1u << i) &&
            (!emit_scalar(em, sec->fields[i].key, strlen(sec->fields[i].key), YAML_PLAIN_SCALAR_STYLE) ||
             !emit_value(em, &sec->fields[i], item)))
            return 0;
    return yaml_mapping_end_event_initialize(&ev) && yaml_emitter_emit(em, &ev);
}

static int emit_document(yaml_emitter_t *em, const fer_config *c)
{
    yaml_event_t ev;
    return yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) && yaml_emitter_emit(em, &ev) &&
           yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) && yaml_emitter_emit(em, &ev) &&
           emit_mapping(em, &cfg_top_section, c, 0) && yaml_document_end_event_initialize(&ev, 1) &&
           yaml_emitter_emit(em, &ev) && yaml_stream_end_event_initialize(&ev) &&
           yaml_emitter_emit(em, &ev) && yaml_emitter_flush(em);
}

char *fer_config_to_yaml(const fer_config *c)
{
    yaml_emitter_t em;
    out_text out = {0};
    if (!yaml_emitter_initialize(&em))
        return NULL;
    yaml_emitter_set_output(&em, write_out, &out);
    yaml_emitter_set_width(&em, -1);
    yaml_emitter_set_unicode(&em, 1);
    int ok = emit_document(&em, c);
    yaml_emitter_delete(&em);
    if (!ok) {
        free(out.text);
        return NULL;
    }
    return out.text;
}
