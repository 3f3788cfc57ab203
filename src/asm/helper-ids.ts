// The ids of the kernel helper functions notrack's programs call (from `__BPF_FUNC_MAPPER` in linux/bpf.h).

/** Helper name (without the `bpf_` prefix) to id. The ids are kernel ABI and never change. */
export const HELPER_IDS = Object.freeze({
  map_lookup_elem: 1,
  map_update_elem: 2,
  map_delete_elem: 3,
  ktime_get_ns: 5,
  get_smp_processor_id: 8,
  tail_call: 12,
  xdp_adjust_meta: 54,
  ringbuf_output: 130,
  ringbuf_reserve: 131,
  ringbuf_submit: 132,
  ringbuf_discard: 133,
} as const);

export type HelperName = keyof typeof HELPER_IDS;

const NAMES_BY_ID = new Map<number, HelperName>(
  (Object.entries(HELPER_IDS) as [HelperName, number][]).map(([name, id]) => [id, name]),
);

/** The name of a helper id in the table, or undefined for ids notrack does not use. */
export function helperName(id: number): HelperName | undefined {
  return NAMES_BY_ID.get(id);
}

/** True when `name` is a helper in the table. */
export function isHelperName(name: string): name is HelperName {
  return Object.hasOwn(HELPER_IDS, name);
}
