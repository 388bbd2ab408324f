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

#include <stdint.h>
#include <string.h>

static const img_foreign foreign[] = {
	{ "vpc", "VHD" },       { "vhdx", "VHDX" },   { "vdi", "VDI" },     { "qed", "QED" },
	{ "parallels", "Parallels" }, { "bochs", "Bochs" }, { "cloop", "cloop" }, { "dmg", "DMG" },
	{ "luks", "LUKS" },     { "qcow", "QCOW (version 1)" }, { "vmdk", "VMware 3/4 sparse (COWD)" },
};

enum { VPC, VHDX, VDI, QED, PARALLELS, BOCHS, CLOOP, DMG, LUKS, QCOW1, COWD };

static bool at(const unsigned char *p, size_t len, size_t off, const char *magic, size_t n)
{
	return len >= off + n && memcmp(p + off, magic, n) == 0;
}

/* The magic as a string literal, so that its length cannot be miscounted. */
#define AT(off, lit) at(p, len, (off), (lit), sizeof(lit) - 1)

const img_foreign *img_probe_foreign(const void *head, size_t len, const void *tail, size_t tail_len)
{
	const unsigned char *p = head;
	if (AT(0, "conectix"))
		return &foreign[VPC];
	if (AT(0, "vhdxfile"))
		return &foreign[VHDX];
	if (AT(64, "\x7f\x10\xda\xbe"))
		return &foreign[VDI];
	if (AT(0, "QED\0"))
		return &foreign[QED];
	if (AT(0, "WithoutFreeSpace") || AT(0, "WithouFreSpacExt"))
		return &foreign[PARALLELS];
	if (AT(0, "Bochs Virtual HD Image"))
		return &foreign[BOCHS];
	if (AT(0, "#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0"))
		return &foreign[CLOOP];
	if (AT(0, "LUKS\xba\xbe"))
		return &foreign[LUKS];
	if (AT(0, "QFI\xfb\0\0\0\x01"))
		return &foreign[QCOW1];
	if (AT(0, "COWD"))
		return &foreign[COWD];
	/* Trailers: the last 512 bytes of a seekable file. A fixed VHD's footer
	 * is the last 512 bytes (511 for some old writers). */
	const unsigned char *t = tail;
	if (t && tail_len >= 512) {
		const unsigned char *f = t + tail_len - 512;
		if (memcmp(f, "conectix", 8) == 0 || memcmp(f + 1, "conectix", 8) == 0)
			return &foreign[VPC];
		if (memcmp(f, "koly", 4) == 0)
			return &foreign[DMG];
	}
	return NULL;
}
