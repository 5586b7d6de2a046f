/* SPDX-License-Identifier: GPL-2.0 */
/*
 * compat.h: every difference between the kernels modlabfs builds for, in
 * one place. The rest of the module uses only the names defined here.
 *
 *   6.3  inode operations take a struct mnt_idmap * instead of a
 *        struct user_namespace * (the mount's id mapping).
 *   6.5  generic_file_splice_read() gave way to filemap_splice_read().
 *   6.6  inode->i_ctime became private: inode_set_ctime_current().
 *   6.7  i_atime and i_mtime too: inode_set_mtime_to_ts(),
 *        simple_inode_init_ts().
 *   6.12 address_space write_begin/write_end pass a folio, not a page.
 *   6.15 ->mkdir returns a struct dentry * (NULL: use the one passed in).
 *   6.17 write_begin/write_end take the struct kiocb instead of the file.
 */
#ifndef MODLABFS_COMPAT_H
#define MODLABFS_COMPAT_H

#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
#define mlfs_idmap mnt_idmap
#define MLFS_NOP_IDMAP (&nop_mnt_idmap)
#else
#define mlfs_idmap user_namespace
#define MLFS_NOP_IDMAP (&init_user_ns)
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
#define mlfs_splice_read filemap_splice_read
#else
#define mlfs_splice_read generic_file_splice_read
#endif

/* A new inode: atime, mtime and ctime all now. */
static inline void mlfs_init_times(struct inode *inode)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	simple_inode_init_ts(inode);
#else
	inode->i_atime = inode->i_mtime = inode->i_ctime = current_time(inode);
#endif
}

/* A directory whose entries changed: mtime and ctime now. */
static inline void mlfs_dir_changed(struct inode *dir)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 7, 0)
	inode_set_mtime_to_ts(dir, inode_set_ctime_current(dir));
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
	dir->i_mtime = inode_set_ctime_current(dir);
#else
	dir->i_mtime = dir->i_ctime = current_time(dir);
#endif
}

/* The cache unit write_begin hands back: a folio from 6.12 on. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 0)
#define mlfs_wpage folio
#else
#define mlfs_wpage page
#endif

/* The first argument of write_begin and write_end. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define MLFS_WRITE_CTX const struct kiocb
#else
#define MLFS_WRITE_CTX struct file
#endif

/* ->mkdir's return type, and how to say "done" (0) or "failed" in it. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0)
#define MLFS_MKDIR_RET struct dentry *
static inline struct dentry *mlfs_mkdir_ret(int err)
{
	return err ? ERR_PTR(err) : NULL;
}
#else
#define MLFS_MKDIR_RET int
static inline int mlfs_mkdir_ret(int err)
{
	return err;
}
#endif

#endif /* MODLABFS_COMPAT_H */
