/* SPDX-License-Identifier: MIT */
/*
 * inject_arm_strict: hms__inject_arm() (and so HMS_INJECT) takes a spec
 * strictly, as `hms stress --inject` does: N is digits only, no empty
 * item, no point twice, N from 1 to 1000000000.  A refused spec arms
 * nothing (a point armed before stays disarmed after a good spec that
 * leaves it out).  Before, strtoul took " 5", "+5" and "-1" wrapped, and
 * "nomem:5,nomem:7" armed the last.
 */
#include "hms_test.h"
#include "inject.h"

static void refused(const char *spec)
{
	if (hms__inject_arm(spec) != -EINVAL)
		T_FAIL("'%s' was taken", spec);
}

int main(void)
{
	static const char *const bad[] = {
		"nomem: 5", "nomem:+5", "nomem:-1", "nomem:5x", "nomem:", "nomem:0",
		"nomem:1000000001", "nomem:99999999999999999999999", "nomem:5,",
		",nomem:5", "nomem:5,,dev_copy:3", "nomem:5,nomem:7", "nomem", "nope:1",
		"nomem:0x5", "nomem:5 ",
	};

	T_EQ(hms__inject_arm("nomem:1,dev_copy:1000000000"), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		refused(bad[i]);
	/* nomem:1 is still armed: every pass fails. */
	T_ASSERT(hms__inject(HMS_INJ_NOMEM));
	T_ASSERT(hms__inject(HMS_INJ_NOMEM));
	T_EQ(hms__inject_hits(HMS_INJ_NOMEM), 2);
	T_EQ(hms__inject_arm("dev_copy:2"), 0);
	T_ASSERT(!hms__inject(HMS_INJ_NOMEM));
	T_ASSERT(!hms__inject(HMS_INJ_DEV_COPY));
	T_ASSERT(hms__inject(HMS_INJ_DEV_COPY));
	T_EQ(hms__inject_arm(""), 0);
	T_ASSERT(!hms__inject(HMS_INJ_DEV_COPY));
	T_ASSERT(!hms__inject(HMS_INJ_DEV_COPY));
	printf("ok\n");
	return 0;
}
