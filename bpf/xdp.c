/* The XDP side of notrack: parse each frame into nt_state, pass failsafes, jump to the policy, and the epilogues. */
/*
 * nt_xdp_entry is what gets attached. It never decides policy: it classifies the frame, then tail-calls the
 * generated policy program in nt_jump slot NT_SLOT_POLICY, which ends by tail-calling one of the epilogues
 * nt_xdp_accept / nt_xdp_drop / nt_xdp_pass (slots 1-3). All layouts are in notrack.h.
 *
 * Outcomes of nt_xdp_entry, each counted in nt_counters:
 *   not IPv4/IPv6 (ARP, LLDP, MPLS ...)                       XDP_PASS untouched            NT_CNT_NON_IP
 *   malformed (the kernel would drop these itself)            XDP_DROP                      NT_CNT_MALFORMED
 *     - frame shorter than the Ethernet header or a VLAN tag it announces
 *     - IPv4: header not all in the frame; version not 4; ihl < 5; total length < ihl * 4; total length past
 *       the end of the frame (shorter is fine: Ethernet padding; 0, as in BIG TCP, means "to the end of the frame")
 *     - IPv6: fixed header not all in the frame; version not 6; payload length past the end of the frame
 *       (payload length 0, as in jumbograms and BIG TCP, means "up to the end of the frame"); an extension
 *       header not all inside the payload; a hop-by-hop header that is not the first
 *     - the upper-layer header of an unfragmented packet or a first fragment not all inside the IP payload
 *       (tcp 20 bytes, udp/udplite 8, sctp 12, icmp/icmpv6 8), or TCP data offset < 5. A first fragment too
 *       short for its transport header is the "tiny fragment" attack (RFC 1858, RFC 7112).
 *   unsupported                                               XDP_DROP                      NT_CNT_UNSUPPORTED
 *     - a third VLAN tag, more than NT_EXT_HDR_MAX IPv6 extension headers, or extension headers reaching past
 *       16 KiB into the frame: the firewall cannot tell what is inside, and passing such packets unparsed would
 *       let anyone walk around the policy.
 *   failsafe hit (nt_failsafe_ports, then nt_failsafe)        XDP_PASS without metadata     NT_CNT_FAILSAFE
 *     - inbound: the destination port is an inbound failsafe (from its configured source CIDR);
 *     - outbound: the source port is an outbound failsafe AND conntrack has the connection the host opened, with
 *       this packet as its reply (bpf_xdp_ct_lookup). Anything else is decided by the policy.
 *   policy slot empty                                         XDP_PASS without metadata     NT_CNT_NO_POLICY
 * Checksums are not verified: the stack verifies them after XDP_PASS and drops bad ones itself.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "notrack.h"

/* The kernel lets only GPL-compatible programs call kfuncs (bpf_xdp_ct_lookup, for the precise failsafes). */
char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct nt_config nt_config SEC(".rodata.config") = {
	.accept_mark = 0,
	.accept_mask = 0,
	.log_rate = 0,
	.log_burst = 0,
};

int nt_xdp_accept(struct xdp_md *ctx);
int nt_xdp_drop(struct xdp_md *ctx);
int nt_xdp_pass(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_state);
} nt_state SEC(".maps");

/* libbpf fills the epilogue slots while loading the object; slot 0 and 4.. are the loader's. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, NT_JUMP_SLOTS);
	__uint(key_size, sizeof(__u32));
	__array(values, int(struct xdp_md *));
} nt_jump SEC(".maps") = {
	.values = {
		[NT_SLOT_ACCEPT] = (void *)&nt_xdp_accept,
		[NT_SLOT_DROP] = (void *)&nt_xdp_drop,
		[NT_SLOT_PASS] = (void *)&nt_xdp_pass,
	},
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, NT_FAILSAFE_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct nt_failsafe_key);
	__type(value, __u32);
} nt_failsafe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_failsafe_ports);
} nt_failsafe_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NT_CNT__COUNT);
	__type(key, __u32);
	__type(value, struct nt_counter);
} nt_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NT_RULE_COUNTERS_MAX);
	__type(key, __u32);
	__type(value, struct nt_counter);
} nt_rule_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, NT_LOG_RING_BYTES);
} nt_log SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct nt_log_bucket);
} nt_log_bucket SEC(".maps");

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

enum parse_outcome {
	PARSED_IP,
	PARSED_NON_IP,
	PARSED_MALFORMED,
	PARSED_UNSUPPORTED,
};

#define IPV6_NEXTHDR_HOP 0
#define IPV6_NEXTHDR_ROUTING 43
#define IPV6_NEXTHDR_FRAGMENT 44
#define IPV6_NEXTHDR_AH 51
#define IPV6_NEXTHDR_DEST 60
#define IPPROTO_ICMP6 58

/* Where the headers may end at most: ETH_HLEN + NT_VLAN_MAX tags, and 16 KiB for the IPv6 extension headers. */
#define L3_OFF_MAX (14 + 4 * NT_VLAN_MAX)
#define HEADERS_END_MAX 0x3fff

#define IPV4_MF 0x2000
#define IPV4_OFFSET 0x1fff
#define IPV6_FRAG_OFFSET 0xfff8

static __always_inline void count(__u32 reason, __u64 packets, __u64 bytes)
{
	struct nt_counter *c = bpf_map_lookup_elem(&nt_counters, &reason);

	if (c) {
		c->packets += packets;
		c->bytes += bytes;
	}
}

static __always_inline void count_rule(__u32 rule_id, __u64 bytes)
{
	struct nt_counter *c = bpf_map_lookup_elem(&nt_rule_counters, &rule_id);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

/*
 * Stores an offset in the state and reads it back with a volatile load. The verifier then knows the offset only
 * by the bound checked right after, not as the exact value each path arrived with (0, 1 or 2 VLAN tags; each kind
 * of extension header), so those paths merge instead of multiplying: without this, nt_xdp_entry takes seconds
 * and a hundred thousand instructions to verify.
 */
static __always_inline __u32 blur_offset(volatile __u16 *slot, __u32 value)
{
	*slot = value;
	return *slot;
}

/*
 * Reads the upper-layer header at l4_off for an unfragmented packet or a first fragment. ip_end is where the IP
 * datagram ends in the frame; both it and data_end bound the header (data_end for the verifier, ip_end because
 * bytes past the IP length are padding, not header).
 */
static __always_inline int parse_l4(void *data, void *data_end, __u32 l4_off, __u32 ip_end, struct nt_packet *pkt)
{
	void *l4 = data + l4_off;
	__u8 proto = pkt->ip_proto;

	if (proto == IPPROTO_TCP) {
		__u8 *tcp = l4;

		if (l4 + 20 > data_end || l4_off + 20 > ip_end)
			return PARSED_MALFORMED;
		if ((tcp[12] >> 4) < 5)
			return PARSED_MALFORMED;
	} else if (proto == IPPROTO_UDP || proto == IPPROTO_UDPLITE) {
		if (l4 + 8 > data_end || l4_off + 8 > ip_end)
			return PARSED_MALFORMED;
	} else if (proto == IPPROTO_SCTP) {
		if (l4 + 12 > data_end || l4_off + 12 > ip_end)
			return PARSED_MALFORMED;
	} else if ((proto == IPPROTO_ICMP && pkt->family == 4) || (proto == IPPROTO_ICMP6 && pkt->family == 6)) {
		__u8 *icmp = l4;

		if (l4 + 8 > data_end || l4_off + 8 > ip_end)
			return PARSED_MALFORMED;
		pkt->icmp_type = icmp[0];
		pkt->icmp_code = icmp[1];
		pkt->flags |= NT_PKT_F_ICMP;
		pkt->l4_off = l4_off;
		return PARSED_IP;
	} else {
		/* Another protocol (GRE, ESP, OSPF ...): the policy can still match its number. */
		pkt->l4_off = l4_off;
		return PARSED_IP;
	}
	/* TCP, UDP, UDPLite and SCTP all start with the two ports. */
	__be16 *ports = l4;

	pkt->sport = bpf_ntohs(ports[0]);
	pkt->dport = bpf_ntohs(ports[1]);
	pkt->flags |= NT_PKT_F_PORTS;
	pkt->l4_off = l4_off;
	return PARSED_IP;
}

static __always_inline int parse_ipv4(void *data, void *data_end, __u32 off, __u32 frame_len,
				      struct nt_packet *pkt)
{
	struct iphdr *ip = data + off;

	if ((void *)(ip + 1) > data_end)
		return PARSED_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return PARSED_MALFORMED;

	__u32 hlen = ip->ihl * 4;
	__u32 tot_len = bpf_ntohs(ip->tot_len);

	/* 0 is how IPv4 BIG TCP marks a GRO packet over 64 KiB, which generic XDP can see: up to the frame's end. */
	if (tot_len == 0 && frame_len > off)
		tot_len = frame_len - off;

	if (tot_len < hlen || off + tot_len > frame_len)
		return PARSED_MALFORMED;

	pkt->family = 4;
	pkt->l3_off = off;
	pkt->saddr[0] = ip->saddr;
	pkt->daddr[0] = ip->daddr;
	pkt->ip_proto = ip->protocol;
	if (hlen > 20)
		pkt->flags |= NT_PKT_F_IP_OPTIONS;

	__u16 frag = bpf_ntohs(ip->frag_off);

	if (frag & (IPV4_MF | IPV4_OFFSET))
		pkt->flags |= NT_PKT_F_FRAGMENT;
	if (frag & IPV4_OFFSET) {
		pkt->flags |= NT_PKT_F_LATER_FRAGMENT;
		return PARSED_IP;
	}
	return parse_l4(data, data_end, off + hlen, off + tot_len, pkt);
}

static __always_inline int ipv6_extension(__u8 next)
{
	return next == IPV6_NEXTHDR_HOP || next == IPV6_NEXTHDR_ROUTING || next == IPV6_NEXTHDR_DEST ||
	       next == IPV6_NEXTHDR_FRAGMENT || next == IPV6_NEXTHDR_AH;
}

static __always_inline int parse_ipv6(void *data, void *data_end, __u32 off, __u32 frame_len,
				      struct nt_packet *pkt)
{
	struct ipv6hdr *ip6 = data + off;

	if ((void *)(ip6 + 1) > data_end)
		return PARSED_MALFORMED;
	if (ip6->version != 6)
		return PARSED_MALFORMED;

	__u32 payload_len = bpf_ntohs(ip6->payload_len);
	__u32 ip_end = frame_len;

	if (payload_len) {
		if (off + sizeof(*ip6) + payload_len > frame_len)
			return PARSED_MALFORMED;
		ip_end = off + sizeof(*ip6) + payload_len;
	}

	pkt->family = 6;
	pkt->l3_off = off;
	__builtin_memcpy(pkt->saddr, &ip6->saddr, 16);
	__builtin_memcpy(pkt->daddr, &ip6->daddr, 16);

	__u8 next = ip6->nexthdr;
	__u32 cur = off + sizeof(*ip6);

	for (int i = 0; i < NT_EXT_HDR_MAX; i++) {
		if (!ipv6_extension(next))
			break;
		cur = blur_offset(&pkt->l4_off, cur);
		if (cur > HEADERS_END_MAX)
			return PARSED_UNSUPPORTED;
		if (next == IPV6_NEXTHDR_HOP && i != 0)
			return PARSED_MALFORMED;

		__u8 *hdr = data + cur;

		if ((void *)(hdr + 8) > data_end || cur + 8 > ip_end)
			return PARSED_MALFORMED;
		pkt->flags |= NT_PKT_F_EXT_HEADERS;

		if (next == IPV6_NEXTHDR_FRAGMENT) {
			pkt->flags |= NT_PKT_F_FRAGMENT;
			if (bpf_ntohs(*(__be16 *)(hdr + 2)) & IPV6_FRAG_OFFSET) {
				/* The rest of the chain and the transport header are in the first fragment. */
				pkt->flags |= NT_PKT_F_LATER_FRAGMENT;
				pkt->ip_proto = hdr[0];
				pkt->l4_off = 0;
				return PARSED_IP;
			}
			next = hdr[0];
			cur += 8;
			continue;
		}
		cur += next == IPV6_NEXTHDR_AH ? ((__u32)hdr[1] + 2) * 4 : ((__u32)hdr[1] + 1) * 8;
		next = hdr[0];
		if (cur > ip_end)
			return PARSED_MALFORMED;
	}
	if (ipv6_extension(next))
		return PARSED_UNSUPPORTED;
	cur = blur_offset(&pkt->l4_off, cur);
	if (cur > HEADERS_END_MAX)
		return PARSED_UNSUPPORTED;
	pkt->ip_proto = next;
	return parse_l4(data, data_end, cur, ip_end, pkt);
}

static __always_inline int parse_frame(struct xdp_md *ctx, __u32 frame_len, struct nt_packet *pkt)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 off = sizeof(*eth);

	if ((void *)(eth + 1) > data_end)
		return PARSED_MALFORMED;

	__be16 proto = eth->h_proto;

	for (int i = 0; i < NT_VLAN_MAX; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;

		struct vlan_tag *tag = data + off;

		if ((void *)(tag + 1) > data_end)
			return PARSED_MALFORMED;
		proto = tag->proto;
		off += sizeof(*tag);
		pkt->flags |= NT_PKT_F_VLAN;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return PARSED_UNSUPPORTED;
	off = blur_offset(&pkt->l3_off, off);
	if (off > L3_OFF_MAX)
		return PARSED_UNSUPPORTED; /* never: the bound is for the verifier */

	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(data, data_end, off, frame_len, pkt);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(data, data_end, off, frame_len, pkt);
	return PARSED_NON_IP;
}

/*
 * Conntrack from XDP (kernel 6.0+ kfuncs, conntrack built in or loaded). nf_conn stays opaque: notrack only asks
 * whether an entry exists and in which direction the packet's tuple matched it.
 */
struct nf_conn {
	/* Defined (not only declared) because libbpf matches a kfunc's pointer types by kind and name; never read. */
	__u64 opaque;
};
struct bpf_ct_opts___nt {
	__s32 netns_id;	/* BPF_F_CURRENT_NETNS: the namespace of the receiving device */
	__s32 error;	/* out: why the lookup failed (-ENOENT: no entry) */
	__u8 l4proto;	/* IPPROTO_TCP or IPPROTO_UDP */
	__u8 dir;	/* out: IP_CT_DIR_ORIGINAL (0) or IP_CT_DIR_REPLY (1) for the tuple looked up */
	__u16 ct_zone_id;
	__u8 ct_zone_dir;
	__u8 reserved[3];
};
extern struct nf_conn *bpf_xdp_ct_lookup(struct xdp_md *xdp_ctx, struct bpf_sock_tuple *bpf_tuple, __u32 tuple__sz,
					 struct bpf_ct_opts___nt *opts, __u32 opts__sz) __ksym;
extern void bpf_ct_release(struct nf_conn *ct) __ksym;

#define NT_CT_DIR_REPLY 1
#define NT_CURRENT_NETNS (-1)

/*
 * True when the packet answers a connection this host opened: conntrack holds an entry whose REPLY direction is
 * exactly this packet's tuple (the host sent the original direction). A spoofed packet from a failsafe source port
 * (a DNS reflection flood from port 53) matches no entry, or matches one in the ORIGINAL direction (a peer that
 * opened the connection itself), and is left to the policy. Only packets that already hit an outbound failsafe get
 * here, so every other packet pays nothing for the lookup.
 */
static __always_inline int answers_own_connection(struct xdp_md *ctx, const struct nt_packet *pkt)
{
	struct bpf_sock_tuple tuple;
	struct bpf_ct_opts___nt opts;
	struct nf_conn *ct;
	__u32 size;

	if (pkt->ip_proto != IPPROTO_TCP && pkt->ip_proto != IPPROTO_UDP)
		return 0;
	__builtin_memset(&tuple, 0, sizeof(tuple));
	__builtin_memset(&opts, 0, sizeof(opts));
	if (pkt->family == 4) {
		tuple.ipv4.saddr = pkt->saddr[0];
		tuple.ipv4.daddr = pkt->daddr[0];
		tuple.ipv4.sport = bpf_htons(pkt->sport);
		tuple.ipv4.dport = bpf_htons(pkt->dport);
		size = sizeof(tuple.ipv4);
	} else {
		__builtin_memcpy(tuple.ipv6.saddr, pkt->saddr, 16);
		__builtin_memcpy(tuple.ipv6.daddr, pkt->daddr, 16);
		tuple.ipv6.sport = bpf_htons(pkt->sport);
		tuple.ipv6.dport = bpf_htons(pkt->dport);
		size = sizeof(tuple.ipv6);
	}
	opts.netns_id = NT_CURRENT_NETNS;
	opts.l4proto = pkt->ip_proto;
	ct = bpf_xdp_ct_lookup(ctx, &tuple, size, &opts, sizeof(opts));
	if (!ct)
		return 0;
	int reply = opts.dir == NT_CT_DIR_REPLY;

	bpf_ct_release(ct);
	return reply;
}

static __always_inline int failsafe_hit(struct xdp_md *ctx, const struct nt_packet *pkt)
{
	__u32 zero = 0;
	struct nt_failsafe_ports *ports = bpf_map_lookup_elem(&nt_failsafe_ports, &zero);
	__u16 sport = pkt->sport, dport = pkt->dport;
	int any = !ports || !ports->filled;
	int in = any || (ports->in[dport >> 3] & (1 << (dport & 7)));
	int out = any || (ports->out[sport >> 3] & (1 << (sport & 7)));
	struct nt_failsafe_key key;

	if (!in && !out)
		return 0;
	__builtin_memset(&key, 0, sizeof(key));
	key.prefixlen = NT_FAILSAFE_FIXED_BITS + (pkt->family == 4 ? 32 : 128);
	key.family = pkt->family;
	key.proto = pkt->ip_proto;
	__builtin_memcpy(key.addr, pkt->saddr, sizeof(key.addr));

	if (in) {
		key.direction = NT_FAILSAFE_IN;
		key.port = bpf_htons(dport);
		if (bpf_map_lookup_elem(&nt_failsafe, &key))
			return 1;
	}
	if (out) {
		key.direction = NT_FAILSAFE_OUT;
		key.port = bpf_htons(sport);
		/* A source port alone proves nothing (anyone can send from port 53): conntrack must know the flow. */
		if (bpf_map_lookup_elem(&nt_failsafe, &key) && answers_own_connection(ctx, pkt))
			return 1;
	}
	return 0;
}

SEC("xdp")
int nt_xdp_entry(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct nt_state *st = bpf_map_lookup_elem(&nt_state, &zero);
	__u32 frame_len = bpf_xdp_get_buff_len(ctx);

	count(NT_CNT_TOTAL, 1, frame_len);
	if (!st)
		return XDP_PASS; /* cannot happen for a one-entry array; the verifier wants the check */

	__builtin_memset(st, 0, sizeof(*st));
	st->rule_id = NT_RULE_NONE;
	st->ifindex = ctx->ingress_ifindex;
	st->pkt_len = frame_len;

	switch (parse_frame(ctx, frame_len, &st->pkt)) {
	case PARSED_NON_IP:
		count(NT_CNT_NON_IP, 1, frame_len);
		return XDP_PASS;
	case PARSED_MALFORMED:
		count(NT_CNT_MALFORMED, 1, frame_len);
		return XDP_DROP;
	case PARSED_UNSUPPORTED:
		count(NT_CNT_UNSUPPORTED, 1, frame_len);
		return XDP_DROP;
	}

	if ((st->pkt.flags & NT_PKT_F_PORTS) && failsafe_hit(ctx, &st->pkt)) {
		count(NT_CNT_FAILSAFE, 1, frame_len);
		return XDP_PASS;
	}

	bpf_tail_call(ctx, &nt_jump, NT_SLOT_POLICY);
	count(NT_CNT_NO_POLICY, 1, frame_len);
	return XDP_PASS;
}

/* Token bucket per CPU, in nanoseconds of saved-up time: one event costs 1e9 / log_rate ns. */
static __always_inline int log_allowed(__u64 now)
{
	__u32 zero = 0;
	__u32 rate = nt_config.log_rate;
	__u32 burst = nt_config.log_burst ? nt_config.log_burst : 1;
	struct nt_log_bucket *b;

	if (!rate)
		return 0;
	b = bpf_map_lookup_elem(&nt_log_bucket, &zero);
	if (!b)
		return 0;

	__u64 cost = 1000000000ULL / rate;
	__u64 cap = cost * burst;
	__u64 budget = cap;

	if (b->last_ns) {
		budget = b->budget_ns + (now - b->last_ns);
		if (budget > cap)
			budget = cap;
	}
	b->last_ns = now;
	if (budget < cost) {
		b->budget_ns = budget;
		return 0;
	}
	b->budget_ns = budget - cost;
	return 1;
}

static __always_inline void log_packet(const struct nt_state *st, __u32 rule_id, __u32 verdict)
{
	__u64 now = bpf_ktime_get_ns();
	struct nt_log_event *ev;

	if (!log_allowed(now)) {
		count(NT_CNT_LOG_RATE_LIMITED, 1, st->pkt_len);
		return;
	}
	ev = bpf_ringbuf_reserve(&nt_log, sizeof(*ev), 0);
	if (!ev) {
		count(NT_CNT_LOG_LOST, 1, st->pkt_len);
		return;
	}
	ev->ts_ns = now;
	__builtin_memcpy(&ev->pkt, &st->pkt, sizeof(ev->pkt));
	ev->rule_id = rule_id;
	ev->decided_by = st->rule_id;
	ev->ifindex = st->ifindex;
	ev->pkt_len = st->pkt_len;
	ev->verdict = verdict;
	ev->pad = 0;
	bpf_ringbuf_submit(ev, 0);
	count(NT_CNT_LOG_EMITTED, 1, st->pkt_len);
}

/*
 * The common part of every epilogue: global and per-rule counters, then one log event per matching Log rule.
 * A Pass verdict without a deciding rule is "no rule matched" and counts as such.
 */
static __always_inline __u32 finish(__u32 verdict, __u32 reason)
{
	__u32 zero = 0;
	struct nt_state *st = bpf_map_lookup_elem(&nt_state, &zero);

	if (!st) {
		count(reason, 1, 0);
		return 0;
	}
	if (verdict == NT_VERDICT_PASS && st->rule_id == NT_RULE_NONE)
		reason = NT_CNT_NO_MATCH;
	count(reason, 1, st->pkt_len);
	if (st->rule_id != NT_RULE_NONE)
		count_rule(st->rule_id, st->pkt_len);

	__u32 logged = st->log_count;

	if (logged > NT_LOG_MAX) {
		count(NT_CNT_LOG_OVERFLOW, logged - NT_LOG_MAX, 0);
		logged = NT_LOG_MAX;
	}
	for (__u32 i = 0; i < NT_LOG_MAX; i++) {
		if (i >= logged)
			break;
		count_rule(st->log_rules[i], st->pkt_len);
		log_packet(st, st->log_rules[i], verdict);
	}
	return st->pkt_len;
}

SEC("xdp")
int nt_xdp_accept(struct xdp_md *ctx)
{
	__u32 len = finish(NT_VERDICT_ACCEPT, NT_CNT_ACCEPTED);

	/* Without the flag TC does not mark the packet: it goes on tracked, which is safe, and is counted. */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct nt_meta))) {
		count(NT_CNT_META_FAILED, 1, len);
		return XDP_PASS;
	}

	void *data = (void *)(long)ctx->data;
	struct nt_meta *meta = (void *)(long)ctx->data_meta;

	if ((void *)(meta + 1) > data) {
		count(NT_CNT_META_FAILED, 1, len);
		return XDP_PASS;
	}
	meta->magic = NT_META_MAGIC;
	meta->flags = NT_META_ACCEPTED;
	return XDP_PASS;
}

SEC("xdp")
int nt_xdp_drop(struct xdp_md *ctx)
{
	finish(NT_VERDICT_DROP, NT_CNT_DROPPED);
	return XDP_DROP;
}

SEC("xdp")
int nt_xdp_pass(struct xdp_md *ctx)
{
	finish(NT_VERDICT_PASS, NT_CNT_POLICY_PASSED);
	return XDP_PASS;
}
