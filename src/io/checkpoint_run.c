/* The run directory: ckpt-EEEE-SSSSSS.h5 files, the `latest` pointer,
   best.h5, pruning to the newest keep_last, and finding the newest valid
   checkpoint after a crash. */
#include "fer/checkpoint.h"
#include "fer/path.h"

#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LATEST_FILE "latest"
#define BEST_FILE "best.h5"

void fer_checkpoint_name(char *out, size_t cap, const char *run_dir, int epoch, long step)
{
    snprintf(out, cap, "%s/ckpt-%04d-%06ld.h5", run_dir, epoch, step);
}

/* Parses "ckpt-EEEE-SSSSSS.h5" exactly (no temporary files, no suffixes). */
static int parse_ckpt_name(const char *name, int *epoch, long *step)
{
    int used = 0;
    if (sscanf(name, "ckpt-%d-%ld.h5%n", epoch, step, &used) != 2 || used == 0 || name[used] != '\0')
        return 0;
    return *epoch >= 0 && *step >= 0;
}

typedef struct {
    char name[256];
    int epoch;
    long step;
} ckpt_file;

/* Newest first by (epoch, step) from the file name. */
static int by_name_newest_first(const void *a, const void *b)
{
    const ckpt_file *x = a, *y = b;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? 1 : -1;
    if (x->step != y->step)
        return x->step < y->step ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* The ckpt-*.h5 files of dir, newest first by name. *files is malloc'd. */
static int list_checkpoints(const char *dir, ckpt_file **files, int *n, fer_err *err)
{
    *files = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return fer_fail(err, "%s: %s", dir, strerror(errno));
    int cap = 0;
    struct dirent *e;
    int rc = FER_OK;
    while (rc == FER_OK && (e = readdir(d)) != NULL) {
        ckpt_file f;
        if (strlen(e->d_name) >= sizeof f.name || !parse_ckpt_name(e->d_name, &f.epoch, &f.step))
            continue;
        snprintf(f.name, sizeof f.name, "%s", e->d_name);
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            ckpt_file *grown = realloc(*files, (size_t)cap * sizeof *grown);
            if (!grown) {
                rc = fer_fail(err, "%s: out of memory listing checkpoints", dir);
                break;
            }
            *files = grown;
        }
        (*files)[(*n)++] = f;
    }
    closedir(d);
    if (rc == FER_OK && *n > 1)
        qsort(*files, (size_t)*n, sizeof **files, by_name_newest_first);
    return rc;
}

/* Deletes all but the newest keep_last checkpoints, never the one just
   written (which is not the newest by name after resuming from an older
   one). */
static int prune(const char *run_dir, int keep_last, const char *written, fer_err *err)
{
    ckpt_file *files;
    int n = 0;
    if (list_checkpoints(run_dir, &files, &n, err) != FER_OK)
        return FER_ERROR;
    const char *written_name = strrchr(written, '/') ? strrchr(written, '/') + 1 : written;
    int rc = FER_OK;
    for (int i = keep_last < 1 ? 1 : keep_last; i < n; i++) {
        if (!strcmp(files[i].name, written_name))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", run_dir, files[i].name);
        if (unlink(path) != 0 && errno != ENOENT)
            rc = fer_fail(err, "%s: cannot delete old checkpoint: %s", path, strerror(errno));
    }
    free(files);
    return rc;
}

int fer_checkpoint_save_run(const char *run_dir, const fer_checkpoint_out *c, int is_best, int keep_last,
                            char *written, size_t written_cap, fer_err *err)
{
    if (fer_make_dirs(run_dir, err) != FER_OK)
        return FER_ERROR;
    char path[4096], pointer[4096], text[300];
    fer_checkpoint_name(path, sizeof path, run_dir, c->state->epoch, c->state->step_in_epoch);
    if (fer_checkpoint_save(path, c, err) != FER_OK)
        return FER_ERROR;
    if (written)
        snprintf(written, written_cap, "%s", path);
    snprintf(pointer, sizeof pointer, "%s/%s", run_dir, LATEST_FILE);
    snprintf(text, sizeof text, "%s\n", strrchr(path, '/') + 1);
    if (fer_atomic_write_text(pointer, text, err) != FER_OK)
        return FER_ERROR;
    if (is_best) {
        char best[4096];
        snprintf(best, sizeof best, "%s/%s", run_dir, BEST_FILE);
        if (fer_atomic_copy(path, best, err) != FER_OK)
            return FER_ERROR;
    }
    return prune(run_dir, keep_last, path, err);
}

/* The file name `latest` points to, or "" when it is absent or unusable. */
static void read_latest(const char *run_dir, char *name, size_t cap)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", run_dir, LATEST_FILE);
    name[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(name, (int)cap, f))
        name[0] = '\0';
    fclose(f);
    name[strcspn(name, "\r\n")] = '\0';
    if (strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, ".."))
        name[0] = '\0';
}

typedef struct {
    char name[256];
    int valid;
    fer_train_state state;
    char why[1024];
} candidate;

/* Newest first by training state; invalid ones last. */
static int by_state_newest_first(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->valid != y->valid)
        return x->valid ? -1 : 1;
    const fer_train_state *s = &x->state, *t = &y->state;
    if (s->epoch != t->epoch)
        return s->epoch < t->epoch ? 1 : -1;
    if (s->step_in_epoch != t->step_in_epoch)
        return s->step_in_epoch < t->step_in_epoch ? 1 : -1;
    if (s->global_step != t->global_step)
        return s->global_step < t->global_step ? 1 : -1;
    return strcmp(x->name, y->name);
}

static void warn_msg(void (*warn)(const char *, void *), void *ctx, const char *fmt, const char *a,
                     const char *b)
{
    if (!warn)
        return;
    char msg[2048];
    snprintf(msg, sizeof msg, fmt, a, b);
    warn(msg, ctx);
}

/* Candidates: every ckpt-*.h5 plus whatever `latest` names; probed. */
static int gather(const char *run_dir, const char *latest, candidate **out, int *n, fer_err *err)
{
    ckpt_file *files;
    int nf;
    if (list_checkpoints(run_dir, &files, &nf, err) != FER_OK)
        return FER_ERROR;
    candidate *c = calloc((size_t)nf + 1, sizeof *c);
    if (!c) {
        free(files);
        return fer_fail(err, "%s: out of memory", run_dir);
    }
    int count = 0, has_latest = !latest[0];
    for (int i = 0; i < nf; i++) {
        snprintf(c[count++].name, sizeof c->name, "%s", files[i].name);
        has_latest = has_latest || !strcmp(files[i].name, latest);
    }
    free(files);
    if (!has_latest)
        snprintf(c[count++].name, sizeof c->name, "%s", latest);
    for (int i = 0; i < count; i++) {
        char path[4096];
        fer_err e;
        snprintf(path, sizeof path, "%s/%s", run_dir, c[i].name);
        c[i].valid = fer_checkpoint_probe(path, &c[i].state, &e) == FER_OK;
        if (!c[i].valid)
            snprintf(c[i].why, sizeof c[i].why, "%s", e.msg);
    }
    qsort(c, (size_t)count, sizeof *c, by_state_newest_first);
    *out = c;
    *n = count;
    return FER_OK;
}

int fer_checkpoint_find_latest(const char *run_dir, char *out, size_t cap,
                               void (*warn)(const char *msg, void *ctx), void *ctx, fer_err *err)
{
    struct stat st;
    if (stat(run_dir, &st) != 0)
        return fer_fail(err, "%s: no checkpoint (%s)", run_dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fer_fail(err, "%s: not a directory", run_dir);
    char latest[256];
    read_latest(run_dir, latest, sizeof latest);
    candidate *c = NULL;
    int n = 0;
    if (gather(run_dir, latest, &c, &n, err) != FER_OK)
        return FER_ERROR;
    for (int i = 0; i < n; i++)
        if (!c[i].valid)
            warn_msg(warn, ctx, "skipping %s: %s", c[i].name, c[i].why);
    int chosen = -1;
    for (int i = 0; i < n && c[i].valid && chosen < 0; i++) {
        char path[4096];
        fer_err e;
        snprintf(path, sizeof path, "%s/%s", run_dir, c[i].name);
        if (fer_checkpoint_verify(path, NULL, &e) != FER_OK) {
            warn_msg(warn, ctx, "skipping %s: %s", c[i].name, e.msg);
            continue;
        }
        chosen = i;
        snprintf(out, cap, "%s", path);
    }
    if (chosen >= 0 && latest[0] && strcmp(c[chosen].name, latest) != 0)
        warn_msg(warn, ctx, "'latest' names %s; using %s, the newest valid checkpoint", latest,
                 c[chosen].name);
    int rc = chosen >= 0
                 ? FER_OK
                 : fer_fail(err, "%s: no valid checkpoint (%d candidate%s)", run_dir, n, n == 1 ? "" : "s");
    free(c);
    return rc;
}

int fer_checkpoint_run_has_files(const char *run_dir)
{
    ckpt_file *files;
    int n = 0;
    fer_err ignored;
    if (list_checkpoints(run_dir, &files, &n, &ignored) == FER_OK)
        free(files);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", run_dir, LATEST_FILE);
    int latest = stat(path, &st) == 0;
    snprintf(path, sizeof path, "%s/%s", run_dir, BEST_FILE);
    int best = stat(path, &st) == 0;
    return n > 0 || latest || best;
}

/* Whether the writer of a temporary file (pid from its name) may still be
   writing it: a live process other than this one. A pid of another host
   reads as dead or alive by chance; the run directory's lock is what keeps
   two runs apart, this only spares a live writer the lock did not stop. */
static int writer_alive(const char *digits)
{
    long pid = strtol(digits, NULL, 10);
    if (pid <= 0 || pid > INT_MAX || pid == (long)getpid()) /* kill(-1, 0) would ask about everyone */
        return 0;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

void fer_checkpoint_remove_stale_tmp(const char *run_dir)
{
    DIR *dir = opendir(run_dir);
    if (!dir)
        return;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        /* Only our own temporary names: ckpt-*.h5.tmp.<pid>, best.h5.tmp.<pid>, latest.tmp.<pid>. */
        const char *tmp = strstr(e->d_name, ".tmp.");
        if (!tmp || strspn(tmp + 5, "0123456789") != strlen(tmp + 5) || tmp[5] == '\0')
            continue;
        if (strncmp(e->d_name, "ckpt-", 5) && strncmp(e->d_name, "best.h5", 7) &&
            strncmp(e->d_name, "latest", 6))
            continue;
        if (writer_alive(tmp + 5))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", run_dir, e->d_name);
        unlink(path);
    }
    closedir(dir);
}
