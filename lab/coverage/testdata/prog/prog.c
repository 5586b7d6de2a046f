// SPDX-License-Identifier: GPL-2.0
/* A program whose coverage the tests know line by line. */
#include <stdio.h>
#include "twice.h"

static int classify(int x)
{
	if (x > 2)
		return twice(x);
	return x;
}

static void never(void)
{
	puts("never");
}

int main(int argc, char **argv)
{
	int i, s = 0;

	for (i = 0; i < argc + 3; i++)
		s += classify(i);
	if (s == 12345)
		never();
	printf("%d\n", s);
	return 0;
}
