/* Paths on disk: the sizes of path buffers, and creating a directory with
   its parents. */
#ifndef FER_PATH_H
#define FER_PATH_H

#include "fer/error.h"

/* A path the user gives (a run directory, a data set, an output prefix),
   terminator included; longer ones are refused where they are read. */
#define FER_PATH_LEN 512
/* A file name fer appends to such a path ("/ckpt-0012-003456.h5",
   "/steps.csv", ".tmp.<pid>", a class's PNG), terminator included. */
#define FER_FILE_NAME_LEN 256
/* A path fer builds: a user's path, then one of its file names. */
#define FER_FILE_PATH_LEN (FER_PATH_LEN + FER_FILE_NAME_LEN)

/* mkdir -p: creates dir and every missing parent with mode 0777 less the
   umask; an existing directory is fine. Fails, naming the component, when
   one cannot be created or is not a directory, and when dir is longer than
   PATH_MAX. */
int fer_make_dirs(const char *dir, fer_err *err);

#endif
