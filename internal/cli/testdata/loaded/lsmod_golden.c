/*
 * Writes lsmod.golden: kmod 30 tools/lsmod.c's printf formats applied to the
 * values kmod reads from the fixture root (root/proc/modules, root/sys/module).
 *   cc -o /tmp/g lsmod_golden.c && /tmp/g > lsmod.golden
 */
#include <stdio.h>
/* kmod 30 tools/lsmod.c: puts(header); printf("%-19s %8ld  %d", ...); " h1,h2" */
static void row(const char *n, long size, const char *ref, const char *holders)
{
	printf("%-19s %8ld  %s", n, size, ref);
	if (holders)
		printf(" %s", holders);
	putchar('\n');
}
int main(void)
{
	puts("Module                  Size  Used by");
	row("export_user", 16384, "0", NULL);
	row("export_provider", 16384, "1", "export_user");
	row("loading_mod", 8192, "1", NULL);
	row("snd_hda_intel", 57344, "0", NULL);
	row("snd_hda_codec_realtek", 172032, "1", NULL);
	row("snd_hda_codec_hdmi", 86016, "1", NULL);
	/* sysfs readdir (kernfs hash) order, not /proc/modules' order */
	row("snd_hda_codec_generic", 98304, "3", "snd_hda_codec_hdmi,snd_hda_intel,snd_hda_codec_realtek");
	row("a_module_with_a_long_name", 123456789, "0", NULL);
	row("permanent_mod", 12288, "0", NULL);
	/* modlab: no refcnt in sysfs and "-" in /proc/modules (kmod prints -2) */
	row("nounload_mod", 4096, "-", NULL);
	/* modlab: no /sys/module dir: /proc/modules values (kmod prints -2 and -2) */
	row("nosys_mod", 4096, "3", NULL);
	return 0;
}
