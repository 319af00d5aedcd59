# Workflow 2: count and total the pending orders; only the summary and 5 samples come back.
from servers.documents import get_sheet

sheet = await get_sheet(sheetId="sheet-orders")
pending = [row for row in sheet["rows"] if row["status"] == "pending"]
total = sum(float(row["amount"]) for row in pending)
{"pendingCount": len(pending), "pendingTotal": round(total, 2), "sample": pending[:5]}
