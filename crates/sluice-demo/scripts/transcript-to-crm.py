# Workflow 1: copy the meeting transcript into the CRM without it ever entering the model's context.
from servers.documents import get_document
from servers.crm import update_record

doc = await get_document(documentId="doc-meeting-transcript")
await update_record(objectType="SalesMeeting", recordId="a0M000000000001", data={"Notes": doc["content"]})
