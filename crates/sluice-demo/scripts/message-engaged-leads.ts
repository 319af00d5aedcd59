// Workflow 5: message every lead with EngagementScore >= 90; only the count comes back.
import * as crm from "./servers/crm";
import * as chat from "./servers/chat";

const found = await crm.query({ objectType: "Lead", where: { EngagementScore: { gte: 90 } } });
if (found.totalSize !== found.records.length) {
  throw new Error(`the query returned ${found.records.length} of ${found.totalSize} engaged leads`);
}
await Promise.all(
  found.records.map((lead) =>
    chat.sendMessage({
      channel: `@${lead.Email.split("@")[0]}`,
      text: `Hi ${lead.Name.split(" ")[0]}, thanks for your interest in Sluice. Could we book 20 minutes this week to talk about ${lead.Company}'s plans?`,
    }),
  ),
);
export default { messaged: found.records.length, leads: found.records.length };
