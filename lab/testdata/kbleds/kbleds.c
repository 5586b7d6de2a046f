// SPDX-License-Identifier: GPL-2.0
/*
 * kbleds: blink the keyboard LEDs through the tty driver of the
 * foreground virtual console, in the spirit of LKMPG's kbleds.c.
 *
 * Test-only, and broken on purpose: like the original, init never checks
 * that the foreground console has a tty. In the lab's VM the console is a
 * serial port and no one has a virtual terminal open, so the look-up
 * finds no tty and init dereferences the NULL it got back. The kernel
 * oopses and kills the task that loaded the module; the lab's tests check
 * that the report names the faulting line of this file (marked FAULT
 * below) and the call that led there (marked CALL).
 *
 * On a machine whose foreground virtual terminal is open, the LEDs blink
 * until the module is unloaded. Only ever load it in the lab's VM.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/console.h>
#include <linux/init.h>
#include <linux/kd.h>
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/tty.h>
#include <linux/tty_driver.h>
#include <linux/vt_kern.h>
#include <linux/workqueue.h>

#define BLINK_DELAY	(HZ / 5)
#define ALL_LEDS_ON	0x07
#define RESTORE_LEDS	0xff	/* give the LEDs back to the keyboard */

static struct tty_struct *vt_tty;
static struct delayed_work blink_work;
static unsigned long leds = RESTORE_LEDS;

/*
 * The tty of the foreground virtual console, with a reference held, or
 * NULL when no one has that terminal open.
 */
static struct tty_struct *foreground_tty(void)
{
	struct tty_struct *tty = NULL;
	struct vc_data *vc;

	console_lock();
	vc = vc_cons[fg_console].d;
	if (vc)
		tty = tty_port_tty_get(&vc->port);
	console_unlock();
	return tty;
}

/* Set the LEDs the way the KDSETLED ioctl of a virtual terminal does. */
static int set_leds(struct tty_struct *tty, unsigned long state)
{
	const struct tty_operations *ops = tty->driver->ops; /* FAULT */

	if (!ops->ioctl)
		return -ENOTTY;
	return ops->ioctl(tty, KDSETLED, state);
}

static void blink(struct work_struct *work)
{
	leds = leds == ALL_LEDS_ON ? RESTORE_LEDS : ALL_LEDS_ON;
	set_leds(vt_tty, leds);
	schedule_delayed_work(&blink_work, BLINK_DELAY);
}

static int __init kbleds_init(void)
{
	int ret;

	pr_info("foreground console is %d\n", fg_console);
	vt_tty = foreground_tty();
	/* The bug, kept from the original: vt_tty may be NULL. */
	ret = set_leds(vt_tty, ALL_LEDS_ON); /* CALL */
	if (ret)
		goto out_put_tty;
	leds = ALL_LEDS_ON;
	INIT_DELAYED_WORK(&blink_work, blink);
	schedule_delayed_work(&blink_work, BLINK_DELAY);
	return 0;

out_put_tty:
	tty_kref_put(vt_tty);
	return ret;
}

static void __exit kbleds_exit(void)
{
	cancel_delayed_work_sync(&blink_work);
	set_leds(vt_tty, RESTORE_LEDS);
	tty_kref_put(vt_tty);
}

module_init(kbleds_init);
module_exit(kbleds_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Test-only: blinks the keyboard LEDs, and oopses where there is no VT");
