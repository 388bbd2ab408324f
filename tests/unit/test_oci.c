/* SPDX-License-Identifier: MIT */
/* Unit tests for the OCI parsers: references, WWW-Authenticate challenges,
 * manifests and indexes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "oci/manifest.h"
#include "oci/ref.h"
#include "oci/www_auth.h"
#include "tap.h"

#define D256 "sha256:5c3ddb00f60bc455dac0862fabe9d8bacec46c33ac1751143c5c3683404b110d"
#define D256B "sha256:57fe71d0ba705536b4aec87222727b19e0b1a3c4d5e6f708192a3b4c5d6e7f80"
#define D256C "sha256:0000000000000000000000000000000000000000000000000000000000000001"
#define D512                                                                                                 \
	"sha512:" "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f" \
	"63b931bd47417a81a538327af927da3e"

static void refs_valid(void)
{
	static const struct {
		const char *in, *host;
		unsigned port;
		const char *repo, *tag, *digest;
		oci_ref_scheme scheme;
		const char *canon;
	} v[] = {
		{ "oras://ghcr.io/kubesolo/os:v1.0", "ghcr.io", 0, "kubesolo/os", "v1.0", NULL, OCI_REF_ORAS, NULL },
		{ "ghcr.io/kubesolo/os", "ghcr.io", 0, "kubesolo/os", "latest", NULL, OCI_REF_PLAIN,
		  "ghcr.io/kubesolo/os:latest" },
		{ "127.0.0.1:5443/kubesolo/os:v1.0", "127.0.0.1", 5443, "kubesolo/os", "v1.0", NULL, OCI_REF_PLAIN, NULL },
		{ "localhost/x", "localhost", 0, "x", "latest", NULL, OCI_REF_PLAIN, "localhost/x:latest" },
		{ "localhost:5000/a/b/c:t", "localhost", 5000, "a/b/c", "t", NULL, OCI_REF_PLAIN, NULL },
		{ "oras://[::1]:5001/repo@" D256, "[::1]", 5001, "repo", NULL, D256, OCI_REF_ORAS, NULL },
		{ "[2001:db8::1]/r:tag", "[2001:db8::1]", 0, "r", "tag", NULL, OCI_REF_PLAIN, NULL },
		{ "reg.example.com/os:v2@" D256, "reg.example.com", 0, "os", "v2", D256, OCI_REF_PLAIN, NULL },
		{ "Reg.Example.COM/os@" D512, "reg.example.com", 0, "os", NULL, D512, OCI_REF_PLAIN,
		  "reg.example.com/os@" D512 },
		{ "ORAS://r.io/a-b__c.d_e/f---g:_T.a-g", "r.io", 0, "a-b__c.d_e/f---g", "_T.a-g", NULL, OCI_REF_ORAS,
		  "oras://r.io/a-b__c.d_e/f---g:_T.a-g" },
		{ "r.io:65535/x:1", "r.io", 65535, "x", "1", NULL, OCI_REF_PLAIN, NULL },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		oci_ref r;
		char err[256] = "";
		int rc = oci_ref_parse(v[i].in, &r, err, sizeof(err));
		if (!TAP_CHECK_INT_EQ(rc, 0, "reference %s parses", v[i].in)) {
			tap_diag("%s", err);
			continue;
		}
		TAP_CHECK(strcmp(r.host, v[i].host) == 0 && r.port == v[i].port && strcmp(r.repository, v[i].repo) == 0 &&
		                  r.scheme == v[i].scheme,
		          "  host/port/repository/scheme of %s", v[i].in);
		TAP_CHECK_STR_EQ(r.tag, v[i].tag, "  tag of %s", v[i].in);
		TAP_CHECK_STR_EQ(r.digest, v[i].digest, "  digest of %s", v[i].in);
		char *s = oci_ref_format(&r);
		TAP_CHECK_STR_EQ(s, v[i].canon ? v[i].canon : v[i].in, "  formats back");
		oci_ref r2;
		TAP_CHECK(s && oci_ref_parse(s, &r2, NULL, 0) == 0 && strcmp(r2.host, r.host) == 0 && r2.port == r.port,
		          "  the canonical form parses again");
		oci_ref_clear(&r2);
		free(s);
		oci_ref_clear(&r);
	}
}

static void refs_invalid(void)
{
	static const char *bad[] = {
		"",
		"alpine",
		"library/alpine:3",           /* no registry host: no docker.io default */
		"kubesolo/os",
		"ghcr.io/KubeSolo/os",         /* uppercase repository */
		"ghcr.io",                     /* no repository */
		"ghcr.io/",
		"ghcr.io/os/",
		"ghcr.io//os",
		"ghcr.io/os:",
		"ghcr.io/os:.tag",
		"ghcr.io/os:-tag",
		"ghcr.io/os@",
		"ghcr.io/os@sha256:abc",
		"ghcr.io/os@sha256:5C3DDB00F60BC455DAC0862FABE9D8BACEC46C33AC1751143C5C3683404B110D",
		"ghcr.io/os@md5:d41d8cd98f00b204e9800998ecf8427e",
		"ghcr.io/os@" D256 "0",
		"ghcr.io:0/os",
		"ghcr.io:65536/os",
		"ghcr.io:/os",
		"ghcr.io:x/os",
		"[::1/os",
		"[zz::1]/os",
		"[::1]x/os",
		"-bad.io/os",
		"bad-.io/os",
		"a..b/os",
		"https://ghcr.io/os",
		"docker://ghcr.io/os",
		"ghcr.io/o s",
		"ghcr.io/os\n",
		"ghcr.io/a_-b",
		"ghcr.io/a___b",
		"ghcr.io/a.",
		"ghcr.io/.a",
		"ghcr.io/os:t@g",
		"ghcr.io/os:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"oras://",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		oci_ref r;
		char err[256] = "";
		int rc = oci_ref_parse(bad[i], &r, err, sizeof(err));
		TAP_CHECK(rc == -EBADMSG && err[0] && !r.host && !r.repository, "invalid reference %zu refused: %s", i, err);
	}
	char err[256] = "";
	oci_ref r;
	oci_ref_parse("ghcr.io/KubeSolo/os", &r, err, sizeof(err));
	TAP_CHECK(strstr(err, "lowercase") != NULL, "uppercase gets its own message");
	oci_ref_parse("library/alpine", &r, err, sizeof(err));
	TAP_CHECK(strstr(err, "registry host") != NULL, "a missing host says so");

	/* 255 is the repository cap, 4 KiB the whole reference. */
	char buf[5000];
	strcpy(buf, "r.io/");
	memset(buf + 5, 'a', 255);
	buf[260] = '\0';
	TAP_CHECK_INT_EQ(oci_ref_parse(buf, &r, NULL, 0), 0, "255-byte repository accepted");
	oci_ref_clear(&r);
	strcpy(buf + 259, "aa");
	TAP_CHECK_INT_EQ(oci_ref_parse(buf, &r, NULL, 0), -EBADMSG, "256-byte repository refused");
	memset(buf + 5, 'a', 4200);
	buf[4205] = '\0';
	TAP_CHECK_INT_EQ(oci_ref_parse(buf, &r, err, sizeof(err)), -EFBIG, "over 4 KiB: -EFBIG");
	TAP_CHECK(oci_digest_valid(D256) && oci_digest_valid(D512) && !oci_digest_valid("sha256:") &&
	                  !oci_digest_valid(NULL) && !oci_digest_valid("sha384:5c3ddb00f60bc455dac0862fabe9d8bacec46c33ac1751143c5c3683404b110d"),
	          "digest syntax");
}

static oci_auth_challenges auth(const char *h, int want)
{
	oci_auth_challenges c;
	char err[256] = "";
	int r = oci_www_auth_parse(h, strlen(h), &c, err, sizeof(err));
	TAP_CHECK_INT_EQ(r, want, "challenge %s%s%s", h, err[0] ? " — " : "", err);
	if (r < 0)
		TAP_CHECK(err[0] && c.n == 0 && !c.v, "  message and empty result");
	return c;
}

static void challenges(void)
{
	oci_auth_challenges c = auth(
		"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		"scope=\"repository:library/alpine:pull\"", 0);
	TAP_CHECK(c.n == 1 && c.v[0].kind == OCI_AUTH_BEARER && c.v[0].n_params == 3, "  Docker Hub: one Bearer, 3 params");
	TAP_CHECK_STR_EQ(oci_auth_param_get(&c.v[0], "realm"), "https://auth.docker.io/token", "  realm");
	TAP_CHECK_STR_EQ(oci_auth_param_get(&c.v[0], "SERVICE"), "registry.docker.io", "  service, case-insensitive");
	TAP_CHECK_STR_EQ(oci_auth_param_get(&c.v[0], "scope"), "repository:library/alpine:pull", "  scope");
	TAP_CHECK(oci_auth_param_get(&c.v[0], "error") == NULL, "  absent param is NULL");
	oci_www_auth_clear(&c);

	c = auth("Bearer realm=\"https://127.0.0.1:5544/token\",service=\"test-registry\","
	         "scope=\"repository:other/repo:pull,push repository:kubesolo/os:pull\",error=\"insufficient_scope\"",
	         0);
	TAP_CHECK(c.n == 1 && c.v[0].n_params == 4, "  quoted commas stay in the value");
	TAP_CHECK_STR_EQ(oci_auth_param_get(&c.v[0], "scope"), "repository:other/repo:pull,push repository:kubesolo/os:pull",
	                 "  space-separated scopes kept whole");
	TAP_CHECK_STR_EQ(oci_auth_param_get(&c.v[0], "error"), "insufficient_scope", "  error");
	oci_www_auth_clear(&c);

	c = auth("Basic realm=\"test-registry\"", 0);
	TAP_CHECK(c.n == 1 && c.v[0].kind == OCI_AUTH_BASIC && oci_auth_find(&c, OCI_AUTH_BASIC) == &c.v[0] &&
	                  !oci_auth_find(&c, OCI_AUTH_BEARER),
	          "  distribution htpasswd challenge");
	oci_www_auth_clear(&c);

	c = auth("bearer Realm = \"a\\\"b\\\\c\" , error=invalid_token, Basic realm=x,charset=\"UTF-8\"", 0);
	TAP_CHECK(c.n == 2 && c.v[0].kind == OCI_AUTH_BEARER && c.v[1].kind == OCI_AUTH_BASIC, "  two challenges");
	TAP_CHECK_STR_EQ(oci_auth_param_get(&c.v[0], "realm"), "a\"b\\c", "  escapes resolved, BWS around '='");
	TAP_CHECK_STR_EQ(oci_auth_param_get(&c.v[0], "error"), "invalid_token", "  token value");
	TAP_CHECK_STR_EQ(oci_auth_param_get(&c.v[1], "charset"), "UTF-8", "  second challenge's params");
	TAP_CHECK_STR_EQ(c.v[1].scheme, "Basic", "  scheme kept as sent");
	oci_www_auth_clear(&c);

	c = auth("Negotiate, NTLM abc+/d==, Bearer realm=\"r\"", 0);
	TAP_CHECK(c.n == 3 && c.v[0].kind == OCI_AUTH_OTHER && c.v[0].n_params == 0, "  bare scheme");
	TAP_CHECK_STR_EQ(c.n == 3 ? c.v[1].token68 : NULL, "abc+/d==", "  token68");
	TAP_CHECK(oci_auth_find(&c, OCI_AUTH_BEARER) == &c.v[2], "  Bearer found third");
	oci_www_auth_clear(&c);

	c = auth("Bearer realm=\"x\",,  ,service=\"y\"", 0);
	TAP_CHECK(c.n == 1 && c.v[0].n_params == 2, "  empty list elements ignored");
	oci_www_auth_clear(&c);

	const char *bad[] = { "", " , ", "Bearer realm=\"x", "Bearer realm=\"x\\", "Bearer realm=\"\"x", "Bearer =x",
		              "Bearer realm=\"a\" service=\"b\"", "Bearer realm=\"a\",realm=\"b\"", "\"Bearer\"",
		              "Bearer realm=\"a\x01\"", "Bearer realm=\"x\"; service=y", "Bearer abc== def" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		auth(bad[i], -EBADMSG);

	char big[9000];
	memset(big, 'a', sizeof(big));
	oci_auth_challenges cc;
	TAP_CHECK_INT_EQ(oci_www_auth_parse(big, sizeof(big), &cc, NULL, 0), -EFBIG, "header over 8 KiB");
	char many[2048] = "Bearer ";
	for (int i = 0; i < 33; i++)
		sprintf(many + strlen(many), "%sk%d=v", i ? "," : "", i);
	TAP_CHECK_INT_EQ(oci_www_auth_parse(many, strlen(many), &cc, NULL, 0), -EFBIG, "33 params");
	many[strlen(many) - 6] = '\0';
	TAP_CHECK_INT_EQ(oci_www_auth_parse(many, strlen(many), &cc, NULL, 0), 0, "32 params");
	oci_www_auth_clear(&cc);
}

static const char oci_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D256 "\",\"size\":889,"
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D256B "\",\"size\":890,"
	"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"},"
	"\"annotations\":{\"io.kubesolo.os.architecture\":\"arm64\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D256C "\",\"size\":891,"
	"\"platform\":{\"architecture\":\"riscv64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D256C "\",\"size\":1,"
	"\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}],"
	"\"annotations\":{\"org.opencontainers.image.version\":\"1.0\"}}";

static const char docker_list[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":["
	"{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,\"digest\":\"" D256 "\","
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,\"digest\":\"" D256B "\","
	"\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
	"{\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\",\"size\":528,\"digest\":\"" D256C "\","
	"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\"}}]}";

static const char artifact[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
	"\"artifactType\":\"application/vnd.kubesolo.os.image.v1\","
	"\"config\":{\"mediaType\":\"application/vnd.kubesolo.os.config.v1+json\",\"digest\":\"" D256 "\",\"size\":33},"
	"\"layers\":["
	"{\"mediaType\":\"application/vnd.kubesolo.os.kernel.v1+octet-stream\",\"digest\":\"" D256B "\",\"size\":300000,"
	"\"annotations\":{\"org.opencontainers.image.title\":\"vmlinuz\"}},"
	"{\"mediaType\":\"application/vnd.kubesolo.os.initrd.v1+octet-stream\",\"digest\":\"" D512 "\",\"size\":123457,"
	"\"annotations\":{\"org.opencontainers.image.title\":\"../../etc/passwd\"}},"
	"{\"mediaType\":\"application/octet-stream\",\"digest\":\"" D256C "\",\"size\":9007199254740992}],"
	"\"subject\":{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D256C "\",\"size\":7},"
	"\"annotations\":{\"org.opencontainers.image.created\":\"2024-01-01T00:00:00Z\"}}";

static int mparse(const char *j, oci_manifest *m, char *err, size_t errlen)
{
	return oci_manifest_parse(j, strlen(j), m, err, errlen);
}

static void manifests(void)
{
	oci_manifest m;
	char err[256] = "";
	TAP_CHECK_INT_EQ(mparse(oci_index, &m, err, sizeof(err)), 0, "OCI index parses %s", err);
	TAP_CHECK(m.kind == OCI_KIND_INDEX && m.n_manifests == 4 && !m.config && m.n_annotations == 1, "  an index of 4");
	TAP_CHECK_STR_EQ(oci_index_select(&m, "linux/arm64") ? oci_index_select(&m, "linux/arm64")->digest : NULL, D256B,
	                 "  linux/arm64 selects the v8 entry");
	TAP_CHECK(oci_index_select(&m, "linux/arm64/v8") == &m.manifests[1] && oci_index_select(&m, "linux/amd64") == &m.manifests[0] &&
	                  !oci_index_select(&m, "linux/arm64/v9") && !oci_index_select(&m, "linux/s390x") &&
	                  !oci_index_select(&m, "linux") && !oci_index_select(&m, "windows/amd64"),
	          "  platform selection");
	TAP_CHECK_STR_EQ(oci_annotation_get(m.manifests[1].annotations, m.manifests[1].n_annotations,
	                                    "io.kubesolo.os.architecture"), "arm64", "  entry annotations");
	char *pl = oci_platforms_list(&m);
	TAP_CHECK_STR_EQ(pl, "linux/amd64, linux/arm64/v8, linux/riscv64", "  platform list (unknown/unknown left out)");
	free(pl);
	oci_manifest_clear(&m);

	TAP_CHECK_INT_EQ(mparse(docker_list, &m, err, sizeof(err)), 0, "Docker manifest list parses %s", err);
	TAP_CHECK(m.kind == OCI_KIND_DOCKER_LIST && oci_kind_is_index(m.kind) && m.n_manifests == 3, "  kind");
	TAP_CHECK(oci_index_select(&m, "linux/arm64/v8") == &m.manifests[2] && oci_index_select(&m, "linux/arm/v7") == &m.manifests[1] &&
	                  oci_index_select(&m, "linux/arm") == &m.manifests[1] && !oci_index_select(&m, "linux/arm/v6"),
	          "  arm64 without variant is v8; arm variants exact");
	pl = oci_platforms_list(&m);
	TAP_CHECK_STR_EQ(pl, "linux/amd64, linux/arm/v7, linux/arm64", "  platform list as sent");
	free(pl);
	oci_manifest_clear(&m);

	TAP_CHECK_INT_EQ(mparse(artifact, &m, err, sizeof(err)), 0, "artifact manifest parses %s", err);
	TAP_CHECK(m.kind == OCI_KIND_MANIFEST && m.n_layers == 3 && m.config && m.subject, "  config, 3 layers, subject");
	TAP_CHECK_STR_EQ(m.artifact_type, "application/vnd.kubesolo.os.image.v1", "  artifactType");
	TAP_CHECK_STR_EQ(m.config->media_type, "application/vnd.kubesolo.os.config.v1+json", "  config media type");
	TAP_CHECK_STR_EQ(oci_descriptor_title(&m.layers[0]), "vmlinuz", "  safe title");
	TAP_CHECK(oci_descriptor_title(&m.layers[1]) == NULL, "  traversal title refused");
	TAP_CHECK(oci_descriptor_title(&m.layers[2]) == NULL, "  no title");
	TAP_CHECK(m.layers[0].size == 300000 && m.layers[2].size == 9007199254740992LL, "  sizes up to 2^53");
	TAP_CHECK_STR_EQ(m.layers[1].digest, D512, "  sha512 digest");
	oci_manifest_clear(&m);

	const char *by_content[] = {
		"{\"schemaVersion\":2,\"manifests\":[]}",
		"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a/b\",\"digest\":\"" D256 "\",\"size\":0},\"layers\":[]}",
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
		"\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\",\"digest\":\"" D256 "\",\"size\":1469},"
		"\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"digest\":\"" D256B "\",\"size\":3370628}]}",
	};
	const oci_kind kinds[] = { OCI_KIND_INDEX, OCI_KIND_MANIFEST, OCI_KIND_DOCKER_MANIFEST };
	for (size_t i = 0; i < 3; i++) {
		TAP_CHECK_INT_EQ(mparse(by_content[i], &m, err, sizeof(err)), 0, "document %zu parses %s", i, err);
		TAP_CHECK_INT_EQ(m.kind, kinds[i], "  kind %zu", i);
		oci_manifest_clear(&m);
	}

#define DESC(extra) "{\"mediaType\":\"a/b\",\"digest\":\"" D256 "\",\"size\":1" extra "}"
#define MAN(layer) "{\"schemaVersion\":2,\"config\":" DESC("") ",\"layers\":[" layer "]}"
	const char *bad[] = {
		"", "[]", "{", "null", "{\"schemaVersion\":2}",
		"{\"schemaVersion\":1,\"manifests\":[]}",
		"{\"manifests\":[]}",
		"{\"schemaVersion\":2,\"manifests\":[],\"layers\":[]}",
		"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.artifact.manifest.v1+json\",\"blobs\":[]}",
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"layers\":[]}",
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\",\"manifests\":[]}",
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\",\"layers\":[]}",
		"{\"schemaVersion\":2,\"manifests\":[],\"manifests\":[]}",
		"{\"schemaVersion\":2,\"manifests\":{}}",
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_DOCKER_LIST "\",\"manifests\":[" DESC("") "]}",
		MAN(DESC(",\"size\":2")),
		MAN("{\"mediaType\":\"a/b\",\"digest\":\"sha256:abc\",\"size\":1}"),
		MAN("{\"mediaType\":\"a/b\",\"digest\":\"" D256 "\",\"size\":-1}"),
		MAN("{\"mediaType\":\"a/b\",\"digest\":\"" D256 "\",\"size\":9007199254740993}"),
		MAN("{\"mediaType\":\"a/b\",\"digest\":\"" D256 "\",\"size\":1.5}"),
		MAN("{\"mediaType\":\"a/b\",\"digest\":\"" D256 "\",\"size\":\"1\"}"),
		MAN("{\"mediaType\":\"a b\",\"digest\":\"" D256 "\",\"size\":1}"),
		MAN("{\"mediaType\":\"\",\"digest\":\"" D256 "\",\"size\":1}"),
		MAN("{\"mediaType\":\"a/\\u0000b\",\"digest\":\"" D256 "\",\"size\":1}"),
		MAN("{\"digest\":\"" D256 "\",\"size\":1}"),
		MAN(DESC(",\"annotations\":{\"k\":1}")),
		MAN(DESC(",\"annotations\":[]")),
		MAN(DESC(",\"artifactType\":7")),
		MAN("7"),
		"{\"schemaVersion\":2,\"manifests\":[" DESC(",\"platform\":{\"os\":\"linux\"}") "]}",
		"{\"schemaVersion\":2,\"manifests\":[" DESC(",\"platform\":{\"os\":\"linux\",\"architecture\":\"a/b\"}") "]}",
		"{\"schemaVersion\":2,\"manifests\":[],\"subject\":{}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		int r = mparse(bad[i], &m, err, sizeof(err));
		TAP_CHECK(r == -EBADMSG && err[0] && m.kind == OCI_KIND_UNKNOWN && !m.layers, "malformed document %zu refused: %s",
		          i, err);
	}

	/* Caps: 65 annotations, a 4 KiB + 1 value, 1001 descriptors, 4 MiB + 1. */
	char *big = malloc(OCI_MANIFEST_MAX_BYTES + 2);
	strcpy(big, "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{");
	for (int i = 0; i < 65; i++)
		sprintf(big + strlen(big), "%s\"k%d\":\"v\"", i ? "," : "", i);
	strcat(big, "}}");
	TAP_CHECK_INT_EQ(mparse(big, &m, err, sizeof(err)), -EFBIG, "65 annotations: -EFBIG");
	strcpy(big, "{\"schemaVersion\":2,\"manifests\":[],\"annotations\":{\"k\":\"");
	size_t n = strlen(big);
	memset(big + n, 'v', 4097);
	strcpy(big + n + 4097, "\"}}");
	TAP_CHECK_INT_EQ(mparse(big, &m, err, sizeof(err)), -EFBIG, "4097-byte annotation value: -EFBIG");
	big[n + 4096] = '"';
	strcpy(big + n + 4096, "\"}}");
	TAP_CHECK_INT_EQ(mparse(big, &m, err, sizeof(err)), 0, "4096-byte annotation value accepted");
	oci_manifest_clear(&m);
	strcpy(big, "{\"schemaVersion\":2,\"manifests\":[");
	for (int i = 0; i < 1001; i++)
		strcat(big + strlen(big) - 1, i ? "," DESC("") : DESC(""));
	strcat(big, "]}");
	TAP_CHECK_INT_EQ(mparse(big, &m, err, sizeof(err)), -EFBIG, "1001 descriptors: -EFBIG");
	memset(big, ' ', OCI_MANIFEST_MAX_BYTES + 1);
	TAP_CHECK_INT_EQ(oci_manifest_parse(big, OCI_MANIFEST_MAX_BYTES + 1, &m, err, sizeof(err)), -EFBIG, "over 4 MiB");
	free(big);

	TAP_CHECK(oci_kind_from_media_type(OCI_MT_DOCKER_MANIFEST) == OCI_KIND_DOCKER_MANIFEST &&
	                  oci_kind_from_media_type("text/plain") == OCI_KIND_UNKNOWN && oci_kind_from_media_type(NULL) == OCI_KIND_UNKNOWN,
	          "media type to kind");
}

static void titles(void)
{
	const char *ok[] = { "vmlinuz", "initrd.img", "disk image.qcow2", "x-1.2_3" };
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char *t = oci_title_sanitize(ok[i]);
		TAP_CHECK_STR_EQ(t, ok[i], "title \"%s\" kept", ok[i]);
		free(t);
	}
	const char *bad[] = { "", ".", "..", ".hidden", "a/b", "/etc/passwd", "../x", "a/../b", "x..", "a\\b", "a\nb",
		              "a\x7f", "a\tb" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		TAP_CHECK(oci_title_sanitize(bad[i]) == NULL, "title %zu refused", i);
	TAP_CHECK(oci_title_sanitize(NULL) == NULL, "NULL title");
	char longt[300];
	memset(longt, 'a', 256);
	longt[256] = '\0';
	TAP_CHECK(oci_title_sanitize(longt) == NULL, "256-byte title refused");
}

int main(void)
{
	refs_valid();
	refs_invalid();
	challenges();
	manifests();
	titles();
	return tap_done();
}
