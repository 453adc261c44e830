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

#endif /* PODFS_NFS4_H */
