#ifndef HINDSIGHT_HS_FS_H
#define HINDSIGHT_HS_FS_H
/*
 * File system calls that Swift's Glibc module does not show (they are GNU extensions).
 */
#ifdef __cplusplus
extern "C" {
#endif

/*
 * renameat2(from_dir, from, to_dir, to, RENAME_NOREPLACE): renames atomically, failing
 * with EEXIST instead of replacing whatever `to` names (an empty directory included).
 * Returns 0, or -1 with errno set.
 */
int hs_rename_noreplace(int from_dir, const char *from, int to_dir, const char *to);

/*
 * openat(dir, "..", O_PATH | O_DIRECTORY | O_CLOEXEC): the directory above, opened to be
 * walked through and looked at, which needs no permission to read it.
 * Returns a descriptor, or -1 with errno set.
 */
int hs_open_parent(int dir);

#ifdef __cplusplus
}
#endif
#endif
