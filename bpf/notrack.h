/* The ABI shared between the static BPF programs, the generated policy program and user space, defined once. */
/*
 * src/abi/notrack.ts mirrors this file; test/kernel/abi-btf.test.ts compares the two through the BTF of the
 * compiled objects, so a change here must be made there too (the test says exactly what differs).
 *
 * Constants live in enums rather than #defines so that they reach the BTF and the test can check them.
 *
 * Objects (scripts/build-bpf.mjs compiles each bpf/NAME.c into build/bpf/NAME.o):
 *   build/bpf/xdp.o  nt_xdp_entry (SEC "xdp", attached to the interface), the epilogues nt_xdp_accept,
 *                    nt_xdp_drop, nt_xdp_pass (SEC "xdp", reached only by tail call) and every map the XDP path
 *                    uses: nt_state, nt_jump, nt_failsafe, nt_failsafe_ports, nt_counters, nt_rule_counters,
 *                    nt_log, nt_log_bucket.
 *   build/bpf/tc.o   nt_tc_ingress (SEC "tc", BPF_PROG_TYPE_SCHED_CLS) and its own nt_tc_counters.
 *   They are two objects because the XDP programs and the TC program have different program types: one object
 *   with both could not be loaded with one `type` (bpftool prog loadall ... type xdp), and the TC program shares
 *   no map with the XDP side (the XDP metadata is the only thing passed between them).
 *
 * Configuration: both objects hold `nt_config` (struct nt_config) in their own section ".rodata.config", which
 * libbpf turns into a read-only, frozen array map whose real name is ".rodata.config". The loader sets it
 * BEFORE bpf_object__load() with
 *     bpf_map__set_initial_value(bpf_object__find_map_by_name(obj, ".rodata.config"), &cfg, sizeof cfg)
 * on each object (the same bytes for both; each reads only its own fields). Being read-only, the verifier sees the
 * values as constants; changing them means loading a new generation, which is how notrack applies changes anyway.
 * The compiled-in defaults are inert: no mark (mask 0) and no log events (rate 0).
 */
#ifndef NOTRACK_H
#define NOTRACK_H

#include <linux/types.h>

/* ---------------------------------------------------------------------------------------------------------------
 * Per-packet state: map nt_state, BPF_MAP_TYPE_PERCPU_ARRAY, key __u32 0, value struct nt_state, 1 entry.
 * nt_xdp_entry zeroes it and fills `pkt` for every IP packet; the generated policy program looks it up (key 0) and
 * reads the fields at the offsets given below; the epilogues read it back. Tail calls stay on one CPU within one
 * packet, so the per-CPU entry is the packet's own for its whole trip through the programs.
 * ------------------------------------------------------------------------------------------------------------- */

/* What the parser found out; bits of nt_packet.flags. */
enum nt_packet_flag {
	/* sport/dport hold the ports: TCP, UDP, UDPLite or SCTP, and not a non-first fragment. A rule that matches
	 * ports (or notPorts) must test this bit first: without it the packet has no ports and cannot match. */
	NT_PKT_F_PORTS = 1 << 0,
	/* icmp_type/icmp_code hold ICMP (IPv4, protocol 1) or ICMPv6 (IPv6, protocol 58) type and code, and this is
	 * not a non-first fragment. */
	NT_PKT_F_ICMP = 1 << 1,
	/* The packet is a fragment: IPv4 MF set or offset non-zero, or IPv6 with a fragment header. */
	NT_PKT_F_FRAGMENT = 1 << 2,
	/* A fragment with a non-zero offset: the upper-layer header is in another fragment (no ports, no ICMP). */
	NT_PKT_F_LATER_FRAGMENT = 1 << 3,
	/* IPv4 header with options (ihl > 5). */
	NT_PKT_F_IP_OPTIONS = 1 << 4,
	/* IPv6 with at least one extension header. */
	NT_PKT_F_EXT_HEADERS = 1 << 5,
	/* One or two VLAN tags were present in the frame (tags stripped by the NIC are not seen by XDP). */
	NT_PKT_F_VLAN = 1 << 6,
};

/*
 * The parsed packet: 48 bytes, at offset 0 of struct nt_state and offset 8 of struct nt_log_event.
 * Addresses are in network byte order exactly as on the wire, IPv4 in the first word and the other three zero;
 * a 32-bit load of a word on a little-endian host yields the four wire bytes in little-endian order, so the policy
 * program compares against constants built the same way. Ports are in HOST byte order so that ranges compare with
 * plain unsigned jumps. A 16-bit load at icmp_type reads (icmp_code << 8) | icmp_type.
 */
struct nt_packet {
	__be32 saddr[4];	/*  0, 16: source address */
	__be32 daddr[4];	/* 16, 16: destination address */
	__u16 sport;		/* 32,  2: source port (host order), 0 without NT_PKT_F_PORTS */
	__u16 dport;		/* 34,  2: destination port (host order), 0 without NT_PKT_F_PORTS */
	__u8 icmp_type;		/* 36,  1: ICMP/ICMPv6 type, 0 without NT_PKT_F_ICMP */
	__u8 icmp_code;		/* 37,  1: ICMP/ICMPv6 code, 0 without NT_PKT_F_ICMP */
	__u8 ip_proto;		/* 38,  1: upper-layer protocol (IPv6: after the extension headers) */
	__u8 family;		/* 39,  1: 4 or 6 */
	__u32 flags;		/* 40,  4: enum nt_packet_flag bits */
	__u16 l3_off;		/* 44,  2: offset of the IP header (the end of Ethernet and VLAN tags) in the frame */
	__u16 l4_off;		/* 46,  2: offset of the upper-layer header, 0 when it is not in this packet */
};

enum nt_limits {
	/* Log rules recorded per packet; more matching Log rules are counted (NT_CNT_LOG_OVERFLOW), not logged. */
	NT_LOG_MAX = 4,
	/* IPv6 extension headers walked before the packet counts as unsupported (dropped). */
	NT_EXT_HDR_MAX = 8,
	/* VLAN tags parsed; a third tag makes the frame unsupported (dropped). */
	NT_VLAN_MAX = 2,
	/* Default capacities; the loader may change nt_rule_counters and nt_log with bpf_map__set_max_entries(). */
	NT_JUMP_SLOTS = 32,
	NT_FAILSAFE_MAX = 1024,
	NT_RULE_COUNTERS_MAX = 16384,
	NT_LOG_RING_BYTES = 256 * 1024,
};

/* rule_id when no rule decided the packet (no match, or the policy program never ran). */
enum nt_rule_id {
	NT_RULE_NONE = 0xffffffff,
};

/*
 * 96 bytes. The policy program (raw instructions, see src/compile/) owns rule_id, log_count, log_rules and
 * scratch; nt_xdp_entry sets rule_id = NT_RULE_NONE and zeroes the rest before the policy runs.
 */
struct nt_state {
	struct nt_packet pkt;		/*  0, 48: the parsed packet (offsets above are relative to 0 here too) */
	__u32 rule_id;			/* 48,  4: index of the deciding rule in nt_rule_counters, or NT_RULE_NONE */
	__u32 log_count;		/* 52,  4: number of Log rules that matched, may exceed NT_LOG_MAX */
	__u32 log_rules[NT_LOG_MAX];	/* 56, 16: rule indexes of the first NT_LOG_MAX matching Log rules, in order */
	__u32 ifindex;			/* 72,  4: ingress ifindex (xdp_md.ingress_ifindex) */
	__u32 pkt_len;			/* 76,  4: frame length in bytes, what the byte counters add */
	__u32 scratch[4];		/* 80, 16: the policy program's own (e.g. resume label across split programs) */
};
/*
 * How the policy program records a Log rule (non-terminal) and goes on:
 *     n = log_count; if (n < NT_LOG_MAX) log_rules[n] = <rule index>; log_count = n + 1;
 * and how it ends: rule_id = <deciding rule index> (or NT_RULE_NONE when nothing matched), then
 *     bpf_tail_call(ctx, &nt_jump, NT_SLOT_ACCEPT | NT_SLOT_DROP | NT_SLOT_PASS).
 * If that tail call returns (slot empty: loader bug), it should count NT_CNT_TAIL_CALL_FAILED and return
 * XDP_PASS for Allow and Pass (the packet stays tracked, so nothing is opened by mistake) and XDP_DROP for Deny.
 *
 * Loading the policy program (and every part of a split one) so that the kernel lets it into nt_jump:
 *   - BPF_PROG_TYPE_XDP with expected_attach_type BPF_XDP (37), the same as libbpf gives the SEC("xdp")
 *     programs here: since kernel 6.18 (and its stable backports) a program array takes only programs of its
 *     owner's expected attach type (with 0 the update fails with EINVAL); not BPF_F_XDP_HAS_FRAGS (the static
 *     programs are not frags-aware);
 *   - its map references (BPF_PSEUDO_MAP_FD) are the fds of nt_state, nt_jump and, if it counts, nt_counters of
 *     the SAME load of xdp.o as the nt_xdp_entry it runs behind;
 *   - R1 (the xdp_md) must be kept, e.g. in R6, for bpf_tail_call.
 */

/* ---------------------------------------------------------------------------------------------------------------
 * Program array: map nt_jump, BPF_MAP_TYPE_PROG_ARRAY, key __u32 slot, value __u32 program fd, NT_JUMP_SLOTS entries.
 * Slots 1-3 are filled by libbpf while loading xdp.o (static initialisation in xdp.c). The loader puts the policy
 * program in slot 0; a policy program split in several parts puts part 1, 2, ... in slots 4, 5, ... (the first part
 * is slot 0). With the kernel's 33 tail calls per packet, entry -> 29 parts -> epilogue stays inside the limit.
 * The kernel empties a program array when its last user-space reference (fd or pin) goes: keep nt_jump pinned
 * for as long as the XDP program is attached, or every packet falls through to NT_CNT_NO_POLICY.
 * ------------------------------------------------------------------------------------------------------------- */
enum nt_jump_slot {
	NT_SLOT_POLICY = 0,	/* the generated policy program; empty: nt_xdp_entry passes, NT_CNT_NO_POLICY */
	NT_SLOT_ACCEPT = 1,	/* nt_xdp_accept: Allow */
	NT_SLOT_DROP = 2,	/* nt_xdp_drop: Deny */
	NT_SLOT_PASS = 3,	/* nt_xdp_pass: Pass, or no rule matched */
	NT_SLOT_SPLIT_FIRST = 4,	/* second part of a split policy program; part k >= 1 is at slot 3 + k */
};

/* The outcome written in log events; same numbers as the epilogue slots. */
enum nt_verdict {
	NT_VERDICT_ACCEPT = 1,
	NT_VERDICT_DROP = 2,
	NT_VERDICT_PASS = 3,
};

/* ---------------------------------------------------------------------------------------------------------------
 * XDP -> TC: the accept epilogue prepends struct nt_meta with bpf_xdp_adjust_meta(); nt_tc_ingress reads it at
 * skb->data_meta. The magic word keeps metadata that some other XDP program left there from reading as "accepted".
 * ------------------------------------------------------------------------------------------------------------- */
enum nt_meta_const {
	NT_META_MAGIC = 0x4e54524b,	/* "NTRK" */
	NT_META_ACCEPTED = 1 << 0,	/* flags: accepted untracked by an Allow rule */
};

struct nt_meta {
	__u32 magic;	/* 0, 4: NT_META_MAGIC */
	__u32 flags;	/* 4, 4: NT_META_ACCEPTED */
};

/* ---------------------------------------------------------------------------------------------------------------
 * Failsafes: map nt_failsafe, BPF_MAP_TYPE_LPM_TRIE (BPF_F_NO_PREALLOC), key struct nt_failsafe_key, value __u32
 * (any value; presence is what counts), NT_FAILSAFE_MAX entries.
 * An entry's prefixlen is 64 + CIDR bits, so family, direction, protocol and port always match exactly and the
 * address matches as a CIDR (0.0.0.0/0 or ::/0 when no net was configured). Lookups use 64 + 32 or 64 + 128.
 * Checked only for packets with ports (NT_PKT_F_PORTS), with the packet's SOURCE address:
 *   inbound  {NT_FAILSAFE_IN,  proto, dport, saddr}: a peer opening a failsafe service here;
 *   outbound {NT_FAILSAFE_OUT, proto, sport, saddr}: the reply to a connection this host opened to a failsafe port.
 * A hit passes the packet WITHOUT the metadata flag, so it stays tracked (NT_CNT_FAILSAFE).
 *
 * Port filter: map nt_failsafe_ports, BPF_MAP_TYPE_ARRAY, key __u32 0, value struct nt_failsafe_ports, 1 entry.
 * Once `filled` is set, the trie is looked up for a direction only when the port's bit is set there, which
 * spares most packets two trie lookups (measured with BPF_PROG_TEST_RUN: most of nt_xdp_entry's time). The loader writes it from the same
 * list of entries as nt_failsafe, before attaching (notrack.ts: encodeFailsafePorts): a failsafe whose bit is clear
 * never matches. Left unwritten (filled = 0), every packet with ports is looked up: slower, never unsafe.
 * ------------------------------------------------------------------------------------------------------------- */
enum nt_failsafe_direction {
	NT_FAILSAFE_IN = 0,
	NT_FAILSAFE_OUT = 1,
};

enum nt_failsafe_const {
	NT_FAILSAFE_FIXED_BITS = 64,	/* prefix bits before the address: family .. pad1 */
};

struct nt_failsafe_key {
	__u32 prefixlen;	/*  0, 4: NT_FAILSAFE_FIXED_BITS + address prefix length */
	__u8 family;		/*  4, 1: 4 or 6 */
	__u8 direction;		/*  5, 1: enum nt_failsafe_direction */
	__u8 proto;		/*  6, 1: IP protocol (6 tcp, 17 udp, 132 sctp, 136 udplite) */
	__u8 pad0;		/*  7, 1: zero */
	__be16 port;		/*  8, 2: port, NETWORK byte order */
	__u16 pad1;		/* 10, 2: zero */
	__u8 addr[16];		/* 12, 16: peer address, network order; IPv4 in the first 4 bytes, rest zero */
};

/* One bit per port: bit (port & 7) of byte port >> 3. */
struct nt_failsafe_ports {
	__u32 filled;		/*    0,    4: 1 when the bits below are valid; 0 = look every packet up */
	__u32 pad;		/*    4,    4: zero */
	__u8 in[8192];		/*    8, 8192: destination ports of inbound failsafes (any protocol, family, net) */
	__u8 out[8192];		/* 8200, 8192: source ports of the replies to outbound failsafes */
};

/* ---------------------------------------------------------------------------------------------------------------
 * Counters: value struct nt_counter in every counter map. Per-CPU maps: user space sums the CPUs.
 *   nt_counters       BPF_MAP_TYPE_PERCPU_ARRAY, key __u32 enum nt_counter_reason, NT_CNT__COUNT entries (xdp.o)
 *   nt_rule_counters  BPF_MAP_TYPE_PERCPU_ARRAY, key __u32 rule index, NT_RULE_COUNTERS_MAX entries (xdp.o);
 *                     a rule index at or past max_entries is not counted. 16 bytes per rule per CPU: the loader
 *                     may size it to the generation's rule count with bpf_map__set_max_entries().
 *   nt_tc_counters    BPF_MAP_TYPE_PERCPU_ARRAY, key __u32 enum nt_tc_counter_reason, NT_TC_CNT__COUNT (tc.o)
 * ------------------------------------------------------------------------------------------------------------- */
struct nt_counter {
	__u64 packets;	/* 0, 8 */
	__u64 bytes;	/* 8, 8: frame bytes (Ethernet header included) */
};

/*
 * Why a packet left the XDP path the way it did. Every packet counts in NT_CNT_TOTAL and in exactly one of
 * NON_IP .. NO_MATCH (or TAIL_CALL_FAILED, if the policy program counts that); the rest are side events.
 */
enum nt_counter_reason {
	NT_CNT_TOTAL = 0,		/* every packet nt_xdp_entry saw */
	NT_CNT_NON_IP = 1,		/* not IPv4/IPv6 (ARP, LLDP ...): XDP_PASS untouched */
	NT_CNT_MALFORMED = 2,		/* broken headers (see nt_xdp_entry): XDP_DROP */
	NT_CNT_UNSUPPORTED = 3,		/* > NT_VLAN_MAX tags, > NT_EXT_HDR_MAX ext headers or past 16 KiB: XDP_DROP */
	NT_CNT_FAILSAFE = 4,		/* failsafe hit: XDP_PASS, tracked */
	NT_CNT_NO_POLICY = 5,		/* policy slot empty: XDP_PASS, tracked */
	NT_CNT_ACCEPTED = 6,		/* Allow: XDP_PASS with the metadata flag (untracked) */
	NT_CNT_DROPPED = 7,		/* Deny: XDP_DROP */
	NT_CNT_POLICY_PASSED = 8,	/* a Pass rule: XDP_PASS, tracked */
	NT_CNT_NO_MATCH = 9,		/* no rule matched: XDP_PASS, tracked */
	NT_CNT_META_FAILED = 10,	/* accepted but bpf_xdp_adjust_meta failed: passed without the flag, tracked */
	NT_CNT_LOG_EMITTED = 11,	/* log events written to nt_log */
	NT_CNT_LOG_RATE_LIMITED = 12,	/* log events suppressed by the token bucket (or rate 0) */
	NT_CNT_LOG_LOST = 13,		/* log events lost because nt_log was full */
	NT_CNT_LOG_OVERFLOW = 14,	/* matching Log rules past NT_LOG_MAX: neither logged nor counted per rule */
	NT_CNT_TAIL_CALL_FAILED = 15,	/* the policy program's jump to an epilogue failed (for the policy program) */
	NT_CNT__COUNT = 16,
};

enum nt_tc_counter_reason {
	NT_TC_CNT_SEEN = 0,		/* every packet nt_tc_ingress saw */
	NT_TC_CNT_ACCEPTED = 1,		/* carried NT_META_ACCEPTED: mark set (when accept_mask != 0) */
	NT_TC_CNT_FOREIGN_META = 2,	/* carried metadata without NT_META_MAGIC: ignored */
	NT_TC_CNT__COUNT = 3,
};

/* ---------------------------------------------------------------------------------------------------------------
 * Logging: map nt_log, BPF_MAP_TYPE_RINGBUF, NT_LOG_RING_BYTES; one struct nt_log_event per (packet, matching Log
 * rule), written by the epilogue once the verdict is known. Rate-limited by a token bucket per CPU in nt_log_bucket
 * (BPF_MAP_TYPE_PERCPU_ARRAY, key __u32 0, value struct nt_log_bucket, 1 entry): log_rate events per second and
 * bursts of log_burst, PER CPU (divide by the CPU count for a host-wide budget). The rule counters of Log rules
 * count every match, logged or not.
 * ------------------------------------------------------------------------------------------------------------- */
struct nt_log_event {
	__u64 ts_ns;		/*  0, 8: bpf_ktime_get_ns() (CLOCK_MONOTONIC) */
	struct nt_packet pkt;	/*  8, 48: the parsed packet */
	__u32 rule_id;		/* 56, 4: the Log rule's index */
	__u32 decided_by;	/* 60, 4: the deciding rule's index, or NT_RULE_NONE */
	__u32 ifindex;		/* 64, 4: ingress ifindex */
	__u32 pkt_len;		/* 68, 4: frame length */
	__u32 verdict;		/* 72, 4: enum nt_verdict */
	__u32 pad;		/* 76, 4: zero */
};

struct nt_log_bucket {
	__u64 budget_ns;	/* 0, 8: saved-up time; an event costs 1e9 / log_rate ns, at most log_burst events */
	__u64 last_ns;		/* 8, 8: when the budget was last topped up, 0 before the first event */
};

/* ---------------------------------------------------------------------------------------------------------------
 * Configuration (".rodata.config", see the top of this file). 16 bytes.
 * ------------------------------------------------------------------------------------------------------------- */
struct nt_config {
	__u32 accept_mark;	/*  0, 4: tc.o: bits set in skb->mark for accepted packets (only under accept_mask) */
	__u32 accept_mask;	/*  4, 4: tc.o: skb->mark = (mark & ~mask) | (accept_mark & mask); 0 = no marking */
	__u32 log_rate;		/*  8, 4: xdp.o: log events per second per CPU; 0 = none */
	__u32 log_burst;	/* 12, 4: xdp.o: bucket size in events (at least 1 is used) */
};

/*
 * Clang puts a type into an object's BTF only when a map, a global or a function signature uses it. This function
 * takes every shared type, so that each object's BTF describes all of them for the ABI test
 * (test/kernel/abi-btf.test.ts). It is never called, so libbpf never loads it (it loads the SEC() programs and the
 * functions they call), and it costs no map.
 */
struct nt_btf_anchor {
	struct nt_state state;
	struct nt_log_event log_event;
	struct nt_log_bucket log_bucket;
	struct nt_failsafe_key failsafe_key;
	struct nt_failsafe_ports failsafe_ports;
	struct nt_counter counter;
	struct nt_meta meta;
	struct nt_config config;
	enum nt_packet_flag packet_flag;
	enum nt_limits limits;
	enum nt_rule_id rule_id;
	enum nt_jump_slot jump_slot;
	enum nt_verdict verdict;
	enum nt_meta_const meta_const;
	enum nt_failsafe_direction failsafe_direction;
	enum nt_failsafe_const failsafe_const;
	enum nt_counter_reason counter_reason;
	enum nt_tc_counter_reason tc_counter_reason;
};

__attribute__((noinline, used)) int notrack_btf_anchor(struct nt_btf_anchor *all)
{
	return all != 0;
}

#endif /* NOTRACK_H */
