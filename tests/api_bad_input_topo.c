/* api_bad_input_topo: the topology calls given NULL snapshots, objects and
 * out-parameters, objects of the wrong type, uids that never existed or
 * were removed, unknown types and attributes, and streams that fail,
 * return the documented error; a CPU list longer than any fixed buffer
 * comes back whole. */
#include <fcntl.h>
#include <unistd.h>
#include "hms_test.h"

int main(void)
{
	struct hms *h = t_open();
	struct hms_topology *t, *old, *tsent = (struct hms_topology *)(uintptr_t)0x5a5a;
	struct hms_target_desc td = { "api_t", HMS_TARGET_HBM, HMS_NONE, 1 << 20,
				      HMS_SIZE_UNKNOWN, HMS_NONE, NULL };
	struct hms_initiator_desc id = { "api_i", HMS_INITIATOR_DEVICE, HMS_NONE, NULL, NULL };
	hms_uid tg, in, ln, ln2, br, gone, u;
	const struct hms_object *ot, *oi, *ol, *ob;
	struct hms_target_info ti;
	struct hms_initiator_info ii;
	struct hms_memcache mc;
	struct hms_perf pf;
	hms_uid uids[4];
	unsigned cpus[4];
	struct hms_matrix_cell cell[1];

	/* ---- registration ---- */
	T_EQ(hms_target_add(NULL, &td, &u), -EINVAL);
	T_EQ(hms_initiator_add(NULL, &id, &u), -EINVAL);
	T_EQ(hms_object_remove(NULL, 1), -EINVAL);
	td.kind = 0;
	T_EQ(hms_target_add(h, &td, &u), -EINVAL);
	td.kind = HMS_TARGET_HBM;
	id.kind = 3;
	T_EQ(hms_initiator_add(h, &id, &u), -EINVAL);
	id.kind = HMS_INITIATOR_CPU; /* a CPU initiator needs CPUs */
	T_EQ(hms_initiator_add(h, &id, &u), -EINVAL);
	id.cpulist = "";
	T_EQ(hms_initiator_add(h, &id, &u), -EINVAL);
	id.cpulist = "3-1";
	T_EQ(hms_initiator_add(h, &id, &u), -EINVAL);
	id.cpulist = "99999999999";
	T_EQ(hms_initiator_add(h, &id, &u), -EINVAL);
	id.kind = HMS_INITIATOR_DEVICE;
	id.cpulist = NULL;
	T_EQ(hms_target_add(h, &td, &tg), 0);
	T_EQ(hms_target_add(h, &td, &gone), 0);
	T_EQ(hms_initiator_add(h, &id, &in), 0);
	{
		struct hms_link_desc ld = { "api_l", &in, 1, &tg, 1, { 1, 1, 1, 1 }, NULL };
		struct hms_bridge_desc bd = { "api_b", 0, 0, &in, 1, { 1, 1, 1, 1 }, NULL };

		ld.ninitiators = SIZE_MAX; /* huge counts with a NULL array */
		ld.initiators = NULL;
		T_EQ(hms_link_add(h, &ld, &u), -EINVAL);
		ld.initiators = &in;
		ld.ninitiators = 1;
		ld.targets = &in; /* an initiator listed as a target */
		T_EQ(hms_link_add(h, &ld, &u), -EINVAL);
		ld.targets = &tg;
		T_EQ(hms_link_add(h, &ld, &ln), 0);
		T_EQ(hms_link_add(h, &ld, &ln2), 0);
		bd.from = bd.to = ln;
		T_EQ(hms_bridge_add(h, &bd, &u), -EINVAL);
		bd.to = tg; /* not a link */
		T_EQ(hms_bridge_add(h, &bd, &u), -EINVAL);
		bd.to = 0x7ffffff0;
		T_EQ(hms_bridge_add(h, &bd, &u), -ENOENT);
		bd.to = ln2;
		bd.ninitiators = 0;
		T_EQ(hms_bridge_add(h, &bd, &u), -EINVAL);
		bd.ninitiators = 1;
		T_EQ(hms_bridge_add(h, &bd, &br), 0);
		/* A removed uid is not in the topology any more. */
		T_EQ(hms_topology_get(h, &old), 0);
		T_EQ(hms_object_remove(h, gone), 0);
		T_EQ(hms_object_remove(h, gone), -ENOENT);
		ld.targets = &gone;
		T_EQ(hms_link_add(h, &ld, &u), -ENOENT);
		T_EQ(hms_object_remove(h, br), 0);
		T_EQ(hms_object_remove(h, br), -ENOENT);
		/* The registration stays usable. */
		T_EQ(hms_bridge_add(h, &bd, &br), 0);
	}

	/* ---- snapshots ---- */
	T_EQ(hms_topology_get(NULL, &t), -EINVAL);
	T_EQ(hms_topology_get(h, NULL), -EINVAL);
	t = tsent;
	T_EQ(hms_topology_load("/nonexistent/hms", 0, &t), -ENOENT);
	T_ASSERT(t == tsent);
	hms_topology_put(NULL);
	T_EQ(hms_topology_get(h, &t), 0);
	T_ASSERT(hms_topology_warning(NULL, 0) == NULL);
	T_ASSERT(hms_topology_warning(t, SIZE_MAX) == NULL);
	T_EQ(hms_topology_count(NULL, HMS_OBJECT_ANY), 0);
	T_EQ(hms_topology_count(t, (enum hms_object_type)5), 0);
	T_EQ(hms_topology_count(t, (enum hms_object_type)-1), 0);
	T_ASSERT(hms_topology_next(NULL, HMS_OBJECT_ANY, NULL) == NULL);
	T_ASSERT(hms_topology_next(t, (enum hms_object_type)9, NULL) == NULL);
	errno = 0;
	T_ASSERT(hms_object_find(NULL, tg) == NULL && errno == EINVAL);
	errno = 0;
	T_ASSERT(hms_object_find(t, 0) == NULL && errno == ENOENT);
	errno = 0;
	T_ASSERT(hms_object_find(t, gone) == NULL && errno == ENOENT);
	T_ASSERT(hms_object_find(old, gone) != NULL); /* an older snapshot keeps it */
	hms_topology_put(old);
	ot = hms_object_find(t, tg);
	oi = hms_object_find(t, in);
	ol = hms_object_find(t, ln);
	ob = hms_object_find(t, br);
	T_ASSERT(ot && oi && ol && ob);

	/* ---- objects: NULL, wrong type, out of range ---- */
	T_EQ(hms_object_type(NULL), HMS_OBJECT_ANY);
	T_EQ(hms_object_uid(NULL), 0);
	T_ASSERT(!strcmp(hms_object_name(NULL), ""));
	T_ASSERT(!strcmp(hms_object_note(NULL), ""));
	T_EQ(hms_target_info(NULL, &ti), -EINVAL);
	T_EQ(hms_target_info(ot, NULL), -EINVAL);
	T_EQ(hms_target_info(oi, &ti), -EINVAL);
	T_EQ(hms_target_cache(NULL, 0, &mc), -EINVAL);
	T_EQ(hms_target_cache(ot, 0, NULL), -EINVAL);
	T_EQ(hms_target_cache(ol, 0, &mc), -EINVAL);
	T_EQ(hms_target_cache(ot, 0, &mc), -ENOENT);
	T_EQ(hms_target_cache(ot, ~0u, &mc), -ENOENT);
	T_EQ(hms_initiator_info(NULL, &ii), -EINVAL);
	T_EQ(hms_initiator_info(oi, NULL), -EINVAL);
	T_EQ(hms_initiator_info(ot, &ii), -EINVAL);
	T_EQ(hms_initiator_cpus(NULL, cpus, 4), -EINVAL);
	T_EQ(hms_initiator_cpus(oi, NULL, 4), -EINVAL);
	T_EQ(hms_initiator_cpus(ot, cpus, 4), -EINVAL);
	T_EQ(hms_initiator_cpus(oi, NULL, 0), 0); /* a device: no CPUs */
	T_EQ(hms_object_perf(NULL, &pf), -EINVAL);
	T_EQ(hms_object_perf(ol, NULL), -EINVAL);
	T_EQ(hms_object_perf(ot, &pf), -EINVAL);
	T_EQ(hms_object_members(NULL, HMS_OBJECT_TARGET, uids, 4), -EINVAL);
	T_EQ(hms_object_members(ol, HMS_OBJECT_TARGET, NULL, 4), -EINVAL);
	T_EQ(hms_object_members(ol, HMS_OBJECT_ANY, uids, 4), -EINVAL);
	T_EQ(hms_object_members(ol, HMS_OBJECT_LINK, uids, 4), -EINVAL);
	T_EQ(hms_object_members(ob, HMS_OBJECT_TARGET, uids, 4), -EINVAL);
	T_EQ(hms_object_members(ot, HMS_OBJECT_INITIATOR, uids, 4), -EINVAL);
	T_EQ(hms_object_members(ol, HMS_OBJECT_TARGET, NULL, 0), 1);
	T_EQ(hms_bridge_ends(NULL, &u, &u), -EINVAL);
	T_EQ(hms_bridge_ends(ol, &u, &u), -EINVAL);
	T_EQ(hms_bridge_ends(ob, NULL, NULL), 0);

	/* ---- paths ---- */
	T_EQ(hms_topology_path(NULL, in, tg, &pf), -EINVAL);
	T_EQ(hms_topology_path(t, in, tg, NULL), -EINVAL);
	T_EQ(hms_topology_path(t, tg, in, &pf), -EINVAL); /* swapped */
	T_EQ(hms_topology_path(t, in, gone, &pf), -ENOENT);
	T_EQ(hms_topology_path(t, 0, tg, &pf), -ENOENT);
	T_EQ(hms_topology_path(t, in, tg, &pf), 0);
	T_EQ(hms_topology_best_target(NULL, in, HMS_ATTR_BANDWIDTH), -EINVAL);
	T_EQ(hms_topology_best_target(t, in, 0), -EINVAL);
	T_EQ(hms_topology_best_target(t, in, (enum hms_attribute)4), -EINVAL);
	T_EQ(hms_topology_best_target(t, tg, HMS_ATTR_LATENCY), -EINVAL);
	T_EQ(hms_topology_best_target(t, gone, HMS_ATTR_LATENCY), -ENOENT);
	T_EQ(hms_topology_matrix(NULL, NULL, 0), -EINVAL);
	T_ASSERT(hms_topology_matrix(t, NULL, 0) >= 1);
	T_EQ(hms_topology_matrix(t, cell, 0), -ERANGE);

	/* ---- export ---- */
	{
		FILE *f = fopen("/dev/full", "w");
		char dir[] = "/tmp/hms_api_topo_XXXXXX", file[300];
		int fd;

		T_EQ(hms_topology_write_json(NULL, stdout), -EINVAL);
		T_EQ(hms_topology_write_json(t, NULL), -EINVAL);
		T_EQ(hms_topology_write_dot(NULL, stdout), -EINVAL);
		T_EQ(hms_topology_write_dot(t, NULL), -EINVAL);
		if (f) {
			T_EQ(hms_topology_write_json(t, f), -EIO);
			clearerr(f);
			T_EQ(hms_topology_write_dot(t, f), -EIO);
			fclose(f);
		}
		T_EQ(hms_topology_write_sysfs(NULL, "/tmp"), -EINVAL);
		T_EQ(hms_topology_write_sysfs(t, NULL), -EINVAL);
		T_EQ(hms_topology_write_sysfs(t, ""), -EINVAL);
		T_ASSERT(mkdtemp(dir));
		snprintf(file, sizeof(file), "%s/f", dir);
		fd = open(file, O_CREAT | O_WRONLY, 0644);
		T_ASSERT(fd >= 0);
		close(fd);
		T_EQ(hms_topology_write_sysfs(t, file), -ENOTDIR); /* a file */
		unlink(file);
		snprintf(file, sizeof(file), "%s/tree", dir);
		T_EQ(hms_topology_write_sysfs(t, file), 0);
		T_EQ(hms_topology_write_sysfs(t, file), -EEXIST);
		snprintf(file, sizeof(file), "rm -rf '%s'", dir);
		T_EQ(system(file), 0);
	}
	hms_topology_put(t);

	/* ---- a CPU list longer than 4 KiB of text comes back whole ---- */
	{
		size_t cap = 64 * 1024, len = 0;
		char *list = malloc(cap), *got;
		struct hms_initiator_desc cd = { "api_cpus", HMS_INITIATOR_CPU, HMS_NONE, NULL, NULL };

		T_ASSERT(list);
		for (unsigned c = 0; c < 8192; c += 2)
			len += (size_t)snprintf(list + len, cap - len, "%s%u", c ? "," : "", c);
		cd.cpulist = list;
		T_EQ(hms_initiator_add(h, &cd, &u), 0);
		T_EQ(hms_topology_get(h, &t), 0);
		T_EQ(hms_initiator_info(hms_object_find(t, u), &ii), 0);
		T_EQ(ii.ncpus, 4096);
		T_EQ(hms_initiator_cpus(hms_object_find(t, u), cpus, 4), 4096);
		got = (char *)ii.cpulist;
		if (strcmp(got, list))
			T_FAIL("cpulist cut to %zu of %zu characters", strlen(got), len);
		hms_topology_put(t);
		free(list);
	}
	hms_close(h);
	return 0;
}
