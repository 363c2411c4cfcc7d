/* SPDX-License-Identifier: MIT */
/*
 * stats_report_unwritable: hms_close() with $HMS_STATS_FILE naming a file
 * it cannot report to goes on and keeps errno: a full device (/dev/full:
 * the write fails), a FIFO nobody reads (the open fails at once: O_NONBLOCK,
 * never a wait for a reader), a directory.  Then a regular file gets
 * exactly one "hms_stats pid N ..." line per close.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hms_test.h"

/* One context's life: a page touched, then hms_close() with errno set. */
static void open_touch_close(void)
{
	struct hms *h = t_open();
	int *p = hms_alloc(h, T_PAGE, 0);

	T_ASSERT(p);
	p[0] = 1;
	errno = EDOM;
	hms_close(h);
	T_EQ(errno, EDOM);
}

int main(void)
{
	char dir[] = "/tmp/hms-stats-XXXXXX", fifo[64], file[64], buf[4096], want[64];
	ssize_t n;
	int fd;

	T_ASSERT(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(file, sizeof(file), "%s/stats", dir);
	T_EQ(mkfifo(fifo, 0600), 0);

	T_EQ(setenv("HMS_STATS_FILE", "/dev/full", 1), 0);
	open_touch_close();
	t_watchdog(20, "hms_close() waited for a reader of the FIFO");
	T_EQ(setenv("HMS_STATS_FILE", fifo, 1), 0);
	open_touch_close();
	t_watchdog(0, NULL);
	T_EQ(setenv("HMS_STATS_FILE", dir, 1), 0);
	open_touch_close();

	fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0600);
	T_ASSERT(fd >= 0);
	T_EQ(setenv("HMS_STATS_FILE", file, 1), 0);
	open_touch_close();
	open_touch_close();
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	T_ASSERT(n > 0);
	buf[n] = 0;
	snprintf(want, sizeof(want), "hms_stats pid %ld ", (long)getpid());
	T_ASSERT(!strncmp(buf, want, strlen(want)));
	T_ASSERT(strstr(buf + 1, want) != NULL);      /* a second line... */
	T_EQ(strchr(buf, '\n') + 1 == strstr(buf + 1, want), 1); /* ...right after the first */
	T_EQ(buf[n - 1], '\n');
	T_EQ(strchr(strstr(buf + 1, want), '\n') - buf + 1, n); /* and no third */

	close(fd);
	unlink(file);
	unlink(fifo);
	rmdir(dir);
	printf("ok\n");
	return 0;
}
