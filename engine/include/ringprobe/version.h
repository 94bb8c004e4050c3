/* ringprobe version macros. No ABI promises before 1.0. */
#ifndef RINGPROBE_VERSION_H
#define RINGPROBE_VERSION_H

#define RP_VERSION_MAJOR 0
#define RP_VERSION_MINOR 1
#define RP_VERSION_PATCH 0
#define RP_VERSION_HEX                                                         \
	((RP_VERSION_MAJOR << 16) | (RP_VERSION_MINOR << 8) | RP_VERSION_PATCH)
#define RP_VERSION_STRING "0.1.0"

#endif
