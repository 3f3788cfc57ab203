/* TC ingress: turn the XDP "accepted untracked" metadata into the configured skb mark for iptables raw. */
/*
 * Attach as classic clsact ingress (direct-action) or as tcx ingress; SEC("tc") is BPF_PROG_TYPE_SCHED_CLS with
 * no expected attach type, which the kernel takes for both (libbpf 1.1 does not know "tcx/ingress").
 *
 * It always returns TC_ACT_UNSPEC (-1), never TC_ACT_OK: the program only annotates the packet, it does not
 * decide anything. Under tcx, -1 is TCX_NEXT: the next tcx program and then the classic filters still run, where
 * TC_ACT_OK (TCX_PASS) would end tcx processing and skip them. Under clsact, -1 makes cls_bpf go on with the next
 * filter, and a packet that no filter claims is accepted. Either way it continues up the stack with its mark,
 * and other programs on the hook keep working as if notrack were not there.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "notrack.h"

char LICENSE[] SEC("license") = "Apache-2.0";

const volatile struct nt_config nt_config SEC(".rodata.config") = {
	.accept_mark = 0,
	.accept_mask = 0,
	.log_rate = 0,
	.log_burst = 0,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NT_TC_CNT__COUNT);
	__type(key, __u32);
	__type(value, struct nt_counter);
} nt_tc_counters SEC(".maps");

static __always_inline void count(__u32 reason, __u64 bytes)
{
	struct nt_counter *c = bpf_map_lookup_elem(&nt_tc_counters, &reason);

	if (c) {
		c->packets += 1;
		c->bytes += bytes;
	}
}

SEC("tc")
int nt_tc_ingress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	struct nt_meta *meta = (void *)(long)skb->data_meta;
	__u32 len = skb->len;

	count(NT_TC_CNT_SEEN, len);
	if ((void *)meta >= data)
		return TC_ACT_UNSPEC; /* no metadata: not accepted by the XDP policy */
	if ((void *)(meta + 1) > data || meta->magic != NT_META_MAGIC) {
		count(NT_TC_CNT_FOREIGN_META, len);
		return TC_ACT_UNSPEC;
	}
	if (!(meta->flags & NT_META_ACCEPTED))
		return TC_ACT_UNSPEC;

	__u32 mask = nt_config.accept_mask;

	skb->mark = (skb->mark & ~mask) | (nt_config.accept_mark & mask);
	count(NT_TC_CNT_ACCEPTED, len);
	return TC_ACT_UNSPEC;
}
