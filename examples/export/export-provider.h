/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What export-provider.ko exports, for the modules that use it. A module
 * that includes this header and calls these symbols gets
 * "depends: export_provider" in its .modinfo from modpost.
 */
#ifndef EXPORT_PROVIDER_H
#define EXPORT_PROVIDER_H

#include <linux/atomic.h>

/* Returns a + b + the provider's "bias" parameter, and counts the call. */
int export_provider_add(int a, int b);

/* How many times export_provider_add() has been called. */
extern atomic_t export_provider_calls;

#endif /* EXPORT_PROVIDER_H */
