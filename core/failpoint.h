/* failpoint.h: named points where a test can stop the process, so a fault
 * (a pause past a lease, a kill) lands at an exact place of a pass.
 *
 * The environment variable SKYVISOR_FAILPOINT lists them, separated by
 * commas: NAME=stop stops the process (SIGSTOP, so only SIGCONT resumes
 * it) every time NAME is reached; NAME=stop:PATH only when the file PATH
 * exists, which it removes first (one stop per file the test creates);
 * NAME=exit, or NAME alone, makes the process exit at once with status 70
 * (a crash at that point).  Each is logged first ("failpoint NAME:
 * stopping" / "exiting").  Without the variable failpoint_hit() does
 * nothing but read a flag.
 *
 * Points: recon.apply (ctrl/recon_owner.c: a pass has planned every
 * bridge's flows, some to add, and is about to send them);
 * migration.clone, .dual, .activate, .cleanup, .done, .rolled-back and
 * .failed (ctrl/recon_migration.c: a migration's phase was just
 * recorded).
 *
 * Threads: failpoint_hit() may be called from any thread. */
#ifndef SKYVISOR_CORE_FAILPOINT_H
#define SKYVISOR_CORE_FAILPOINT_H

/* Acts on point 'name' if SKYVISOR_FAILPOINT names it. */
void failpoint_hit(const char *name);

#endif
