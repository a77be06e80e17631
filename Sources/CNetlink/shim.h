// The C surface MPTCPKit uses: libnl core and genl, plus the few libc pieces
// Swift cannot reach cleanly. Only static inline shims live here.
#ifndef CNETLINK_SHIM_H
#define CNETLINK_SHIM_H

#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <linux/netlink.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/msg.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

/// The sequence number libnl put into a message by nl_send_auto().
static inline uint32_t cnl_msg_seq(struct nl_msg *msg) {
    return nlmsg_hdr(msg)->nlmsg_seq;
}

/// errno as an int (Swift sees glibc's errno as a computed property, this is
/// only here so the value is read right after the failing call in C).
static inline int cnl_errno(void) { return errno; }

/// setns(2) for a network namespace file descriptor.
/// glibc declares setns() only with _GNU_SOURCE, which would make this module
/// disagree with SwiftGlibc, so it is declared here. CLONE_NEWNET is 0x40000000.
extern int setns(int fd, int nstype);
static inline int cnl_setns_net(int fd) { return setns(fd, 0x40000000); }

/// unshare(2) of the network namespace only: the calling thread gets a fresh, empty
/// namespace (mptcpctl doctor's throw-away probes). Declared for the same reason as setns.
extern int unshare(int flags);
static inline int cnl_unshare_net(void) { return unshare(0x40000000); }

/// The kernel-side filter of a raw IPv4 ICMP socket (`ICMP_FILTER`, an `SOL_RAW`
/// option, `struct icmp_filter { __u32 data; }` in <linux/icmp.h>: a set bit
/// blocks that type). <linux/icmp.h> itself is not included: it pulls in
/// <linux/if.h> and <linux/in6.h>, which redefine glibc's types.
/// `passed` has bit N set for each ICMP type N (< 32) the socket is to receive.
static inline int cnl_set_icmp_filter(int fd, uint32_t passed) {
    uint32_t blocked = ~passed;
    return setsockopt(fd, SOL_RAW, 1 /* ICMP_FILTER */, &blocked, sizeof blocked);
}

/// The kernel-side filter of a raw ICMPv6 socket (`ICMP6_FILTER`): every type
/// blocked but the `count` types in `passed` (the <netinet/icmp6.h> macros,
/// which Swift cannot call).
static inline int cnl_set_icmp6_filter(int fd, const uint8_t *passed, int count) {
    struct icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    for (int i = 0; i < count; i++) ICMP6_FILTER_SETPASS(passed[i], &filter);
    return setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
}

#endif
