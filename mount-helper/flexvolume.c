/*
 * mount.podfs as a kubelet FlexVolume driver: "init", "mount DIR JSON" and
 * "unmount DIR", answered in JSON on stdout (json-c). Secrets arrive base64
 * encoded in the JSON and go to the library in memory, nowhere else.
 */
#include "config.h"

#include <errno.h>
#include <json-c/json.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mount_podfs.h"

#define K8S "kubernetes.io/"
#define SECRET K8S "secret/"

static const char *const calls[] = {
	"init", "mount", "unmount", "attach", "detach", "waitforattach",
	"isattached", "mountdevice", "unmountdevice", "getvolumename",
	"expandvolume", "expandfs", NULL,
};

bool is_flexvolume_call(const char *arg)
{
	for (const char *const *c = calls; *c; c++)
		if (!strcmp(*c, arg))
			return true;
	return false;
}

/* Prints {"status":STATUS[,"message":MSG][,"capabilities":{"attach":false}]} */
static int answer(const char *status, const char *msg, bool caps)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "status", json_object_new_string(status));
	if (msg)
		json_object_object_add(o, "message",
				       json_object_new_string(msg));
	if (caps) {
		json_object *c = json_object_new_object();

		json_object_object_add(c, "attach",
				       json_object_new_boolean(false));
		json_object_object_add(o, "capabilities", c);
	}
	printf("%s\n", json_object_to_json_string_ext(
					 o, JSON_C_TO_STRING_PLAIN |
						    JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(stdout);
	json_object_put(o);
	return strcmp(status, "Failure") ? 0 : 1;
}

/* Decodes base64 VALUE with OpenSSL; NULL if it is not base64. */
static char *decode_base64(const char *value)
{
	size_t len = strlen(value);
	unsigned char *out;
	int n;

	if (len % 4)
		return NULL;
	out = malloc(len / 4 * 3 + 1);
	if (!out)
		return NULL;
	n = EVP_DecodeBlock(out, (const unsigned char *)value, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the padding as data */
	if (len >= 1 && value[len - 1] == '=')
		n--;
	if (len >= 2 && value[len - 2] == '=')
		n--;
	out[n] = '\0';
	if (strlen((char *)out) != (size_t)n) { /* a NUL inside */
		explicit_bzero(out, (size_t)n);
		free(out);
		return NULL;
	}
	return (char *)out;
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* One secret: key (the Ceph key) and user/name (the cephx id). */
static int take_secret(struct mount_request *req, const char *key,
		       const char *value, char **user, char *err,
		       size_t errlen)
{
	char *plain = decode_base64(value);

	if (!plain) {
		snprintf(err, errlen, "secret '%s' is not valid base64", key);
		return -1;
	}
	if (!strcmp(key, "key")) {
		free_secret(req->secret);
		req->secret = plain;
		return 0;
	}
	if (!strcmp(key, "user") || !strcmp(key, "name")) {
		free_secret(*user);
		*user = plain;
		return 0;
	}
	free_secret(plain);
	snprintf(err, errlen,
		 "unknown secret '%s' (podfs reads 'key' and 'user')", key);
	return -1;
}

/* A user option from the volume's "options": flags are "true" (or ""),
 * "false" leaves them out; everything else is KEY=VALUE. */
static int take_option(struct mount_request *req, const char *key,
		       const char *value, char *err, size_t errlen)
{
	char *opt = NULL;
	int ret;

	if (!strcmp(value, "false"))
		return 0;
	if (!*value || !strcmp(value, "true"))
		ret = opts_append(&opt, key, NULL);
	else
		ret = opts_append(&opt, key, value);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ret = mount_request_add_options(req, opt, err, errlen);
	free(opt);
	return ret;
}

int flexvolume_parse(struct mount_request *req, const char *json, char *err,
		     size_t errlen)
{
	enum json_tokener_error jerr;
	json_object *o = json_tokener_parse_verbose(json, &jerr);
	const char *ns = NULL, *name = NULL, *uid = NULL;
	char *user = NULL;
	int ret = -1;

	if (!o) {
		snprintf(err, errlen, "malformed JSON options: %s",
			 json_tokener_error_desc(jerr));
		return -1;
	}
	if (!json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "JSON options are not an object");
		goto out;
	}
	json_object_object_foreach(o, key, val)
	{
		const char *v;

		if (!json_object_is_type(val, json_type_string)) {
			snprintf(err, errlen, "option '%s' is not a string",
				 key);
			goto out;
		}
		v = json_object_get_string(val);
		if (!strncmp(key, SECRET, strlen(SECRET))) {
			if (take_secret(req, key + strlen(SECRET), v, &user,
					err, errlen))
				goto out;
		} else if (!strcmp(key, K8S "readwrite")) {
			if (!strcmp(v, "ro") &&
			    mount_request_add_options(req, "ro", err, errlen))
				goto out;
		} else if (!strcmp(key, K8S "fsGroup") ||
			   !strcmp(key, K8S "mounterArgs.FsGroup")) {
			/* the second is what kubelets since 1.15 send */
			char *end;

			errno = 0;
			req->fsgroup = strtol(v, &end, 10);
			if (errno || *end || !*v || req->fsgroup < 0) {
				snprintf(err, errlen, "bad fsGroup '%s'", v);
				goto out;
			}
		} else if (!strcmp(key, K8S "fsType")) {
			if (*v && strcmp(v, "podfs")) {
				snprintf(err, errlen,
					 "fsType '%s' is not podfs", v);
				goto out;
			}
		} else if (!strcmp(key, K8S "pod.namespace")) {
			ns = v;
		} else if (!strcmp(key, K8S "pod.name")) {
			name = v;
		} else if (!strcmp(key, K8S "pod.uid")) {
			uid = v;
		} else if (!strncmp(key, K8S, strlen(K8S))) {
			/* the volume name, service account, and what newer
			 * kubelets add: nothing the mount needs */
		} else if (!strcmp(key, "source")) {
			free(req->source);
			req->source = strdup(v);
		} else if (take_option(req, key, v, err, errlen)) {
			goto out;
		}
	}
	if (!req->source || !*req->source) {
		snprintf(err, errlen, "no 'source' in the volume's options");
		goto out;
	}
	if (user && opts_append(&req->lib_opts, "name", user)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (req->fsgroup >= 0) {
		char gid[32];

		/* files appear group-owned by fsGroup; new ones get it */
		snprintf(gid, sizeof(gid), "%ld", req->fsgroup);
		if (opts_append(&req->lib_opts, "gid", gid)) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	}
	if ((ns || name || uid) &&
	    asprintf(&req->pod, "%s/%s (%s)", ns ? ns : "?", name ? name : "?",
		     uid ? uid : "?") < 0)
		req->pod = NULL;
	ret = 0;
out:
	free_secret(user);
	json_object_put(o);
	return ret;
}

/* JSON holds the secrets: once parsed, it is wiped from our argv, so the
 * daemon (a fork of this process) never shows it in /proc/PID/cmdline. */
static int flex_mount(const char *dir, char *json)
{
	struct mount_request req;
	char err[1024];
	int ret;

	mount_request_init(&req);
	req.dir = absolute_path(dir);
	if (!req.dir) {
		mount_request_free(&req);
		return answer("Failure", strerror(errno), false);
	}
	ret = flexvolume_parse(&req, json, err, sizeof(err));
	explicit_bzero(json, strlen(json));
	if (!ret)
		ret = mount_volume(&req, err, sizeof(err));
	mount_request_free(&req);
	return ret ? answer("Failure", err, false) : answer("Success", NULL, false);
}

static int flex_unmount(const char *dir)
{
	char err[1024], *abs = absolute_path(dir);
	int ret;

	if (!abs)
		return answer("Failure", strerror(errno), false);
	ret = unmount_volume(abs, err, sizeof(err));
	free(abs);
	return ret ? answer("Failure", err, false) : answer("Success", NULL, false);
}

int flexvolume_main(int argc, char **argv)
{
	const char *call = argv[0];

	if (!strcmp(call, "init") && argc == 1)
		return answer("Success", NULL, true);
	if (!strcmp(call, "mount") && argc == 3)
		return flex_mount(argv[1], argv[2]);
	if (!strcmp(call, "unmount") && argc == 2)
		return flex_unmount(argv[1]);
	if (!strcmp(call, "init") || !strcmp(call, "mount") ||
	    !strcmp(call, "unmount"))
		return answer("Failure", "wrong number of arguments", false);
	return answer("Not supported", "podfs volumes need no attach step",
		      false);
}
