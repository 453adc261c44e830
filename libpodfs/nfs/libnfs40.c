/*
 * Full-size NFSv4 COMPOUNDs (and NFSv3 SYMLINKs) on libnfs 4.0. Delete this file (and its
 * configure check) once libnfs 5 or newer is required: there
 * rpc_nfs4_compound_async2() takes the encode buffer's size.
 *
 * libnfs 4.0's rpc_nfs4_compound_async() encodes into a buffer of
 * ZDR_ENCODEBUF_MINSIZE (4096) bytes (lib/pdu.c, rpc_allocate_pdu2() with
 * alloc_hint 0), so a WRITE of more than about 3.9 KiB cannot be sent.
 * rpc_allocate_pdu2() is exported by libnfs 4.0 but declared only in its
 * private header, as are rpc_queue_pdu() and rpc_free_pdu(): we allocate
 * the PDU with room for the data, encode the arguments into the PDU's ZDR
 * stream ourselves, and queue it, as rpc_nfs4_compound_async() does.
 * The ZDR stream's place in struct rpc_pdu is that of libnfs-4.0.0's
 * include/libnfs-private.h; configure only builds this file against libnfs
 * 4.0, and nfs4_compound_check() tests the layout at attach time.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#ifdef HAVE_RPC_NFS4_COMPOUND_ASYNC2

int nfs4_compound_send(struct rpc_context *rpc, rpc_cb cb,
		       COMPOUND4args *args, void *priv, size_t size)
{
	return rpc_nfs4_compound_async2(rpc, cb, args, priv, size);
}

int nfs4_compound_check(char *why, size_t len)
{
	(void)why;
	(void)len;
	return 0;
}

int nfs3_symlink_send(struct rpc_context *rpc, rpc_cb cb, SYMLINK3args *args,
		      void *priv)
{
	return rpc_nfs3_symlink_async(rpc, cb, args, priv);
}

#else /* libnfs 4.0 */

/* libnfs-4.0.0 include/libnfs-private.h: the head of struct rpc_pdu. */
struct libnfs40_pdu {
	struct libnfs40_pdu *next;
	uint32_t xid;
	ZDR zdr;
};

/* libnfs-4.0.0's private declarations, under their exported names. */
extern struct libnfs40_pdu *
rpc_allocate_pdu2(struct rpc_context *rpc, int program, int version,
		  int procedure, rpc_cb cb, void *private_data,
		  zdrproc_t zdr_decode_fn, int zdr_decode_bufsize,
		  size_t alloc_hint);
extern int rpc_queue_pdu(struct rpc_context *rpc, struct libnfs40_pdu *pdu);
extern void rpc_free_pdu(struct rpc_context *rpc, struct libnfs40_pdu *pdu);
extern void rpc_set_error(struct rpc_context *rpc, const char *error_string,
			  ...) PODFS_PRINTF(2, 3);

/* ZDR_ENCODEBUF_MINSIZE of libnfs 4.0 */
#define LIBNFS40_MINSIZE 4096


/* Whether PDU's stream is what rpc_allocate_pdu2 of libnfs 4.0 leaves:
 * encoding, SIZE + 4096 bytes, the RPC call header written. */
static bool pdu_sane(const struct libnfs40_pdu *pdu, size_t size)
{
	return pdu->zdr.x_op == ZDR_ENCODE && pdu->zdr.buf &&
	       pdu->zdr.size == (int)(LIBNFS40_MINSIZE + size) &&
	       pdu->zdr.pos > 40 && pdu->zdr.pos < 400 && !pdu->zdr.mem;
}

/* Queues call PROC of PROGRAM VERSION with ARGS (encoded by ENCODE into
 * a buffer SIZE bytes beyond the RPC header), as libnfs' own rpc_*_async
 * calls do. */
static int send_sized(struct rpc_context *rpc, int program, int version,
		      int proc, zdrproc_t encode, void *args, zdrproc_t decode,
		      int decode_size, rpc_cb cb, void *priv, size_t size)
{
	struct libnfs40_pdu *pdu;

	pdu = rpc_allocate_pdu2(rpc, program, version, proc, cb, priv, decode,
				decode_size, size);
	if (!pdu) {
		rpc_set_error(rpc, "out of memory for an NFS call");
		return -1;
	}
	if (!encode(&pdu->zdr, args)) {
		rpc_set_error(rpc, "cannot encode an NFS call of %zu bytes",
			      size);
		rpc_free_pdu(rpc, pdu);
		return -2;
	}
	if (rpc_queue_pdu(rpc, pdu)) {
		rpc_set_error(rpc, "cannot queue an NFS call");
		return -3;
	}
	return 0;
}

int nfs4_compound_send(struct rpc_context *rpc, rpc_cb cb,
		       COMPOUND4args *args, void *priv, size_t size)
{
	return send_sized(rpc, NFS4_PROGRAM, NFS_V4, NFSPROC4_COMPOUND,
			  (zdrproc_t)zdr_COMPOUND4args, args,
			  (zdrproc_t)zdr_COMPOUND4res, sizeof(COMPOUND4res), cb,
			  priv, size);
}

/* libnfs 4.0's rpc_nfs3_symlink_async has the same 4 KiB buffer: a
 * target of up to PATH_MAX must fit. */
int nfs3_symlink_send(struct rpc_context *rpc, rpc_cb cb, SYMLINK3args *args,
		      void *priv)
{
	size_t size = strlen(args->symlink.symlink_data) +
		      strlen(args->where.name) + args->where.dir.data.data_len +
		      512;

	return send_sized(rpc, NFS_PROGRAM, NFS_V3, NFS3_SYMLINK,
			  (zdrproc_t)zdr_SYMLINK3args, args,
			  (zdrproc_t)zdr_SYMLINK3res, sizeof(SYMLINK3res), cb,
			  priv, size);
}

int nfs4_compound_check(char *why, size_t len)
{
	const size_t size = 8192;
	struct libnfs40_pdu *pdu;
	struct rpc_context *rpc;
	bool sane;

	rpc = rpc_init_context();
	if (!rpc) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	pdu = rpc_allocate_pdu2(rpc, NFS4_PROGRAM, NFS_V4, NFSPROC4_COMPOUND,
				NULL, NULL, (zdrproc_t)zdr_COMPOUND4res,
				sizeof(COMPOUND4res), size);
	sane = pdu && pdu_sane(pdu, size);
	if (pdu)
		rpc_free_pdu(rpc, pdu);
	rpc_destroy_context(rpc);
	if (sane)
		return 0;
	snprintf(why, len,
		 "this libnfs is not the 4.0 podfs was built for (its RPC call layout differs): rebuild podfs against it");
	return -ENOTSUP;
}

#endif
