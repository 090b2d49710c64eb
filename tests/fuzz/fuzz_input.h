/* The fuzzer's bytes as a file that fer's readers open by path, as they do
   in real use. The file lives in /dev/shm (memory, no disk traffic; $TMPDIR
   or /tmp where there is none) and is unlinked after each input. Not a
   memfd: HDF5 resolves the real path of every file it opens, which a memfd's
   /proc/self/fd link does not have. */
#ifndef FER_FUZZ_INPUT_H
#define FER_FUZZ_INPUT_H

#include "fer/error.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    char path[512];
} fuzz_file;

static inline const char *fuzz_dir(void)
{
    if (!access("/dev/shm", W_OK))
        return "/dev/shm";
    const char *tmp = getenv("TMPDIR");
    return tmp && *tmp ? tmp : "/tmp";
}

/* Aborts when the file cannot be written: that is the harness failing, not
   fer. ext (".h5", ".csv") only makes the name telling. The process id is
   padded so that the path, which fer's messages quote, has the same length
   in every run. */
static inline void fuzz_file_open(fuzz_file *f, const uint8_t *data, size_t size, const char *ext)
{
    snprintf(f->path, sizeof f->path, "%s/fer-fuzz-%010ld%s", fuzz_dir(), (long)getpid(), ext);
    int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(f->path);
        abort();
    }
    for (size_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            perror(f->path);
            abort();
        }
        done += (size_t)n;
    }
    close(fd);
}

static inline void fuzz_file_close(fuzz_file *f)
{
    unlink(f->path);
}

/* Reads every byte of a buffer fer returned, so that AddressSanitizer checks
   that all of it is there (the volatile keeps the compiler from dropping the
   reads). */
static inline void fuzz_touch(const uint8_t *p, size_t n)
{
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += p[i];
    volatile unsigned sink = sum;
    (void)sink;
}

/* A promise fer broke: says which (and detail, when not NULL) and aborts,
   so that libFuzzer keeps the input. */
static inline void fuzz_expect(int ok, const char *what, const char *detail)
{
    if (!ok) {
        fprintf(stderr, "%s%s%s\n", what, detail ? " " : "", detail ? detail : "");
        abort();
    }
}

/* With FER_FUZZ_VERBOSE set, prints why fer rejected an input: to check
   that seeds get past the first checks (a seed that is rejected on opening
   explores nothing). */
static inline void fuzz_note(int rc, const fer_err *err)
{
    if (rc != FER_OK && getenv("FER_FUZZ_VERBOSE"))
        fprintf(stderr, "rejected: %s\n", err->msg);
}

#endif
