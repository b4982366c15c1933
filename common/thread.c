/*
 * Priority of the media threads (the transport's I/O thread and the room
 * workers). Their work is small but due every 20 ms; on a machine that is
 * busy with other things (browsers beside the server in the tests, a
 * transcoder on the same host) a normal-priority thread is often scheduled
 * too late and the room misses its deadlines. A raised nice value gives
 * them a larger CFS share and prompt wake-ups, without the risk of a
 * real-time class (a runaway video encode cannot lock the machine).
 *
 * Where that is not enough (a host whose other work runs at the same
 * raised priority, or many more runnable threads than cores), the
 * operator may ask for SCHED_RR instead (--media-rt PRIO), as audio
 * servers do (PipeWire, JACK; Asterisk -p, FreeSWITCH -rp): a woken
 * media thread then runs at once. What bounds it: the room's own
 * overload control (video frames dropped when a tick takes more than
 * 60 % of its 20 ms) and the kernel's real-time throttling
 * (sched_rt_runtime_us, 95 % of each second by default).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/common.h"

static int media_nice = -10;
static int media_rt;
static int warned, rt_warned;

void cm_media_nice_set(int nice)
{
	media_nice = nice;
}

void cm_media_rt_set(int prio)
{
	media_rt = prio;
}

void cm_thread_media_priority(void)
{
	if (media_rt) {
		struct sched_param sp = {.sched_priority = media_rt};
		int err = pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
		if (!err)
			return;
		if (!__atomic_exchange_n(&rt_warned, 1, __ATOMIC_RELAXED))
			cm_info("server",
				"media threads not real-time (SCHED_RR %d: %s; needs root, "
				"CAP_SYS_NICE or RLIMIT_RTPRIO); using the nice value",
				media_rt, strerror(err));
	}
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
