/* The wire benchmark's packet source and its bare baselines (compiled by bench/wire/lab.ts, never by the build). */
/*
 * wire_send runs under BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES in the sender's namespace: for every frame it
 * writes the next IPv4 source address of the pool (wire_pool, array of u32 in wire order) and a new UDP source
 * port, recomputes the IPv4 header checksum, and returns XDP_TX, which the kernel turns into a transmit out of the
 * sender's veth: the frame arrives at the receiver's NAPI like a frame from a NIC. The pool cursor is per CPU.
 * wire_drop is the "bare XDP_DROP" variant: the cheapest thing an XDP program can do. wire_pass (XDP) and
 * wire_tc_pass (TC ingress) do nothing and let the packet on: attached in front of a raw NOTRACK rule they show
 * what any XDP program (veth's XDP receive path) and any TC program cost an allowed packet, whoever wrote them.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

#define POOL_MAX (1 << 20)

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, POOL_MAX);
	__type(key, __u32);
	__type(value, __u32);
} wire_pool SEC(".maps");

struct wire_cursor {
	__u32 next;  /* the pool index of the next frame */
	__u32 size;  /* pool entries in use (written by user space into every CPU's slot) */
	__u32 port;  /* the next UDP source port offset */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct wire_cursor);
} wire_cursor SEC(".maps");

SEC("xdp")
int wire_send(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct udphdr *udp = (void *)(ip + 1);
	__u32 zero = 0;

	if ((void *)(udp + 1) > data_end)
		return XDP_ABORTED;
	struct wire_cursor *c = bpf_map_lookup_elem(&wire_cursor, &zero);
	if (!c || !c->size)
		return XDP_ABORTED;
	__u32 i = c->next;
	if (i >= c->size)
		i = 0;
	c->next = i + 1;
	__u32 *addr = bpf_map_lookup_elem(&wire_pool, &i);
	if (!addr)
		return XDP_ABORTED;
	ip->saddr = *addr;
	/* A new source port per frame: every packet is a new flow for conntrack. */
	c->port = c->port + 1;
	udp->source = bpf_htons(1024 + (c->port % 60000));
	udp->check = 0;

	ip->check = 0;
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;
#pragma unroll
	for (int k = 0; k < 10; k++)
		sum += w[k];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum;
	return XDP_TX;
}

SEC("xdp")
int wire_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int wire_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* TC_ACT_UNSPEC like notrack's own TC hook (bpf/tc.c): annotate nothing, decide nothing, let the stack go on. */
SEC("tc")
int wire_tc_pass(struct __sk_buff *skb)
{
	return TC_ACT_UNSPEC;
}
