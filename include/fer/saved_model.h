/* Opening a trained model: the configuration stored in a checkpoint, the
   model it describes, and the checkpoint's weights. Used by eval, predict
   and viz. */
#ifndef FER_SAVED_MODEL_H
#define FER_SAVED_MODEL_H

#include "fer/checkpoint.h"
#include "fer/config.h"
#include "fer/model.h"

/* Fills cfg from the checkpoint's stored configuration, builds the model and
   loads the weights and statistics. The model is the caller's to free. */
int fer_saved_model_open(const char *checkpoint, fer_config *cfg, fer_model *m, fer_train_state *state,
                         fer_err *err);

#endif
