/* SPDX-License-Identifier: MIT */
#include "smartos/manifest.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZERO_UUID "00000000-0000-0000-0000-000000000000"
/* The oldest platform whose bhyve boots these images with the nocloud
 * datasource (what Triton's importers put). */
#define MIN_PLATFORM "20260306T044811Z"

bool smartos_os_valid(const char *os)
{
	static const char *const known[] = { "linux", "bsd", "illumos", "smartos", "windows", "other" };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (os && strcmp(os, known[i]) == 0)
			return true;
	return false;
}

bool smartos_vendor_ssh_key(const char *vendor)
{
	return !(vendor && (strcmp(vendor, "talos") == 0 || strcmp(vendor, "smartos") == 0));
}

bool smartos_vendor_needs_bios(const char *vendor, const char *series)
{
	/* Oracle Linux 8 templates boot with legacy BIOS only. */
	return vendor && strcmp(vendor, "oracle") == 0 && series && strncmp(series, "8", 1) == 0;
}

char *smartos_manifest_json(const smartos_manifest *m)
{
	if (!m->uuid || strlen(m->uuid) != 36 || !m->name || !m->version || !smartos_os_valid(m->os) || !m->sha1 ||
	    strlen(m->sha1) != 40 || !m->bootrom)
		return NULL;
	char published[32];
	time_t t = (time_t)m->published_at;
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(published, sizeof(published), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	uint64_t mib = (m->virtual_size + (1u << 20) - 1) >> 20;

	json_t *j = json_object();
	json_t *files = json_array(), *file = json_object(), *req = json_object(), *nets = json_array(),
	       *net = json_object(), *minp = json_object(), *tags = json_object();
	int bad = !j || !files || !file || !req || !nets || !net || !minp || !tags;
	if (bad) {
		json_decref(j);
		json_decref(files);
		json_decref(file);
		json_decref(req);
		json_decref(nets);
		json_decref(net);
		json_decref(minp);
		json_decref(tags);
		return NULL;
	}
	bad |= json_object_set_new(j, "v", json_integer(2));
	bad |= json_object_set_new(j, "uuid", json_string(m->uuid));
	bad |= json_object_set_new(j, "owner", json_string(m->owner ? m->owner : ZERO_UUID));
	bad |= json_object_set_new(j, "name", json_string(m->name));
	bad |= json_object_set_new(j, "version", json_string(m->version));
	bad |= json_object_set_new(j, "state", json_string("active"));
	bad |= json_object_set_new(j, "disabled", json_false());
	bad |= json_object_set_new(j, "public", json_boolean(m->public_image));
	bad |= json_object_set_new(j, "published_at", json_string(published));
	bad |= json_object_set_new(j, "type", json_string("zvol"));
	bad |= json_object_set_new(j, "os", json_string(m->os));
	bad |= json_object_set_new(file, "sha1", json_string(m->sha1));
	bad |= json_object_set_new(file, "size", json_integer((json_int_t)m->file_size));
	bad |= json_object_set_new(file, "compression", json_string("gzip"));
	bad |= json_array_append_new(files, file);
	bad |= json_object_set_new(j, "files", files);
	if (m->description)
		bad |= json_object_set_new(j, "description", json_string(m->description));
	if (m->homepage)
		bad |= json_object_set_new(j, "homepage", json_string(m->homepage));
	bad |= json_object_set_new(net, "name", json_string("net0"));
	bad |= json_object_set_new(net, "description", json_string("public"));
	bad |= json_array_append_new(nets, net);
	bad |= json_object_set_new(req, "networks", nets);
	bad |= json_object_set_new(req, "brand", json_string("bhyve"));
	bad |= json_object_set_new(req, "bootrom", json_string(m->bootrom));
	if (m->ssh_key >= 0)
		bad |= json_object_set_new(req, "ssh_key", json_boolean(m->ssh_key));
	bad |= json_object_set_new(minp, "7.0", json_string(MIN_PLATFORM));
	bad |= json_object_set_new(req, "min_platform", minp);
	bad |= json_object_set_new(j, "requirements", req);
	bad |= json_object_set_new(j, "nic_driver", json_string("virtio"));
	bad |= json_object_set_new(j, "disk_driver", json_string("virtio"));
	bad |= json_object_set_new(j, "cpu_type", json_string("host"));
	bad |= json_object_set_new(j, "image_size", json_integer((json_int_t)mib));
	bad |= json_object_set_new(tags, "role", json_string("os"));
	bad |= json_object_set_new(tags, "org.smartos:cloudinit_datasource", json_string("nocloud"));
	bad |= json_object_set_new(j, "tags", tags);
	char *out = bad ? NULL : json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
	json_decref(j);
	if (out) {
		size_t n = strlen(out);
		char *nl = realloc(out, n + 2);
		if (!nl) {
			free(out);
			return NULL;
		}
		nl[n] = '\n';
		nl[n + 1] = '\0';
		out = nl;
	}
	return out;
}
