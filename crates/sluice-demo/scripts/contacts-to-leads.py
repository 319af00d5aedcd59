# Workflow 4: import every contact as a lead, 20 calls at a time; only the count comes back.
import asyncio
from servers.documents import get_sheet
from servers.crm import create_record

async def import_row(row):
    data = {"Name": row["name"], "Email": row["email"], "Phone": row["phone"], "Company": row["company"], "Title": row["title"]}
    try:
        await create_record(objectType="Lead", data=data)
        return None
    except RuntimeError as e:
        return row["email"] + ": " + str(e)

sheet = await get_sheet(sheetId="sheet-contacts")
rows = sheet["rows"]
imported = 0
failed = []
for start in range(0, len(rows), 20):
    for outcome in await asyncio.gather(*[import_row(row) for row in rows[start:start + 20]]):
        if outcome is None:
            imported += 1
        else:
            failed.append(outcome)
{"imported": imported, "failed": failed[:5]}
