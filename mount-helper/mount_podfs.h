/*
 * What the parts of mount.podfs share: a mount request (from mount(8)-style
 * argv or from kubelet's FlexVolume JSON) and the calls that carry it out.
 */
#ifndef PODFS_MOUNT_PODFS_H
#define PODFS_MOUNT_PODFS_H

#include <stdbool.h>
#include <stddef.h>

#include "fuse_ops.h"

#define PROG "mount.podfs"

/* mount(8)'s exit codes */
#define EX_USAGE_MOUNT 1
#define EX_SYSERR 2
#define EX_FAIL 32

struct mount_request {
	char *source;
	char *dir;	    /* absolute mount point */
	char *lib_opts;	    /* options for podfs_attach, comma-separated */
	char *fuse_opts;    /* generic mount flags for the kernel, comma-separated */
	char *log;	    /* the daemon's log file, or NULL */
	char *secret;	    /* a key from memory (FlexVolume), or NULL */
	char *pod;	    /* "namespace/name (uid)" for the log, or NULL */
	long fsgroup;	    /* new files get this group; -1: no */
	bool readonly;
	bool foreground, verbose, sloppy;
	bool allow_other, default_permissions;
};

void mount_request_init(struct mount_request *req);
void mount_request_free(struct mount_request *req);

/* Sorts one comma-separated option list into REQ: generic mount flags,
 * the helper's own options, and the library's. 0, or -1 with a message
 * in ERR. */
int mount_request_add_options(struct mount_request *req, const char *opts,
			      char *err, size_t errlen);

/* Appends ",KEY=VALUE" (or "KEY" when VALUE is NULL) to a list. */
int opts_append(char **list, const char *key, const char *value);

/* Checks the server, mounts at req->dir, and (unless foreground) leaves a
 * daemon serving it. 0 once the mount answers, else -1 with ERR set. */
int mount_volume(struct mount_request *req, char *err, size_t errlen);

/* Unmounts DIR, lazily if its daemon is gone; 0 also when DIR is not
 * mounted. -1 with ERR set. */
int unmount_volume(const char *dir, char *err, size_t errlen);

/* DIR made absolute without resolving it (a dead mount must not hang us);
 * NULL with errno set. */
char *absolute_path(const char *dir);

/* Sorts kubelet's JSON options of a FlexVolume mount into REQ (source,
 * options, base64 secrets, fsGroup, the pod). 0, or -1 with ERR set. */
int flexvolume_parse(struct mount_request *req, const char *json, char *err,
		     size_t errlen);

/* Runs a FlexVolume call (argv after the program name); prints kubelet's
 * JSON answer and returns the exit status. */
int flexvolume_main(int argc, char **argv);

/* "stats [--prometheus] DIR" (argv after the program name): prints the
 * mount's statistics; the exit status. */
int stats_main(int argc, char **argv);

/* The daemon's watch (watch.c): SIGTERM, SIGINT and SIGHUP end the FUSE
 * loop, and the mount vanishing (umount -l) shuts the volume down;
 * either way calls stop waiting for a server that is gone, and a daemon
 * still there twice the mount's timeout later leaves (_exit). Signals
 * are set up before any thread starts; the watch is started from the
 * loop's thread, told when the loop is over (the volume detaches then,
 * shut down) and stopped once it has. */
/* One line of /proc/self/mountinfo, parsed in place: its fields point
 * into the line, the mount point unescaped. */
struct mountinfo_entry {
	const char *dev;    /* "major:minor" */
	const char *point;  /* the mount point */
	const char *fstype; /* "fuse.podfs" */
};
bool mountinfo_parse(char *line, struct mountinfo_entry *e);

struct podfs_watch;
int podfs_watch_signals(void);
int podfs_watch_start(struct podfs_watch **out, podfs_volume *vol,
		      struct fuse_session *se, const char *dir);
void podfs_watch_loop_done(struct podfs_watch *w);
void podfs_watch_stop(struct podfs_watch *w);
bool is_flexvolume_call(const char *arg);

#endif /* PODFS_MOUNT_PODFS_H */
