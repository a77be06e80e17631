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

#endif
