// Removes what a crashed earlier test run or lab left behind (namespaces, bpffs mounts, folders whose owner is gone).
import { removeLeftovers } from '../../src/demo/leftovers.js';

for (const line of removeLeftovers()) console.log(`removed leftover ${line}`);
