/* SPDX-License-Identifier: GPL-2.0 */
static inline int twice(int x)
{
	return 2 * x;
}
