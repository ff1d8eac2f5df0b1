/*
 * dir: directories patchq makes for a moment and removes whole (a check's
 * work tree, git's quarantine of objects).
 */
#ifndef PQ_DIR_H
#define PQ_DIR_H

/*
 * Removes dir and everything in it, also what was made read-only inside
 * it; symbolic links are removed, never followed. What cannot be removed
 * stays (nothing is reported: the callers remove what they made, in a
 * directory of their own).
 */
void pq_dir_remove(const char *dir);

#endif
