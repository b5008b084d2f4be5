#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>

#include "hs_fs.h"

extern "C" int hs_rename_noreplace(int from_dir, const char *from, int to_dir, const char *to) {
    return renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE);
}

extern "C" int hs_open_parent(int dir) {
    return openat(dir, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
}
