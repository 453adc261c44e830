/*
 * Error messages: every failed call leaves one, per thread (what
 * podfs_errmsg gives that thread) and per volume (for a thread that never
 * failed on it).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/* The message of the last failed call of this thread, and its volume. */
static __thread struct {
	const struct podfs_volume *vol;
	bool fresh; /* set since the current call began */
	char msg[MSG_LEN];
} tls_err;

int podfs_set_error(struct podfs_volume *vol, int err, const char *fmt, ...)
{
	va_list ap;

	if (err < 0)
		err = -err;
	va_start(ap, fmt);
	vsnprintf(tls_err.msg, sizeof(tls_err.msg), fmt, ap);
	va_end(ap);
	tls_err.vol = vol;
	tls_err.fresh = true;
	pthread_mutex_lock(&vol->lock);
	memcpy(vol->msg, tls_err.msg, sizeof(vol->msg));
	pthread_mutex_unlock(&vol->lock);
	return -err;
}

void error_begin(void)
{
	tls_err.fresh = false;
}

int error_ensure(struct podfs_volume *vol, int ret, const char *what)
{
	if (ret >= 0)
		return ret;
	if (tls_err.vol != vol || !tls_err.fresh)
		podfs_set_error(vol, ret, "%s: %s", what, strerror(-ret));
	return ret;
}

char *error_copy(const struct podfs_volume *vol)
{
	return tls_err.vol == vol && tls_err.fresh ? strdup(tls_err.msg) :
						     NULL;
}

void error_set_mine(struct podfs_volume *vol, const char *msg)
{
	snprintf(tls_err.msg, sizeof(tls_err.msg), "%s", msg);
	tls_err.vol = vol;
	tls_err.fresh = true;
}

void error_forget_volume(const struct podfs_volume *vol)
{
	if (tls_err.vol == vol)
		tls_err.vol = NULL;
}

PODFS_EXPORT const char *podfs_errmsg(podfs_volume *vol)
{
	if (!vol)
		return "no volume";
	if (tls_err.vol != vol) {
		pthread_mutex_lock(&vol->lock);
		memcpy(tls_err.msg, vol->msg, sizeof(tls_err.msg));
		pthread_mutex_unlock(&vol->lock);
		tls_err.vol = vol;
	}
	return tls_err.msg[0] ? tls_err.msg : "no error";
}

void podfs_free_secret(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}
