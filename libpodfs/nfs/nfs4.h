/*
 * What v4.c (the COMPOUNDs) and state4.c (client id, owners, opens) share:
 * the calls that change NFSv4 state, built in v4.c, run by state4.c.
 */
#ifndef PODFS_NFS4_H
#define PODFS_NFS4_H

#include "internal.h"

/* SETCLIENTID and SETCLIENTID_CONFIRM of the client NAME, VERIFIER:
 * its id. */
int nfs4_setclientid(struct nfs_be *nb, const char *name,
		     const verifier4 verifier, uint64_t *clientid);
int nfs4_renew(struct nfs_be *nb);

/* What an OPEN answered. */
struct nfs4_opened {
	struct nfs_fh fh;
	struct stat st;
	stateid4 stateid;
	bool confirm; /* a new owner: OPEN_CONFIRM before use */
};

/*
 * OPEN for OW, with its GETFH and GETATTR: of NAME in directory FH
 * (CLAIM_NULL), or, NAME NULL, a reclaim of the object FH after a server
 * restart (CLAIM_PREVIOUS). CREATE: -1 none, else the createmode4, with
 * MODE. CRED: who creates.
 */
int nfs4_open_call(struct nfs_be *nb, struct nfs4_owner *ow,
		   const struct nfs_fh *fh, const char *name, uint32_t access,
		   int create, mode_t mode, const struct podfs_cred *cred,
		   struct nfs4_opened *out, int *retries);
int nfs4_open_confirm(struct nfs_be *nb, struct nfs4_owner *ow,
		      const struct nfs_fh *fh, stateid4 *stateid);
/* Sends CLOSE without waiting for it: DONE is called with whether the
 * server answered (on a connection's thread, or here if it could not be
 * sent), when OW may be used again. */
void nfs4_close_call(struct nfs_be *nb, struct nfs4_owner *ow,
		     const struct nfs_fh *fh, const stateid4 *stateid,
		     void (*done)(struct nfs_be *nb, struct nfs4_owner *ow,
				  bool answered));

/* A conflicting lock a LOCK or LOCKT was denied by (NFS4ERR_DENIED). */
struct nfs4_denied {
	uint64_t offset, length;
	bool write;
	bool ours; /* held by a lock owner of this client */
};

/* LOCK of OFFSET+LENGTH for lock state L of the open with owner OW and
 * stateid OPEN_SID (used while L has no stateid yet): L's stateid on
 * success; on a conflict *STATUS NFS4ERR_DENIED and DENIED filled. State
 * errors are answers (*STATUS), not retried. The seqids are stamped as
 * it is sent and moved on as it is answered. */
int nfs4_lock_call(struct nfs_be *nb, struct nfs4_owner *ow,
		   struct nfs4_lock *l, const struct nfs_fh *fh,
		   const stateid4 *open_sid, bool write, bool reclaim,
		   uint64_t offset, uint64_t length,
		   struct nfs4_denied *denied, uint32_t *status);
int nfs4_locku_call(struct nfs_be *nb, struct nfs4_lock *l,
		    const struct nfs_fh *fh, uint64_t offset, uint64_t length,
		    uint32_t *status);
/* LOCKT for lock owner NAME: on a conflict *STATUS NFS4ERR_DENIED and
 * DENIED filled. */
int nfs4_lockt_call(struct nfs_be *nb, const struct nfs_fh *fh,
		    const char *name, bool write, uint64_t offset,
		    uint64_t length, struct nfs4_denied *denied,
		    uint32_t *status);
/* RELEASE_LOCKOWNER of lock owner NAME, sent and not waited for. */
void nfs4_release_lockowner(struct nfs_be *nb, const char *name);
/* Stamps L's seqid (and, for a first LOCK, its owner) into OP as it is
 * sent; moves it on as it is answered with STATUS. */
void nfs4_lock_stamp(struct nfs_be *nb, struct nfs4_lock *l, nfs_argop4 *op);
void nfs4_lock_answered(struct nfs4_lock *l, uint32_t status);

#endif /* PODFS_NFS4_H */
