/*
 * Priority of the media threads (the transport's I/O thread and the room
 * workers). Their work is small but due every 20 ms; on a machine that is
 * busy with other things (browsers beside the server in the tests, a
 * transcoder on the same host) a normal-priority thread is often scheduled
 * too late and the room misses its deadlines. A raised nice value gives
 * them a larger CFS share and prompt wake-ups, without the risk of a
 * real-time class (a runaway video encode cannot lock the machine).
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/common.h"

static int media_nice = -10;
static int warned;

void cm_media_nice_set(int nice)
{
	media_nice = nice;
}

void cm_thread_media_priority(void)
{
	if (!media_nice)
		return;
	/* On Linux a nice value belongs to a thread (its tid). */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), media_nice) == 0)
		return;
	int err = errno;
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
		cm_info("server",
			"media threads stay at normal priority (nice %d: %s; needs root or "
			"CAP_SYS_NICE, or --media-nice 0)",
			media_nice, strerror(err));
}
