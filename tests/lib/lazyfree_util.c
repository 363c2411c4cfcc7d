/* SPDX-License-Identifier: MIT */
#include "lazyfree_util.h"

struct t_lazy t_lazy_open(void)
{
	struct t_lazy t;

	t.h = t_open_flags(HMS_OPEN_USER_MODE_ONLY);
	T_EQ(hms_mode(t.h), HMS_MODE_USER_ONLY);
	t.d = t_softdev(t.h, 0);
	t.p = hms_alloc(t.h, T_LAZY_NP * T_PAGE, 0);
	T_ASSERT(t.p);
	memset(t.p, 'x', T_LAZY_NP * T_PAGE);
	return t;
}

void t_lazy_device_write(struct hms_softdev *d, char *p)
{
	static char buf[T_PAGE];
	struct hms_softdev_cmd c;

	memset(buf, 'd', sizeof(buf));
	T_EQ(t_cmd(d, hms_softdev_write, p + T_PAGE, buf, 1, &c), 0);
	T_EQ(c.cpages, 1);
	T_EQ(p[T_PAGE], 'd');
	T_EQ(p[2 * T_PAGE - 1], 'd');
	T_EQ(p[0], 'x');
}
