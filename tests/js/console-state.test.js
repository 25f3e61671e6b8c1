// The console's chat lists (static/console/state.js, splitChats): "My chats n/capacity"
// counts only the agent's own open chats; a supervisor's view of colleagues' chats goes
// to the Team list, so the header and the list agree.
import test from "node:test";
import assert from "node:assert/strict";

import { splitChats } from "../../static/console/state.js";

const chat = (id, agentId, closed = false) => ({ id, closed, meta: { agent_id: agentId } });

test("a supervisor's own chats and the team's are apart, and only their own count", () => {
  const chats = [chat(1, 7), chat(2, 8), chat(3, 7, true), chat(4, 9)];
  const { mine, team, load } = splitChats(chats, 7);
  assert.deepEqual(mine.map((c) => c.id), [1, 3]);
  assert.deepEqual(team.map((c) => c.id), [2, 4]);
  assert.equal(load, 1); // chat 3 is closed
});

test("an agent who sees only their own chats has no team list", () => {
  const { mine, team, load } = splitChats([chat(1, 7), chat(2, 7)], 7);
  assert.deepEqual([mine.length, team.length, load], [2, 0, 2]);
});
