#include "fer/saved_model.h"

#include <stdlib.h>

int fer_saved_model_open(const char *checkpoint, fer_config *cfg, fer_model *m, fer_train_state *state,
                         fer_err *err)
{
    char *yaml = NULL;
    if (fer_checkpoint_read_config(checkpoint, &yaml, err))
        return FER_ERROR;
    int rc = fer_config_load_string(cfg, yaml, checkpoint, err);
    free(yaml);
    if (rc)
        return fer_fail_wrap(err, "%s: stored configuration", checkpoint);
    if (fer_model_init(m, &cfg->model, cfg->seed, err))
        return FER_ERROR;
    fer_train_state st;
    fer_history hist = {0};
    rc = fer_checkpoint_load(checkpoint, m, NULL, NULL, state ? state : &st, &hist, NULL, err);
    fer_history_free(&hist);
    if (rc)
        fer_model_free(m);
    return rc;
}
