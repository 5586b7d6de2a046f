// SPDX-License-Identifier: GPL-2.0
/* Linked in, never called: an object without data. */
int other(int x)
{
	return x + 1;
}
