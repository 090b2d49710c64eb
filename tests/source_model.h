/* A model built, untrained, from one of the source tree's configurations
   (a path below $FER_SOURCE_DIR, or below the current directory without
   it), for tests that need a real network. */
#ifndef FER_TEST_SOURCE_MODEL_H
#define FER_TEST_SOURCE_MODEL_H

#include "fer/config.h"
#include "fer/error.h"
#include "fer/model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline int source_model(fer_model *m, const char *config, uint64_t seed, fer_err *err)
{
    const char *src = getenv("FER_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", src ? src : ".", config);
    fer_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return fer_fail(err, "out of memory");
    int rc = fer_config_load(cfg, path, err);
    if (rc == FER_OK)
        rc = fer_model_init(m, &cfg->model, seed, err);
    free(cfg);
    return rc;
}

#endif
