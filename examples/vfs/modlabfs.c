// SPDX-License-Identifier: GPL-2.0
/*
 * modlabfs.c: a small in-memory filesystem, ramfs with a size limit.
 *
 * File data lives in the page cache, as in ramfs; directories are the
 * dcache itself (libfs's simple_* helpers). What ramfs lacks and modlabfs
 * adds is a bound: the size= mount option (default: half of RAM) caps the
 * pages the files of one mount may hold. Every file is charged for its
 * whole extent, DIV_ROUND_UP(i_size, PAGE_SIZE) pages, before the pages
 * exist: a write or truncate that would pass the limit fails with ENOSPC
 * and leaves the other files alone; truncate, unlink and eviction give the
 * pages back; statfs reports the count.
 *
 *   insmod modlabfs.ko
 *   grep modlabfs /proc/filesystems
 *   mount -t modlabfs -o size=1m none /mnt/m
 *   df /mnt/m
 *
 * The inodes come from a slab cache of their own, modlabfs_inode_cache,
 * so /proc/slabinfo shows how many are alive.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pagemap.h>
#include <linux/security.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/statfs.h>
#include <linux/string.h>

#include "compat.h"

#define MODLABFS_MAGIC 0x6d6c6673	/* "mlfs" */

/* One mount's limit and use, in pages. used_pages <= max_pages always. */
struct mlfs_sb_info {
	spinlock_t lock;
	unsigned long max_pages;
	unsigned long used_pages;
};

/*
 * Our inode: the VFS inode plus the pages charged to it. Outside a write
 * in progress, charged == DIV_ROUND_UP(i_size, PAGE_SIZE); it changes
 * only under the inode's lock (or before the inode is visible).
 */
struct mlfs_inode_info {
	unsigned long charged;
	struct inode vfs_inode;
};

/* What the mount options said, until get_tree or reconfigure uses it. */
struct mlfs_fs_context {
	unsigned long max_pages;
	bool size_set;
};

static struct kmem_cache *mlfs_inode_cachep;

static inline struct mlfs_sb_info *MLFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct mlfs_inode_info *MLFS_I(struct inode *inode)
{
	return container_of(inode, struct mlfs_inode_info, vfs_inode);
}

static unsigned long mlfs_pages(loff_t size)
{
	return (size + PAGE_SIZE - 1) >> PAGE_SHIFT;
}

/*
 * mlfs_charge - make @inode's charge cover @size bytes.
 * Returns -ENOSPC, charging nothing, when the mount has too few pages left.
 */
static int mlfs_charge(struct inode *inode, loff_t size)
{
	struct mlfs_sb_info *sbi = MLFS_SB(inode->i_sb);
	struct mlfs_inode_info *mi = MLFS_I(inode);
	unsigned long want = mlfs_pages(size);
	int err = 0;

	spin_lock(&sbi->lock);
	if (want > mi->charged) {
		unsigned long more = want - mi->charged;

		if (more > sbi->max_pages - sbi->used_pages) {
			err = -ENOSPC;
		} else {
			sbi->used_pages += more;
			mi->charged = want;
		}
	}
	spin_unlock(&sbi->lock);
	return err;
}

/* mlfs_uncharge - give back what @inode holds beyond @size bytes. */
static void mlfs_uncharge(struct inode *inode, loff_t size)
{
	struct mlfs_sb_info *sbi = MLFS_SB(inode->i_sb);
	struct mlfs_inode_info *mi = MLFS_I(inode);
	unsigned long keep = mlfs_pages(size);

	spin_lock(&sbi->lock);
	if (mi->charged > keep) {
		sbi->used_pages -= mi->charged - keep;
		mi->charged = keep;
	}
	spin_unlock(&sbi->lock);
}

/*
 * The page cache side. write_begin charges before the page cache grows;
 * write_end settles the charge on the size the write really reached (a
 * short copy from user space leaves i_size below pos + len). Both run
 * under the inode's lock, as truncate does.
 */
static int mlfs_write_begin(MLFS_WRITE_CTX *ctx, struct address_space *mapping,
			    loff_t pos, unsigned int len,
			    struct mlfs_wpage **pagep, void **fsdata)
{
	struct inode *inode = mapping->host;
	int err;

	err = mlfs_charge(inode, pos + len);
	if (err)
		return err;
	err = simple_write_begin(ctx, mapping, pos, len, pagep, fsdata);
	if (err)
		mlfs_uncharge(inode, i_size_read(inode));
	return err;
}

static int mlfs_write_end(MLFS_WRITE_CTX *ctx, struct address_space *mapping,
			  loff_t pos, unsigned int len, unsigned int copied,
			  struct mlfs_wpage *page, void *fsdata)
{
	struct inode *inode = mapping->host;
	int ret;

	ret = ram_aops.write_end(ctx, mapping, pos, len, copied, page, fsdata);
	mlfs_uncharge(inode, i_size_read(inode));
	return ret;
}

/* A page never written (a hole, or past a truncate up) reads as zeros. */
static int mlfs_read_folio(struct file *file, struct folio *folio)
{
	return ram_aops.read_folio(file, folio);
}

static const struct address_space_operations mlfs_aops = {
	.read_folio	= mlfs_read_folio,
	.write_begin	= mlfs_write_begin,
	.write_end	= mlfs_write_end,
	.dirty_folio	= noop_dirty_folio,
};

static int mlfs_setattr(struct mlfs_idmap *idmap, struct dentry *dentry,
			struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int err;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;

	if ((attr->ia_valid & ATTR_SIZE) && attr->ia_size != i_size_read(inode)) {
		err = mlfs_charge(inode, attr->ia_size);
		if (err)
			return err;
		truncate_setsize(inode, attr->ia_size);
		mlfs_uncharge(inode, attr->ia_size);
	}

	setattr_copy(idmap, inode, attr);
	mark_inode_dirty(inode);
	return 0;
}

static const struct file_operations mlfs_file_fops = {
	.read_iter	= generic_file_read_iter,
	.write_iter	= generic_file_write_iter,
	.mmap		= generic_file_mmap,
	.fsync		= noop_fsync,
	.splice_read	= mlfs_splice_read,
	.splice_write	= iter_file_splice_write,
	.llseek		= generic_file_llseek,
};

static const struct inode_operations mlfs_file_iops = {
	.setattr	= mlfs_setattr,
	.getattr	= simple_getattr,
};

static const struct inode_operations mlfs_symlink_iops = {
	.get_link	= page_get_link,
	.setattr	= mlfs_setattr,
	.getattr	= simple_getattr,
};

static const struct inode_operations mlfs_dir_iops;

static struct inode *mlfs_get_inode(struct super_block *sb,
				    const struct inode *dir, umode_t mode,
				    dev_t dev)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return NULL;

	inode->i_ino = get_next_ino();
	inode_init_owner(MLFS_NOP_IDMAP, inode, dir, mode);
	inode->i_mapping->a_ops = &mlfs_aops;
	mapping_set_gfp_mask(inode->i_mapping, GFP_HIGHUSER);
	mapping_set_unevictable(inode->i_mapping);
	mlfs_init_times(inode);

	switch (mode & S_IFMT) {
	case S_IFREG:
		inode->i_op = &mlfs_file_iops;
		inode->i_fop = &mlfs_file_fops;
		break;
	case S_IFDIR:
		inode->i_op = &mlfs_dir_iops;
		inode->i_fop = &simple_dir_operations;
		/* a directory starts with two links: its name and its "." */
		inc_nlink(inode);
		break;
	case S_IFLNK:
		inode->i_op = &mlfs_symlink_iops;
		inode_nohighmem(inode);
		break;
	default:
		init_special_inode(inode, mode, dev);
		break;
	}
	return inode;
}

/*
 * Every create ends here: a new inode, bound to the negative dentry the
 * VFS looked up. The extra dget pins the dentry: in a filesystem with no
 * disk behind it, the dcache is the directory, so the dentry must stay
 * until unlink or rmdir drops that reference.
 */
static int mlfs_mknod(struct mlfs_idmap *idmap, struct inode *dir,
		      struct dentry *dentry, umode_t mode, dev_t dev)
{
	struct inode *inode;
	int err;

	inode = mlfs_get_inode(dir->i_sb, dir, mode, dev);
	if (!inode)
		return -ENOMEM;
	err = security_inode_init_security(inode, dir, &dentry->d_name, NULL,
					   NULL);
	if (err) {
		iput(inode);
		return err;
	}
	d_instantiate(dentry, inode);
	dget(dentry);
	mlfs_dir_changed(dir);
	return 0;
}

static int mlfs_create(struct mlfs_idmap *idmap, struct inode *dir,
		       struct dentry *dentry, umode_t mode, bool excl)
{
	return mlfs_mknod(idmap, dir, dentry, mode | S_IFREG, 0);
}

static MLFS_MKDIR_RET mlfs_mkdir(struct mlfs_idmap *idmap, struct inode *dir,
				 struct dentry *dentry, umode_t mode)
{
	int err = mlfs_mknod(idmap, dir, dentry, mode | S_IFDIR, 0);

	if (!err)
		inc_nlink(dir);	/* the new directory's ".." */
	return mlfs_mkdir_ret(err);
}

/* The target is stored as the file's data: one page, charged like data. */
static int mlfs_symlink(struct mlfs_idmap *idmap, struct inode *dir,
			struct dentry *dentry, const char *symname)
{
	int len = strlen(symname) + 1;
	struct inode *inode;
	int err;

	inode = mlfs_get_inode(dir->i_sb, dir, S_IFLNK | 0777, 0);
	if (!inode)
		return -ENOMEM;
	err = security_inode_init_security(inode, dir, &dentry->d_name, NULL,
					   NULL);
	if (err)
		goto out_iput;
	err = page_symlink(inode, symname, len);
	if (err)
		goto out_iput;
	d_instantiate(dentry, inode);
	dget(dentry);
	mlfs_dir_changed(dir);
	return 0;

out_iput:
	iput(inode);
	return err;
}

static const struct inode_operations mlfs_dir_iops = {
	.create		= mlfs_create,
	.lookup		= simple_lookup,
	.link		= simple_link,
	.unlink		= simple_unlink,
	.symlink	= mlfs_symlink,
	.mkdir		= mlfs_mkdir,
	.rmdir		= simple_rmdir,
	.mknod		= mlfs_mknod,
	.rename		= simple_rename,
	.setattr	= mlfs_setattr,
	.getattr	= simple_getattr,
};

static struct inode *mlfs_alloc_inode(struct super_block *sb)
{
	struct mlfs_inode_info *mi;

	mi = alloc_inode_sb(sb, mlfs_inode_cachep, GFP_KERNEL);
	if (!mi)
		return NULL;
	mi->charged = 0;
	return &mi->vfs_inode;
}

/* Called after an RCU grace period: path walks may still look at it. */
static void mlfs_free_inode(struct inode *inode)
{
	kmem_cache_free(mlfs_inode_cachep, MLFS_I(inode));
}

/* The last reference to an inode with no links left: free its pages. */
static void mlfs_evict_inode(struct inode *inode)
{
	truncate_inode_pages_final(&inode->i_data);
	mlfs_uncharge(inode, 0);
	clear_inode(inode);
}

static int mlfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct mlfs_sb_info *sbi = MLFS_SB(dentry->d_sb);

	buf->f_type = MODLABFS_MAGIC;
	buf->f_bsize = PAGE_SIZE;
	buf->f_namelen = NAME_MAX;
	spin_lock(&sbi->lock);
	buf->f_blocks = sbi->max_pages;
	buf->f_bfree = sbi->max_pages - sbi->used_pages;
	spin_unlock(&sbi->lock);
	buf->f_bavail = buf->f_bfree;
	return 0;
}

static int mlfs_show_options(struct seq_file *m, struct dentry *root)
{
	struct mlfs_sb_info *sbi = MLFS_SB(root->d_sb);

	seq_printf(m, ",size=%luk", sbi->max_pages << (PAGE_SHIFT - 10));
	return 0;
}

static const struct super_operations mlfs_super_ops = {
	.alloc_inode	= mlfs_alloc_inode,
	.free_inode	= mlfs_free_inode,
	.evict_inode	= mlfs_evict_inode,
	.drop_inode	= generic_delete_inode,
	.statfs		= mlfs_statfs,
	.show_options	= mlfs_show_options,
};

static int mlfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct mlfs_fs_context *ctx = fc->fs_private;
	struct mlfs_sb_info *sbi;
	struct inode *root;

	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	spin_lock_init(&sbi->lock);
	sbi->max_pages = ctx->max_pages;
	/* from here on, a failure ends in mlfs_kill_sb, which frees sbi */
	sb->s_fs_info = sbi;

	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = MODLABFS_MAGIC;
	sb->s_op = &mlfs_super_ops;
	sb->s_time_gran = 1;

	root = mlfs_get_inode(sb, NULL, S_IFDIR | 0755, 0);
	sb->s_root = d_make_root(root);	/* puts root if it fails */
	if (!sb->s_root)
		return -ENOMEM;
	return 0;
}

static void mlfs_kill_sb(struct super_block *sb)
{
	struct mlfs_sb_info *sbi = MLFS_SB(sb);

	/* drops the pinned dentries, so every inode is evicted */
	kill_litter_super(sb);
	if (sbi)
		WARN_ON_ONCE(sbi->used_pages);	/* a charge never given back */
	kfree(sbi);
}

enum mlfs_param {
	Opt_size,
};

static const struct fs_parameter_spec mlfs_fs_parameters[] = {
	fsparam_string("size", Opt_size),
	{}
};

static int mlfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct mlfs_fs_context *ctx = fc->fs_private;
	struct fs_parse_result result;
	unsigned long long size;
	char *rest;
	int opt;

	opt = fs_parse(fc, mlfs_fs_parameters, param, &result);
	if (opt < 0)
		return opt;

	switch (opt) {
	case Opt_size:
		size = memparse(param->string, &rest);
		if (*rest || size < PAGE_SIZE)
			return invalfc(fc, "bad size '%s': want at least %lu bytes, with an optional k, m or g suffix",
				       param->string, PAGE_SIZE);
		ctx->max_pages = size >> PAGE_SHIFT;
		ctx->size_set = true;
		break;
	}
	return 0;
}

static int mlfs_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, mlfs_fill_super);
}

/* mount -o remount,size=N: refused when the files already hold more. */
static int mlfs_reconfigure(struct fs_context *fc)
{
	struct mlfs_fs_context *ctx = fc->fs_private;
	struct mlfs_sb_info *sbi = MLFS_SB(fc->root->d_sb);
	unsigned long used;
	int err = 0;

	if (!ctx->size_set)
		return 0;
	spin_lock(&sbi->lock);
	used = sbi->used_pages;
	if (ctx->max_pages < used)
		err = -EINVAL;
	else
		sbi->max_pages = ctx->max_pages;
	spin_unlock(&sbi->lock);
	if (err)
		return invalfc(fc, "size too small: the files hold %lu pages", used);
	return 0;
}

static void mlfs_free_fc(struct fs_context *fc)
{
	kfree(fc->fs_private);
}

static const struct fs_context_operations mlfs_context_ops = {
	.free		= mlfs_free_fc,
	.parse_param	= mlfs_parse_param,
	.get_tree	= mlfs_get_tree,
	.reconfigure	= mlfs_reconfigure,
};

/* mount(2) starts here: a context to collect the options in. */
static int mlfs_init_fs_context(struct fs_context *fc)
{
	struct mlfs_fs_context *ctx;

	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	if (!ctx)
		return -ENOMEM;
	ctx->max_pages = totalram_pages() / 2;
	fc->fs_private = ctx;
	fc->ops = &mlfs_context_ops;
	return 0;
}

static struct file_system_type mlfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "modlabfs",
	.init_fs_context	= mlfs_init_fs_context,
	.parameters		= mlfs_fs_parameters,
	.kill_sb		= mlfs_kill_sb,
};
MODULE_ALIAS_FS("modlabfs");

static void mlfs_inode_init_once(void *obj)
{
	struct mlfs_inode_info *mi = obj;

	inode_init_once(&mi->vfs_inode);
}

static int __init mlfs_init(void)
{
	int err;

	mlfs_inode_cachep = kmem_cache_create("modlabfs_inode_cache",
					      sizeof(struct mlfs_inode_info), 0,
					      SLAB_RECLAIM_ACCOUNT | SLAB_ACCOUNT,
					      mlfs_inode_init_once);
	if (!mlfs_inode_cachep)
		return -ENOMEM;

	err = register_filesystem(&mlfs_fs_type);
	if (err)
		goto out_destroy_cache;
	pr_info("registered filesystem modlabfs\n");
	return 0;

out_destroy_cache:
	kmem_cache_destroy(mlfs_inode_cachep);
	return err;
}

static void __exit mlfs_exit(void)
{
	unregister_filesystem(&mlfs_fs_type);
	/* inodes are freed after an RCU grace period: wait for the last */
	rcu_barrier();
	kmem_cache_destroy(mlfs_inode_cachep);
	pr_info("unregistered filesystem modlabfs\n");
}

module_init(mlfs_init);
module_exit(mlfs_exit);

MODULE_LICENSE("GPL");
MODULE_AUTHOR("modlab");
MODULE_DESCRIPTION("modlabfs: an in-memory filesystem with a size= limit");
