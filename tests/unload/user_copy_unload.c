/* user_copy_unload: a program that loads libhms with dlopen, copies with
 * hms_user_read (which installs the fault guard) and unloads it again
 * gets its own SIGSEGV disposition back: no handler is left pointing into
 * code that is gone.  This program is not linked with libhms; ctest gives
 * it the library's path. */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

typedef ssize_t (*read_fn)(void *, const void *, size_t);

int main(int argc, char **argv)
{
	struct sigaction before, during, after;
	char buf[64], *none;
	void *lib;
	read_fn rd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s LIBHMS\n", argv[0]);
		return 1;
	}
	if (getenv("HMS_USER_COPY")) {
		printf("SKIP: HMS_USER_COPY is set: no guard to take back\n");
		return 77;
	}
	none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (none == MAP_FAILED || !lib) {
		fprintf(stderr, "FAIL: setup: %s\n", lib ? "mmap" : dlerror());
		return 1;
	}
	rd = (read_fn)(void (*)(void))dlsym(lib, "hms_user_read");
	sigaction(SIGSEGV, NULL, &before);
	if (!rd || rd(buf, none, sizeof(buf)) != -14 /* -EFAULT */) {
		fprintf(stderr, "FAIL: hms_user_read of PROT_NONE memory\n");
		return 1;
	}
	sigaction(SIGSEGV, NULL, &during);
	if (dlclose(lib)) {
		fprintf(stderr, "FAIL: dlclose: %s\n", dlerror());
		return 1;
	}
	sigaction(SIGSEGV, NULL, &after);
#if defined(__SANITIZE_THREAD__)
	(void)during;
#else
	if (!(during.sa_flags & SA_SIGINFO) || during.sa_sigaction == before.sa_sigaction) {
		fprintf(stderr, "FAIL: no guard installed by the copy\n");
		return 1;
	}
#endif
	if (after.sa_handler != before.sa_handler || (after.sa_flags & SA_SIGINFO) !=
	    (before.sa_flags & SA_SIGINFO)) {
		fprintf(stderr, "FAIL: the SIGSEGV disposition was not given back on unload\n");
		return 1;
	}
	printf("guard installed and taken back on dlclose\n");
	return 0;
}
