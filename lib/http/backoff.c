/* SPDX-License-Identifier: MIT */
#include <imgfetch/imgfetch.h>

uint32_t imgfetch_backoff_ms(uint32_t retry, uint32_t base_ms, uint32_t max_ms, double random01)
{
	if (retry == 0)
		return 0;
	uint64_t d = base_ms;
	/* Doubling stops at the ceiling; 40 doublings would overflow anyway. */
	for (uint32_t i = 1; i < retry && d < max_ms && i < 40; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	if (random01 < 0 || random01 >= 1)
		random01 = 0.5;
	/* ±20 % keeps many clients that failed together from retrying together. */
	double jittered = (double)d * (0.8 + 0.4 * random01) + 0.5;
	return jittered >= (double)UINT32_MAX ? UINT32_MAX : (uint32_t)jittered;
}
