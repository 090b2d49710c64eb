/* The vector width of OpenBLAS kernels by name (include/fer/cpu.h): what
   the kernel choice (blas_setup.c) and the Winograd GEMM choice
   (src/nn/own_gemm.c) both read. */
#include "fer/cpu.h"

#include <stddef.h>
#include <strings.h>

static const struct {
    const char *name;
    int level;
} core_levels[] = {
    {"Katmai", 1},         {"Coppermine", 1},  {"Northwood", 1},    {"Prescott", 1},   {"Banias", 1},
    {"Atom", 1},           {"Core2", 1},       {"Penryn", 1},       {"Dunnington", 1}, {"Nehalem", 1},
    {"Athlon", 1},         {"Opteron", 1},     {"Opteron_SSE3", 1}, {"Barcelona", 1},  {"Nano", 1},
    {"Bobcat", 1},         {"Sandybridge", 2}, {"Bulldozer", 2},    {"Piledriver", 2}, {"Steamroller", 2},
    {"Excavator", 2},      {"Haswell", 3},     {"Zen", 3},          {"SkylakeX", 4},   {"Cooperlake", 4},
    {"SapphireRapids", 4},
};

int fer_blas_core_level(const char *core)
{
    if (!core)
        return 0;
    for (size_t i = 0; i < sizeof core_levels / sizeof core_levels[0]; i++)
        if (!strcasecmp(core, core_levels[i].name))
            return core_levels[i].level;
    return 0;
}
