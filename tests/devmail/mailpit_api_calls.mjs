// Every call of the npm client `mailpit-api` for which devmail has a route, against the
// devmail at process.argv[2]; exits non-zero on the first failed assertion.
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(process.argv[3] + "/");
const { MailpitClient } = require("mailpit-api");
const mailpit = new MailpitClient(process.argv[2]);
let calls = 0;
const call = async (promise) => { calls += 1; return await promise; };

assert.equal(await call(mailpit.deleteMessages()), "ok");
assert.equal((await call(mailpit.listMessages())).total, 0);

const { ID } = await call(mailpit.sendMessage({
  From: { Email: "app@example.test", Name: "The App" },
  To: [{ Email: "alice@example.test", Name: "Alice" }, { Email: "bob@example.test" }],
  Subject: "Welcome",
  Text: "Your verification code is 042917.",
  HTML: "<p>Your verification code is <b>042917</b>.</p>",
  Headers: { "X-Acctkit-Flow": "signup" },
  Tags: ["api"],
  Attachments: [{ Content: Buffer.from("hello").toString("base64"), Filename: "hello.txt" }],
}));
assert.equal(ID.length, 22);

const waited = await call(mailpit.waitForMessage({ query: "subject:Welcome" }, { timeout: 5000 }));
assert.equal(waited.ID, ID);
const summary = await call(mailpit.getMessageSummary(ID));
assert.equal(summary.Subject, "Welcome");
assert.equal(summary.From.Address, "app@example.test");
assert.deepEqual(summary.To.map((a) => a.Address), ["alice@example.test", "bob@example.test"]);
assert.deepEqual(summary.Tags, ["api"]);
assert.deepEqual(summary.Codes, ["042917"]);
assert.equal((await call(mailpit.getMessageSummary())).ID, ID); // "latest"

const headers = await call(mailpit.getMessageHeaders(ID));
assert.deepEqual(headers.Subject, ["Welcome"]);
assert.deepEqual(headers["X-Acctkit-Flow"], ["signup"]);
const blob = await call(mailpit.getMessageAttachment(ID, summary.Attachments[0].PartID));
assert.equal(await blob.text(), "hello");
assert.match(await call(mailpit.getMessageSource(ID)), /Subject: Welcome/);
assert.match(await call(mailpit.renderMessageHTML(ID)), /<b>042917<\/b>/);
assert.equal((await call(mailpit.renderMessageText(ID))).trim(), "Your verification code is 042917.");

assert.equal(await call(mailpit.setReadStatus({ IDs: [ID], Read: false })), "ok");
assert.equal((await call(mailpit.listMessages())).unread, 1);
await call(mailpit.setReadStatus({ Read: true }));
assert.equal((await call(mailpit.listMessages(0, 10))).unread, 0);
assert.equal((await call(mailpit.searchMessages({ query: "tag:api" }))).messages_count, 1);
assert.equal((await call(mailpit.waitForMessages({ count: 1 }, { timeout: 5000 }))).total, 1);

assert.deepEqual(await call(mailpit.getTags()), ["api"]);
assert.equal(await call(mailpit.setTags({ IDs: [ID], Tags: ["a", "b"] })), "ok");
assert.equal(await call(mailpit.renameTag("a", "c")), "ok");
assert.equal(await call(mailpit.deleteTag("b")), "ok");
assert.deepEqual(await call(mailpit.getTags()), ["c"]);
assert.equal((await call(mailpit.getInfo())).Messages, 1);

assert.equal((await call(mailpit.getChaosTriggers())).Sender.Probability, 0);
const chaos = await call(mailpit.setChaosTriggers({ Sender: { ErrorCode: 451, Probability: 5 } }));
assert.deepEqual(chaos.Sender, { ErrorCode: 451, Probability: 5 });
assert.equal(chaos.Recipient.Probability, 0);
assert.equal((await call(mailpit.setChaosTriggers())).Sender.Probability, 0);

assert.equal(await call(mailpit.deleteMessagesBySearch({ query: "tag:c" })), "ok");
assert.equal((await call(mailpit.listMessages())).total, 0);
console.log(`ok ${calls} calls`);
