/*
 * crash: named points where the tests kill patchq.
 *
 * Crash safety is only believable when it is tried: PATCHQ_CRASH=NAME in
 * the environment makes the process SIGKILL itself when it reaches the
 * point NAME, so a test can show that the next run completes what that
 * crash left. Without the variable a crash point does nothing.
 *
 *   intent   apply: the intent is committed, the branch has not moved
 *   moved    apply: the branch moved, the database does not know yet
 *   send     outbox: a reply is about to be handed to the server
 *   sent     outbox: the server accepted it, it is not marked sent yet
 *   elsewhere  [elsewhere] scan: a batch of replies is committed, more wait
 */
#ifndef PQ_CRASH_H
#define PQ_CRASH_H

void pq_crash_point(const char *name);

#endif
