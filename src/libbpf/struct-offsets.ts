// Byte offsets and sizes (x86_64/LP64) of the libbpf option structs and kernel info structs this binding fills or reads.
// Each number is checked against the installed headers by test/kernel/libbpf-offsets.test.ts (offsetof/sizeof);
// fields newer than the host's 6.1 uapi headers are listed in KERNEL_ONLY_FIELDS and come from the 6.6+ uapi.

export const OFFSETS = {
  bpf_map_create_opts: { size: 48, sz: 0, btf_fd: 8, inner_map_fd: 24, map_flags: 28, map_extra: 32, numa_node: 40, map_ifindex: 44 },
  bpf_prog_load_opts: {
    size: 104, sz: 0, attempts: 8, expected_attach_type: 12, prog_btf_fd: 16, prog_flags: 20, prog_ifindex: 24,
    kern_version: 28, fd_array: 48, log_level: 88, log_size: 92, log_buf: 96,
  },
  bpf_map_batch_opts: { size: 24, sz: 0, elem_flags: 8, flags: 16 },
  bpf_link_create_opts: { size: 64, sz: 0, flags: 8 },
  bpf_link_update_opts: { size: 16, sz: 0, flags: 8, old_prog_fd: 12 },
  bpf_test_run_opts: {
    size: 80, sz: 0, data_in: 8, data_out: 16, data_size_in: 24, data_size_out: 28, ctx_in: 32, ctx_out: 40,
    ctx_size_in: 48, ctx_size_out: 52, retval: 56, repeat: 60, duration: 64, flags: 68, cpu: 72, batch_size: 76,
  },
  bpf_xdp_query_opts: { size: 32, sz: 0, prog_id: 8, drv_prog_id: 12, hw_prog_id: 16, skb_prog_id: 20, attach_mode: 24 },
  bpf_tc_hook: { size: 24, sz: 0, ifindex: 8, attach_point: 12, parent: 16 },
  bpf_tc_opts: { size: 32, sz: 0, prog_fd: 8, flags: 12, prog_id: 16, handle: 20, priority: 24 },
  bpf_object_open_opts: {
    size: 80, sz: 0, object_name: 8, relaxed_maps: 16, pin_root_path: 24, kconfig: 40, btf_custom_path: 48,
    kernel_log_buf: 56, kernel_log_size: 64, kernel_log_level: 72,
  },
  bpf_prog_info: {
    size: 232, type: 0, id: 4, tag: 8, jited_prog_len: 16, xlated_prog_len: 20, load_time: 40, created_by_uid: 48,
    nr_map_ids: 52, map_ids: 56, name: 64, ifindex: 80, btf_id: 128, run_time_ns: 192, run_cnt: 200,
    recursion_misses: 208, verified_insns: 216,
  },
  bpf_map_info: {
    size: 88, type: 0, id: 4, key_size: 8, value_size: 12, max_entries: 16, map_flags: 20, name: 24, ifindex: 40,
    btf_id: 64, map_extra: 80,
  },
  bpf_link_info: { size: 48, type: 0, id: 4, prog_id: 8, 'xdp.ifindex': 16, 'tcx.ifindex': 16, 'tcx.attach_type': 20 },
  xdp_md: { size: 24, data: 0, data_end: 4, data_meta: 8, ingress_ifindex: 12, rx_queue_index: 16, egress_ifindex: 20 },
  /** union bpf_attr, BPF_PROG_QUERY member; `size` is what this binding passes for that command. */
  bpf_attr_query: {
    size: 64, 'query.target_fd': 0, 'query.attach_type': 4, 'query.query_flags': 8, 'query.attach_flags': 12,
    'query.prog_ids': 16, 'query.prog_cnt': 24, 'query.prog_attach_flags': 32, 'query.link_ids': 40,
    'query.link_attach_flags': 48, 'query.revision': 56,
  },
} as const;

/** Fields the host's uapi headers (6.1) do not have yet; the offsets above follow the 6.6+ uapi. */
export const KERNEL_ONLY_FIELDS: ReadonlySet<string> = new Set([
  'bpf_link_info.tcx.ifindex',
  'bpf_link_info.tcx.attach_type',
  'bpf_attr_query.size',
  'bpf_attr_query.query.link_ids',
  'bpf_attr_query.query.link_attach_flags',
  'bpf_attr_query.query.revision',
]);

/** Bytes passed as info_len for bpf_obj_get_info_by_fd: larger than today's structs, zero tail accepted. */
export const INFO_BUFFER_SIZE = 512;

/** sizeof(struct bpf_insn). */
export const INSN_SIZE = 8;
