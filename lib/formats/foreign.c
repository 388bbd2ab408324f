/* SPDX-License-Identifier: MIT */
/*
 * Disk image formats imgfetch does not read, recognised by their magic so
 * that they are refused instead of being taken for a raw disk: converting a
 * VHDX "as raw" copies its container bytes into a guest disk that no guest
 * can boot, and says nothing. The list is every format qemu-img probes, with
 * the same evidence qemu uses where it is a magic number:
 *
 *   VHD (vpc)   "conectix" cookie: at offset 0 (dynamic and differencing
 *               disks keep a copy of the footer there) or in the last 512
 *               bytes (a fixed disk is raw data plus that footer)
 *   VHDX        "vhdxfile" at 0
 *   VDI         0xbeda107f (little-endian) at 64
 *   QED         "QED\0" at 0
 *   Parallels   "WithoutFreeSpace" / "WithouFreSpacExt" at 0
 *   Bochs       "Bochs Virtual HD Image" at 0
 *   cloop       its shell-script preamble "#!/bin/sh\n#V2.0 Format\n..."
 *   DMG (UDIF)  "koly" trailer in the last 512 bytes (qemu goes by the
 *               ".dmg" name; the trailer is what the format defines)
 *   LUKS        "LUKS\xba\xbe" at 0 (v1 and v2)
 *   QCOW v1     "QFI\xfb" with version 1 (qcow2 is version 2 or 3)
 *   VMware 3/4  "COWD" at 0 (the pre-VMDK sparse format)
 */
#include "formats/image.h"

#include <string.h>

static const img_foreign vpc = { "vpc", "VHD" }, dmg = { "dmg", "DMG" };

/* Magic at a fixed offset of the head. The QCOW v1 entry (magic and version)
 * must stay ahead of anything qcow2-like; order does not matter otherwise. */
#define MAGIC(off, lit, id, name) { (off), (lit), sizeof(lit) - 1, { (id), (name) } }
static const struct head_magic {
	size_t off;
	const char *magic;
	size_t len;
	img_foreign what;
} heads[] = {
	MAGIC(0, "conectix", "vpc", "VHD"),
	MAGIC(0, "vhdxfile", "vhdx", "VHDX"),
	MAGIC(64, "\x7f\x10\xda\xbe", "vdi", "VDI"),
	MAGIC(0, "QED\0", "qed", "QED"),
	MAGIC(0, "WithoutFreeSpace", "parallels", "Parallels"),
	MAGIC(0, "WithouFreSpacExt", "parallels", "Parallels"),
	MAGIC(0, "Bochs Virtual HD Image", "bochs", "Bochs"),
	MAGIC(0, "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0", "cloop", "cloop"),
	MAGIC(0, "LUKS\xba\xbe", "luks", "LUKS"),
	MAGIC(0, "QFI\xfb\0\0\0\x01", "qcow", "QCOW (version 1)"),
	MAGIC(0, "COWD", "vmdk", "VMware 3/4 sparse (COWD)"),
};

const img_foreign *img_probe_foreign(const void *head, size_t len, const void *tail, size_t tail_len)
{
	const unsigned char *p = head;
	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
		if (len >= heads[i].off + heads[i].len && memcmp(p + heads[i].off, heads[i].magic, heads[i].len) == 0)
			return &heads[i].what;
	/* Trailers: the last 512 bytes of a seekable file. A fixed VHD's footer
	 * is the last 512 bytes (511 for some old writers). */
	const unsigned char *t = tail;
	if (t && tail_len >= 512) {
		const unsigned char *f = t + tail_len - 512;
		if (memcmp(f, "conectix", 8) == 0 || memcmp(f + 1, "conectix", 8) == 0)
			return &vpc;
		if (memcmp(f, "koly", 4) == 0)
			return &dmg;
	}
	return NULL;
}
