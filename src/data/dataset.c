#include "fer/dataset.h"

#include <stdlib.h>
#include <string.h>

const char *const fer_emotion_names[7] = {"Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"};

static const char *const usage_names[FER_N_USAGES] = {"Training", "PublicTest", "PrivateTest"};

const char *fer_usage_name(int usage)
{
    return usage >= 0 && usage < FER_N_USAGES ? usage_names[usage] : "?";
}

int fer_usage_parse(const char *name)
{
    for (int u = 0; u < FER_N_USAGES; u++)
        if (!strcmp(name, usage_names[u]))
            return u;
    return -1;
}

void fer_dataset_free(fer_dataset *ds)
{
    free(ds->pixels);
    free(ds->labels);
    free(ds->usage);
    memset(ds, 0, sizeof *ds);
}

void fer_dataset_counts(const fer_dataset *ds, long counts[FER_N_USAGES][FER_MAX_CLASSES])
{
    memset(counts, 0, sizeof(long) * FER_N_USAGES * FER_MAX_CLASSES);
    for (int i = 0; i < ds->n; i++)
        if (ds->usage[i] < FER_N_USAGES && ds->labels[i] < FER_MAX_CLASSES)
            counts[ds->usage[i]][ds->labels[i]]++;
}
