#include "fer/progress.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double fer_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Open MPI's mpirun hands every rank a pseudo-terminal, whatever mpirun's own
   output is (a log file, a pipe), so isatty() says yes under mpirun. There
   the launcher decides: jobs/fer-mpirun sets FER_STDOUT_TTY to 1 or 0 from
   its own output; without it, a rank under mpirun logs plain lines, which
   read well in a terminal too. */
static int output_is_terminal(FILE *out)
{
    if (!isatty(fileno(out)))
        return 0;
    const char *launcher = getenv("FER_STDOUT_TTY");
    if (launcher && *launcher)
        return strcmp(launcher, "1") == 0;
    return getenv("OMPI_COMM_WORLD_SIZE") == NULL;
}

void fer_progress_init(fer_progress *p, FILE *out, const fer_logging_cfg *cfg)
{
    p->out = out;
    p->quiet = cfg->progress == FER_PROGRESS_NONE;
    p->bar =
        cfg->progress == FER_PROGRESS_BAR || (cfg->progress == FER_PROGRESS_AUTO && output_is_terminal(out));
    p->every = cfg->every_steps > 0 ? cfg->every_steps : 50;
}

void fer_progress_epoch_begin(fer_progress *p, int epoch, int epochs, long batches, const char *phase,
                              double lr)
{
    p->epoch = epoch + 1;
    p->epochs = epochs;
    p->batches = batches;
    p->epoch_start = fer_now();
    if (!p->quiet)
        fprintf(p->out, "Epoch %d/%d (phase %s, lr %.3g)\n", p->epoch, epochs, phase, lr);
    fflush(p->out);
}

static void format_eta(char *buf, size_t cap, double seconds)
{
    long s = (long)(seconds + 0.5);
    if (s >= 3600)
        snprintf(buf, cap, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, cap, "%ld:%02ld", s / 60, s % 60);
}

void fer_progress_step(fer_progress *p, long done, double loss, double acc, double images_per_s, double lr)
{
    if (p->quiet)
        return;
    double elapsed = fer_now() - p->epoch_start;
    if (p->bar) {
        int width = 30, filled = p->batches ? (int)(width * done / p->batches) : width;
        char bar[32], eta[32];
        for (int i = 0; i < width; i++)
            bar[i] = i < filled ? '=' : (i == filled ? '>' : '.');
        bar[width] = '\0';
        format_eta(eta, sizeof eta, done ? elapsed / done * (p->batches - done) : 0);
        fprintf(p->out, "\r%5ld/%-5ld [%s] - ETA: %s - loss: %.4f - acc: %.4f - %.1f img/s ", done,
                p->batches, bar, eta, loss, acc, images_per_s);
        fflush(p->out);
    } else if (done % p->every == 0 || done == p->batches) {
        fprintf(p->out, "epoch %d/%d step %ld/%ld loss %.4f acc %.4f lr %.4g %.1f img/s %.0fs\n", p->epoch,
                p->epochs, done, p->batches, loss, acc, lr, images_per_s, elapsed);
        fflush(p->out);
    }
}

void fer_progress_epoch_end(fer_progress *p, double train_loss, double train_acc, double val_loss,
                            double val_acc, double seconds, double images_per_s)
{
    if (p->quiet)
        return;
    if (p->bar)
        fputc('\n', p->out);
    fprintf(
        p->out,
        "epoch %d/%d done in %.0fs - loss: %.4f - acc: %.4f - val_loss: %.4f - val_acc: %.4f - %.1f img/s\n",
        p->epoch, p->epochs, seconds, train_loss, train_acc, val_loss, val_acc, images_per_s);
    fflush(p->out);
}
