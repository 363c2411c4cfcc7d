/* SPDX-License-Identifier: MIT */
/* stats.c - the context's counters: one list, copied out and printed. */
#include <errno.h>
#include <inttypes.h>

#include "core/internal.h"

HMS_API int hms_stats(struct hms *h, struct hms_stats *out)
{
	struct hms_stats s = { 0 };
	int ret = hms__check(h);

	if (ret)
		return ret;
	if (!out)
		return -EINVAL;
#define LOAD(f) s.f = atomic_load_explicit(&h->stats.f, memory_order_relaxed)
	LOAD(cpu_faults);
	LOAD(cpu_faults_device);
	LOAD(device_faults);
	LOAD(wp_faults);
	LOAD(migrations_to_device);
	LOAD(migrations_to_system);
	LOAD(bytes_to_device);
	LOAD(bytes_to_system);
	LOAD(replicas_made);
	LOAD(replicas_collapsed);
	LOAD(prefaulted);
#undef LOAD
	for (int i = 0; i < HMS_EVENT_COUNT; i++)
		s.invalidations[i] = atomic_load_explicit(&h->stats.invalidations[i],
							  memory_order_relaxed);
	*out = s;
	return 0;
}

HMS_API int hms_stats_print(const struct hms_stats *s, FILE *f)
{
	if (!s || !f)
		return -EINVAL;
	fprintf(f, "cpu_faults %" PRIu64 "\n", s->cpu_faults);
	fprintf(f, "cpu_faults_device %" PRIu64 "\n", s->cpu_faults_device);
	fprintf(f, "device_faults %" PRIu64 "\n", s->device_faults);
	fprintf(f, "wp_faults %" PRIu64 "\n", s->wp_faults);
	fprintf(f, "migrations_to_device %" PRIu64 "\n", s->migrations_to_device);
	fprintf(f, "migrations_to_system %" PRIu64 "\n", s->migrations_to_system);
	fprintf(f, "bytes_to_device %" PRIu64 "\n", s->bytes_to_device);
	fprintf(f, "bytes_to_system %" PRIu64 "\n", s->bytes_to_system);
	for (int i = 0; i < HMS_EVENT_COUNT; i++)
		fprintf(f, "invalidations_%s %" PRIu64 "\n", hms_event_name(i),
			s->invalidations[i]);
	fprintf(f, "replicas_made %" PRIu64 "\n", s->replicas_made);
	fprintf(f, "replicas_collapsed %" PRIu64 "\n", s->replicas_collapsed);
	fprintf(f, "prefaulted %" PRIu64 "\n", s->prefaulted);
	/* Flushed: a buffered write that fails later would be lost unseen. */
	return fflush(f) || ferror(f) ? -EIO : 0;
}
