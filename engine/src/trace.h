/*
 * trace.h - the engine's static tracepoints (USDT, provider "ringprobe"),
 * compiled in when systemtap-sdt-dev's <sys/sdt.h> is present. Each is a
 * single nop until a tracer (perf probe, bpftrace) attaches; perf/trace
 * shows how to use them.
 *
 *   probe_start(index, slot)         a target took a slot
 *   phase(index, phase)              enum slot_state it entered
 *   probe_done(index, status, us)    its result: rp_status, elapsed µs
 */
#ifndef RP_TRACE_H
#define RP_TRACE_H

#if defined(__has_include)
#if __has_include(<sys/sdt.h>)
/* Arguments in registers: perf 6.1 drops the constant ones ("-4@$3") that
 * the default constraint allows. */
#define STAP_SDT_ARG_CONSTRAINT r
#include <sys/sdt.h>
#define RP_HAVE_SDT 1
#endif
#endif

#ifdef RP_HAVE_SDT
/* Argument names differ from probe names: those are macro-expanded too. */
#define RP_TRACE_START(i_, s_) DTRACE_PROBE2(ringprobe, probe_start, i_, s_)
#define RP_TRACE_PHASE(i_, p_) DTRACE_PROBE2(ringprobe, phase, i_, p_)
#define RP_TRACE_DONE(i_, st_, us_)                                            \
	DTRACE_PROBE3(ringprobe, probe_done, i_, st_, us_)
#else
#define RP_TRACE_START(i_, s_) ((void)0)
#define RP_TRACE_PHASE(i_, p_) ((void)0)
#define RP_TRACE_DONE(i_, st_, us_) ((void)0)
#endif

#endif
