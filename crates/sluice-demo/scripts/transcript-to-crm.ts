// Workflow 1: copy the meeting transcript into the CRM without it ever entering the model's context.
import * as documents from "./servers/documents";
import * as crm from "./servers/crm";

const doc = await documents.getDocument({ documentId: "doc-meeting-transcript" });
export default await crm.updateRecord({
  objectType: "SalesMeeting",
  recordId: "a0M000000000001",
  data: { Notes: doc.content },
});
