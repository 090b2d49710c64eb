/* libFuzzer target: the run configuration, as `fer train CONFIG --set ...`
   reads it. The input is a YAML file up to its first NUL byte; each further
   NUL-separated piece is one `--set key.path=value` override, applied in
   order until one fails. Then the cross-field checks and, for a valid
   configuration, the promise of fer_config_to_yaml: its YAML loads back (a
   checkpoint's stored config is read this way) and gives the same YAML
   again. */
#include "fer/config.h"
#include "fuzz_input.h"

#include <string.h>

static void check_round_trip(const fer_config *c)
{
    char *yaml = fer_config_to_yaml(c);
    if (!yaml)
        return; /* out of memory is reported, not a defect */
    fer_config back;
    fer_err err = {{0}};
    int rc = fer_config_load_string(&back, yaml, "round trip", &err);
    if (rc != FER_OK)
        fprintf(stderr, "emitted YAML:\n%s\n", yaml);
    fuzz_expect(rc == FER_OK, "fer_config_to_yaml wrote YAML that does not load back:", err.msg);
    char *again = fer_config_to_yaml(&back);
    if (again && strcmp(yaml, again))
        fprintf(stderr, "first:\n%s\nsecond:\n%s\n", yaml, again);
    fuzz_expect(!again || !strcmp(yaml, again), "loading the emitted YAML changed the configuration", NULL);
    free(again);
    free(yaml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size;
    const uint8_t *nul = memchr(data, '\0', size);
    size_t doc_len = nul ? (size_t)(nul - data) : size;

    fuzz_file f;
    fuzz_file_open(&f, data, doc_len, ".yaml");
    fer_config c;
    fer_err err = {{0}};
    int rc = fer_config_load(&c, f.path, &err);
    fuzz_note(rc, &err);
    fuzz_file_close(&f);
    fuzz_expect(rc == FER_OK || err.msg[0], "fer_config_load failed without a message", NULL);
    if (rc != FER_OK)
        return 0;

    for (const uint8_t *p = nul ? nul + 1 : end; p < end && rc == FER_OK;) {
        const uint8_t *stop = memchr(p, '\0', (size_t)(end - p));
        size_t n = stop ? (size_t)(stop - p) : (size_t)(end - p);
        char *assignment = strndup((const char *)p, n);
        if (!assignment)
            return 0;
        rc = fer_config_set(&c, assignment, &err);
        fuzz_note(rc, &err);
        free(assignment);
        fuzz_expect(rc == FER_OK || err.msg[0], "fer_config_set failed without a message", NULL);
        p += n + 1;
    }
    if (rc != FER_OK)
        return 0;
    rc = fer_config_validate(&c, &err);
    fuzz_note(rc, &err);
    fuzz_expect(rc == FER_OK || err.msg[0], "fer_config_validate failed without a message", NULL);
    if (rc == FER_OK) /* what checkpoints store and --print-config prints */
        check_round_trip(&c);
    return 0;
}
