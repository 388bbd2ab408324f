/* SPDX-License-Identifier: MIT */
/*
 * The on-the-wire layout of a zfs send stream (dmu_replay_record_t), as far
 * as a zvol's full stream needs it. Every record is 312 bytes, little-endian
 * here (a byte-swapped magic means a big-endian sender), followed by a
 * payload for BEGIN (nvlist), OBJECT (bonus), WRITE (the block) and SPILL.
 * Bytes 280..311 of every record but BEGIN hold the running Fletcher-4 of
 * the stream up to byte 279 of that record (all-zero from old senders).
 */
#pragma once

#define DRR_SIZE 312u
#define DRR_CKSUM_OFF 280u

enum {
	DRR_BEGIN = 0,
	DRR_OBJECT = 1,
	DRR_FREEOBJECTS = 2,
	DRR_WRITE = 3,
	DRR_FREE = 4,
	DRR_END = 5,
	DRR_WRITE_BYREF = 6,
	DRR_SPILL = 7,
	DRR_WRITE_EMBEDDED = 8,
	DRR_OBJECT_RANGE = 9,
	DRR_REDACT = 10,
};

#define DMU_BACKUP_MAGIC 0x2F5bacbacULL
#define DMU_SUBSTREAM 1u
#define DMU_COMPOUNDSTREAM 2u
#define DMU_OST_ZVOL 3u
#define DRR_FLAG_FREERECORDS 0x4u

#define DMU_OT_ZVOL 23u
#define DMU_OT_ZVOL_PROP 24u
#define ZIO_CHECKSUM_OFF 2u
#define ZBT_MICRO 0x8000000000000003ULL

#define ZVOL_OBJ 1u
#define ZVOL_ZAP_OBJ 2u
#define ZVOL_ZAP_BLOCK 512u

/* Field offsets inside a record (from the start of the 312 bytes). */
#define BEGIN_MAGIC 8
#define BEGIN_VERSIONINFO 16
#define BEGIN_CREATION 24
#define BEGIN_TYPE 32
#define BEGIN_FLAGS 36
#define BEGIN_TOGUID 40
#define BEGIN_FROMGUID 48
#define BEGIN_TONAME 56
#define BEGIN_TONAME_LEN 256

#define OBJECT_OBJECT 8
#define OBJECT_TYPE 16
#define OBJECT_BONUSTYPE 20
#define OBJECT_BLKSZ 24
#define OBJECT_BONUSLEN 28
#define OBJECT_CHECKSUMTYPE 32
#define OBJECT_COMPRESS 33
#define OBJECT_DN_SLOTS 34
#define OBJECT_FLAGS 35
#define OBJECT_RAW_BONUSLEN 36
#define OBJECT_TOGUID 40
#define OBJECT_INDBLKSHIFT 48
#define OBJECT_NLEVELS 49
#define OBJECT_NBLKPTR 50
#define OBJECT_MAXBLKID 56

#define FREEOBJECTS_FIRST 8
#define FREEOBJECTS_NUM 16
#define FREEOBJECTS_TOGUID 24

#define WRITE_OBJECT 8
#define WRITE_TYPE 16
#define WRITE_OFFSET 24
#define WRITE_LOGICAL_SIZE 32
#define WRITE_TOGUID 40
#define WRITE_CHECKSUMTYPE 48
#define WRITE_FLAGS 49
#define WRITE_COMPRESSIONTYPE 50
#define WRITE_COMPRESSED_SIZE 96

#define FREE_OBJECT 8
#define FREE_OFFSET 16
#define FREE_LENGTH 24
#define FREE_TOGUID 32

#define END_CKSUM 8
#define END_TOGUID 40

#define SPILL_LENGTH 16
