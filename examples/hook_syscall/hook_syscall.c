// SPDX-License-Identifier: GPL-2.0
/*
 * hook_syscall: report the files that the processes of one user open.
 *
 *   insmod hook_syscall.ko uid=1000
 *   echo 1000 > /sys/module/hook_syscall/parameters/uid    # or change it later
 *   dmesg | grep hook_syscall:
 *
 * logs, for every open(2), openat(2) and openat2(2) made by a process whose
 * real uid is the parameter's:
 *
 *   hook_syscall: openat: uid=1000 pid=212 comm=cat path=/tmp/hello
 *
 * uid=-1 (the default) reports nothing. The report is made when the call
 * starts, so an open that then fails (ENOENT, EACCES) is reported too.
 *
 * LKMPG's syscall-steal.c wrote its own function into sys_call_table after
 * clearing CR0.WP. Neither half works any more on x86: the kernel pins
 * CR0.WP (5.3), clearing it faults on a CPU with CET, and since 6.9 (and
 * 6.1.85, 6.6.26) x86-64 dispatches system calls through a switch
 * statement, not the table. So this module asks the kernel for a hook
 * instead: a kprobe on each call's entry point, __x64_sys_openat and its
 * siblings. On these kernels a kprobe at a function's first instruction
 * rides on ftrace (KPROBES_ON_FTRACE): a call, no breakpoint trap.
 * README.md compares the alternatives.
 *
 * The handler runs with preemption disabled, so it must not sleep: it
 * reads the user's path with page faults disabled (a path that is not in
 * memory right now is reported as unreadable, never waited for), into a
 * buffer on the stack of at most HOOK_PATH_LEN bytes, and logs through a
 * rate limit of its own. unregister_kprobes() waits, with
 * synchronize_rcu(), for every handler already running before the module
 * can go.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/kprobes.h>
#include <linux/limits.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/ptrace.h>
#include <linux/ratelimit.h>
#include <linux/sched.h>
#include <linux/uaccess.h>
#include <linux/uidgid.h>

#ifndef CONFIG_X86_64
#error "hook_syscall probes x86-64's system call entry points (__x64_sys_*)"
#endif

/*
 * The parameter. (uid_t)-1 is never a uid (it is INVALID_UID's value,
 * what chown(2) takes as "leave it"), so it stands for "nobody".
 */
#define HOOK_UID_NONE ((u32)-1)

static u32 hook_uid = HOOK_UID_NONE;

/*
 * -1 or a uid from 0 to 4294967294; anything else is refused with EINVAL
 * and the old value stays. The hook may read the value on another CPU at
 * the same moment: one aligned 32-bit store (WRITE_ONCE), one load
 * (READ_ONCE), so it sees the old uid or the new one, never a mixture.
 */
static int uid_param_set(const char *val, const struct kernel_param *kp)
{
	long long n;

	if (kstrtoll(val, 10, &n) || n < -1 || n >= HOOK_UID_NONE) {
		pr_err("uid: want -1 (nobody) or a uid from 0 to %u\n", HOOK_UID_NONE - 1);
		return -EINVAL;
	}
	WRITE_ONCE(*(u32 *)kp->arg, n == -1 ? HOOK_UID_NONE : (u32)n);
	return 0;
}

static int uid_param_get(char *buffer, const struct kernel_param *kp)
{
	u32 uid = READ_ONCE(*(u32 *)kp->arg);

	if (uid == HOOK_UID_NONE)
		return scnprintf(buffer, PAGE_SIZE, "-1\n");
	return scnprintf(buffer, PAGE_SIZE, "%u\n", uid);
}

static const struct kernel_param_ops uid_param_ops = {
	.set = uid_param_set,
	.get = uid_param_get,
};

module_param_cb(uid, &uid_param_ops, &hook_uid, 0644);
__MODULE_PARM_TYPE(uid, "int");
MODULE_PARM_DESC(uid, "Report the files opened by processes of this real uid (-1, the default: nobody)");

/*
 * The longest path reported, with its NUL. A longer one is reported cut,
 * with " (truncated)" after it: PATH_MAX (4096) bytes would not fit on
 * the stack of a handler, nor in one kernel log record (about 1 KiB).
 */
#define HOOK_PATH_LEN 256

/*
 * Ten reports every five seconds, like printk_ratelimited(), but a state
 * of our own: a noisy neighbour's messages do not eat our reports, and
 * the suppressed ones are counted ("N callbacks suppressed").
 */
static DEFINE_RATELIMIT_STATE(hook_ratelimit, 5 * HZ, 10);

/* One system call to watch. */
struct hook_call {
	struct kprobe kp;
	const char *name;	/* as the reports name it */
	unsigned int path_arg;	/* which argument is the path: 0 or 1 */
};

/*
 * The path argument of the system call that the task is making, as the
 * user passed it. On x86-64 the kernel enters __x64_sys_openat(regs) and
 * its siblings with one argument: the user's registers, saved on the
 * task's kernel stack; the system call's own arguments are in those
 * (di, si, dx, r10, r8, r9, in that order).
 */
static const char __user *hook_user_path(const struct hook_call *call, struct pt_regs *regs)
{
	const struct pt_regs *user = (const struct pt_regs *)regs_get_kernel_argument(regs, 0);

	return (const char __user *)(call->path_arg == 0 ? user->di : user->si);
}

static int hook_syscall_pre(struct kprobe *p, struct pt_regs *regs)
{
	const struct hook_call *call = container_of(p, struct hook_call, kp);
	u32 want = READ_ONCE(hook_uid);
	char path[HOOK_PATH_LEN];
	long n;

	/* Every open on the machine passes here: the cheap test first. */
	if (want == HOOK_UID_NONE || __kuid_val(current_uid()) != want)
		return 0;
	if (!__ratelimit(&hook_ratelimit))
		return 0;

	/*
	 * We run with preemption disabled: a page fault that has to read the
	 * page in would sleep. With page faults disabled, strncpy_from_user()
	 * stops at the first page that is not mapped and returns -EFAULT.
	 * (strncpy_from_user_nofault() does just this, but modules may not
	 * call it.)
	 */
	pagefault_disable();
	n = strncpy_from_user(path, hook_user_path(call, regs), sizeof(path));
	pagefault_enable();

	if (n < 0)
		pr_info("%s: uid=%u pid=%d comm=%s path unreadable (error %ld)\n",
			call->name, want, task_tgid_nr(current), current->comm, n);
	else if (n == sizeof(path))	/* no NUL in the first HOOK_PATH_LEN bytes */
		pr_info("%s: uid=%u pid=%d comm=%s path=%.*s (truncated)\n",
			call->name, want, task_tgid_nr(current), current->comm,
			(int)sizeof(path) - 1, path);
	else
		pr_info("%s: uid=%u pid=%d comm=%s path=%s\n",
			call->name, want, task_tgid_nr(current), current->comm, path);
	return 0;
}

/* The kernel's system call wrappers on x86-64 (arch/x86/include/asm/syscall_wrapper.h). */
static struct hook_call hook_calls[] = {
	{ .kp.symbol_name = "__x64_sys_open", .name = "open", .path_arg = 0 },
	{ .kp.symbol_name = "__x64_sys_openat", .name = "openat", .path_arg = 1 },
	{ .kp.symbol_name = "__x64_sys_openat2", .name = "openat2", .path_arg = 1 },
};

static struct kprobe *hook_kprobes[ARRAY_SIZE(hook_calls)];

static int __init hook_syscall_init(void)
{
	int i, ret;

	for (i = 0; i < ARRAY_SIZE(hook_calls); i++) {
		hook_calls[i].kp.pre_handler = hook_syscall_pre;
		hook_kprobes[i] = &hook_calls[i].kp;
	}
	/* All or nothing: on an error it unregisters the ones it did. */
	ret = register_kprobes(hook_kprobes, ARRAY_SIZE(hook_kprobes));
	if (ret < 0) {
		pr_err("register_kprobes: error %d\n", ret);
		return ret;
	}
	pr_info("watching open, openat and openat2\n");
	return 0;
}

static void __exit hook_syscall_exit(void)
{
	unsigned long missed = 0;
	int i;

	/*
	 * Disarms the probes, then synchronize_rcu(): every handler that had
	 * started (each runs with preemption disabled, an RCU read-side
	 * critical section) has returned before this does, and none can
	 * start after. Only then may the module's code go.
	 */
	unregister_kprobes(hook_kprobes, ARRAY_SIZE(hook_kprobes));
	for (i = 0; i < ARRAY_SIZE(hook_calls); i++)
		missed += hook_calls[i].kp.nmissed;
	pr_info("unloaded (calls missed while another kprobe ran: %lu)\n", missed);
}

module_init(hook_syscall_init);
module_exit(hook_syscall_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("Reports the files opened by one user's processes, through kprobes on open, openat and openat2");
