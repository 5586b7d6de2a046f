// SPDX-License-Identifier: GPL-2.0
/*
 * pid_info: what the kernel knows about one process, found by its pid.
 *
 *   pidwait &                      # prints its pid, then waits until killed
 *   insmod pid_info.ko pid=$!
 *   dmesg | grep pid_info:
 *
 * logs one field per line, each with a label that stays the same:
 *
 *   pid_info: pid=153             the pid, as the loading process sees it
 *   pid_info: level=0             the depth of the task's pid namespace
 *   pid_info: nspid=153           its pid inside that namespace
 *   pid_info: comm=pidwait        the command name
 *   pid_info: state=S             the state letter, as in /proc/PID/stat
 *   pid_info: ppid=140            the parent's pid (as the loader sees it)
 *   pid_info: uid=0               the real uid
 *   pid_info: start_time=312      clock ticks after boot (/proc/PID/stat)
 *   pid_info: start_time_ns=3125012345
 *
 * A pid that no process has fails the load with ESRCH ("No such
 * process"); pid 0 (or no pid at all), a negative pid and one above
 * PID_MAX_LIMIT, the largest pid any kernel hands out, fail it with
 * EINVAL.
 *
 * The pid is looked up in the pid namespace of the process that loads the
 * module (find_vpid), and everything is read under rcu_read_lock(): the
 * struct pid and the task can be freed as soon as the process exits, but
 * not before the read-side critical section that found them ends.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cred.h>
#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/math64.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/threads.h>
#include <linux/uidgid.h>

static int pid;

/* The largest pid any kernel hands out (4194304 on 64-bit), as an int. */
#define PID_INFO_MAX ((int)PID_MAX_LIMIT)

/* Only a number that can be a pid gets in: 1 to PID_INFO_MAX. */
static int pid_param_set(const char *val, const struct kernel_param *kp)
{
	int n;

	if (kstrtoint(val, 10, &n) || n < 1 || n > PID_INFO_MAX) {
		pr_err("pid=%s is not a process id (1 to %d)\n", val, PID_INFO_MAX);
		return -EINVAL;
	}
	*(int *)kp->arg = n;
	return 0;
}

static const struct kernel_param_ops pid_param_ops = {
	.set = pid_param_set,
	.get = param_get_int,
};

module_param_cb(pid, &pid_param_ops, &pid, 0444);
/* module_param() records the type for modinfo; module_param_cb() does not. */
__MODULE_PARM_TYPE(pid, "int");
MODULE_PARM_DESC(pid, "The process to describe: its pid as the loading process sees it (1 to 4194304)");

/* What we copy out of the task while RCU keeps it alive. */
struct pid_info {
	unsigned int level;
	pid_t nspid;
	pid_t ppid;
	char comm[TASK_COMM_LEN];
	char state;
	uid_t uid;
	u64 start_ns;
};

static int __init pid_info_init(void)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	struct task_struct *task;
	struct pid_info info;
	struct pid *vpid;

	if (!pid) {
		pr_err("no pid given: load with pid=N\n");
		return -EINVAL;
	}

	rcu_read_lock();
	vpid = find_vpid(pid);
	if (!vpid) {
		rcu_read_unlock();
		pr_err("find_vpid(%d) failed.\n", pid);
		return -ESRCH;
	}
	/* A pid can outlive its task as the id of a process group or session. */
	task = pid_task(vpid, PIDTYPE_PID);
	if (!task) {
		rcu_read_unlock();
		pr_err("pid %d belongs to no task\n", pid);
		return -ESRCH;
	}
	info.level = vpid->level;
	info.nspid = pid_nr_ns(vpid, ns_of_pid(vpid));
	get_task_comm(info.comm, task);
	info.state = task_state_to_char(task);
	info.ppid = task_ppid_nr_ns(task, ns);
	info.uid = from_kuid_munged(current_user_ns(), task_uid(task));
	info.start_ns = task->start_boottime;
	rcu_read_unlock();

	pr_info("pid=%d\n", pid);
	pr_info("level=%u\n", info.level);
	pr_info("nspid=%d\n", info.nspid);
	pr_info("comm=%s\n", info.comm);
	pr_info("state=%c\n", info.state);
	pr_info("ppid=%d\n", info.ppid);
	pr_info("uid=%u\n", info.uid);
	/* /proc/PID/stat's starttime: clock ticks (USER_HZ) after boot. */
	pr_info("start_time=%llu\n", div_u64(info.start_ns, NSEC_PER_SEC / USER_HZ));
	pr_info("start_time_ns=%llu\n", info.start_ns);
	return 0;
}

static void __exit pid_info_exit(void)
{
	pr_info("unloaded\n");
}

module_init(pid_info_init);
module_exit(pid_info_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("The modlab authors");
MODULE_DESCRIPTION("Logs what the kernel knows about a process: pid namespace level, command, state, parent, uid, start time");
