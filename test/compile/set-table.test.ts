// The host's set table: sets shared by content, and the live by-id view the lint looks sets up in while it lowers
// one rule at a time (the same sets as the state's record, without copying and sorting them for every rule).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { packTexts } from '../../src/compile/packed-prefixes.js';
import { SetTable } from '../../src/compile/sets.js';

test('equal prefix lists share one set; the by-id view is live and holds what the record holds', () => {
  const table = new SetTable();
  const view = table.byId();
  const a = table.add(packTexts(4, ['10.0.0.0/8']), 'policy a');
  assert.is(table.add(packTexts(4, ['10.0.0.0/8']), 'policy b'), a, 'the same content is the same set');
  assert.is(view[a]?.origin, 'policy a', 'a set is described by its first user');
  const b = table.add(packTexts(6, ['fd00::/8']), 'policy c');
  assert.is(view[b]?.family, 6, 'a set added after the view was taken is in it');
  const other = new SetTable();
  other.adopt(table.get(b));
  assert.equal(other.byId(), { [b]: table.get(b) }, 'an adopted set is in the view');
  assert.equal({ ...view }, table.record());
  assert.equal(Object.keys(table.record()), [a, b].sort(), 'the record is sorted by id');
});

test.run();
