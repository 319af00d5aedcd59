// Workflow 2: count and total the pending orders; only the summary and 5 samples come back.
import * as documents from "./servers/documents";

const sheet = await documents.getSheet({ sheetId: "sheet-orders" });
const pending = sheet.rows.filter((row) => row.status === "pending");
const total = pending.reduce((sum, row) => sum + Number(row.amount), 0);
export default {
  pendingCount: pending.length,
  pendingTotal: Math.round(total * 100) / 100,
  sample: pending.slice(0, 5),
};
