/*
 * A fault for tests: a full disk under PostgreSQL's databases.
 *
 * Loaded into a test server with LD_PRELOAD (see diskfull.go). While the file
 * named by $SLUICE_DISKFULL_FLAG exists, a write that would make a regular
 * file under the directory $SLUICE_DISKFULL_DIR larger fails with ENOSPC, as
 * the kernel answers on a volume with no free blocks; writes inside a file's
 * current size succeed, as they do on a full volume, where those blocks are
 * already allocated. Everything else is passed through untouched.
 *
 * PostgreSQL itself is not changed: it meets ENOSPC from the system call and
 * takes its own path for a full disk (SQLSTATE 53100 disk_full).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static char *flag_file;
static char full_dir[PATH_MAX];

__attribute__((constructor)) static void init(void)
{
	const char *dir = getenv("SLUICE_DISKFULL_DIR");
	const char *flag = getenv("SLUICE_DISKFULL_FLAG");
	/* Copied: the postmaster overwrites the memory of its environment to
	 * show its status in ps. */
	if (flag != NULL)
		flag_file = strdup(flag);
	/* The server opens its files by relative paths under a data directory
	 * that may be reached through a link: compare real paths. */
	if (dir == NULL || realpath(dir, full_dir) == NULL)
		full_dir[0] = '\0';
}

/* would_grow_full_file says whether writing up to end in fd would grow a
 * file on the full disk. errno is left as it was. */
static int would_grow_full_file(int fd, off_t end)
{
	int saved = errno, grows = 0;
	struct stat st;
	char link[64], path[PATH_MAX];
	ssize_t n;
	size_t dir_len = strlen(full_dir);

	if (flag_file == NULL || dir_len == 0 || access(flag_file, F_OK) != 0)
		goto out;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || end <= st.st_size)
		goto out;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n < 0)
		goto out;
	path[n] = '\0';
	grows = strncmp(path, full_dir, dir_len) == 0 && path[dir_len] == '/';
out:
	errno = saved;
	return grows;
}

static size_t iov_len(const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	return total;
}

#define REAL(name) \
	static __typeof__(name) *real; \
	if (real == NULL) \
		real = (__typeof__(name) *) dlsym(RTLD_NEXT, #name)

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
	REAL(pwrite);
	if (count > 0 && would_grow_full_file(fd, offset + (off_t) count)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, count, offset);
}

ssize_t pwritev(int fd, const struct iovec *iov, int iovcnt, off_t offset)
{
	REAL(pwritev);
	size_t count = iov_len(iov, iovcnt);
	if (count > 0 && would_grow_full_file(fd, offset + (off_t) count)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, iov, iovcnt, offset);
}

ssize_t write(int fd, const void *buf, size_t count)
{
	REAL(write);
	if (count > 0 && flag_file != NULL && access(flag_file, F_OK) == 0) {
		int saved = errno;
		off_t offset = lseek(fd, 0, SEEK_CUR);
		int append = fcntl(fd, F_GETFL) & O_APPEND;
		struct stat st;
		errno = saved;
		if (offset >= 0 && append && fstat(fd, &st) == 0)
			offset = st.st_size;
		if (offset >= 0 && would_grow_full_file(fd, offset + (off_t) count)) {
			errno = ENOSPC;
			return -1;
		}
	}
	return real(fd, buf, count);
}

/* posix_fallocate returns the error rather than setting errno. */
int posix_fallocate(int fd, off_t offset, off_t len)
{
	REAL(posix_fallocate);
	if (len > 0 && would_grow_full_file(fd, offset + len))
		return ENOSPC;
	return real(fd, offset, len);
}

int fallocate(int fd, int mode, off_t offset, off_t len)
{
	REAL(fallocate);
	/* Only an allocation that grows the file needs space; punching holes
	 * (which needs KEEP_SIZE) never does. */
	if (len > 0 && (mode & 0x01 /* FALLOC_FL_KEEP_SIZE */) == 0 && would_grow_full_file(fd, offset + len)) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, mode, offset, len);
}
