/* A bound on the nesting depth of YAML text, checked before libyaml builds a
   document: libyaml's scanner takes time quadratic in the depth of flow
   collections ("a: [[[[...]]]]" a million deep runs for minutes), and no
   configuration needs more than a few levels. */
#ifndef FER_IO_YAML_DEPTH_H
#define FER_IO_YAML_DEPTH_H

#include "fer/error.h"

#include <stddef.h>

/* Deepest nesting of mappings and lists a configuration may have; the
   top-level mapping is level 1 (docs/limits.md). */
#define FER_YAML_MAX_DEPTH 64

/* Streams the events of yaml (n bytes) and fails with "name:L:C: ..." at the
   first collection nested deeper than FER_YAML_MAX_DEPTH. Syntax errors are
   left to the document loader, which reports them. name may be "--set key". */
int fer_yaml_check_depth(const char *yaml, size_t n, const char *name, fer_err *err);

#endif
