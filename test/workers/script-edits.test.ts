import { describe, expect, it } from 'vitest';
import { editScript } from '../../src/messaging/script-edits';

// The edits of BullMQ's Lua (src/messaging/script-edits.ts): applied in order, and refused at
// start-up when a line is not there exactly once — in BullMQ's script or after an earlier edit.
const script = { name: 'sample', keys: 1, content: 'local a = 1\nlocal b = 2\nreturn a + b\n' };

describe('edits of a BullMQ script', () => {
  it('replace each line in order', () => {
    const edited = editScript(script, [
      { from: 'local a = 1\n', to: 'local a = 10\n' },
      { from: 'return a + b\n', to: 'return a * b\n' },
    ]);
    expect(edited).toEqual({ ...script, content: 'local a = 10\nlocal b = 2\nreturn a * b\n' });
  });

  it('are refused when a line is missing or there twice', () => {
    expect(() => editScript(script, [{ from: 'local c = 3\n', to: '' }])).toThrow(
      /sample script changed shape/,
    );
    expect(() => editScript(script, [{ from: 'local', to: '' }])).toThrow(/changed shape/);
    expect(() => editScript(script, [], () => false)).toThrow(/changed shape/);
  });

  it('are refused when an earlier edit changed the line a later one replaces', () => {
    expect(() =>
      editScript(script, [
        { from: 'local b = 2\nreturn a + b\n', to: 'return a\n' },
        { from: 'return a + b\n', to: 'return b\n' },
      ]),
    ).toThrow(/lost a line to an earlier edit/);
  });
});
