/* The nesting-depth bound on YAML text (see yaml_depth.h). */
#include "yaml_depth.h"

#include <yaml.h>

int fer_yaml_check_depth(const char *yaml, size_t n, const char *name, fer_err *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return fer_fail(err, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, n);
    int depth = 0, rc = FER_OK;
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&parser, &event))
            break; /* reported by the loader */
        yaml_event_type_t type = event.type;
        if (type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT)
            depth++;
        else if (type == YAML_MAPPING_END_EVENT || type == YAML_SEQUENCE_END_EVENT)
            depth--;
        if (depth > FER_YAML_MAX_DEPTH)
            rc = fer_fail(err, "%s:%lu:%lu: mappings and lists nested more than %d levels deep", name,
                          (unsigned long)event.start_mark.line + 1,
                          (unsigned long)event.start_mark.column + 1, FER_YAML_MAX_DEPTH);
        yaml_event_delete(&event);
        if (rc != FER_OK || type == YAML_STREAM_END_EVENT)
            break;
    }
    yaml_parser_delete(&parser);
    return rc;
}
